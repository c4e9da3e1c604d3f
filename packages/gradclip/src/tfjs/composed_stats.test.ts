import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { fcGate } from '../../test/fc_gate.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { globalNorm, normStatistics } from '../index.js';
import { finaliseNorm, statsFinite } from '../norm_stats.js';
import { hasFusedKernels, setFusedKernelsDisabled } from './kernels.js';
import { tfOps } from './ops.js';
import { BACKENDS, useBackend } from './test_backends.js';

const num = (t: tf.Tensor) => t.dataSync()[0]!;

/** Float32 values across the whole range, with NaN / ±Infinity / subnormals / huge values. */
const wild = fc.array(
  fc.oneof(
    { weight: 6, arbitrary: fc.float({ noNaN: true, noDefaultInfinity: true }) },
    { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, 1e-40, 3e38, -0, 1e20, 1e-25) },
  ),
  { minLength: 0, maxLength: 30 },
);

// The composed-ops statistics: what a backend without gradclip's kernels runs.
for (const backend of BACKENDS) {
  describe(`composed norm statistics on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
      setFusedKernelsDisabled(true);
    });
    afterAll(() => setFusedKernelsDisabled(false));

    it('are in use (the fused kernels are off)', () => {
      expect(hasFusedKernels()).toBe(false);
    });

    it("give the core's norm and finite flag for any set (property, extremes included)", () => {
      fc.assert(
        fc.property(fc.array(wild, { minLength: 0, maxLength: 5 }), fc.constantFrom(1, 2, 3, Infinity), (sets, p) => {
          const arrays = sets.map((xs) => Float32Array.from(xs));
          const want = globalNorm(arrays, p);
          const wantFinite = normStatistics(arrays, p);
          tf.tidy(() => {
            const s = tfOps.normStatsOfSet!(
              arrays.map((a) => tf.tensor1d(a)),
              p,
            );
            const got = num(finaliseNorm(tfOps, s));
            if (Number.isNaN(want)) expect(got).toBeNaN();
            // A norm beyond float32's range is Infinity on the device (the rules then take
            // the clip factor from the statistics: see ratioToNorm).
            else if (!Number.isFinite(want) || want > 3.4028234663852886e38) expect(got).toBe(Infinity);
            // float32 on the device; the core accumulates in float64. Subnormal inputs lose
            // relative precision in float32 arithmetic, so allow a small absolute floor.
            else expect(Math.abs(got - want)).toBeLessThanOrEqual(2e-5 * want + 1e-44);
            expect(num(statsFinite(tfOps, s)) !== 0).toBe(wantFinite.nan === 0 && wantFinite.inf === 0);
          });
        }),
        fcGate({ seed: 2212, numRuns: 150 }),
      );
    });

    // Issue 22: fast-check `{ seed: -1706097287, path: "125:2:2:2:34:33" }` found
    // [[[-3.4028228579130005e+38]], 1] — the composed path gave Infinity where the core gives
    // 3.4028228579130005e38: it multiplied by 1/m, a float32 subnormal for m > 2^126 with too
    // few bits, so |x|·(1/m) came out above 1. Now it divides. The siblings: p = 1, 2, 3, ∞;
    // a lone value just under float32's maximum, float32's maximum itself, and several values
    // whose norm lands at or just under it (hand-worked below).
    const F = 3.4028234663852886e38; // float32's largest finite value
    const topOfRange: [string, number[][], number[], number][] = [
      // [name, sets, p values, the norm: |x| for a lone value]
      [
        'the counterexample: a lone -3.4028228579130005e38',
        [[-3.4028228579130005e38]],
        [1, 2, 3, Infinity],
        3.4028228579130005e38,
      ],
      ['a lone float32 maximum', [[F]], [1, 2, 3, Infinity], F],
      ['a lone -F beside zeros and a tiny value', [[0, -F, 1e-30, 0]], [1, 2, 3, Infinity], F],
      // (F/2)·2 = F exactly for p = 1; F/2 is exact in float32
      ['two halves of the maximum in two tensors, p = 1', [[F / 2], [F / 2]], [1], F],
      // 2^127·(2^p)^(1/p) = 2^128 > F: beyond the range, for 2^p values
      ['two values of 2^127, p = 1 (norm 2^128: beyond the range)', [[2 ** 127, 2 ** 127]], [1], Infinity],
      [
        'four values of 2^127, p = 2 (norm 2^128)',
        [
          [2 ** 127, 2 ** 127],
          [2 ** 127, 2 ** 127],
        ],
        [2],
        Infinity,
      ],
      ['eight values of 2^127, p = 3 (norm 2^128)', [new Array<number>(8).fill(2 ** 127)], [3], Infinity],
      // max |x| = 2^127 for p = ∞ (all other entries smaller)
      ['2^127 and 2^126 in two tensors, p = ∞', [[2 ** 126], [2 ** 127]], [Infinity], 2 ** 127],
    ];
    for (const [name, sets, ps, norm] of topOfRange)
      it(`regression (issue 22): ${name}`, () => {
        for (const p of ps) {
          const arrays = sets.map((xs) => Float32Array.from(xs));
          const want = globalNorm(arrays, p);
          if (norm === Infinity) expect(want).toBeGreaterThan(F);
          else expect(want).toBe(norm);
          const got = tf.tidy(() =>
            num(
              finaliseNorm(
                tfOps,
                tfOps.normStatsOfSet!(
                  arrays.map((a) => tf.tensor1d(a)),
                  p,
                ),
              ),
            ),
          );
          expect(got, `p = ${p}`).toBe(norm);
        }
      });

    it("regression (issue 22): several values whose norm lands just under float32's maximum stay finite", () => {
      // p = 2: four values of 2^126·1.9999 (float32-exact: 1.9999 has 23 bits here to spare) have
      // norm 2·2^126·1.9999 = 2^127·1.9999 = F·(1.9999 / (2 − 2^-23)) ≈ F·(1 − 5e-5): finite.
      // p = 3: eight values v have norm 2v; v = 2^126·1.9999 again. p = 1: two values, norm 2v.
      const v = Math.fround(2 ** 126 * 1.9999);
      for (const [p, n] of [
        [1, 2],
        [2, 4],
        [3, 8],
      ] as const) {
        const arrays = [new Float32Array(n).fill(v)];
        const want = globalNorm(arrays, p);
        expect(want / (2 * v)).toBeCloseTo(1, 12);
        expect(want).toBeLessThan(F);
        const got = tf.tidy(() => num(finaliseNorm(tfOps, tfOps.normStatsOfSet!([tf.tensor1d(arrays[0]!)], p))));
        expect(got, `p = ${p}`).toBeLessThan(Infinity);
        expect(Math.abs(got - want) / want, `p = ${p}`).toBeLessThanOrEqual(2e-6);
      }
    });

    it('stay finite for 1,000 values of 1e20 (3.162e21) and exact for 1e-25s', () => {
      tf.tidy(() => {
        expect(num(finaliseNorm(tfOps, tfOps.normStatsOfSet!([tf.fill([1000], 1e20)], 2))) / 3.16227766e21).toBeCloseTo(
          1,
          5,
        );
        expect(
          num(finaliseNorm(tfOps, tfOps.normStatsOfSet!([tf.fill([1000], 1e-25)], 2))) / 3.16227766e-24,
        ).toBeCloseTo(1, 5);
      });
    });
  });
}
