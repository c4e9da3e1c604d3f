/**
 * Per-example clipping and DP-SGD aggregation on jax-js, on optax's test cases
 * (optax/transforms/_clipping_test.py test_per_example_global_norm_clip;
 * optax/contrib/_privacy_test.py DifferentiallyPrivateAggregateTest).
 */
import { grad, numpy as np, vmap } from '@jax-js/jax';
import { describe, expect, it } from 'vitest';
import { RDPAccountant } from '../privacy/accountant.js';
import { insecureSeededRandom } from '../privacy/random.js';
import { privacySpent } from '../privacy/rdp.js';
import { clipPerExample, dpSgdAggregate } from './index.js';
import { perExamplePrograms } from './private.js';
import { arr, hostReadSpy, values } from './test_utils.js';

describe('clipPerExample', () => {
  it('optax test_per_example_global_norm_clip: 4 examples, 2 leaves, C = 1', () => {
    const grads = [arr([0, -0.5, 3, 4, 5, 6, 0, 0], [4, 2]), arr([0, 5, -3, 0], [4, 1])];
    const reads = hostReadSpy();
    const r = clipPerExample(grads, 1);
    reads.restore();
    expect(reads.count()).toBe(0);
    // norms: 0.5, √50, √70, 0; the two middle examples are scaled to norm 1.
    const want0 = [0 + 3 / Math.sqrt(50) + 5 / Math.sqrt(70), -0.5 + 4 / Math.sqrt(50) + 6 / Math.sqrt(70)];
    const want1 = [0 + 5 / Math.sqrt(50) - 3 / Math.sqrt(70)];
    values(r.sum[0]!).forEach((v, i) => expect(Math.abs(v - want0[i]!)).toBeLessThan(1e-6));
    values(r.sum[1]!).forEach((v, i) => expect(Math.abs(v - want1[i]!)).toBeLessThan(1e-6));
    expect(r.sum[1]!.shape).toEqual([1]);
    values(r.norms).forEach((v, i) => expect(v).toBeCloseTo([0.5, Math.sqrt(50), Math.sqrt(70), 0][i]!, 5));
    expect(r.clipped.js()).toBe(2);
    for (const g of grads) expect(g.refCount).toBe(0);
  });

  it('per-example gradients from vmap(grad(loss)) (batch first), overflow-safe norms', () => {
    const loss = (w: np.Array, x: np.Array) => np.sum(np.square(w.mul(x)));
    const w = arr([1, 1]);
    const xs = arr([1, 2, 3, 4, 1e19, 1e19], [3, 2]);
    const g = vmap(grad(loss), [null, 0])(w.ref, xs); // 2·w·x² per example
    const r = clipPerExample({ w: g }, 1);
    const norms = values(r.norms);
    expect(norms[0]).toBeCloseTo(Math.hypot(2, 8), 4);
    // gradients 2e38 each: the norm 2√2·1e38 is finite in float32, though Σg² (8e76) is not.
    expect(norms[2]! / (2 * Math.SQRT2 * 1e38)).toBeCloseTo(1, 5);
    expect(r.clipped.ref.js()).toBe(3);
    r.sum.w.dispose();
    r.clipped.dispose();
    w.dispose();
  });

  it.each([
    ['composed', 'webgpu, webgl'],
    ['float64', 'cpu, wasm'],
  ] as const)(
    'the %s program (%s): norms within float32 rounding at float32 edges, NaN and Infinity as optax',
    (which, _devices) => {
      // Rows: ordinary, huge (squares overflow float32), subnormal (squares underflow it), zero, NaN, Infinity.
      const rows = [
        [3, 4, 12],
        [3e38, -3e38, 1e38],
        [1e-45, 3e-44, -2e-44],
        [0, 0, 0],
        [1, NaN, 2],
        [1, -Infinity, 2],
      ];
      const host = rows.map((r) => Math.sqrt(r.reduce((a, x) => a + Math.fround(x) ** 2, 0)));
      // Each row as two leaves: its first two values ([B, 2]) and its third ([B, 1]); C = 1.
      const clip = (rs: number[][]) =>
        perExamplePrograms[which]({
          g: [
            arr(
              rs.flatMap((row) => row.slice(0, 2)),
              [rs.length, 2],
            ),
            arr(
              rs.map((row) => row[2]!),
              [rs.length, 1],
            ),
          ],
          c: np.array(1, { dtype: np.float32 }),
        });
      const r = clip(rows);
      r.sum.forEach((a) => a.dispose());
      const norms = values(r.norms);
      for (const i of [0, 2, 3])
        expect(Math.abs(norms[i]! - host[i]!)).toBeLessThanOrEqual(Math.max(host[i]! * 2 ** -23, 2 ** -149));
      expect(norms[1]).toBe(Infinity); // 4.4e38 is beyond float32, as optax's norm would be
      expect(norms[4]).toBeNaN();
      expect(norms[5]).toBe(Infinity);
      expect(r.clipped.js()).toBe(3); // rows 0, 1 and 5 (NaN > 1 is false)
      // The sum of the finite rows: row 0 scaled to norm 1, rows 2 and 3 as they are.
      const q = clip([rows[0]!, rows[2]!, rows[3]!]);
      const want = [3 / 13 + 1e-45, 4 / 13 + 3e-44, 12 / 13 - 2e-44];
      [...values(q.sum[0]!), ...values(q.sum[1]!)].forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 6));
      expect(values(q.norms)[1]! / Math.hypot(1e-45, 3e-44, 2e-44)).toBeCloseTo(1, 1);
      q.clipped.dispose();
    },
  );

  it('refuses bad input before consuming anything', () => {
    const a = arr([1, 2, 3, 4], [2, 2]);
    const b = arr([1, 2, 3], [3]);
    expect(() => clipPerExample([a, b], 1)).toThrow(/grads\.1\.shape\[0\] is 3/);
    expect(() => clipPerExample([a], 0)).toThrow(RangeError);
    expect(a.refCount).toBe(1);
    expect(b.refCount).toBe(1);
    a.dispose();
    b.dispose();
  });
});

