import fc from 'fast-check';
import { fcGate } from '../test/fc_gate.js';
import { describe, expect, it } from 'vitest';
import { clipByGlobalNorm } from './clip_by_global_norm.js';
import { clipByNorm } from './clip_by_norm.js';
import { clipByValue } from './clip_by_value.js';
import { globalNorm } from './global_norm.js';
import type { FloatArray } from './types.js';

/** A set of 0–5 float32 or float64 tensors with finite values over many magnitudes. */
const gradientSet = fc
  .tuple(
    fc.boolean(),
    fc.array(fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { maxLength: 40 }), { maxLength: 5 }),
    fc.integer({ min: -6, max: 6 }),
  )
  .map(([single, tensors, exp]) =>
    tensors.map((t): FloatArray => {
      const scaled = t.map((x) => x * 10 ** exp);
      return single ? Float32Array.from(scaled) : Float64Array.from(scaled);
    }),
  );
const normTypes = fc.constantFrom(1, 1.5, 2, 3, Infinity);
const copy = (g: FloatArray[]) => g.map((t) => t.slice());
/** Relative tolerance: float32 rounding of every element after scaling. */
const tol = (g: FloatArray[]) => (g.some((t) => t instanceof Float32Array) ? 2e-6 : 1e-12);
/** Absolute rounding of a subnormal result: one ulp of the smallest subnormal of the dtype. */
const tiny = (t: FloatArray) => (t instanceof Float32Array ? 1.5e-45 : 5e-324);

describe('clipByGlobalNorm properties', () => {
  it('after clipping, norm ≤ maxNorm · (1 + 1e-6)', () => {
    fc.assert(
      fc.property(gradientSet, normTypes, fc.double({ min: 0, max: 1e6, noNaN: true }), (g, p, maxNorm) => {
        clipByGlobalNorm(g, maxNorm, { normType: p });
        const slack = g.reduce((a, t) => a + tiny(t) * t.length, 0);
        expect(globalNorm(g, p)).toBeLessThanOrEqual(maxNorm * (1 + 1e-6) + slack);
      }),
      fcGate({ seed: 2213 }),
    );
  });

  it('keeps the direction: every element is scaled by the same factor in [0, 1]', () => {
    fc.assert(
      fc.property(gradientSet, normTypes, fc.double({ min: 1e-3, max: 1e3, noNaN: true }), (g, p, maxNorm) => {
        const before = copy(g);
        const r = clipByGlobalNorm(g, maxNorm, { normType: p });
        expect(r.scale).toBeGreaterThan(0);
        expect(r.scale).toBeLessThanOrEqual(1);
        g.forEach((t, i) =>
          t.forEach((x, j) => {
            const b = before[i]![j]!;
            expect(Math.abs(x - b * r.scale)).toBeLessThanOrEqual(Math.abs(b) * tol(g) + tiny(t));
          }),
        );
      }),
      fcGate({ seed: 2214 }),
    );
  });

  it('is the identity when norm ≤ maxNorm − eps', () => {
    fc.assert(
      fc.property(gradientSet, normTypes, fc.double({ min: 1e-6, max: 10, noNaN: true }), (g, p, slack) => {
        const before = copy(g);
        const maxNorm = globalNorm(g, p) + 1e-6 + slack;
        const r = clipByGlobalNorm(g, maxNorm, { normType: p });
        expect(r.clipped).toBe(false);
        expect(g).toEqual(before);
      }),
      fcGate({ seed: 2215 }),
    );
  });

  it('clipping twice equals clipping once (within rounding) in the eps = 0 form', () => {
    fc.assert(
      fc.property(gradientSet, normTypes, fc.double({ min: 1e-3, max: 1e3, noNaN: true }), (g, p, maxNorm) => {
        clipByGlobalNorm(g, maxNorm, { normType: p, eps: 0 });
        const once = copy(g);
        clipByGlobalNorm(g, maxNorm, { normType: p, eps: 0 });
        g.forEach((t, i) =>
          t.forEach((x, j) => expect(Math.abs(x - once[i]![j]!)).toBeLessThanOrEqual(Math.abs(x) * tol(g) + tiny(t))),
        );
      }),
      fcGate({ seed: 2216 }),
    );
  });

  it('with the PyTorch eps, a second clip shrinks by at most eps / maxNorm more', () => {
    // After one clip the norm is m·N/(N+ε); the second factor m/(m·N/(N+ε) + ε) is ≥ 1 − ε/m.
    fc.assert(
      fc.property(gradientSet, normTypes, fc.double({ min: 1e-3, max: 1e3, noNaN: true }), (g, p, maxNorm) => {
        clipByGlobalNorm(g, maxNorm, { normType: p });
        const once = copy(g);
        clipByGlobalNorm(g, maxNorm, { normType: p });
        const bound = 1e-6 / maxNorm + tol(g);
        g.forEach((t, i) =>
          t.forEach((x, j) => expect(Math.abs(x - once[i]![j]!)).toBeLessThanOrEqual(Math.abs(x) * bound + tiny(t))),
        );
      }),
      fcGate({ seed: 2217 }),
    );
  });

  it('with eps = 0, the clipped norm equals maxNorm whenever it clipped', () => {
    fc.assert(
      fc.property(gradientSet, normTypes, fc.double({ min: 1e-3, max: 1e3, noNaN: true }), (g, p, maxNorm) => {
        const r = clipByGlobalNorm(g, maxNorm, { normType: p, eps: 0 });
        if (r.clipped) expect(globalNorm(g, p) / maxNorm).toBeCloseTo(1, 5);
      }),
      fcGate({ seed: 2218 }),
    );
  });
});

