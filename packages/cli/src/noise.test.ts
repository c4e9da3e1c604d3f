import { describe, expect, it } from 'vitest';
import {
  clippedFixedPoint,
  gamma,
  noise,
  quantile,
  runBias,
  runHeavyTail,
  BIAS_CONFIG,
  HEAVY_TAIL_CONFIG,
} from './noise.js';
import { Rng } from '@gradclip/experiments/tasks';
import { mean, median } from './experiments.js';

describe('noise samplers', () => {
  it('gamma has mean k (shape 0.75 and 3)', () => {
    for (const k of [0.75, 3]) {
      const rng = new Rng(1);
      const xs = Array.from({ length: 20_000 }, () => gamma(rng, k));
      // Var = k, so the standard error of the mean is √(k/20000) ≤ 0.013
      expect(Math.abs(mean(xs) - k)).toBeLessThan(0.05);
      expect(Math.min(...xs)).toBeGreaterThan(0);
    }
  });

  it('Student-t (ν = 1.5) and Cauchy are centred, with far heavier tails than the Gaussian', () => {
    const tail = (kind: 'gaussian' | 'student-t' | 'cauchy') => {
      const rng = new Rng(2);
      const xs = Array.from({ length: 20_000 }, () => noise(rng, kind));
      return { med: median(xs), beyond10: xs.filter((x) => Math.abs(x) > 10).length / xs.length };
    };
    const g = tail('gaussian');
    const t = tail('student-t');
    const c = tail('cauchy');
    for (const x of [g, t, c]) expect(Math.abs(x.med)).toBeLessThan(0.05);
    expect(g.beyond10).toBe(0);
    // P(|t₁.₅| > 10) ≈ 0.014; P(|Cauchy| > 10) = 1 − (2/π)·atan(10) ≈ 0.063
    expect(t.beyond10).toBeGreaterThan(0.008);
    expect(t.beyond10).toBeLessThan(0.025);
    expect(Math.abs(c.beyond10 - 0.0635)).toBeLessThan(0.008);
  });

  it('quantile interpolates linearly (NumPy default)', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([4, 1, 3, 2], 0.9)).toBeCloseTo(3.7, 12);
  });
});

describe('clipped SGD under noise', () => {
  it('fixed point: the median as τ → 0, the optimum as τ → ∞', () => {
    // τ → 0: clip(v) → τ·sign(v), so E[…] = 0 where P(x + σ(E − 1) > 0) = ½, i.e. at
    // x = σ(1 − ln 2) ≈ 0.3069 (the median of E is ln 2).
    expect(clippedFixedPoint(1, 1e-4)).toBeCloseTo(1 - Math.LN2, 2);
    expect(Math.abs(clippedFixedPoint(1, 100))).toBeLessThan(1e-9);
    expect(clippedFixedPoint(2, 1e-4)).toBeCloseTo(2 * (1 - Math.LN2), 2);
  });

  it('bias shrinks with τ and matches the predicted fixed point (small run)', () => {
    const b = runBias({ ...BIAS_CONFIG, seeds: 6, steps: 2000 });
    const clipped = b.points.filter((p) => p.threshold !== null);
    expect(clipped[0]!.medianDistance).toBeGreaterThan(0.25); // measured 0.29–0.30
    expect(Math.abs(clipped[0]!.medianDistance - clipped[0]!.predicted!)).toBeLessThan(0.05);
    expect(b.monotone).toBe(true);
    expect(b.pass).toBe(true);
  });

  it('heavy-tailed noise: clipped SGD ends far below SGD at the 90th percentile; Gaussian: both converge', () => {
    const h = runHeavyTail({ ...HEAVY_TAIL_CONFIG, seeds: 20, steps: 600 });
    const row = (n: string, m: string) => h.rows.find((r) => r.noise === n && r.method === m)!;
    // measured (20 seeds, 600 steps): Cauchy SGD p90 ≈ 4e2 vs clipped ≈ 4; Gaussian both < 0.3
    expect(row('cauchy', 'clipped SGD').finalP90).toBeLessThan(0.1 * row('cauchy', 'SGD').finalP90);
    expect(row('student-t', 'clipped SGD').finalP90).toBeLessThan(0.5 * row('student-t', 'SGD').finalP90);
    expect(row('gaussian', 'SGD').finalP90).toBeLessThan(1);
    expect(row('gaussian', 'clipped SGD').finalP90).toBeLessThan(1);
  });
});
