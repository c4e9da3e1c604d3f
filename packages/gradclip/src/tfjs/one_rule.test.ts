// Issue 11, "One rule, one truth", on tensors: withClipping reads the non-finite policy,
// the saved-model description and the threshold from the rule, whatever form the clipper
// was given in; Keras-named options give Keras's numbers.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { autoClip, globalNormClipper, zClip, zClipRule } from '../index.js';
import { globalNormTensorClipper, toTensorClipper, withClipping, zClipTensorClipper } from './index.js';
import { BACKENDS, useBackend } from './test_backends.js';

const read = (t: tf.Tensor) => Array.from(t.dataSync());
const f32 = (xs: number[]) => xs.map((x) => Math.fround(x));

for (const backend of BACKENDS) {
  describe(`one rule, one truth on ${backend}`, () => {
    beforeAll(() => useBackend(backend));

    /** One applyGradients call on a fresh variable [1, 2]; returns the variable's values after it. */
    function step(clipping: Parameters<typeof withClipping>[1] | null, grad: number[], lr = 0.1): number[] {
      const v = tf.variable(tf.tensor1d([1, 2]), true, `w_${backend}_${Math.random().toString(36).slice(2)}`);
      const opt = clipping === null ? tf.train.sgd(lr) : withClipping(tf.train.sgd(lr), clipping);
      const g = tf.tensor1d(grad);
      opt.applyGradients([{ name: v.name, tensor: g }]);
      const out = read(v);
      tf.dispose([v, g]);
      opt.dispose();
      return out;
    }

    describe("nonFinite: 'skip' keeps a NaN step out of the weights in every form of the clipper (item 1)", () => {
      const forms: [string, () => Parameters<typeof withClipping>[1]][] = [
        ['a typed-array Clipper: zClip({ nonFinite: "skip" })', () => zClip({ nonFinite: 'skip' })],
        ['a ClipRule: zClipRule({ nonFinite: "skip" })', () => zClipRule({ nonFinite: 'skip' })],
        [
          'a tensor clipper: zClipTensorClipper({ nonFinite: "skip" })',
          () => zClipTensorClipper({ nonFinite: 'skip' }),
        ],
        ['a typed-array Clipper: autoClip({ nonFinite: "skip" })', () => autoClip({ nonFinite: 'skip' })],
        [
          'a typed-array Clipper: globalNormClipper(1, { nonFinite: "skip" })',
          () => globalNormClipper(1, { nonFinite: 'skip' }),
        ],
        [
          'Keras options: { globalClipnorm: 1, nonFinite: "skip" }',
          () => ({ globalClipnorm: 1, nonFinite: 'skip' as const }),
        ],
      ];
      for (const [what, make] of forms) {
        it(what, () => {
          // tfjs's SGD itself keeps one tensor per optimizer after dispose: measure against it.
          const t0 = tf.memory().numTensors;
          step(null, [0.1, 0.1]);
          const plain = tf.memory().numTensors - t0;
          const t1 = tf.memory().numTensors;
          expect(step(make(), [NaN, 1])).toEqual([1, 2]);
          expect(tf.memory().numTensors - t1).toBe(plain);
          // And a finite step still moves the weights.
          expect(step(make(), [0.1, 0.1])).not.toEqual([1, 2]);
        });
      }
    });

    describe("Keras-named options give Keras's numbers (item 4)", () => {
      it('globalClipnorm 1, SGD lr 1, gradient [3, 4]: w = [1, 2] − float32 [0.6, 0.8], as Keras (no eps)', () => {
        // Keras: scale = 1 · min(1/5, 1/1) = 0.2; 3 · 0.2 = 0.6 and 4 · 0.2 = 0.8 in float32.
        expect(step({ globalClipnorm: 1 }, [3, 4], 1)).toEqual(f32([1 - Math.fround(0.6), 2 - Math.fround(0.8)]));
      });

      it("gradclip's own clipper keeps PyTorch's eps 1e-6 (a different number)", () => {
        // PyTorch: 3 / (5 + 1e-6) = 0.59999988…, not 0.6.
        const w = step(globalNormTensorClipper(1), [3, 4], 1);
        expect(w[0]).not.toBe(Math.fround(1 - Math.fround(0.6)));
        expect(w[0]).toBeCloseTo(0.4, 6);
      });

      it('clipnorm 2 on [3, 4]: each tensor to c / max(‖t‖, c) = 0.4 → [1.2, 1.6], lr 1', () => {
        expect(step({ clipnorm: 2 }, [3, 4], 1)).toEqual(f32([1 - Math.fround(1.2), 2 - Math.fround(1.6)]));
      });

      it('globalClipnorm on an infinite global norm makes every output NaN, as TF clip_by_global_norm', () => {
        const c = toTensorClipper({ globalClipnorm: 1 });
        const a = tf.tensor1d([Infinity, 1]);
        const b = tf.tensor1d([2, -3]);
        const r = c.clip([a, b]);
        const out = r.grads.flatMap((t) => read(t!));
        expect(out.every((x) => Number.isNaN(x))).toBe(true);
        tf.dispose([a, b, r.norm, r.scale, r.clipped, r.finite, ...(r.grads as tf.Tensor[])]);
      });

      it('clipnorm / globalClipnorm of 0, a negative value, NaN or Infinity is refused with a RangeError naming the option', () => {
        for (const bad of [0, -1, NaN, Infinity]) {
          expect(() => withClipping(tf.train.sgd(0.1), { globalClipnorm: bad })).toThrow(
            /clipping\.globalClipnorm must be/,
          );
          expect(() => withClipping(tf.train.sgd(0.1), { clipnorm: bad })).toThrow(RangeError);
        }
      });
    });

    it('a typed-array Clipper or a rule given to withClipping can be saved with the model (its rule carries the description)', () => {
      const opt = withClipping(tf.train.sgd(0.1), zClip({ warmupSteps: 2 }));
      expect(opt.getConfig()['clipper']).toEqual({ kind: 'zClip', args: [{ warmupSteps: 2 }] });
      opt.dispose();
    });
  });
}
