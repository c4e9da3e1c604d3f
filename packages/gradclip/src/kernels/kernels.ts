import type { FloatArray } from '../types.js';

/** Result of the one-pass fast norm kernel. */
export interface PowSumMax {
  /** Σ|x|^p accumulated in float64 (Infinity / NaN when an input is non-finite or the sum overflows). */
  sum: number;
  /** max |x| over the entries that are not NaN (Infinity if an entry is ±Infinity). */
  max: number;
}

/** Result of the careful pass, used only when the fast pass could not be trusted. */
export interface FiniteMax {
  /** max |x| over finite entries (0 when there are none). */
  maxFinite: number;
  nan: number;
  inf: number;
}

/**
 * The hot loops of the core. Every clipping rule on typed arrays goes through these, so a
 * faster implementation (WASM SIMD) can replace the plain-JS one without touching any rule.
 * Each kernel reads or writes exactly the given array; none keeps a reference to it.
 */
export interface Kernels {
  readonly name: string;
  /** One pass: Σ|x|^p (float64) and max |x|. p = Infinity computes only the max (sum = 0). */
  powSumMax(x: FloatArray, p: number): PowSumMax;
  /** Counts NaN and ±Infinity and finds the largest finite |x|. */
  finiteMax(x: FloatArray): FiniteMax;
  /** Σ (|x| / ref)^p over finite entries only, in float64; ref > 0. */
  scaledPowSum(x: FloatArray, p: number, ref: number): number;
  /**
   * x ← x · s, in place. Float32 arrays are multiplied by the float32 rounding of s (when it
   * is a normal float32): a float32 product, as in PyTorch, and the same bits in every kernel set.
   */
  scale(x: FloatArray, s: number): void;
  /** x ← min(max(x, −c), c), in place; NaN stays NaN. */
  clamp(x: FloatArray, c: number): void;
  /**
   * Optional: powSumMax of a whole set (the sums added, the largest max). One call for the set
   * lets a threaded arena spread all of it over its threads at once.
   */
  powSumMaxSet?(xs: readonly FloatArray[], p: number): PowSumMax;
  /** Optional: scale every array of a set by the same s. */
  scaleSet?(xs: readonly FloatArray[], s: number): void;
}
