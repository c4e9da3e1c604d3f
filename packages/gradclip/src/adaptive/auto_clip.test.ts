import { describe, expect, it } from 'vitest';
import { autoClip, type AutoClipState } from './auto_clip.js';
import {
  decode,
  f64,
  loadAdaptiveFixture,
  maxRelDiff,
  sequenceArrays,
  type Num,
  type SequenceStep,
} from './test_fixtures.js';

interface AutoRun {
  percentile: number;
  historySize: number | null;
  steps: (SequenceStep & { threshold?: number })[];
}

describe('autoClip against numpy.percentile + torch clip_grad_norm_', () => {
  const fx = loadAdaptiveFixture<{ sequence: Num[][][]; runs: AutoRun[] }>('auto_clip.json');

  it.each(fx.runs.map((r) => [r.percentile, r.historySize ?? 'all', r] as const))(
    'p = %s, history %s',
    (_p, _h, run) => {
      const clipper = autoClip({
        percentile: run.percentile,
        historySize: run.historySize ?? Infinity,
        nonFinite: 'skip',
      });
      const seq = sequenceArrays(fx.sequence);
      let clippedSteps = 0;
      run.steps.forEach((step, t) => {
        const grads = seq[t]!;
        const r = clipper.clip(grads);
        expect(Math.abs(r.norm - decode(step.norm)) / r.norm || 0).toBeLessThan(1e-12);
        expect(r.finite).toBe(Number.isFinite(decode(step.norm)));
        grads.forEach((g, i) => expect(maxRelDiff(g, f64(step.out[i]!))).toBeLessThan(1e-12));
        if (r.clipped) clippedSteps++;
      });
      expect(clippedSteps).toBeGreaterThan(10);
      // The history holds exactly the finite norms (the most recent historySize of them).
      const finite = run.steps.map((s) => decode(s.norm)).filter(Number.isFinite);
      const kept = run.historySize === null ? finite : finite.slice(-run.historySize);
      const { history, next } = clipper.state;
      // (Equal up to rounding: the norms are summed in a different order than NumPy's.)
      expect(maxRelDiff([...history.slice(next), ...history.slice(0, next)], kept)).toBeLessThan(1e-14);
    },
  );
});

describe('autoClip (hand-worked)', () => {
  it('appends before taking the percentile and interpolates linearly', () => {
    // Norms 3, 1, 2 (p = 50): step 1 history [3] → τ = 3, factor 3/(3+1e-6) (not quite 1, as
    // in PyTorch); step 2 [1, 3] → median 2 > 1: 2/(1+1e-6) > 1 → untouched;
    // step 3 [1, 2, 3] → τ = 2 = norm: 2/(2+1e-6) ≈ 0.9999995.
    const clipper = autoClip({ percentile: 50 });
    const r1 = clipper.clip(new Float64Array([3]));
    expect(r1.scale).toBe(3 / (3 + 1e-6));
    const r2 = clipper.clip(new Float64Array([1]));
    expect(r2.scale).toBe(1);
    expect(r2.clipped).toBe(false);
    const g3 = new Float64Array([2]);
    clipper.clip(g3);
    expect(g3[0]).toBeCloseTo(2 * (2 / (2 + 1e-6)), 15);
    // p = 25 of [1, 2, 3, 10]: virtual index 0.75 → 1 + 0.75·(2 − 1) = 1.75; norm 10 → factor 1.75/(10+1e-6).
    const c2 = autoClip({ percentile: 25 });
    for (const x of [1, 2, 3]) c2.clip(new Float64Array([x]));
    const g = new Float64Array([6, 8]);
    const r = c2.clip(g);
    expect(r.scale).toBeCloseTo(1.75 / (10 + 1e-6), 15);
  });

  it('keeps a ring of the most recent norms and restores it', () => {
    const c = autoClip({ historySize: 3 });
    for (const x of [1, 2, 3, 4, 5]) c.clip(new Float64Array([x]));
    // Inside, the ring is [4, 5, 3] with the oldest (3) at index 2; the state reads oldest first.
    expect(c.state).toEqual({ history: [3, 4, 5], next: 0 });
    const restored = autoClip({ historySize: 3, state: JSON.parse(JSON.stringify(c.state)) as AutoClipState });
    const a = new Float64Array([10]);
    const b = new Float64Array([10]);
    c.clip(a);
    restored.clip(b);
    expect(b[0]).toBe(a[0]);
  });

  it('rejects bad options and bad states', () => {
    expect(() => autoClip({ percentile: 101 })).toThrow(/options.percentile must be in \[0, 100\], got 101/);
    expect(() => autoClip({ historySize: 0 })).toThrow(/options.historySize/);
    expect(() => autoClip({ historySize: 2.5 })).toThrow(/options.historySize/);
    expect(() => autoClip({ percentil: 5 } as never)).toThrow(/unknown option 'percentil'/);
    expect(() => autoClip({ state: { history: [1, null], next: 0 } as never })).toThrow(/options.state.history\[1\]/);
    expect(() => autoClip({ state: { history: [1, 2], next: 2 } })).toThrow(/options.state.next/);
    // Another rule's state, and a sparse history (holes are reported, not skipped).
    expect(() => autoClip({ state: { count: 3, mean: 1, m2: 0, variance: 0 } as never })).toThrow(
      /not a autoClip state .*missing history, next/,
    );
    // eslint-disable-next-line no-sparse-arrays
    expect(() => autoClip({ state: { history: [1, , 3], next: 0 } as never })).toThrow(/options.state.history\[1\]/);
  });
});

describe('autoClip restores into a larger history', () => {
  it('puts a full ring from a smaller historySize back into insertion order', () => {
    const small = autoClip({ historySize: 3 });
    for (const x of [1, 2, 3, 4]) small.clip(new Float64Array([x]));
    expect(small.state).toEqual({ history: [2, 3, 4], next: 0 });
    const big = autoClip({ historySize: 5, state: JSON.parse(JSON.stringify(small.state)) as AutoClipState });
    big.clip(new Float64Array([5]));
    big.clip(new Float64Array([6]));
    big.clip(new Float64Array([7])); // 2, 3, 4, 5, 6, 7 → the oldest (2) leaves
    const { history, next } = big.state;
    expect([...history.slice(next), ...history.slice(0, next)]).toEqual([3, 4, 5, 6, 7]);
  });
});

describe('autoClip restored from a live state', () => {
  it('does not share the history with the clipper it came from', () => {
    const a = autoClip({ percentile: 50 });
    for (const x of [1, 2, 3]) a.clip(new Float64Array([x]));
    const b = autoClip({ percentile: 50, state: a.state });
    b.clip(new Float64Array([100]));
    expect(a.state.history).toEqual([1, 2, 3]);
    expect(b.state.history).toEqual([1, 2, 3, 100]);
    // a still answers from its own history: median of [1, 2, 3, 4] is 2.5 < 4, so 4 is clipped to 2.5.
    const g = new Float64Array([4]);
    a.clip(g);
    expect(g[0]).toBeCloseTo(4 * (2.5 / (4 + 1e-6)), 14);
  });
});

describe('autoClip reports its threshold', () => {
  it('is the percentile of the history including this step', () => {
    // History after three steps: norms 5, 1, 3 → sorted 1, 3, 5; the 50th percentile is 3.
    const c = autoClip({ percentile: 50 });
    expect(c.clip(new Float64Array([3, 4])).threshold).toBe(5);
    expect(c.clip(new Float64Array([1])).threshold).toBe(3); // (1 + 5) / 2
    expect(c.clip(new Float64Array([3])).threshold).toBe(3);
  });
});