describe('dpSgdAggregate (optax/contrib/_privacy_test.py)', () => {
  // setUp: batch 8; params { key_a: ([2, 3, 4], []), key_b: [6, 7] }; example i's gradients are all i.
  const B = 8;
  const shapes = { a0: [2, 3, 4], a1: [], b: [6, 7] } as const;
  const perExample = () =>
    Object.fromEntries(
      Object.entries(shapes).map(([k, s]) => {
        const n = s.reduce((x: number, y: number) => x * y, 1);
        return [k, np.array(Float32Array.from({ length: B * n }, (_, j) => Math.floor(j / n))).reshape([B, ...s])];
      }),
    );
  const total = Object.values(shapes).reduce((a, s) => a + s.reduce((x: number, y: number) => x * y, 1), 0); // 67

  it('test_no_privacy: C = float32 max, σ = 0 gives the mean gradient', () => {
    const dp = dpSgdAggregate({ l2NormClip: 3.4028234663852886e38, noiseMultiplier: 0 });
    let state = dp.init([]);
    for (let k = 0; k < 3; k++) {
      const [u, s] = dp.update(perExample(), state);
      state = s;
      for (const a of Object.values(u)) values(a).forEach((v) => expect(v).toBeCloseTo(3.5, 5));
    }
  });

  it.each([0.5, 10, 20, 40, 80])('test_clipping_norm: C = %s, σ = 0', (c) => {
    const dp = dpSgdAggregate({ l2NormClip: c, noiseMultiplier: 0 });
    let state = dp.init([]);
    // example i has norm i·√67; divisor max(norm / C, 1); expected = mean(i / divisor_i).
    let expected = 0;
    for (let i = 0; i < B; i++) expected += i / Math.max((i * Math.sqrt(total)) / c, 1) / B;
    for (let k = 0; k < 3; k++) {
      const [u, s] = dp.update(perExample(), state);
      state = s;
      for (const a of Object.values(u))
        values(a).forEach((v) => expect(Math.abs(v - expected)).toBeLessThan(2e-6 * expected + 1e-7));
    }
  });

  it.each([
    [3, 2],
    [1, 5],
    [100, 4],
    [1, 90],
  ])('test_noise_multiplier: C = %s, σ = %s gives noise of standard deviation σ·C', (c, sigma) => {
    const dp = dpSgdAggregate({ l2NormClip: c, noiseMultiplier: sigma, random: insecureSeededRandom(1337) });
    let state = dp.init([]);
    for (let k = 0; k < 3; k++) {
      const [u, s] = dp.update([np.ones([1, 100, 100])], state);
      state = s;
      const v = values(u[0]!);
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
      expect(Math.abs(std - c * sigma)).toBeLessThan(0.1 * c * sigma);
    }
  });

  it('test_aggregated_updates_as_input_fails: a 0-d array has no batch dimension', () => {
    const dp = dpSgdAggregate({ l2NormClip: 0.1, noiseMultiplier: 1.1 });
    expect(() => dp.update({ a: np.array(1) }, dp.init([]))).toThrow(/batch dimension/);
  });

  it('the accountant counts its steps: ε as privacySpent computes it', () => {
    const acc = new RDPAccountant();
    const dp = dpSgdAggregate({ l2NormClip: 1, noiseMultiplier: 1.1, sampleRate: 0.01, accountant: acc });
    let state = dp.init([]);
    for (let k = 0; k < 5; k++) {
      const [u, s] = dp.update([np.ones([2, 3])], state);
      state = s;
      u[0]!.dispose();
    }
    expect(acc.privacySpent(1e-5).epsilon).toBeCloseTo(
      privacySpent({ sampleRate: 0.01, noiseMultiplier: 1.1, steps: 5, delta: 1e-5 }).epsilon,
      12,
    );
    expect(() => dpSgdAggregate({ l2NormClip: 1, noiseMultiplier: 1, accountant: acc })).toThrow(/sampleRate/);
  });
});
