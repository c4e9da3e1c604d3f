import type { FloatArray } from '../types.js';
import type { FiniteMax, Kernels, PowSumMax } from './kernels.js';

/**
 * The float32 rounding of a scale factor, when multiplying float32 data by it gives the
 * float64 result up to rounding (PyTorch also scales float32 gradients by a float32 factor);
 * undefined outside the float32 normal range, where the factor would lose magnitude.
 */
export function float32Factor(s: number): number | undefined {
  const a = Math.abs(s);
  return s === 0 || s !== s || (a >= 2 ** -126 && a <= 3.4028234663852886e38) ? Math.fround(s) : undefined;
}

/** powSumMax of a set, array by array: the sums added, the largest max. */
export function sumOfPowSums(k: Pick<Kernels, 'powSumMax'>, xs: readonly FloatArray[], p: number): PowSumMax {
  let sum = 0;
  let max = 0;
  for (const x of xs) {
    const r = k.powSumMax(x, p);
    sum += r.sum;
    if (r.max > max) max = r.max;
  }
  return { sum, max };
}

/**
 * Plain-JS kernels: the fallback where WebAssembly SIMD is unavailable, and the reference
 * the WASM kernels are tested against. p = 1 and p = 2 get their own loops because
 * Math.pow is ~10× slower than a multiply.
 */
export const jsKernels: Kernels = {
  name: 'js',

  powSumMax(x: FloatArray, p: number): PowSumMax {
    const n = x.length;
    let sum = 0;
    let max = 0;
    if (p === 2) {
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        const a = v < 0 ? -v : v;
        sum += v * v;
        if (a > max) max = a;
      }
    } else if (p === 1) {
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        const a = v < 0 ? -v : v;
        sum += a;
        if (a > max) max = a;
      }
    } else if (p === Infinity) {
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        const a = v < 0 ? -v : v;
        if (a > max) max = a;
        else if (a !== a) sum = NaN;
      }
    } else {
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        const a = v < 0 ? -v : v;
        sum += Math.pow(a, p);
        if (a > max) max = a;
      }
    }
    return { sum, max };
  },

  finiteMax(x: FloatArray): FiniteMax {
    let maxFinite = 0;
    let nan = 0;
    let inf = 0;
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      const a = v < 0 ? -v : v;
      if (a !== a) nan++;
      else if (a === Infinity) inf++;
      else if (a > maxFinite) maxFinite = a;
    }
    return { maxFinite, nan, inf };
  },

  scaledPowSum(x: FloatArray, p: number, ref: number): number {
    const inv = 1 / ref;
    let sum = 0;
    if (!(inv < Infinity)) {
      // A float64 ref below ~5.6e-309 has no finite reciprocal: divide (slowly) instead.
      for (let i = 0; i < x.length; i++) {
        const v = x[i]!;
        const a = (v < 0 ? -v : v) / ref;
        if (a < Infinity) sum += p === 2 ? a * a : p === 1 ? a : Math.pow(a, p);
      }
      return sum;
    }
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      const a = (v < 0 ? -v : v) * inv;
      // a < Infinity also rejects NaN (every comparison with NaN is false).
      if (a < Infinity) sum += p === 2 ? a * a : p === 1 ? a : Math.pow(a, p);
    }
    return sum;
  },

  scale(x: FloatArray, s: number): void {
    // Float32 data is multiplied by the float32-rounded factor (see float32Factor): the
    // product of two float32 values is exact in float64, so storing it rounds once, giving
    // the bits of a float32 multiply — the same as the WASM kernel and PyTorch.
    const f = x instanceof Float32Array ? (float32Factor(s) ?? s) : s;
    for (let i = 0; i < x.length; i++) x[i] = x[i]! * f;
  },

  clamp(x: FloatArray, c: number): void {
    const lo = -c;
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      if (v > c) x[i] = c;
      else if (v < lo) x[i] = lo;
    }
  },

  powSumMaxSet(xs, p) {
    return sumOfPowSums(this, xs, p);
  },

  scaleSet(xs, s) {
    for (const x of xs) this.scale(x, s);
  },
};
