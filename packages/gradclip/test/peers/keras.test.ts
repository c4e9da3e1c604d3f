/**
 * Keras's own clipnorm / clipvalue / global_clipnorm tests, translated onto gradclip/tfjs's
 * `withClipping(optimizer, { clipnorm | clipvalue | globalClipnorm })`:
 *   Keras 3 — keras-team/keras (HEAD 3422977, Aug 2026): keras/src/optimizers/optimizer_test.py
 *     (test_clip_args, test_clip_norm, test_clip_value, test_global_clip_norm), the
 *     test_clip_norm / test_clip_value of each optimizer that tfjs also has
 *     (adadelta_test, adagrad_test, adam_test, adamax_test, rmsprop_test, sgd_test), and
 *     adam_test.py test_clipnorm_indexed_slices;
 *   Keras 2 — keras-team/keras tag v2.15.0: keras/optimizers/optimizer_test.py
 *     (testClipNorm, testClipValue, testClipGlobalNorm, testPassingLegacyArgsRaiseError,
 *     testPassingLegacyClipnorm), keras/optimizers/legacy/optimizer_v2_test.py
 *     (testGradClipValue, testGradClipNorm, testGradGlobalClipNorm, testInvalidClipNorm,
 *     testConfigWithCliping[clipnorm | global_clipnorm | clipvalue]),
 *     keras/optimizers/optimizer_v1_test.py (test_clipnorm, test_clipvalue,
 *     test_negative_clipvalue_or_clipnorm).
 *
 * Keras's `optimizer._clip_gradients(grads)` is observed as the gradients the wrapped tfjs
 * optimizer receives (its applyGradients is recorded); `opt.minimize(loss, vars)` maps to tfjs's
 * `minimize`. Each case checks (1) the numbers the upstream test states, with its tolerance
 * (Keras/TF `assertAllClose`: rtol 1e-6, atol 1e-6; `assertAllEqual`: exact), and (2) that the
 * clipped gradients are Keras's own float32 arithmetic — c·g / max(‖g‖, c) and
 * g · c·min(1/‖g‖, 1/c), no eps — to 1 ulp, which is what tells Keras's numbers from PyTorch's
 * eps 1e-6 (e.g. global_clipnorm 2 on a norm-5 gradient: 1.2000000 vs 1.1999998).
 *
 * Differs on purpose: Keras rejects a negative clipnorm / clipvalue with ValueError (Keras 2),
 * gradclip with RangeError; Keras 3 silently disables clipping for 0 or a negative value
 * (`if self.clipnorm and self.clipnorm > 0`), gradclip refuses both (no upstream test states
 * that Keras 3 behaviour, so no case here; see the README's comparison table).
 *
 * No tfjs counterpart (not translated): the test_clip_norm / test_clip_value of Keras 3's
 * adafactor, adamw, ftrl, lamb, lion, muon, nadam and schedule_free_adamw tests (tfjs has no such
 * optimizers; the clipping under test is the same base-class code as for the ones translated),
 * backend/tensorflow/optimizer_distribute_test.py test_clip_norm / test_clip_value
 * (tf.distribute strategies).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { ClippedOptimizer, withClipping } from 'gradclip/tfjs';
import { ulpDistance } from '../fixture_utils.js';
import { expectAllClose, TF_CLOSE } from './close.js';
import { read, recording, useCpu, variable } from './tfjs_util.js';

const K3 = 'keras-team/keras keras/src/optimizers';
const K2 = 'keras-team/keras@v2.15.0 keras/optimizers';
const fr = Math.fround;

/** Keras / TF `clip_by_norm` in float32: l2 = √Σg², g·c / max(l2, c). */
function kerasClipByNorm(g: ArrayLike<number>, c: number): Float32Array {
  let s = 0;
  for (let i = 0; i < g.length; i++) s = fr(s + fr(g[i]! * g[i]!));
  const l2 = s > 0 ? fr(Math.sqrt(s)) : s;
  const cc = fr(c);
  return Float32Array.from(g, (x) => fr(fr(x * cc) / Math.max(l2, cc)));
}

