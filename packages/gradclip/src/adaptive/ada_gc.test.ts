import { describe, expect, it } from 'vitest';
import { adaGC, type AdaGCOptions } from './ada_gc.js';
import {
  decode,
  f64,
  loadAdaptiveFixture,
  maxRelDiff,
  sequenceArrays,
  type Num,
  type SequenceStep,
} from './test_fixtures.js';

interface PyOptions {
  beta?: number;
  lambda_abs?: number;
  lambda_rel?: number;
  warmup_steps?: number;
  eps?: number;
}

interface ARun {
  options: PyOptions;
  steps: (SequenceStep & { gamma?: number[] })[];
}

function toOptions(o: PyOptions): AdaGCOptions {
  const out: AdaGCOptions = {};
  if (o.beta !== undefined) out.beta = o.beta;
  if (o.lambda_abs !== undefined) out.lambdaAbs = o.lambda_abs;
  if (o.lambda_rel !== undefined) out.lambdaRel = o.lambda_rel;
  if (o.warmup_steps !== undefined) out.warmupSteps = o.warmup_steps;
  if (o.eps !== undefined) out.eps = o.eps;
  return out;
}

describe('adaGC against a transcription of the published algorithm', () => {
  const fx = loadAdaptiveFixture<{ sequence: Num[][][]; runs: ARun[] }>('ada_gc.json');

  it.each(fx.runs.map((r) => [JSON.stringify(r.options), r] as const))('%s', (_name, run) => {
    const clipper = adaGC({ ...toOptions(run.options), nonFinite: 'skip' });
    const seq = sequenceArrays(fx.sequence);
    let perTensorClips = 0;
    run.steps.forEach((step, t) => {
      const grads = seq[t]!;
      const r = clipper.clip(grads);
      expect(maxRelDiff([r.norm], [decode(step.norm)])).toBeLessThan(1e-12);
      grads.forEach((g, i) => expect(maxRelDiff(g, f64(step.out[i]!)), `step ${t} tensor ${i}`).toBeLessThan(1e-9));
      if (step.gamma) {
        const gamma = step.gamma.map((_, i) => clipper.state.gamma[String(i)]!);
        expect(maxRelDiff(gamma, step.gamma), `gamma at step ${t}`).toBeLessThan(1e-9);
      }
      if (r.clipped && t >= (run.options.warmup_steps ?? 100)) perTensorClips++;
    });
    if ((run.options.warmup_steps ?? 100) < 100) expect(perTensorClips).toBeGreaterThan(0);
  });
});

describe('adaGC (hand-worked)', () => {
  it('clips globally with a running minimum during warm-up, then per tensor', () => {
    // warmupSteps 2: only t = 1 is warm-up. Step 1: a = (3, 4), b = (0,): global norm 5,
    // h = min(1/(5 + 1e-8), 1) → a ≈ (0.6, 0.8), γ_a = 5h ≈ 1, γ_b = 0.
    // Step 2 (t = 2): a = (6, 8): ‖a‖ = 10, h_a = min(1.05·γ_a/10, 1) ≈ 0.105 → ‖â‖ ≈ 1.05;
    // γ_a = 0.98·γ_a + 0.02·1.05 ≈ 1.001. b = (2,): γ_b = 0 → h_b = 0 (clipped to zero).
    const c = adaGC({ warmupSteps: 2 });
    const s1 = { a: new Float64Array([3, 4]), b: new Float64Array([0]) };
    c.clip(s1);
    const h = 1 / (5 + 1e-8);
    expect(s1.a[0]).toBeCloseTo(3 * h, 15);
    expect(c.state.gamma.a).toBeCloseTo(5 * h, 15);
    expect(c.state.gamma.b).toBe(0);
    const s2 = { a: new Float64Array([6, 8]), b: new Float64Array([2]) };
    const r = c.clip(s2);
    const ha = (1.05 * 5 * h) / 10;
    expect(s2.a[1]).toBeCloseTo(8 * ha, 14);
    expect(s2.b[0]).toBe(0);
    expect(c.state.gamma.a).toBeCloseTo(0.98 * 5 * h + 0.02 * ha * 10, 14);
    expect(r.scale).toBe(0);
    expect(c.state.step).toBe(2);
  });

  it('starts a tensor seen for the first time with the warm-up rule, and keeps NaN out of γ', () => {
    const c = adaGC({ warmupSteps: 1, nonFinite: 'skip' });
    c.clip({ a: new Float64Array([0.3, 0.4]) }); // ‖g‖ = 0.5 < λ_abs: untouched, γ_a = 0.5
    expect(c.state.gamma.a).toBeCloseTo(0.5, 15);
    c.clip({ a: new Float64Array([NaN, 1]), b: new Float64Array([1]) });
    expect(c.state.gamma).toEqual({ a: c.state.gamma.a, b: -1 });
    expect(c.state.step).toBe(1);
    const g = { a: new Float64Array([0.3, 0.4]), b: new Float64Array([3, 4]) };
    c.clip(g); // b unset: global h = 1/(√(0.25 + 25) + 1e-8) for b; a per tensor (0.5 ≤ 1.05·0.5)
    expect(g.a[0]).toBe(0.3);
    expect(g.b[0]).toBeCloseTo(3 / (Math.sqrt(25.25) + 1e-8), 14);
    expect(c.state.gamma.b).toBeCloseTo(5 / (Math.sqrt(25.25) + 1e-8), 14);
  });

  it('rejects bad options and states', () => {
    expect(() => adaGC({ beta: 2 })).toThrow(/options.beta/);
    expect(() => adaGC({ lambdaRel: 0 })).toThrow(/options.lambdaRel/);
    expect(() => adaGC({ warmupSteps: 1.5 })).toThrow(/options.warmupSteps/);
    expect(() => adaGC({ lambda: 1 } as never)).toThrow(/unknown option 'lambda'/);
    expect(() => adaGC({ state: { step: 1, gamma: { a: 'x' } } as never })).toThrow(/options.state.gamma\["a"\]/);
  });
});
