import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { fcGate } from '../../test/fc_gate.js';
import * as core from '../index.js';
import { NonFiniteGradientError } from '../index.js';
import { clipByGlobalNorm, clipByNorm, clipByValue, globalNormTensorClipper, tensorClipper } from './index.js';
import { chainRule } from '../index.js';
import { globalNormRule, makeClipper, valueRule } from '../clipper.js';
import { autoClipRule } from '../adaptive/auto_clip.js';
import { BACKENDS, useBackend } from './test_backends.js';

const read = (t: tf.Tensor | null | undefined) => Array.from(t!.dataSync());
/** tf.dispose over any container of results (lists with nulls, NamedTensor[], reports). */
const free = (x: unknown) => tf.dispose(x as tf.TensorContainer);

/** Host reads (readSync / read) the backend does while `f` runs. */
function countReads(f: () => void): number {
  const b = tf.backend() as unknown as { readSync: (...a: unknown[]) => unknown; read: (...a: unknown[]) => unknown };
  const s1 = vi.spyOn(b, 'readSync');
  const s2 = vi.spyOn(b, 'read');
  try {
    f();
    return s1.mock.calls.length + s2.mock.calls.length;
  } finally {
    s1.mockRestore();
    s2.mockRestore();
  }
}

for (const backend of BACKENDS) {
  describe(`gradclip/tfjs clipByGlobalNorm / clipByNorm / clipByValue on ${backend}`, () => {
    beforeAll(() => useBackend(backend));

    it('clipByGlobalNorm: hand-worked [3, 4], null, [0] with maxNorm 1, list kept with its null', () => {
      // ‖g‖ = 5, scale = 1 / (5 + 1e-6) → [0.6, 0.8], [0]; the null entry stays in place.
      const a = tf.tensor([3, 4]);
      const z = tf.tensor([0]);
      const { grads, norm } = clipByGlobalNorm([a, null, z], 1);
      expect(read(norm)[0]).toBeCloseTo(5, 5);
      expect(grads).toHaveLength(3);
      expect(grads[1]).toBeNull();
      expect(read(grads[0])).toEqual([expect.closeTo(0.6, 6), expect.closeTo(0.8, 6)]);
      expect(read(grads[2])).toEqual([0]);
      // The inputs are the caller's and stay alive and unchanged.
      expect(read(a)).toEqual([3, 4]);
      free([a, z, norm, ...grads.filter((g) => g !== null)]);
    });

    it('clipByGlobalNorm keeps the container: NamedTensorMap and NamedTensor[] (tfjs variable names)', () => {
      const m = { 'dense_Dense1/kernel': tf.tensor([[6, 0]]), 'dense_Dense1/bias': tf.tensor([8]) };
      // ‖g‖ = 10, maxNorm 5, eps 0 → factor exactly 0.5.
      const r = clipByGlobalNorm(m, 5, { eps: 0 });
      expect(Object.keys(r.grads)).toEqual(['dense_Dense1/kernel', 'dense_Dense1/bias']);
      expect(r.grads['dense_Dense1/kernel']!.shape).toEqual([1, 2]);
      expect(read(r.grads['dense_Dense1/kernel'])).toEqual([3, 0]);
      expect(read(r.grads['dense_Dense1/bias'])).toEqual([4]);
      expect(read(r.norm)[0]).toBe(10);

      const list = [
        { name: 'dense_Dense1/kernel', tensor: m['dense_Dense1/kernel'] },
        { name: 'dense_Dense1/bias', tensor: m['dense_Dense1/bias'] },
      ];
      const r2 = clipByGlobalNorm(list, 5, { eps: 0 });
      expect(r2.grads.map((g) => g.name)).toEqual(['dense_Dense1/kernel', 'dense_Dense1/bias']);
      expect(read(r2.grads[0]!.tensor)).toEqual([3, 0]);
      expect(read(r2.grads[1]!.tensor)).toEqual([4]);
      free([m, r, r2 as unknown as tf.TensorContainer]);
    });

    it("eps: 0 is TF's form (norm = maxNorm untouched); the default eps 1e-6 is PyTorch's", () => {
      // ‖[3, 4]‖ = 5 = maxNorm: TF leaves it as it is; PyTorch scales by 5 / (5 + 1e-6) = 0.9999998.
      const g = [tf.tensor([3, 4])];
      const tfForm = clipByGlobalNorm(g, 5, { eps: 0 });
      const torchForm = clipByGlobalNorm(g, 5);
      expect(read(tfForm.grads[0])).toEqual([3, 4]);
      expect(read(torchForm.grads[0])[1]).toBeLessThan(4);
      expect(read(torchForm.grads[0])[1]).toBeCloseTo(4 * (5 / (5 + 1e-6)), 6);
      free([g, tfForm, torchForm]);
    });

    it('normType: the ∞-norm of [3, -4] and [1] is 4; maxNorm 2 halves everything', () => {
      const g = [tf.tensor([3, -4]), tf.tensor([1])];
      const r = clipByGlobalNorm(g, 2, { normType: Infinity, eps: 0 });
      expect(read(r.norm)[0]).toBe(4);
      expect(read(r.grads[0])).toEqual([1.5, -2]);
      expect(read(r.grads[1])).toEqual([0.5]);
      free([g, r]);
    });

    it('outside tf.tidy it leaves alive exactly what it returns, and reads nothing back', () => {
      const g = { a: tf.tensor([3, 4]), b: tf.tensor([1, 2, 2]), c: tf.tensor([0.1]) };
      const before = tf.memory().numTensors;
      let r: ReturnType<typeof clipByGlobalNorm<typeof g>> | undefined;
      expect(countReads(() => (r = clipByGlobalNorm(g, 1)))).toBe(0);
      // 3 gradients + the norm.
      expect(tf.memory().numTensors).toBe(before + 4);
      // Untouched (scale 1) gradients are new tensors too: disposing the result frees all of it.
      const big = clipByGlobalNorm(g, 100);
      expect(big.grads.a).not.toBe(g.a);
      expect(tf.memory().numTensors).toBe(before + 8);
      free([r!.grads, r!.norm, big.grads, big.norm]);
      expect(tf.memory().numTensors).toBe(before);
      let v: tf.NamedTensorMap | undefined;
      expect(countReads(() => (v = clipByValue(g, 1)))).toBe(0);
      expect(tf.memory().numTensors).toBe(before + 3);
      let n: tf.NamedTensorMap | undefined;
      expect(countReads(() => (n = clipByNorm(g, 1)))).toBe(0);
      expect(tf.memory().numTensors).toBe(before + 6);
      free([v!, n!]);
      expect(tf.memory().numTensors).toBe(before);
      expect(g.a.isDisposed).toBe(false);
      free(g);
    });

    it('the gpt-tfjs custom loop in one line: computeGradients → clipByGlobalNorm → applyGradients', () => {
      const w = tf.variable(tf.tensor([1, 1]), true);
      const opt = tf.train.sgd(0.1);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        tf.tidy(() => {
          // f = 100 · Σ w² → ∇ = 200 w = [200, 200], ‖∇‖ = 282.8; clipped to norm 1 (eps 0).
          const { grads } = opt.computeGradients(() => tf.mul(100, tf.sum(tf.square(w))) as tf.Scalar);
          opt.applyGradients(clipByGlobalNorm(grads, 1, { eps: 0 }).grads);
        });
      }
      expect(tf.memory().numTensors).toBe(before);
      // Each step moves w by lr · (1/√2, 1/√2): 1 − 3 · 0.1 / √2 = 0.78787.
      expect(read(w)).toEqual([expect.closeTo(1 - 0.3 / Math.SQRT2, 5), expect.closeTo(1 - 0.3 / Math.SQRT2, 5)]);
      opt.dispose();
      w.dispose();
    });

    it('clipByNorm: each tensor on its own (TF clip_by_norm); clipByValue clamps, NaN stays NaN', () => {
      // [3, 4] has norm 5 → [0.6, 0.8]; [0.3, 0.4] has norm 0.5 ≤ 1 → unchanged.
      const g = [tf.tensor([3, 4]), tf.tensor([0.3, 0.4])];
      const n = clipByNorm(g, 1);
      expect(read(n[0])).toEqual([expect.closeTo(0.6, 6), expect.closeTo(0.8, 6)]);
      expect(read(n[1])).toEqual([expect.closeTo(0.3, 6), expect.closeTo(0.4, 6)]);
      const x = tf.tensor([3, -0.5, -7, NaN]);
      const v = clipByValue(x, 1);
      expect(read(v)).toEqual([1, -0.5, -1, NaN]);
      free([g, n, x, v]);
    });

    it('same options and numbers as the core on typed arrays (property)', () => {
      fc.assert(
        fc.property(
          fc.array(fc.array(fc.float({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 1, maxLength: 8 }), {
            minLength: 1,
            maxLength: 4,
          }),
          fc.float({ min: Math.fround(0.01), max: 100, noNaN: true }),
          fc.constantFrom(1, 2, 3, Infinity),
          fc.constantFrom(0, 1e-6),
          (xs, maxNorm, normType, eps) => {
            const typed = xs.map((x) => Float32Array.from(x));
            const want = core.clipByGlobalNorm(typed, maxNorm, { normType, eps });
            const tensors = xs.map((x) => tf.tensor(x));
            const r = clipByGlobalNorm(tensors, maxNorm, { normType, eps });
            try {
              expect(read(r.norm)[0]).toBeCloseTo(Math.fround(want.norm), -Math.log10(Math.max(1, want.norm)) + 3);
              r.grads.forEach((g, i) =>
                read(g).forEach((v, j) =>
                  expect(Math.abs(v - typed[i]![j]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(typed[i]![j]!))),
                ),
              );
            } finally {
              free([tensors, r.grads, r.norm]);
            }
          },
        ),
        fcGate({ seed: 2207, numRuns: 40 }),
      );
    });

    it('bad input is refused by name, before anything is made', () => {
      const before = tf.memory().numTensors;
      expect(() => clipByGlobalNorm([], -1)).toThrow(/maxNorm.*-1/);
      expect(() => clipByGlobalNorm({ a: new Float32Array(2) as unknown as tf.Tensor }, 1)).toThrow(
        /grads\["a"\] must be a tf\.Tensor/,
      );
      expect(() => clipByGlobalNorm([], 1, { norm: 3 } as never)).toThrow(/norm/);
      expect(tf.memory().numTensors).toBe(before);
    });

    it("nonFinite: 'error' names the non-finite tensors (one read of per-tensor flags, on the error path only)", () => {
      const g = {
        'dense_Dense1/kernel': tf.tensor([1, 2]),
        'dense_Dense1/bias': tf.tensor([NaN]),
        out: tf.tensor([Infinity]),
      };
      const before = tf.memory().numTensors;
      let err: unknown;
      const reads = countReads(() => {
        try {
          clipByGlobalNorm(g, 1, { nonFinite: 'error' });
        } catch (e) {
          err = e;
        }
      });
      expect(err).toBeInstanceOf(NonFiniteGradientError);
      expect((err as NonFiniteGradientError).tensors).toEqual(['dense_Dense1/bias', 'out']);
      expect((err as Error).message).toMatch(/gradient "dense_Dense1\/bias" \(and 1 more\) contains NaN/);
      // One read of the finite flag (the policy's decision) and one of the per-tensor flags.
      expect(reads).toBe(2);
      expect(tf.memory().numTensors).toBe(before);
      // Finite gradients: only the decision's read.
      const ok = { a: tf.tensor([1, 2]) };
      let r: { grads: tf.NamedTensorMap; norm: tf.Scalar } | undefined;
      expect(countReads(() => (r = clipByGlobalNorm(ok, 1, { nonFinite: 'error' })))).toBe(1);
      free([g, ok, r!.grads, r!.norm]);
    });

    it('a list names entries by index, NamedTensor[] by variable name, through tensor clippers and chains too', () => {
      const list = [tf.tensor([1]), tf.tensor([NaN]), null, tf.tensor([2])];
      expect(() => clipByNorm(list, 1, { nonFinite: 'error' })).toThrow(
        expect.objectContaining({ tensors: ['1'] }) as Error,
      );
      const named = [
        { name: 'w', tensor: tf.tensor([1]) },
        { name: 'b', tensor: tf.tensor([-Infinity]) },
      ];
      const chained = tensorClipper(chainRule(valueRule(10), globalNormRule(1, { nonFinite: 'error' })));
      // Value clipping turns -Infinity into -10: only NaN reaches the second rule non-finite.
      const withNaN = [
        { name: 'w', tensor: tf.tensor([1]) },
        { name: 'b', tensor: tf.tensor([NaN]) },
      ];
      expect(() => chained.clip(withNaN)).toThrow(expect.objectContaining({ tensors: ['b'] }) as Error);
      const plain = globalNormTensorClipper(1, { nonFinite: 'error' });
      expect(() => plain.clip(named)).toThrow(expect.objectContaining({ tensors: ['b'] }) as Error);
      free([list.filter((t) => t !== null), named.map((n) => n.tensor), withNaN.map((n) => n.tensor)]);
      chained.dispose();
    });
  });

  describe(`chainRule on tensors (${backend})`, () => {
    beforeAll(() => useBackend(backend));

    it("tensorClipper(chainRule(...)) gives the typed clipper's numbers, steps and state", async () => {
      // Hand-worked in chain.test.ts: [3, -0.5], [4] → value 2 → global norm 1 (eps 0):
      // [0.696311, -0.174078], [0.696311]; norm √25.25, scale 0.348155.
      const rule = chainRule(valueRule(2), autoClipRule({ percentile: 50 }), globalNormRule(1, { eps: 0 }));
      const c = tensorClipper(rule);
      const typed = makeClipper(rule);
      const g = [tf.tensor([3, -0.5]), tf.tensor([4])];
      const r = c.clip(g);
      const want = typed.clip([Float32Array.from([3, -0.5]), Float32Array.from([4])]);
      expect(read(r.grads[0])).toEqual([expect.closeTo(0.696311, 5), expect.closeTo(-0.174078, 5)]);
      expect(read(r.grads[1])).toEqual([expect.closeTo(0.696311, 5)]);
      expect(read(r.norm)[0]).toBeCloseTo(want.norm, 5);
      expect(read(r.scale)[0]).toBeCloseTo(want.scale, 5);
      expect(r.steps!.map((s) => read(s.norm)[0])).toEqual(want.steps!.map((s) => expect.closeTo(s.norm, 4)));
      // AutoClip's history on the device (float32) holds the norm the typed clipper keeps in float64.
      const st = (await c.readState()) as [object, { history: number[] }, object];
      const tst = typed.state as [object, { history: number[] }, object];
      expect(st[1].history).toEqual(tst[1].history.map((x) => expect.closeTo(x, 5)));
      expect(st[1].history).toHaveLength(1);
      free([g, r as unknown as tf.TensorContainer]);
      c.dispose();
    });
  });

  describe(`tensor clippers leave alive exactly what they return on ${backend}`, () => {
    beforeAll(() => useBackend(backend));

    it('clip(): the gradients and the four report scalars, all freed by free(result); clipGradients(): the gradients only', () => {
      const c = globalNormTensorClipper(1);
      const g = [tf.tensor([3, 4]), tf.tensor([1])];
      const before = tf.memory().numTensors;
      const r = c.clip(g);
      expect(tf.memory().numTensors).toBe(before + 2 + 4);
      free(r as unknown as tf.TensorContainer);
      expect(tf.memory().numTensors).toBe(before);
      const only = c.clipGradients(g);
      expect(tf.memory().numTensors).toBe(before + 2);
      // The same clip: ‖g‖ = √26, factor 1 / (√26 + 1e-6).
      expect(read(only[1])[0]).toBeCloseTo(1 / Math.sqrt(26), 6);
      free(only);
      expect(tf.memory().numTensors).toBe(before);
      const chained = tensorClipper(chainRule(valueRule(2), globalNormRule(1)));
      const before2 = tf.memory().numTensors;
      const rc = chained.clip(g);
      // 2 gradients + 4 scalars + 2 steps × 4 scalars.
      expect(rc.steps).toHaveLength(2);
      expect(tf.memory().numTensors).toBe(before2 + 2 + 4 + 8);
      free(rc as unknown as tf.TensorContainer);
      expect(tf.memory().numTensors).toBe(before2);
      free(g);
      c.dispose();
      chained.dispose();
    });
  });
}
