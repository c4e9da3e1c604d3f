import { describe, expect, it } from 'vitest';
import { zClip, type ZClipOptions } from './z_clip.js';
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
  alpha?: number;
  z_thresh?: number;
  max_grad_norm?: number | null;
  eps?: number;
  warmup_steps?: number;
  mode?: 'zscore' | 'percentile';
  clip_option?: 'adaptive_scaling' | 'mean';
  clip_factor?: number;
  skip_update_on_spike?: boolean;
}

interface ZRun {
  options: PyOptions;
  steps: (SequenceStep & { mean?: Num; variance?: Num })[];
}

/** The Python reference's keyword arguments as zClip options. */
function toOptions(o: PyOptions): ZClipOptions {
  const out: ZClipOptions = {};
  if (o.alpha !== undefined) out.alpha = o.alpha;
  if (o.z_thresh !== undefined) out.zThresh = o.z_thresh;
  if (o.max_grad_norm !== undefined) out.maxGradNorm = o.max_grad_norm;
  if (o.eps !== undefined) out.eps = o.eps;
  if (o.warmup_steps !== undefined) out.warmupSteps = o.warmup_steps;
  if (o.mode !== undefined) out.mode = o.mode;
  if (o.clip_option !== undefined) out.clipOption = o.clip_option;
  if (o.clip_factor !== undefined) out.clipFactor = o.clip_factor;
  if (o.skip_update_on_spike !== undefined) out.skipUpdateOnSpike = o.skip_update_on_spike;
  return out;
}

describe('zClip against a transcription of bluorion-com/ZClip', () => {
  const fx = loadAdaptiveFixture<{ sequence: Num[][][]; runs: ZRun[] }>('z_clip.json');

  it.each(fx.runs.map((r) => [JSON.stringify(r.options), r] as const))('%s', (_name, run) => {
    const clipper = zClip({ ...toOptions(run.options), nonFinite: 'skip' });
    const seq = sequenceArrays(fx.sequence);
    let spikes = 0;
    run.steps.forEach((step, t) => {
      const grads = seq[t]!;
      const r = clipper.clip(grads);
      expect(maxRelDiff([r.norm], [decode(step.norm)])).toBeLessThan(1e-12);
      grads.forEach((g, i) => expect(maxRelDiff(g, f64(step.out[i]!)), `step ${t} tensor ${i}`).toBeLessThan(1e-9));
      const mean = step.mean === undefined ? NaN : decode(step.mean);
      if (Number.isFinite(mean)) {
        expect(maxRelDiff([clipper.state.mean], [mean]), `mean at step ${t}`).toBeLessThan(1e-9);
        expect(maxRelDiff([clipper.state.variance], [decode(step.variance!)]), `variance at step ${t}`).toBeLessThan(
          1e-7,
        );
      }
      if (r.clipped && r.scale < 0.9) spikes++;
    });
    expect(spikes).toBeGreaterThan(0);
  });
});

describe('zClip (hand-worked)', () => {
  it('warms up on the mean and population variance, then clips a spike to the adaptive threshold', () => {
    // Warm-up norms 1, 2, 3 (no cap): mean 2, var ((1)² + 0 + (1)²)/3 = 2/3, σ = 0.8165.
    // Norm 10: z = (10 − 2)/(σ + 1e-6) = 9.798 > 2.5 → τ = 2 + 2.5·σ/(z/2.5) = 2 + 6.25·σ/z
    // = 2.5208; factor τ/(10 + 1e-6). EMA with x = τ: mean = 0.97·2 + 0.03·τ.
    const c = zClip({ warmupSteps: 3, maxGradNorm: null });
    for (const x of [1, 2, 3]) expect(c.clip(new Float64Array([x])).clipped).toBe(false);
    expect(c.state.mean).toBeCloseTo(2, 15);
    expect(c.state.variance).toBeCloseTo(2 / 3, 15);
    const sigma = Math.sqrt(2 / 3);
    const z = 8 / (sigma + 1e-6);
    const tau = 2 + (2.5 * sigma) / (z / 2.5);
    const r = c.clip(new Float64Array([10]));
    expect(r.scale).toBeCloseTo(tau / (10 + 1e-6), 14);
    expect(c.state.mean).toBeCloseTo(0.97 * 2 + 0.03 * tau, 14);
    const m = 0.97 * 2 + 0.03 * tau;
    expect(c.state.variance).toBeCloseTo(0.97 * (2 / 3) + 0.03 * (tau - m) ** 2, 14);
  });

  it('caps by maxGradNorm during warm-up in the PyTorch form', () => {
    const g = new Float64Array([3, 4]);
    const r = zClip().clip(g); // default maxGradNorm 1: factor 1/(5 + 1e-6)
    expect(r.scale).toBe(1 / (5 + 1e-6));
    expect(r.norm).toBe(5);
  });

  it('does not count non-finite steps towards the warm-up', () => {
    const c = zClip({ warmupSteps: 2, maxGradNorm: null, nonFinite: 'skip' });
    c.clip(new Float64Array([1]));
    const bad = new Float64Array([NaN, 1]);
    const r = c.clip(bad);
    expect(r.finite).toBe(false);
    expect(c.state.count).toBe(1);
    c.clip(new Float64Array([Infinity]));
    expect(c.state).toEqual({ count: 1, mean: 1, m2: 0, variance: 0 });
  });

  it('rejects bad options and states', () => {
    expect(() => zClip({ alpha: 1.5 })).toThrow(/options.alpha must be in \[0, 1\], got 1.5/);
    expect(() => zClip({ zThresh: 0 })).toThrow(/options.zThresh/);
    expect(() => zClip({ warmupSteps: 0 })).toThrow(/options.warmupSteps/);
    expect(() => zClip({ mode: 'sigma' as never })).toThrow(/options.mode/);
    expect(() => zClip({ clipOption: 'max' as never })).toThrow(/options.clipOption/);
    expect(() => zClip({ skipUpdateOnSpike: 'yes' as never })).toThrow(/options.skipUpdateOnSpike/);
    expect(() => zClip({ maxGradNorm: -1 })).toThrow(/options.maxGradNorm/);
    expect(() => zClip({ zthresh: 2 } as never)).toThrow(/unknown option 'zthresh'/);
    expect(() => zClip({ state: { count: 1, mean: null, m2: 0, variance: 0 } as never })).toThrow(/options.state.mean/);
  });
});

describe('zClip reports its threshold', () => {
  it('is the cap during warm-up and mean + z·(σ + eps) under the cap afterwards', () => {
    // Warm-up of 2 steps with norms 1 and 3: mean 2, population variance 1, σ = 1.
    const c = zClip({ warmupSteps: 2, zThresh: 2, maxGradNorm: 100 });
    expect(c.clip(new Float64Array([1])).threshold).toBe(100);
    expect(c.clip(new Float64Array([3])).threshold).toBe(100);
    // After warm-up: band = 2 + 2·(1 + 1e-6) = 4.000002.
    expect(c.clip(new Float64Array([2])).threshold).toBeCloseTo(4.000002, 12);
  });
});
