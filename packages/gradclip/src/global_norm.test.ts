import { describe, expect, it } from 'vitest';
import { clipByGlobalNorm } from './clip_by_global_norm.js';
import {
  globalNorm,
  mergeNormStatistics,
  normFromStatistics,
  normStatistics,
  statisticsFinite,
} from './global_norm.js';

const f32 = (n: number, v: number) => new Float32Array(n).fill(v);
const f64 = (n: number, v: number) => new Float64Array(n).fill(v);

describe('globalNorm', () => {
  it('computes hand-worked norms for every kind of p', () => {
    const g = [new Float64Array([3, -4]), new Float32Array([12])];
    expect(globalNorm(g)).toBe(13); // √(9 + 16 + 144)
    expect(globalNorm(g, 1)).toBe(19); // 3 + 4 + 12
    expect(globalNorm(g, Infinity)).toBe(12);
    expect(globalNorm(g, 0.5)).toBeCloseTo((Math.sqrt(3) + 2 + Math.sqrt(12)) ** 2, 12);
    expect(globalNorm(g, 3)).toBeCloseTo(Math.cbrt(27 + 64 + 1728), 12);
  });

  it('is 0 for the empty set, nulls, and zero-size tensors', () => {
    expect(globalNorm([])).toBe(0);
    expect(globalNorm({})).toBe(0);
    expect(globalNorm(null)).toBe(0);
    expect(globalNorm([null, undefined, new Float32Array(0)])).toBe(0);
    expect(globalNorm([new Float32Array(0)], Infinity)).toBe(0);
  });

  it('accepts records, { values, shape } entries and mixed float32 / float64', () => {
    const grads = {
      w: { values: new Float32Array([1, 2, 2, 0]), shape: [2, 2] },
      b: new Float64Array([4]),
      skip: null,
    };
    expect(globalNorm(grads)).toBe(5); // √(1 + 4 + 4 + 16)
  });

  describe('overflow and underflow safety (float64 accumulation, scaled by max |x|)', () => {
    it('1000 float32 values of 1e20 give 3.16e21 (PyTorch 1.13: inf)', () => {
      const v = Math.fround(1e20);
      expect(globalNorm(f32(1000, 1e20))).toBeCloseTo(v * Math.sqrt(1000), -8);
      expect(globalNorm(f32(1000, 1e20)) / (v * Math.sqrt(1000))).toBeCloseTo(1, 14);
    });

    it('float32 values of 3e38 give finite, correct norms for p = 2 and p = 10', () => {
      const v = Math.fround(3e38);
      // ‖v·1_n‖_p = v · n^(1/p)
      expect(globalNorm(f32(64, 3e38)) / (v * 8)).toBeCloseTo(1, 14);
      expect(globalNorm(f32(1024, 3e38), 10) / (v * 2)).toBeCloseTo(1, 14);
      expect(globalNorm(f32(4, 3e38), 1) / (v * 4)).toBeCloseTo(1, 14);
    });

    it('tiny values do not underflow to 0', () => {
      const v = Math.fround(1e-30);
      expect(globalNorm(f32(1024, 1e-30), 10) / (v * 2)).toBeCloseTo(1, 14); // v^10 = 1e-300 per term
      expect(globalNorm(f64(4, 1e-200)) / 2e-200).toBeCloseTo(1, 14);
      expect(globalNorm(new Float32Array([1.4e-45, 0]))).toBe(Math.fround(1.4e-45)); // the smallest subnormal
    });

    it('float64 values of 1e200 give the right norm', () => {
      expect(globalNorm(f64(100, 1e200)) / 1e201).toBeCloseTo(1, 14);
    });

    it('clips correctly even when the norm itself exceeds the float64 range', () => {
      const g = f64(4, 1e308); // ‖g‖ = 2e308 > Number.MAX_VALUE
      const r = clipByGlobalNorm(g, 1);
      expect(r.norm).toBe(Infinity);
      expect(r.finite).toBe(true);
      expect(Array.from(g)).toEqual([0.5, 0.5, 0.5, 0.5].map((x) => expect.closeTo(x, 12)));
    });

    it('clips 1e20 float32 gradients to the threshold instead of zeroing them', () => {
      const g = f32(1000, 1e20);
      const r = clipByGlobalNorm(g, 1);
      expect(r.finite).toBe(true);
      expect(globalNorm(g)).toBeCloseTo(1, 5);
      expect(g[0]).toBeCloseTo(1 / Math.sqrt(1000), 7);
    });
  });
});

describe('sharded norm statistics', () => {
  const shard = (seed: number, n: number, scale: number) => {
    let s = seed;
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      s = (s * 1103515245 + 12345) % 2 ** 31;
      a[i] = (s / 2 ** 31 - 0.5) * scale;
    }
    return a;
  };

  for (const p of [2, 1, 3, Infinity]) {
    it(`N shards merged give the same norm and the same clipped gradients as one pass (p = ${p})`, () => {
      const shards = [shard(1, 300, 1), shard(2, 50, 1e-3), shard(3, 1000, 1e4), shard(4, 0, 1), shard(5, 7, 1e20)];
      const whole = shards.map((s) => s.slice());
      const one = clipByGlobalNorm(whole, 0.5, { normType: p });

      // Each worker computes its statistics, they travel as JSON, any worker merges them.
      const wire = shards.map((s) => JSON.stringify(normStatistics([s], p)));
      const merged = mergeNormStatistics(...wire.map((w) => JSON.parse(w)));
      expect(normFromStatistics(merged) / one.norm).toBeCloseTo(1, 13);
      expect(statisticsFinite(merged)).toBe(true);
      const reports = shards.map((s) => clipByGlobalNorm(s, 0.5, { normType: p, statistics: merged }));
      for (const r of reports) {
        expect(r.scale).toBe(one.scale);
        expect(r.norm).toBe(normFromStatistics(merged));
      }
      shards.forEach((s, i) => expect(Array.from(s)).toEqual(Array.from(whole[i]!)));
    });
  }

  it('a precomputed norm gives the same result as computing it', () => {
    const a = [new Float64Array([3, 4]), new Float64Array([12])];
    const b = a.map((x) => x.slice());
    const r1 = clipByGlobalNorm(a, 2);
    const r2 = clipByGlobalNorm(b, 2, { norm: 13 });
    expect(r2).toEqual(r1);
    expect(b).toEqual(a);
  });

  it('merging counts non-finite values of every shard', () => {
    const s = mergeNormStatistics(
      normStatistics(new Float32Array([1, NaN])),
      normStatistics(new Float32Array([Infinity, 2])),
    );
    expect(s.nan).toBe(1);
    expect(s.inf).toBe(1);
    expect(normFromStatistics(s)).toBeNaN();
    expect(statisticsFinite(s)).toBe(false);
  });

  it('refuses to merge statistics of different p', () => {
    expect(() =>
      mergeNormStatistics(normStatistics(new Float32Array([1]), 2), normStatistics(new Float32Array([1]), 1)),
    ).toThrow(RangeError);
    expect(() => mergeNormStatistics()).toThrow(RangeError);
  });
});
