import { describe, expect, it } from 'vitest';
import { clipPerExample } from './per_example.js';

describe('clipPerExample', () => {
  it('clips each example to C over all leaves and sums (worked by hand)', () => {
    // B = 3 examples; leaf w: 2 values each, leaf b: 1 value each.
    //   example 0: w = (3, 0), b = 4    → ‖g‖ = 5  > 2 → scaled by 2/5: w = (1.2, 0), b = 1.6
    //   example 1: w = (0, 1), b = 0    → ‖g‖ = 1 ≤ 2 → unchanged
    //   example 2: w = (0, 0), b = -2   → ‖g‖ = 2 = C → unchanged (optax: divisor max(1, 1) = 1)
    const w = { values: new Float64Array([3, 0, 0, 1, 0, 0]), shape: [3, 2] };
    const b = { values: new Float32Array([4, 0, -2]), shape: [3, 1] };
    const { sum, norms, clipped } = clipPerExample({ w, b }, 2);
    expect(Array.from(norms)).toEqual([5, 1, 2]);
    expect(clipped).toBe(1);
    expect(sum.w!.shape).toEqual([2]);
    expect(Array.from(sum.w!.values)).toEqual([1.2, 1]);
    expect(sum.b!.shape).toEqual([1]);
    expect(sum.b!.values).toBeInstanceOf(Float32Array); // each leaf keeps its dtype
    expect(sum.b!.values[0]).toBeCloseTo(1.6 + 0 - 2, 6);
    // The input is not modified.
    expect(Array.from(w.values)).toEqual([3, 0, 0, 1, 0, 0]);
  });

  it('keeps the container: lists with nulls, and a single { values, shape }', () => {
    const g = { values: new Float64Array([6, 8, 0.3, 0.4]), shape: [2, 2] };
    const list = clipPerExample([g, null], 1);
    // ‖(6, 8)‖ = 10 → (0.6, 0.8); ‖(0.3, 0.4)‖ = 0.5 → unchanged; sum (0.9, 1.2).
    expect(list.sum[1]).toBeNull();
    expect(Array.from(list.sum[0]!.values).map((x) => +x.toFixed(12))).toEqual([0.9, 1.2]);
    const single = clipPerExample(g, Infinity); // no clipping: plain sum over the batch
    expect(Array.from(single.sum.values)).toEqual([6.3, 8.4]);
    expect(single.clipped).toBe(0);
  });

  it('sum has sensitivity C: removing any one example moves it by at most C', () => {
    const B = 8;
    const values = Float64Array.from({ length: B * 5 }, (_, i) => Math.sin(i * 1.7) * (i % 7) * 3);
    const full = clipPerExample({ values, shape: [B, 5] }, 1.5).sum.values;
    for (let drop = 0; drop < B; drop++) {
      const rest = values.filter((_, i) => Math.floor(i / 5) !== drop);
      const part = clipPerExample({ values: rest, shape: [B - 1, 5] }, 1.5).sum.values;
      const d = Math.hypot(...Array.from(full, (x, j) => x - part[j]!));
      expect(d).toBeLessThanOrEqual(1.5 + 1e-12);
    }
  });

  it('a zero batch gives zero sums', () => {
    const r = clipPerExample({ a: { values: new Float32Array(0), shape: [0, 3] } }, 1);
    expect(r.norms.length).toBe(0);
    expect(Array.from(r.sum.a!.values)).toEqual([0, 0, 0]);
  });

  it('bad input names the argument and the value', () => {
    const g = { values: new Float64Array(4), shape: [2, 2] };
    expect(() => clipPerExample({ a: g, b: { values: new Float64Array(3), shape: [3, 1] } }, 1)).toThrow(
      /grads\["b"\].shape\[0\] is 3 but grads\["a"\].shape\[0\] is 2/,
    );
    expect(() => clipPerExample([g], -1)).toThrow(/l2NormClip must be > 0, got -1/);
    expect(() => clipPerExample([g], NaN)).toThrow(RangeError);
    expect(() => clipPerExample([g], '1' as unknown as number)).toThrow(TypeError);
    expect(() => clipPerExample(new Float64Array(2) as unknown as typeof g, 1)).toThrow(TypeError);
    expect(() => clipPerExample([{ values: [1, 2], shape: [2] }] as unknown as [typeof g], 1)).toThrow(
      /grads\[0\].values/,
    );
    expect(() => clipPerExample([{ values: new Float64Array(1), shape: [] }], 1)).toThrow(/batch dimension first/);
  });
});
