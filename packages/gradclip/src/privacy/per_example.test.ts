import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fcGate } from '../../test/fc_gate.js';
import { clipPerExample, clipPerExampleByLayer } from './per_example.js';

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

describe('clipPerExampleByLayer', () => {
  // optax's own test case: optax/transforms/_clipping_test.py, test_per_example_layer_norm_clip
  // (google-deepmind/optax). Two layers, batch 4: layer 0 has one value per example, layer 1 is
  // ones of shape (3, 3, 2), i.e. norm √18 per example.
  const optaxGrads = () => [
    { values: new Float32Array([0.5, 1.5, -2.0, 3.0]), shape: [4, 1] },
    { values: new Float32Array(4 * 18).fill(1), shape: [4, 3, 3, 2] },
  ];

  it("optax's uniform variant: C = √2 → each layer at 1; sums 1.5 and 4/√18, clipped [3, 4]", () => {
    const { sum, norms, clipped } = clipPerExampleByLayer(optaxGrads(), Math.SQRT2, { uniform: true });
    // Layer 0 clipped per example to [0.5, 1, -1, 1] → 1.5; layer 1 each example (1/√18)·ones → 4/√18.
    expect(sum[0]!.values[0]).toBeCloseTo(1.5, 6);
    expect(sum[1]!.shape).toEqual([3, 3, 2]);
    for (const v of sum[1]!.values) expect(v).toBeCloseTo(4 / Math.sqrt(18), 4);
    expect(clipped).toEqual([3, 4]);
    expect(Array.from(norms[0]!)).toEqual([0.5, 1.5, 2, 3]);
    for (const n of norms[1]!) expect(n).toBeCloseTo(Math.sqrt(18), 12);
    // uniform is the default, as in optax.
    expect(clipPerExampleByLayer(optaxGrads(), Math.SQRT2).clipped).toEqual([3, 4]);
  });

  it("optax's scaled variant: C = √19 → layers at 1 and √18; sums 1.5 and 4, clipped [3, 0]", () => {
    const { sum, clipped } = clipPerExampleByLayer(optaxGrads(), Math.sqrt(19), { uniform: false });
    expect(sum[0]!.values[0]).toBeCloseTo(1.5, 6);
    for (const v of sum[1]!.values) expect(v).toBeCloseTo(4, 6);
    expect(clipped).toEqual([3, 0]);
  });

  it('with one layer it is clipPerExample (optax: equivalent to per_example_global_norm_clip)', () => {
    const g = { values: Float64Array.from({ length: 12 }, (_, i) => Math.cos(i) * i), shape: [4, 3] };
    const byLayer = clipPerExampleByLayer({ g }, 2);
    const flat = clipPerExample({ g }, 2);
    expect(Array.from(byLayer.sum.g!.values)).toEqual(Array.from(flat.sum.g!.values));
    expect(byLayer.clipped).toEqual([flat.clipped]);
  });

  it('keeps nulls and the container; K counts only present layers', () => {
    // Two present layers, uniform: each at C/√2 = 1 with C = √2. a = (3, 4): ‖5‖ → (0.6, 0.8); b = 0.5 untouched.
    const r = clipPerExampleByLayer(
      {
        a: { values: new Float64Array([3, 4]), shape: [1, 2] },
        none: null,
        b: { values: new Float64Array([0.5]), shape: [1, 1] },
      },
      Math.SQRT2,
    );
    expect(r.sum.none).toBeNull();
    expect(Array.from(r.sum.a!.values).map((x) => +x.toFixed(12))).toEqual([0.6, 0.8]);
    expect(Array.from(r.sum.b!.values)).toEqual([0.5]);
    expect(r.clipped).toEqual([1, 0]);
  });

  it("each example's clipped gradient has norm ≤ C, so the sum has sensitivity C (both variants)", () => {
    const layer = fc.tuple(
      fc.integer({ min: 1, max: 4 }),
      fc.array(fc.double({ min: -50, max: 50, noNaN: true }), { minLength: 12, maxLength: 12 }),
    );
    fc.assert(
      fc.property(
        fc.array(layer, { minLength: 1, maxLength: 4 }),
        fc.double({ min: 0.01, max: 20, noNaN: true }),
        fc.boolean(),
        (spec, C, uniform) => {
          // One example (batch 1): the sum is the clipped gradient itself.
          const grads = spec.map(([d, xs]) => ({ values: Float64Array.from(xs.slice(0, d)), shape: [1, d] }));
          const { sum } = clipPerExampleByLayer(grads, C, { uniform });
          const sq = sum.reduce((a, s) => a + Array.from(s!.values).reduce((b, x) => b + x * x, 0), 0);
          expect(Math.sqrt(sq)).toBeLessThanOrEqual(C * (1 + 1e-12));
        },
      ),
      fcGate({ seed: 2101, numRuns: 200 }),
    );
  });

  it('bad input names the argument and the value; the input is untouched', () => {
    const g = { values: new Float64Array([3, 4]), shape: [1, 2] };
    expect(() => clipPerExampleByLayer([g], 0)).toThrow(/l2NormClip must be > 0, got 0/);
    expect(() => clipPerExampleByLayer([g], '1' as unknown as number)).toThrow(TypeError);
    expect(() => clipPerExampleByLayer([g], 1, { uniform: 'yes' as unknown as boolean })).toThrow(
      /options.uniform must be a boolean, got/,
    );
    expect(() => clipPerExampleByLayer([g], 1, { unifrom: true } as never)).toThrow(/options.unifrom is not an option/);
    expect(() => clipPerExampleByLayer([g, { values: new Float64Array(2), shape: [2, 1] }], 1)).toThrow(
      /grads\[1\].shape\[0\] is 2 but grads\[0\].shape\[0\] is 1/,
    );
    clipPerExampleByLayer([g], 1);
    expect(Array.from(g.values)).toEqual([3, 4]);
  });
});
