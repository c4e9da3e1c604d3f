/**
 * TensorFlow's own clip-op tests, translated: tensorflow/tensorflow
 *   tensorflow/python/kernel_tests/math_ops/clip_ops_test.py (ClipTest), read at 2f22fbe, and
 *   tensorflow/python/ops/clip_ops_test.py (ClipOpsTest), read at 0975e71.
 *
 * Mapping: clip_by_value(t, −c, c) → clipByValue(c); clip_by_norm(t, c) → clipByNorm(c);
 * clip_by_global_norm(ts, c) → clipByGlobalNorm(c, { eps: 0 }) (TF divides by the norm without an
 * eps; eps: 0 is gradclip's documented TF form); clip_by_average_norm(t, c) → clipByNorm(c·size)
 * (the identity upstream's testClipByAverageNormReplacedWithClipByNorm checks); IndexedSlices →
 * their values as a dense array. Float32 data, TF's `assertAllClose` tolerance (rtol 1e-6,
 * atol 1e-6) and `assertAllEqual` where upstream uses it.
 *
 * Differs on purpose: testClipByGlobalNormInf — TF makes every output NaN when the global norm
 * is infinite; gradclip's own clipByGlobalNorm follows PyTorch by default ('propagate': finite
 * entries become 0, infinite ones NaN), so that case asserts PyTorch's arithmetic; gradclip/tfjs's
 * Keras-named `globalClipnorm` gives TF's all-NaN result, checked by a second case.
 *
 * No gradclip counterpart (not translated):
 *   - testClipByValueGradient, testClipByNormGradientZeros — gradients *of* the clip ops; gradclip
 *     clips gradients and is not itself differentiated.
 *   - testClipByValue0Type … testClipByValue3Type — asymmetric bounds [min, max], tensor-valued
 *     bounds and integer dtypes; gradclip clamps float32/float64 to a symmetric [−c, c].
 *   - the [1, 2] and [−2, −1] sub-cases of testClipByValueWithIndexedSlicesClipped (asymmetric).
 *   - testClipByNormClippedWithDim0, testClipByNormClippedWithDim1, testClipByNormNotClippedWithAxes
 *     — clip_by_norm's `axes` (a norm per slice); gradclip's clipByNorm takes one norm per tensor.
 *   - testClipByGlobalNormPreservesDenseShape and ops/clip_ops_test.py testClipIndexedSlicesByNorm
 *     — IndexedSlices bookkeeping (dense_shape, axes on sparse slices).
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { clipByGlobalNorm, clipByNorm, clipByValue } from 'gradclip';
import { globalNormTensorClipper, withClipping } from 'gradclip/tfjs';
import { expectAllClose, TF_CLOSE } from './close.js';
import { read, recording, useCpu, variable } from './tfjs_util.js';

const SRC = 'tensorflow/tensorflow tensorflow/python/kernel_tests/math_ops/clip_ops_test.py ClipTest';
const SRC_OPS = 'tensorflow/tensorflow tensorflow/python/ops/clip_ops_test.py ClipOpsTest';
const F = (xs: number[]) => new Float32Array(xs);

/** The two tensors of the ClipByGlobalNorm tests: x0 (2×3) and x1; global norm 5. */
const globalPair = () => [F([-2, 0, 0, 4, 0, 0]), F([1, -2])];