/** Keras / TF `clip_by_global_norm` in float32: scale = c·min(1/‖g‖, 1/c) (+ (‖g‖ − ‖g‖)), g·scale. */
function kerasClipByGlobalNorm(gs: ArrayLike<number>[], c: number): Float32Array[] {
  let total = 0;
  for (const g of gs) {
    let s = 0;
    for (let i = 0; i < g.length; i++) s = fr(s + fr(g[i]! * g[i]!));
    total = fr(total + s);
  }
  const norm = fr(Math.sqrt(total));
  const cc = fr(c);
  const scale = fr(fr(cc * Math.min(fr(1 / norm), fr(1 / cc))) + (norm - norm));
  return gs.map((g) => Float32Array.from(g, (x) => fr(x * scale)));
}

const kerasClipByValue = (g: ArrayLike<number>, c: number) => Float32Array.from(g, (x) => Math.min(Math.max(x, -c), c));

/** (2): the clipped gradient is Keras's float32 result to 1 ulp. */
function expectKerasFloat32(actual: ArrayLike<number>, keras: ArrayLike<number>, what: string): void {
  const d = Array.from(actual, (a, i) => ulpDistance(a, keras[i]!, 'float32'));
  expect(
    Math.max(0, ...d),
    `${what}: ${Array.from(actual).join(', ')} vs Keras float32 ${Array.from(keras).join(', ')}`,
  ).toBeLessThanOrEqual(1);
}

/** `optimizer._clip_gradients(grads)` through withClipping: the gradients the wrapped optimizer is handed. */
function clipGradients(
  inner: tf.Optimizer,
  clipping: Parameters<typeof withClipping>[1],
  grads: number[][],
): Float32Array[] {
  const vars = grads.map((g) => variable(g.map(() => 0)));
  const { optimizer, calls } = recording(inner);
  const opt = withClipping(optimizer, clipping);
  tf.tidy(() => opt.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: tf.tensor1d(grads[i]!) }))));
  const seen = calls[0]!;
  const out = vars.map((v) => seen.get(v.name)!);
  opt.dispose();
  vars.forEach((v) => v.dispose());
  return out;
}

/** The option's value as the optimizer's saved config records it (Keras: `optimizer.clipnorm`). */
function configValue(opt: ClippedOptimizer, key: string): unknown {
  const found: unknown[] = [];
  const walk = (x: unknown): void => {
    if (Array.isArray(x)) x.forEach(walk);
    else if (x !== null && typeof x === 'object') {
      for (const [k, v] of Object.entries(x)) {
        if (k === key) found.push(v);
        walk(v);
      }
    }
  };
  walk(opt.getConfig());
  return found.length === 1 ? found[0] : found;
}

const SQRT_HALF = 2 ** 0.5 / 2;

/** tfjs optimizers standing in for Keras 3's: name in Keras → a fresh tfjs optimizer. */
const OPTIMIZERS: [string, () => tf.Optimizer][] = [
  ['adadelta_test.py AdadeltaTest', () => tf.train.adadelta()],
  ['adagrad_test.py AdagradTest', () => tf.train.adagrad(0.001)],
  ['adam_test.py AdamTest', () => tf.train.adam()],
  ['adamax_test.py AdamaxTest', () => tf.train.adamax()],
  ['rmsprop_test.py RMSPropTest', () => tf.train.rmsprop(0.001)],
  ['sgd_test.py SGDTest', () => tf.train.sgd(0.01)],
];

