import type { FloatArray } from '../types.js';
import type { FiniteMax, Kernels, PowSumMax } from './kernels.js';

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
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      const a = (v < 0 ? -v : v) * inv;
      // a < Infinity also rejects NaN (every comparison with NaN is false).
      if (a < Infinity) sum += p === 2 ? a * a : p === 1 ? a : Math.pow(a, p);
    }
    return sum;
  },

  scale(x: FloatArray, s: number): void {
    for (let i = 0; i < x.length; i++) x[i] = x[i]! * s;
  },

  clamp(x: FloatArray, c: number): void {
    const lo = -c;
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      if (v > c) x[i] = c;
      else if (v < lo) x[i] = lo;
    }
  },
};