describe(`TensorFlow peer suite (${SRC}; ${SRC_OPS})`, () => {
  beforeAll(useCpu);

  it(`${SRC}.testClipByValue`, () => {
    const x = F([-5, 2, 3, 4, 5, 6]);
    clipByValue(x, 4.4);
    expectAllClose(x, [-4.4, 2, 3, 4, 4.4, 4.4], TF_CLOSE);
  });

  it(`${SRC}.testClipByValueBadShape (a non-scalar clip value is refused; gradclip: TypeError, TF: ValueError)`, () => {
    const x = F([-5, 2, 3, 4, 5, 6]);
    expect(() => clipByValue(x, F([1, 2]) as never)).toThrow(TypeError);
    expect(Array.from(x)).toEqual([-5, 2, 3, 4, 5, 6]);
  });

  it(`${SRC}.testClipByValueNonFinite`, () => {
    const x = F([NaN, Infinity, -Infinity]);
    clipByValue(x, 4.0);
    expectAllClose(x, [NaN, 4.0, -4.0], TF_CLOSE);
  });

  it(`${SRC}.testClipByValueWithIndexedSlicesClipped (the symmetric [−2, 2] sub-case, on the slices' values)`, () => {
    const values = F([-3, 0, 0, 4, 0, 0, 0, 2, 0, 0, 0, -1]);
    clipByValue(values, 2.0);
    expectAllClose(values, [-2, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, -1], TF_CLOSE);
  });

  it(`${SRC}.testClipByNormClipped`, () => {
    for (let run = 0; run < 2; run++) {
      const x = F([-3, 0, 0, 4, 0, 0]);
      clipByNorm(x, 4.0);
      expectAllClose(x, [-2.4, 0, 0, 3.2, 0, 0], TF_CLOSE);
    }
  });

  it(`${SRC}.testClipByNormBadShape (a non-scalar clip norm is refused; gradclip: TypeError, TF: ValueError)`, () => {
    const x = F([-3, 0, 0, 4, 0, 0]);
    expect(() => clipByNorm(x, F([1, 2]) as never)).toThrow(TypeError);
    expect(Array.from(x)).toEqual([-3, 0, 0, 4, 0, 0]);
  });

  it(`${SRC}.testClipByNormNotClipped`, () => {
    const x = F([-3, 0, 0, 4, 0, 0]);
    clipByNorm(x, 6.0);
    expectAllClose(x, [-3, 0, 0, 4, 0, 0], TF_CLOSE);
  });

  it(`${SRC}.testClipByNormZero`, () => {
    const x = F([0, 0, 0, 0, 0, 0]);
    clipByNorm(x, 6.0);
    expectAllClose(x, [0, 0, 0, 0, 0, 0], TF_CLOSE);
  });

  it(`${SRC}.testClipByGlobalNormClipped (eps: 0)`, () => {
    const [x0, x1] = globalPair() as [Float32Array, Float32Array];
    const r = clipByGlobalNorm([x0, x1], 4.0, { eps: 0 });
    expectAllClose([r.norm], [5.0], TF_CLOSE);
    expectAllClose(x0, [-1.6, 0, 0, 3.2, 0, 0], TF_CLOSE);
    expectAllClose(x1, [0.8, -1.6], TF_CLOSE);
  });

  it(`${SRC}.testClipByGlobalNormClippedTensor (clip_norm as a tensor → the tensor path, globalNormTensorClipper)`, () => {
    tf.tidy(() => {
      const clipper = globalNormTensorClipper(4.0, { eps: 0 });
      const r = clipper.clip([tf.tensor2d([-2, 0, 0, 4, 0, 0], [2, 3]), tf.tensor1d([1, -2])]);
      expectAllClose(read(r.norm), [5.0], TF_CLOSE);
      expectAllClose(read(r.grads[0]!), [-1.6, 0, 0, 3.2, 0, 0], TF_CLOSE);
      expectAllClose(read(r.grads[1]!), [0.8, -1.6], TF_CLOSE);
      clipper.dispose();
    });
  });

  it(`${SRC}.testClipByGlobalNormSupportsNone`, () => {
    const [x0, x1] = globalPair() as [Float32Array, Float32Array];
    const grads = [x0, null, x1, null];
    const r = clipByGlobalNorm(grads, 4.0, { eps: 0 });
    expect(grads[1]).toBeNull();
    expect(grads[3]).toBeNull();
    expectAllClose([r.norm], [5.0], TF_CLOSE);
    expectAllClose(x0, [-1.6, 0, 0, 3.2, 0, 0], TF_CLOSE);
    expectAllClose(x1, [0.8, -1.6], TF_CLOSE);
  });

  it(`${SRC}.testClipByGlobalNormWithIndexedSlicesClipped (the slices' values as a dense array)`, () => {
    const [x0, x1] = globalPair() as [Float32Array, Float32Array];
    const r = clipByGlobalNorm([x0, x1], 4.0, { eps: 0 });
    expectAllClose([r.norm], [5.0], TF_CLOSE);
    expectAllClose(x0, [-1.6, 0, 0, 3.2, 0, 0], TF_CLOSE);
    expectAllClose(x1, [0.8, -1.6], TF_CLOSE);
  });

  it(`${SRC}.testClipByGlobalNormNotClipped (eps: 0)`, () => {
    const [x0, x1] = globalPair() as [Float32Array, Float32Array];
    const r = clipByGlobalNorm([x0, x1], 6.0, { eps: 0 });
    expectAllClose([r.norm], [5.0], TF_CLOSE);
    expectAllClose(x0, [-2, 0, 0, 4, 0, 0], TF_CLOSE);
    expectAllClose(x1, [1, -2], TF_CLOSE);
  });

  it(`${SRC}.testClipByGlobalNormZero (eps: 0)`, () => {
    const x0 = F([0, 0, 0, 0, 0, 0]);
    const x1 = F([0, 0]);
    const r = clipByGlobalNorm([x0, x1], 6.0, { eps: 0 });
    expectAllClose([r.norm], [0.0], TF_CLOSE);
    expectAllClose(x0, [0, 0, 0, 0, 0, 0], TF_CLOSE);
    expectAllClose(x1, [0, 0], TF_CLOSE);
  });

  it(`${SRC}.testClipByGlobalNormInf — differs on purpose: clipByGlobalNorm's 'propagate' follows PyTorch (finite → 0, ±inf → NaN), not TF's all-NaN`, () => {
    const x0 = F([-2, 0, Infinity, 4, 0, 0]);
    const x1 = F([1, -2]);
    const r = clipByGlobalNorm([x0, x1], 6.0, { eps: 0 });
    expect(r.norm).toBe(Infinity); // as TF: the global norm is inf
    expect(r.finite).toBe(false);
    // PyTorch: scale = 6 / inf = 0; 0 · finite = 0, 0 · inf = NaN (TF would give NaN everywhere)
    expect(Array.from(x0)).toEqual([-0, 0, NaN, 0, 0, 0]);
    expect(Array.from(x1)).toEqual([0, -0]);
  });

  it(`${SRC}.testClipByGlobalNormInf through the Keras-named option (withClipping globalClipnorm): every output NaN, as TF`, () => {
    const w0 = variable([0, 0, 0, 0, 0, 0], [2, 3]);
    const w1 = variable([0, 0]);
    const { optimizer: inner, calls } = recording(tf.train.sgd(1));
    const opt = withClipping(inner, { globalClipnorm: 6.0 });
    tf.tidy(() =>
      opt.applyGradients([
        { name: w0.name, tensor: tf.tensor2d([-2, 0, Infinity, 4, 0, 0], [2, 3]) },
        { name: w1.name, tensor: tf.tensor1d([1, -2]) },
      ]),
    );
    expect(calls).toHaveLength(1);
    const seen = calls[0]!;
    expect(Array.from(seen.get(w0.name)!)).toEqual(new Array(6).fill(NaN));
    expect(Array.from(seen.get(w1.name)!)).toEqual([NaN, NaN]);
    opt.dispose();
    w0.dispose();
    w1.dispose();
  });

  describe('clip_by_average_norm(t, c) → clipByNorm(t, c · size)', () => {
    const averageNorm = (x: Float32Array, c: number) => clipByNorm(x, c * x.length);

    it(`${SRC}.testClipByAverageNormClipped`, () => {
      const x = F([-3, 0, 0, 4, 0, 0]);
      averageNorm(x, 0.8);
      expectAllClose(x, [-2.88, 0, 0, 3.84, 0, 0], TF_CLOSE);
    });

    it(`${SRC}.testClipByAverageNormClippedTensor (clip_norm as a tensor → the tensor path, perTensorNormTensorClipper)`, async () => {
      const { perTensorNormTensorClipper } = await import('gradclip/tfjs');
      tf.tidy(() => {
        const clipper = perTensorNormTensorClipper(0.8 * 6);
        const r = clipper.clip([tf.tensor2d([-3, 0, 0, 4, 0, 0], [2, 3])]);
        expectAllClose(read(r.grads[0]!), [-2.88, 0, 0, 3.84, 0, 0], TF_CLOSE);
        clipper.dispose();
      });
    });

    it(`${SRC}.testClipByAverageNormNotClipped`, () => {
      const x = F([-3, 0, 0, 4, 0, 0]);
      averageNorm(x, 0.9);
      expectAllClose(x, [-3, 0, 0, 4, 0, 0], TF_CLOSE);
    });

    it(`${SRC}.testClipByAverageNormZero`, () => {
      const x = F([0, 0, 0, 0, 0, 0]);
      averageNorm(x, 0.9);
      expectAllClose(x, [0, 0, 0, 0, 0, 0], TF_CLOSE);
    });

    it(`${SRC}.testClipByAverageNormReplacedWithClipByNorm`, () => {
      const a = F([-3, 0, 0, 4, 0, 0]);
      const b = a.slice();
      averageNorm(a, 0.8);
      clipByNorm(b, 0.8 * 6);
      expectAllClose(a, b, TF_CLOSE);
      expectAllClose(a, [-2.88, 0, 0, 3.84, 0, 0], TF_CLOSE);
    });
  });

  it(`${SRC}.testClipByValueEmptyTensor (a zero-size tensor clips without error)`, () => {
    const empty = new Float32Array(0);
    for (const c of [0, 1]) {
      const r = clipByValue([empty], c);
      expect(r).toMatchObject({ clipped: false, finite: true });
    }
    expect(empty.length).toBe(0);
  });

  it(`${SRC_OPS}.testClipTensorByNorm (simple example and zero norm)`, () => {
    const x = F([-3, 0, 0, 4, 0, 0]);
    clipByNorm(x, 4.0);
    expectAllClose(x, [-2.4, 0, 0, 3.2, 0, 0], TF_CLOSE);
    const z = F([0, 0, 0, 0, 0, 0]);
    clipByNorm(z, 4.0);
    expectAllClose(z, [0, 0, 0, 0, 0, 0], TF_CLOSE);
    expect(z.every(Number.isFinite)).toBe(true); // add_check_numerics_ops: no NaN / inf produced
  });
});
