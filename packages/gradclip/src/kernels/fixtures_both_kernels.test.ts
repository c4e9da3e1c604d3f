/**
 * The golden PyTorch fixtures (packages/gradclip/test/fixtures/core.json) through both
 * kernel sets: the WASM and JS paths must give the same norms (to float64 summation order,
 * ≤ 1e-13 relative here: at most a few hundred values per case) and the same clipped
 * gradients to the rounding that the norm difference implies: the scale factor is
 * maxNorm / (norm + eps), so it differs between the paths by the norms' relative difference
 * r, i.e. r·2^53 float64 ulps (a few: the 1/p root multiplies the sum's r by 2 for p = 0.5),
 * plus one rounding; float32 outputs absorb that into one ulp. Each path is also checked
 * against PyTorch with the fixture suite's own tolerances.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { decode, loadFixture, maxUlps, relErr, toArray, type Num } from '../../test/fixture_utils.js';
import { clipByGlobalNorm } from '../clip_by_global_norm.js';
import { clipByNorm } from '../clip_by_norm.js';
import { clipByValue } from '../clip_by_value.js';
import { globalNorm } from '../global_norm.js';
import type { ClipResult, FloatArray } from '../types.js';
import { useKernels, type KernelChoice } from './index.js';

interface Case {
  dtype: 'float32' | 'float64';
  grads: Num[][];
  globalNorm: { normType: number | 'Infinity'; maxNorm: number; exactNorm: Num; grads: Num[][] }[];
  value: { clipValue: number; grads: Num[][] };
  perTensor: { maxNorm: number; grads: Num[][] }[];
}
const fixture = loadFixture<{ cases: Case[] }>('core.json');
const ULPS = { float32: 16, float64: 12 } as const;

/** Runs f with the given kernels and returns its result and the clipped arrays. */
function withKernels(choice: KernelChoice, c: Case, f: (g: FloatArray[]) => ClipResult | number) {
  useKernels(choice);
  const grads = c.grads.map((v) => toArray(v, c.dtype));
  const r = f(grads);
  return { r, grads };
}

afterAll(() => {
  useKernels('auto');
});

describe('golden fixtures: WASM kernels = JS kernels = PyTorch', () => {
  it('covers float32 and float64 and lengths that are not multiples of the SIMD width', () => {
    expect(new Set(fixture.cases.map((c) => c.dtype))).toEqual(new Set(['float32', 'float64']));
    expect(fixture.cases.some((c) => c.grads.some((g) => g.length % 8 !== 0))).toBe(true);
  });

  fixture.cases.forEach((c, ci) => {
    it(`case ${ci} (${c.dtype}, sizes [${c.grads.map((g) => g.length).join(',')}])`, () => {
      for (const g of c.globalNorm) {
        const p = decode(g.normType);
        const exact = decode(g.exactNorm);
        const n = { wasm: 0, js: 0 };
        for (const k of ['wasm', 'js'] as const) {
          n[k] = withKernels(k, c, (gs) => globalNorm(gs, p)).r as number;
          expect(relErr(n[k], exact)).toBeLessThanOrEqual(1e-12);
        }
        expect(relErr(n.wasm, n.js)).toBeLessThanOrEqual(1e-13);
        const w = withKernels('wasm', c, (gs) => clipByGlobalNorm(gs, g.maxNorm, { normType: p }));
        const j = withKernels('js', c, (gs) => clipByGlobalNorm(gs, g.maxNorm, { normType: p }));
        const rw = w.r as ClipResult;
        const rj = j.r as ClipResult;
        expect(relErr(rw.norm, rj.norm)).toBeLessThanOrEqual(1e-13);
        expect([rw.clipped, rw.finite]).toEqual([rj.clipped, rj.finite]);
        const allowed = c.dtype === 'float32' ? 1 : 1 + Math.ceil(relErr(rw.norm, rj.norm) * 2 ** 53);
        w.grads.forEach((out, i) => {
          expect(maxUlps(out, j.grads[i]!, c.dtype)).toBeLessThanOrEqual(allowed);
          expect(maxUlps(out, toArray(g.grads[i]!, c.dtype), c.dtype)).toBeLessThanOrEqual(ULPS[c.dtype]);
        });
      }
      const vw = withKernels('wasm', c, (gs) => clipByValue(gs, c.value.clipValue));
      const vj = withKernels('js', c, (gs) => clipByValue(gs, c.value.clipValue));
      vw.grads.forEach((out, i) => {
        expect(maxUlps(out, vj.grads[i]!, c.dtype)).toBe(0);
        expect(maxUlps(out, toArray(c.value.grads[i]!, c.dtype), c.dtype)).toBe(0);
      });
      for (const t of c.perTensor) {
        const pw = withKernels('wasm', c, (gs) => clipByNorm(gs, t.maxNorm));
        const pj = withKernels('js', c, (gs) => clipByNorm(gs, t.maxNorm));
        pw.grads.forEach((out, i) => {
          expect(maxUlps(out, pj.grads[i]!, c.dtype)).toBeLessThanOrEqual(c.dtype === 'float32' ? 1 : 4);
          expect(maxUlps(out, toArray(t.grads[i]!, c.dtype), c.dtype)).toBeLessThanOrEqual(ULPS[c.dtype]);
        });
      }
    });
  });
});
