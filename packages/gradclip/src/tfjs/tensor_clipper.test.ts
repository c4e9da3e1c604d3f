import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { fcGate } from '../../test/fc_gate.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clipByGlobalNorm, clipByNorm, clipByValue } from '../index.js';
import { globalNormTensorClipper, perTensorNormTensorClipper, tensorClipper, valueTensorClipper } from './index.js';
import { setFusedKernelsDisabled } from './kernels.js';
import { BACKENDS, useBackend } from './test_backends.js';
import { globalNormRule } from '../clipper.js';
import { adaGC, autoClip, zClip } from '../index.js';

const f32 = (xs: number[]) => Float32Array.from(xs);
const read = (t: tf.Tensor) => Array.from(t.dataSync());
const readBool = (t: tf.Tensor) => t.dataSync()[0] !== 0;

/** Float32 arrays of moderate values (some 0, some large) for property tests. */
const gradSet = fc.array(
  fc.array(fc.float({ min: -1e3, max: 1e3, noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 20 }),
  { minLength: 1, maxLength: 5 },
);

for (const backend of BACKENDS) {
  for (const fused of [true, false]) {
    describe(`tensor clippers on ${backend} (${fused ? 'fused kernels' : 'composed ops'})`, () => {
      beforeAll(async () => {
        await useBackend(backend);
        setFusedKernelsDisabled(!fused);
      });
      afterAll(() => setFusedKernelsDisabled(false));

      it('global norm: hand-worked [3, 4] and [0] with maxNorm 1', () => {
        // ‖g‖ = 5; scale = 1 / (5 + 1e-6) ≈ 0.2 → [0.6, 0.8], [0].
        const c = globalNormTensorClipper(1);
        const r = c.clip([tf.tensor([3, 4]), tf.tensor([0])]);
        expect(read(r.norm)[0]).toBeCloseTo(5, 5);
        expect(read(r.grads[0]!)).toEqual([expect.closeTo(0.6, 5), expect.closeTo(0.8, 5)]);
        expect(read(r.grads[1]!)).toEqual([0]);
        expect(readBool(r.clipped)).toBe(true);
        expect(readBool(r.finite)).toBe(true);
      });

      it('a typed clipper with numeric state (ZClip, AutoClip, AdaGC) leaks nothing when wrapped, restored and disposed', () => {
        const before = tf.memory().numTensors;
        for (const typed of [zClip(), autoClip({ historySize: 8 }), adaGC()]) {
          const c = tensorClipper(typed);
          const g = tf.tensor([3, 4]);
          const r = c.clip([g]);
          tf.dispose([
            g,
            ...r.grads.filter((t) => t !== null),
            r.norm,
            r.scale,
            r.clipped,
            r.finite,
            ...(r.threshold ? [r.threshold] : []),
          ]);
          c.setState(typed.state);
          c.dispose();
        }
        expect(tf.memory().numTensors).toBe(before);
      });

      it('reports the moving threshold of AutoClip and ZClip', () => {
        const c = tensorClipper(zClip({ maxGradNorm: 7 }));
        const r = c.clip([tf.tensor([3, 4])]);
        expect(read(r.threshold!)[0]).toBe(7); // warm-up: the cap
        c.dispose();
      });

      it('keeps the container: NamedTensorMap, NamedTensor[] with nulls, single tensor', () => {
        const c = globalNormTensorClipper(1);
        const map = c.clip({ b: tf.tensor([0.3]), a: tf.tensor([0.4]) });
        expect(Object.keys(map.grads)).toEqual(['b', 'a']);
        // ‖g‖ = 0.5 < 1: unchanged (up to the 1e-6 eps: 1 / (0.5 + 1e-6) > 1 → scale 1).
        expect(read(map.grads['b']!)).toEqual([expect.closeTo(0.3, 6)]);
        const named = c.clip([
          { name: 'w', tensor: tf.tensor([6, 8]) },
          { name: 'x', tensor: null },
          { name: 'b', tensor: tf.tensor([0]) },
        ]);
        expect(named.grads.map((g) => g.name)).toEqual(['w', 'x', 'b']);
        expect(named.grads[1]!.tensor).toBeNull();
        expect(read(named.grads[0]!.tensor!)).toEqual([expect.closeTo(0.6, 5), expect.closeTo(0.8, 5)]);
        const single = c.clip(tf.tensor([0, -10]));
        expect(read(single.grads)).toEqual([0, expect.closeTo(-1, 5)]);
        const list = c.clip([null, tf.tensor([2])]);
        expect(list.grads[0]).toBeNull();
      });

      it('agrees with the core typed-array functions (property)', () => {
        fc.assert(
          fc.property(gradSet, fc.float({ min: Math.fround(0.01), max: 100, noNaN: true }), (set, maxNorm) => {
            const typed = set.map(f32);
            const tensors = set.map((x) => tf.tensor(x));
            for (const [clipper, core] of [
              [globalNormTensorClipper(maxNorm), () => clipByGlobalNorm(typed, maxNorm)],
              [perTensorNormTensorClipper(maxNorm), () => clipByNorm(typed, maxNorm)],
              [valueTensorClipper(maxNorm), () => clipByValue(typed, maxNorm)],
            ] as const) {
              typed.forEach((t, i) => t.set(set[i]!));
              const ref = core();
              const r = clipper.clip(tensors);
              expect(read(r.norm)[0]).toBeCloseTo(ref.norm, Math.max(0, 3 - Math.ceil(Math.log10(ref.norm + 1))));
              expect(readBool(r.clipped)).toBe(ref.clipped);
              r.grads.forEach((g, i) => {
                const got = read(g!);
                typed[i]!.forEach((v, j) => expect(got[j]).toBeCloseTo(v, 3));
              });
              tf.dispose([...r.grads.filter((g) => g !== null), r.norm, r.scale, r.clipped, r.finite]);
            }
            tf.dispose(tensors);
          }),
          fcGate({ seed: 2211, numRuns: 30 }),
        );
      });

      it('overflow-safe norm: 1000 float32 values of 1e20 give 3.162e21, not Infinity', () => {
        const c = globalNormTensorClipper(1);
        const r = c.clip([tf.fill([1000], 1e20)]);
        // √(1000 · 1e40) = 1e20 · √1000 ≈ 3.1623e21; every value is scaled to 1/√1000 ≈ 0.031623.
        expect(read(r.norm)[0]! / 3.1623e21).toBeCloseTo(1, 4);
        expect(read(r.grads[0]!)[0]).toBeCloseTo(0.031623, 5);
      });

      it('non-finite policies on device: propagate, skip, zero, error', () => {
        const g = () => [tf.tensor([1, NaN]), tf.tensor([2])];
        const prop = globalNormTensorClipper(1).clip(g());
        expect(Number.isNaN(read(prop.norm)[0])).toBe(true);
        expect(read(prop.grads[1]!).every(Number.isNaN)).toBe(true); // NaN norm → all NaN (PyTorch)
        const skip = globalNormTensorClipper(1, { nonFinite: 'skip' }).clip(g());
        expect(readBool(skip.finite)).toBe(false);
        expect(read(skip.grads[1]!)).toEqual([2]);
        const zero = globalNormTensorClipper(1, { nonFinite: 'zero' }).clip(g());
        expect(read(zero.grads[0]!)).toEqual([0, 0]);
        expect(() => globalNormTensorClipper(1, { nonFinite: 'error' }).clip(g())).toThrow(/NaN/);
        const inf = globalNormTensorClipper(1).clip([tf.tensor([Infinity, 3])]);
        // norm Infinity → scale 1/Inf = 0: finite entries become 0, ±Inf entries NaN (PyTorch).
        expect(read(inf.norm)[0]).toBe(Infinity);
        const v = read(inf.grads[0]!);
        expect(Number.isNaN(v[0])).toBe(true);
        expect(v[1]).toBe(0);
      });

      it('value clipping keeps NaN and clamps ±Infinity (PyTorch clip_grad_value_)', () => {
        const r = valueTensorClipper(1).clip([tf.tensor([NaN, Infinity, -Infinity, 0.5, -3])]);
        const v = read(r.grads[0]!);
        expect(Number.isNaN(v[0])).toBe(true);
        expect(v.slice(1)).toEqual([1, -1, 0.5, -1]);
      });

      it('p-norms other than 2 and ∞ (tf.norm has neither p = 3 nor overflow safety)', () => {
        // ‖[1, 2, 2]‖₃ = (1 + 8 + 8)^(1/3) = 17^(1/3) ≈ 2.5713; ‖·‖∞ = 2; ‖·‖₁ = 5.
        for (const [p, want] of [
          [3, 17 ** (1 / 3)],
          [Infinity, 2],
          [1, 5],
        ] as const) {
          const r = globalNormTensorClipper(1, { normType: p }).clip([tf.tensor([1, -2]), tf.tensor([2])]);
          expect(read(r.norm)[0]).toBeCloseTo(want, 4);
        }
      });

      it('rejects bad input with TypeError / RangeError naming the argument', () => {
        const c = globalNormTensorClipper(1);
        expect(() => c.clip([tf.tensor([1], undefined, 'int32')])).toThrow(/grads\[0\].*float32/);
        expect(() => c.clip('x' as never)).toThrow(TypeError);
        expect(() => c.clip([new Float32Array(2) as never])).toThrow(/grads\[0\] must be a tf.Tensor/);
        expect(() => globalNormTensorClipper(-1)).toThrow(RangeError);
        expect(() => valueTensorClipper(NaN)).toThrow(/clipValue/);
      });

      it('runs a core ClipRule or Clipper directly', () => {
        const c = tensorClipper(globalNormRule(2, { eps: 0 }));
        const r = c.clip([tf.tensor([0, 4])]);
        expect(read(r.grads[0]!)).toEqual([0, 2]); // eps 0: exactly maxNorm / norm = 0.5
      });
    });
  }
}