describe('Keras peer suite (withClipping with Keras-named options)', () => {
  beforeAll(useCpu);

  describe('Keras 3', () => {
    it(`${K3}/optimizer_test.py OptimizerTest.test_clip_args`, () => {
      for (const key of ['clipnorm', 'clipvalue', 'globalClipnorm'] as const) {
        const opt = withClipping(tf.train.sgd(1.0), { [key]: 0.1 });
        expect(configValue(opt, key), key).toBe(0.1);
        opt.dispose();
      }
      // Only one of clipnorm, clipvalue and global_clipnorm can be set (Keras: ValueError, gradclip: TypeError)
      expect(() => withClipping(tf.train.sgd(1.0), { clipnorm: 0.1, clipvalue: 0.1 })).toThrow(
        /only one of clipnorm, clipvalue and globalClipnorm/i,
      );
      expect(() => withClipping(tf.train.sgd(1.0), { clipnorm: 0.1, globalClipnorm: 0.1 })).toThrow(
        /only one of clipnorm, clipvalue and globalClipnorm/i,
      );
    });

    it(`${K3}/optimizer_test.py OptimizerTest.test_clip_norm`, () => {
      const [g] = clipGradients(tf.train.sgd(0.01), { clipnorm: 1 }, [[100, 100]]);
      expectAllClose(g!, [SQRT_HALF, SQRT_HALF], TF_CLOSE);
      expectKerasFloat32(g!, kerasClipByNorm([100, 100], 1), 'clipnorm');
    });

    it(`${K3}/optimizer_test.py OptimizerTest.test_clip_value`, () => {
      const [g] = clipGradients(tf.train.sgd(0.01), { clipvalue: 1 }, [[100, 100]]);
      expectAllClose(g!, [1.0, 1.0], TF_CLOSE);
      expectKerasFloat32(g!, kerasClipByValue([100, 100], 1), 'clipvalue');
    });

    it(`${K3}/optimizer_test.py OptimizerTest.test_global_clip_norm`, () => {
      const grad = new Float32Array([50, 100]);
      const globalNorm = fr(Math.sqrt(fr(fr(50 * 50) + fr(100 * 100)))); // np.linalg.norm of a float32 array
      const [g] = clipGradients(tf.train.sgd(0.01), { globalClipnorm: 1 }, [Array.from(grad)]);
      expectAllClose(
        g!,
        Array.from(grad, (x) => fr(x / globalNorm)),
        TF_CLOSE,
      );
      expectKerasFloat32(g!, kerasClipByGlobalNorm([grad], 1)[0]!, 'global_clipnorm');
    });

    for (const [file, make] of OPTIMIZERS) {
      it(`${K3}/${file}.test_clip_norm`, () => {
        const [g] = clipGradients(make(), { clipnorm: 1 }, [[100, 100]]);
        expectAllClose(g!, [SQRT_HALF, SQRT_HALF], TF_CLOSE);
        expectKerasFloat32(g!, kerasClipByNorm([100, 100], 1), 'clipnorm');
      });
      it(`${K3}/${file}.test_clip_value`, () => {
        const [g] = clipGradients(make(), { clipvalue: 1 }, [[100, 100]]);
        expectAllClose(g!, [1.0, 1.0], TF_CLOSE);
      });
    }

    it(`${K3}/adam_test.py AdamTest.test_clipnorm_indexed_slices (Embedding → Flatten → Dense, Adam clipnorm 100, fit)`, async () => {
      const model = tfl.sequential({
        layers: [
          tfl.layers.embedding({ inputDim: 10, outputDim: 4, inputLength: 5 }),
          tfl.layers.flatten(),
          tfl.layers.dense({ units: 2 }),
        ],
      });
      model.compile({ optimizer: withClipping(tf.train.adam(), { clipnorm: 100 }), loss: 'meanSquaredError' });
      const x = tf.ones([8, 5]);
      const y = tf.zeros([8, 2]);
      const h = await model.fit(x, y, { verbose: 0 });
      expect(Number.isFinite(h.history['loss']![0] as number)).toBe(true);
      expect(model.getWeights().every((w) => read(w).every(Number.isFinite))).toBe(true);
      tf.dispose([x, y]);
      model.dispose();
    });
  });

  describe('Keras 2 (v2.15.0)', () => {
    it(`${K2}/optimizer_test.py OptimizerFuntionalityTest.testClipNorm (Adam clipnorm 1)`, () => {
      const [g] = clipGradients(tf.train.adam(), { clipnorm: 1 }, [[100, 100]]);
      expectAllClose(g!, [SQRT_HALF, SQRT_HALF], TF_CLOSE);
      expectKerasFloat32(g!, kerasClipByNorm([100, 100], 1), 'clipnorm');
    });

    it(`${K2}/optimizer_test.py OptimizerFuntionalityTest.testClipValue (Adam clipvalue 1, assertAllEqual)`, () => {
      const [g] = clipGradients(tf.train.adam(), { clipvalue: 1 }, [[100, 100]]);
      expect(Array.from(g!)).toEqual([1.0, 1.0]);
    });

    it(`${K2}/optimizer_test.py OptimizerFuntionalityTest.testClipGlobalNorm (Adam global_clipnorm 1, two tensors)`, () => {
      const gs = clipGradients(tf.train.adam(), { globalClipnorm: 1 }, [
        [100, 100],
        [100, 100],
      ]);
      expectAllClose(gs[0]!, [0.5, 0.5], TF_CLOSE);
      const keras = kerasClipByGlobalNorm([new Float32Array([100, 100]), new Float32Array([100, 100])], 1);
      gs.forEach((g, i) => expectKerasFloat32(g, keras[i]!, `global_clipnorm tensor ${i}`));
    });

    it(`${K2}/optimizer_test.py OptimizerFuntionalityTest.testPassingLegacyArgsRaiseError (an unknown legacy argument is refused)`, () => {
      expect(() => withClipping(tf.train.adam(), { clipnorm: 1, decay: 0.5 } as never)).toThrow(TypeError);
    });

    it(`${K2}/optimizer_test.py OptimizerFuntionalityTest.testPassingLegacyClipnorm`, () => {
      const opt = withClipping(tf.train.adam(), { clipnorm: 1 });
      expect(configValue(opt, 'clipnorm')).toBe(1);
      opt.dispose();
    });

    it(`${K2}/legacy/optimizer_v2_test.py OptimizerTest.testGradClipValue`, () => {
      const v = variable([1.0, 2.0]);
      const { optimizer, calls } = recording(tf.train.sgd(1.0));
      const opt = withClipping(optimizer, { clipvalue: 1.0 });
      opt.minimize(() => tf.sum(tf.mul(3, v)), false, [v]);
      expectAllClose(read(v), [0.0, 1.0], TF_CLOSE);
      expectKerasFloat32(calls[0]!.get(v.name)!, kerasClipByValue([3, 3], 1), 'clipvalue');
      opt.dispose();
      v.dispose();
    });

    it(`${K2}/legacy/optimizer_v2_test.py OptimizerTest.testGradClipNorm`, () => {
      const v = variable([1.0]);
      const { optimizer, calls } = recording(tf.train.sgd(1.0));
      const opt = withClipping(optimizer, { clipnorm: 1.0 });
      opt.minimize(() => tf.sum(tf.mul(3, v)), false, [v]);
      expectAllClose(read(v), [0.0], TF_CLOSE);
      expectKerasFloat32(calls[0]!.get(v.name)!, kerasClipByNorm([3], 1), 'clipnorm');
      opt.dispose();
      v.dispose();
    });

    it(`${K2}/legacy/optimizer_v2_test.py OptimizerTest.testGradGlobalClipNorm`, () => {
      // l2 norm is 5.0; grad1 = 3·2/5 = 1.2, grad2 = 4·2/5 = 1.6
      const v1 = variable([1.0]);
      const v2 = variable([2.0]);
      const { optimizer, calls } = recording(tf.train.sgd(1.0));
      const opt = withClipping(optimizer, { globalClipnorm: 2.0 });
      opt.minimize(() => tf.add(tf.sum(tf.mul(3, v1)), tf.sum(tf.mul(4, v2))), false, [v1, v2]);
      expectAllClose(read(v1), [-0.2], TF_CLOSE);
      expectAllClose(read(v2), [0.4], TF_CLOSE);
      const [k1, k2] = kerasClipByGlobalNorm([[3], [4]], 2.0);
      expectKerasFloat32(calls[0]!.get(v1.name)!, k1!, 'grad1');
      expectKerasFloat32(calls[0]!.get(v2.name)!, k2!, 'grad2');
      opt.dispose();
      v1.dispose();
      v2.dispose();
    });

    it(`${K2}/legacy/optimizer_v2_test.py OptimizerTest.testInvalidClipNorm (negative clipnorm refused; gradclip: RangeError, Keras: ValueError ">= 0")`, () => {
      expect(() => withClipping(tf.train.sgd(1.0), { clipnorm: -1.0 })).toThrow(RangeError);
    });

    for (const [kerasName, key] of [
      ['clipnorm', 'clipnorm'],
      ['global_clipnorm', 'globalClipnorm'],
      ['clipvalue', 'clipvalue'],
    ] as const) {
      it(`${K2}/legacy/optimizer_v2_test.py OptimizerTest.testConfigWithCliping[clip_type=${kerasName}]`, () => {
        const opt = withClipping(tf.train.sgd(1.0), { [key]: 2.0 });
        const config = opt.getConfig();
        const restored = ClippedOptimizer.fromConfig(ClippedOptimizer, config) as unknown as ClippedOptimizer;
        expect(configValue(restored, key)).toBe(2.0);
        // and the restored optimizer clips with 2.0
        const g = [30, 40];
        const v = variable([0, 0]);
        const { optimizer: inner, calls } = recording(restored.optimizer);
        const again = new ClippedOptimizer(inner, restored.clipper);
        tf.tidy(() => again.applyGradients([{ name: v.name, tensor: tf.tensor1d(g) }]));
        const expected =
          key === 'clipvalue'
            ? kerasClipByValue(g, 2)
            : key === 'clipnorm'
              ? kerasClipByNorm(g, 2)
              : kerasClipByGlobalNorm([g], 2)[0]!;
        expectKerasFloat32(calls[0]!.get(v.name)!, expected, kerasName);
        opt.dispose();
        again.dispose();
        v.dispose();
      });
    }

    /** get_test_data(train_samples=1000, input_shape=(10,), num_classes=2): class templates + N(0, 1) noise (own seeded draw). */
    function testData(n: number, dim: number, classes: number, seed: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
      let s = seed >>> 0;
      const uniform = () => {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        return (s + 0.5) / 2 ** 32;
      };
      const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
      const templates = Array.from({ length: classes }, () =>
        Array.from({ length: dim }, () => 2 * classes * uniform()),
      );
      const labels = Array.from({ length: n }, () => Math.min(classes - 1, Math.floor(uniform() * classes)));
      const x = labels.flatMap((c) => templates[c]!.map((t) => t + normal()));
      const y = labels.flatMap((c) => Array.from({ length: classes }, (_, k) => (k === c ? 1 : 0)));
      return { x: tf.tensor2d(x, [n, dim]), y: tf.tensor2d(y, [n, classes]) };
    }

    for (const [name, clipping] of [
      ['test_clipnorm', { clipnorm: 0.5 }],
      ['test_clipvalue', { clipvalue: 0.5 }],
    ] as const) {
      it(`${K2}/optimizer_v1_test.py KerasOptimizersTest.${name} (SGD lr 0.01 momentum 0.9, 2 epochs, acc ≥ 0.75)`, async () => {
        const { x, y } = testData(1000, 10, 2, 1337);
        const model = tfl.sequential({
          layers: [
            tfl.layers.dense({ units: 20, activation: 'relu', inputShape: [10] }),
            tfl.layers.dense({ units: 2, activation: 'softmax' }),
          ],
        });
        const opt = withClipping(tf.train.momentum(0.01, 0.9), clipping);
        model.compile({ loss: 'categoricalCrossentropy', optimizer: opt, metrics: ['acc'] });
        expect(opt.iterations).toBe(0);
        const h = await model.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
        expect(opt.iterations).toBe(126); // 63 steps per epoch
        const acc = h.history['acc']!;
        expect(acc.at(-1) as number).toBeGreaterThanOrEqual(0.75);
        tf.dispose([x, y]);
        model.dispose();
      });
    }

    it(`${K2}/optimizer_v1_test.py KerasOptimizersTest.test_negative_clipvalue_or_clipnorm (gradclip: RangeError, Keras: ValueError)`, () => {
      expect(() => withClipping(tf.train.momentum(0.01, 0), { clipvalue: -0.5 })).toThrow(RangeError);
      expect(() => withClipping(tf.train.adam(), { clipnorm: -2.0 })).toThrow(RangeError);
    });
  });
});
