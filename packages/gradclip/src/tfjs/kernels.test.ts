import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { fcGate } from '../../test/fc_gate.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { normStatistics } from '../index.js';
import { fusedNormStats, fusedScale, fusedSetNormStats, hasFusedKernels, select } from './kernels.js';
import { BACKENDS, useBackend } from './test_backends.js';
import { wasmHeapKernels } from './wasm_heap.js';

const num = (t: tf.Tensor) => t.dataSync()[0]!;

/** Float32 values across the whole range, with NaN / ±Infinity / subnormals / huge values. */
const wild = fc.array(
  fc.oneof(
    { weight: 6, arbitrary: fc.float({ noNaN: true, noDefaultInfinity: true }) },
    { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, 1e-40, 3e38, -0) },
  ),
  { minLength: 0, maxLength: 40 },
);

for (const backend of BACKENDS) {
  describe(`fused kernels on ${backend}`, () => {
    beforeAll(() => useBackend(backend));

    it('are registered and active', () => {
      expect(hasFusedKernels()).toBe(true);
      if (backend === 'wasm') expect(wasmHeapKernels(tf.backend())?.name).toBe('wasm-tfjs-heap');
    });

    it("a tensor's statistics equal the core's typed-array statistics (property, extremes included)", () => {
      fc.assert(
        fc.property(wild, fc.constantFrom(1, 2, 3, Infinity), (xs, p) => {
          const data = Float32Array.from(xs);
          const ref = normStatistics(data, p);
          tf.tidy(() => {
            const s = fusedNormStats(tf.tensor1d(data), p);
            // Stored as float32: compare relative to the value (ref and sum) or exactly (counts).
            expect(num(s.ref)).toBe(Math.fround(ref.ref));
            if (p !== Infinity) expect(num(s.sum)).toBeCloseTo(Math.fround(ref.sum), 4);
            expect([num(s.nan), num(s.inf)]).toEqual([ref.nan, ref.inf]);
          });
        }),
        fcGate({ seed: 2210, numRuns: 200 }),
      );
    });

    it('set statistics merge like the core (several tensors, one call)', () => {
      const parts = [[3, 4], [], [1e20, -1e20], [NaN, 1], [Infinity]].map((x) => Float32Array.from(x));
      const ref = normStatistics(parts, 2);
      tf.tidy(() => {
        const s = fusedSetNormStats(
          parts.map((x) => tf.tensor1d(x)),
          2,
        );
        expect(num(s.ref)).toBe(Math.fround(ref.ref));
        expect(num(s.sum)).toBeCloseTo(ref.sum, 5);
        expect([num(s.nan), num(s.inf)]).toEqual([1, 1]);
      });
    });

    it('scale multiplies in float32 and leaves the input alone; select picks without a read', () => {
      tf.tidy(() => {
        const x = tf.tensor1d([1.5, -2, NaN, Infinity, 0]);
        const y = fusedScale(x, tf.scalar(0.5));
        const v = Array.from(y.dataSync());
        expect(v[0]).toBe(0.75);
        expect(v[1]).toBe(-1);
        expect(v[2]).toBeNaN();
        expect(v.slice(3)).toEqual([Infinity, 0]);
        expect(Array.from(fusedScale(x, tf.scalar(1)).dataSync()).slice(0, 2)).toEqual([1.5, -2]);
        expect(Array.from(x.dataSync()).slice(0, 2)).toEqual([1.5, -2]);
        const a = tf.tensor1d([1, 2]);
        const b = tf.tensor1d([3, 4]);
        expect(Array.from(select(tf.scalar(true, 'bool'), a, b).dataSync())).toEqual([1, 2]);
        expect(Array.from(select(tf.scalar(false, 'bool'), a, b).dataSync())).toEqual([3, 4]);
      });
    });

    it('scale by 1 and select share the data safely: each tensor outlives the other', () => {
      const before = tf.memory();
      const one = tf.scalar(1);
      const yes = tf.scalar(true, 'bool');
      const x = tf.tensor1d([1, 2, 3]);
      const zeros = tf.zerosLike(x);
      const y = fusedScale(x, one);
      const z = select(yes, y, zeros);
      x.dispose();
      expect(Array.from(y.dataSync())).toEqual([1, 2, 3]);
      y.dispose();
      expect(Array.from(z.dataSync())).toEqual([1, 2, 3]);
      z.dispose();
      tf.dispose([one, yes, zeros]);
      const after = tf.memory();
      // Every buffer is freed exactly once: the counts return to where they were.
      expect([after.numTensors, after.numDataBuffers, after.numBytes]).toEqual([
        before.numTensors,
        before.numDataBuffers,
        before.numBytes,
      ]);
    });

    if (backend === 'wasm') {
      it('the SIMD kernels leave the header bytes of the tfjs heap as they found them', () => {
        const heap = (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8;
        const before = heap.slice(0, 64);
        const sentinel = Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 255);
        heap.set(sentinel, 0);
        try {
          tf.tidy(() => {
            const t = tf.tensor1d([3, NaN, 4, Infinity]);
            fusedNormStats(t, 2);
            fusedNormStats(tf.tensor1d([3, 4]), 1);
            fusedScale(t, tf.scalar(0.25));
          });
          expect(Array.from(heap.slice(0, 64))).toEqual(Array.from(sentinel));
        } finally {
          heap.set(before, 0);
        }
      });
    }
  });
}
