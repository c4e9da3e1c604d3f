/**
 * The stateless rules against PyTorch 1.13 (fixtures from scripts/gen_fixtures.py).
 * Tolerances: PyTorch reduces float32 tensors in float32, so its norm is only good to ~1e-6
 * relative; gradclip accumulates in float64, so it is compared to the float64 norm of the same
 * values to 1e-12, and to PyTorch's to 1e-5 (float32) / 1e-12 (float64). The clipped outputs
 * are products g · scale rounded to the dtype, so they agree to a few ulps: the float32
 * bound leaves room for PyTorch's float32 norm error in its scale (~1e-6 ≈ 8 ulps); for
 * float64 and fractional p the (Σ|x|^p)^(1/p) root multiplies the sum's rounding by 1/p,
 * and pow() itself differs between libm and V8 by an ulp, which was measured at ≤ 10 ulps.
 */
import { describe, expect, it } from 'vitest';
import { clipByGlobalNorm } from '../src/clip_by_global_norm.js';
import { clipByNorm } from '../src/clip_by_norm.js';
import { clipByValue } from '../src/clip_by_value.js';
import { globalNorm } from '../src/global_norm.js';
import { decode, loadFixture, maxUlps, relErr, toArray, type Num } from './fixture_utils.js';

interface Case {
  dtype: 'float32' | 'float64';
  grads: Num[][];
  globalNorm: { normType: number | 'Infinity'; maxNorm: number; norm: Num; exactNorm: Num; grads: Num[][] }[];
  value: { clipValue: number; grads: Num[][] };
  perTensor: { maxNorm: number; grads: Num[][] }[];
}

const fixture = loadFixture<{ torch: string; cases: Case[] }>('core.json');
const ULPS = { float32: 16, float64: 12 } as const;

describe(`PyTorch ${fixture.torch} golden fixtures`, () => {
  it('has cases covering every norm type, NaN / ±inf and the empty set', () => {
    const ps = new Set(fixture.cases.flatMap((c) => c.globalNorm.map((g) => String(g.normType))));
    expect([...ps].sort()).toEqual(['0.5', '1', '1.5', '2', '3', '4', 'Infinity']);
    expect(fixture.cases.some((c) => c.grads.flat().includes('NaN'))).toBe(true);
    expect(fixture.cases.some((c) => c.grads.flat().includes('Infinity'))).toBe(true);
    expect(fixture.cases.some((c) => c.grads.length === 0)).toBe(true);
  });

  fixture.cases.forEach((c, ci) => {
    const sizes = c.grads.map((g) => g.length).join(',');
    describe(`case ${ci} (${c.dtype}, sizes [${sizes}])`, () => {
      for (const g of c.globalNorm) {
        const p = decode(g.normType);
        it(`clipByGlobalNorm p=${p} maxNorm=${g.maxNorm.toPrecision(4)}`, () => {
          const grads = c.grads.map((v) => toArray(v, c.dtype));
          const expectedNorm = decode(g.norm);
          const exact = decode(g.exactNorm);
          expect(relErr(globalNorm(grads, p), exact)).toBeLessThanOrEqual(1e-12);
          const r = clipByGlobalNorm(grads, g.maxNorm, { normType: p });
          expect(relErr(r.norm, exact)).toBeLessThanOrEqual(1e-12);
          expect(relErr(r.norm, expectedNorm)).toBeLessThanOrEqual(c.dtype === 'float32' ? 1e-5 : 1e-12);
          expect(r.finite).toBe(Number.isFinite(exact));
          grads.forEach((out, i) => {
            expect(maxUlps(out, toArray(g.grads[i]!, c.dtype), c.dtype)).toBeLessThanOrEqual(ULPS[c.dtype]);
          });
        });
      }

      it('clipByValue', () => {
        const grads = c.grads.map((v) => toArray(v, c.dtype));
        clipByValue(grads, c.value.clipValue);
        grads.forEach((out, i) => expect(maxUlps(out, toArray(c.value.grads[i]!, c.dtype), c.dtype)).toBe(0));
      });

      for (const t of c.perTensor) {
        it(`clipByNorm maxNorm=${t.maxNorm.toPrecision(4)}`, () => {
          const grads = c.grads.map((v) => toArray(v, c.dtype));
          clipByNorm(grads, t.maxNorm);
          grads.forEach((out, i) => {
            expect(maxUlps(out, toArray(t.grads[i]!, c.dtype), c.dtype)).toBeLessThanOrEqual(ULPS[c.dtype]);
          });
        });
      }
    });
  });
});
