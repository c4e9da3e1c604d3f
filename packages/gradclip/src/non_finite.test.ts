import { describe, expect, it } from 'vitest';
import { clipByGlobalNorm } from './clip_by_global_norm.js';
import { clipByNorm } from './clip_by_norm.js';
import { NonFiniteGradientError } from './rule.js';

const withInf = () => [new Float64Array([3, Infinity]), new Float64Array([-1])];
const withNaN = () => [new Float64Array([3, NaN]), new Float64Array([-1])];

describe("nonFinite: 'propagate' (PyTorch arithmetic, the default)", () => {
  it('norm inf → finite entries become 0, infinite ones NaN', () => {
    // scale = min(1, 1 / (inf + 1e-6)) = 0; 3·0 = 0, inf·0 = NaN, −1·0 = −0
    const g = withInf();
    const r = clipByGlobalNorm(g, 1);
    expect(r).toEqual({ norm: Infinity, scale: 0, clipped: true, finite: false });
    expect(Array.from(g[0]!)).toEqual([0, NaN]);
    expect(Object.is(g[1]![0], -0)).toBe(true);
  });

  it('norm NaN → every value NaN', () => {
    const g = withNaN();
    const r = clipByGlobalNorm(g, 1);
    expect(r.norm).toBeNaN();
    expect(r.finite).toBe(false);
    expect([...g[0]!, ...g[1]!].every(Number.isNaN)).toBe(true);
  });
});

describe("nonFinite: 'error'", () => {
  it('throws before touching anything', () => {
    const g = withInf();
    expect(() => clipByGlobalNorm(g, 1, { nonFinite: 'error' })).toThrow(NonFiniteGradientError);
    expect(Array.from(g[0]!)).toEqual([3, Infinity]);
    expect(Array.from(g[1]!)).toEqual([-1]);
    expect(() => clipByNorm(withNaN(), 1, { nonFinite: 'error' })).toThrow(/NaN or ±Infinity/);
  });

  it('clips normally when everything is finite', () => {
    const g = [new Float64Array([3, 4])];
    expect(clipByGlobalNorm(g, 1, { nonFinite: 'error', eps: 0 })).toEqual({
      norm: 5,
      scale: 0.2,
      clipped: true,
      finite: true,
    });
  });
});

describe("nonFinite: 'skip'", () => {
  it('leaves the gradients untouched and reports finite: false', () => {
    for (const make of [withInf, withNaN]) {
      const g = make();
      const before = g.map((x) => Array.from(x));
      const r = clipByGlobalNorm(g, 1, { nonFinite: 'skip' });
      expect(r.finite).toBe(false);
      expect(r.clipped).toBe(false);
      expect(r.scale).toBe(1);
      expect(g.map((x) => Array.from(x))).toEqual(before);
    }
  });

  it('per-tensor clipping skips the whole set too', () => {
    const g = [new Float64Array([30, 40]), new Float64Array([NaN])];
    expect(clipByNorm(g, 1, { nonFinite: 'skip' }).finite).toBe(false);
    expect(Array.from(g[0]!)).toEqual([30, 40]);
  });
});

describe("nonFinite: 'zero'", () => {
  it('sets every gradient to 0, NaN and ±inf included', () => {
    const g = withInf();
    const r = clipByGlobalNorm(g, 1, { nonFinite: 'zero' });
    expect(r).toMatchObject({ scale: 0, clipped: true, finite: false });
    expect([...g[0]!, ...g[1]!]).toEqual([0, 0, 0]);
  });

  it('behaves like an ordinary clip on finite input', () => {
    const g = [new Float64Array([0.3, 0.4])];
    const r = clipByGlobalNorm(g, 1, { nonFinite: 'zero' });
    expect(r.clipped).toBe(false);
    expect(r.scale).toBe(1);
    expect(Array.from(g[0]!)).toEqual([0.3, 0.4]);
  });
});
