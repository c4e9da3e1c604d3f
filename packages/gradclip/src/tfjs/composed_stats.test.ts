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