describe('clipByNorm (per tensor) properties', () => {
  it('every tensor ends with L2 norm ≤ c, and tensors already within c are untouched', () => {
    fc.assert(
      fc.property(gradientSet, fc.double({ min: 0, max: 1e4, noNaN: true }), (g, c) => {
        const before = copy(g);
        clipByNorm(g, c);
        g.forEach((t, i) => {
          // Each element may round up by one subnormal ulp when c is in the subnormal range, and
          // the factor c/‖t‖ itself is then subnormal: its rounding (under one ulp, 4.9e-324) times
          // ‖t‖ is a further absolute error (see the named case below).
          expect(globalNorm(t)).toBeLessThanOrEqual(
            c * (1 + 1e-6) +
              tiny(t) * t.length +
              (t instanceof Float64Array ? Number.MIN_VALUE * globalNorm(before[i]!) : 0),
          );
          if (globalNorm(before[i]!) <= c) expect(t).toEqual(before[i]);
        });
      }),
      fcGate({ seed: 2219 }),
    );
  });
});

describe('clipByNorm: a subnormal maxNorm on float64 data (fast-check seed 2219, path "7:1:0:2:13:11:11:11:11:11:2")', () => {
  it("the factor c/‖t‖ is itself subnormal, so the result is c within the factor's rounding", () => {
    // c = 3e-323 (6 ulps of 4.94e-324); ‖t‖ = 7.5. The factor 3e-323 / 7.5 = 3.95e-324 rounds
    // to the one subnormal ulp 4.94e-324 (it has no more precision there); 7.5 × 4.94e-324 =
    // 7.5 ulps, a tie that rounds to the even 8 ulps = 4e-323 — above c by 2 ulps, which the
    // bound ‖t‖ × (one ulp of the factor) = 7.5 × 4.9e-324 = 3.7e-323 covers. A known limit of one multiplicative factor per
    // tensor (a float32 tensor is exact here: its rounding, 1.4e-45, is far coarser).
    const g = [Float64Array.from([7.5])];
    clipByNorm(g, 3e-323);
    expect(g[0]![0]).toBe(4e-323);
    expect(g[0]![0]! - 3e-323).toBeLessThanOrEqual(7.5 * Number.MIN_VALUE);
    const f32 = [Float32Array.from([7.5])];
    clipByNorm(f32, 3e-323);
    expect(f32[0]![0]).toBe(0);
  });
});

describe('clipByValue properties', () => {
  it('every |x| ≤ c, and values within [−c, c] are untouched', () => {
    fc.assert(
      fc.property(gradientSet, fc.double({ min: 0, max: 1e4, noNaN: true }), (g, c) => {
        const before = copy(g);
        const r = clipByValue(g, c);
        g.forEach((t, i) =>
          t.forEach((x, j) => {
            // Like PyTorch, c itself is stored in the array's precision: float32 rounds it.
            expect(Math.abs(x)).toBeLessThanOrEqual(t instanceof Float32Array ? Math.fround(c) : c);
            const b = before[i]![j]!;
            if (Math.abs(b) <= c) expect(x).toBe(b);
          }),
        );
        expect(r.clipped).toBe(before.some((t) => t.some((x) => Math.abs(x) > c)));
      }),
      fcGate({ seed: 2220 }),
    );
  });
});
