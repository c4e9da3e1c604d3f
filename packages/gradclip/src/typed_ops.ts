import { jsKernels, kernels, type Kernels } from './kernels/index.js';
import { sumOfPowSums } from './kernels/js.js';
import { unitGeometry } from './units.js';
import { mergeAllNormStats } from './norm_stats.js';
import type { ArrayOps, NormStats, UnitLayout } from './ops.js';
import type { FloatArray } from './types.js';

/**
 * Sums of |x|^p below this are re-done with scaling. 2^-900 leaves a margin of 2^-122
 * above the smallest normal double, so every term the fast pass dropped to underflow
 * was smaller than 2^-122 of the total divided by n — invisible in float64 for any
 * realistic n — while anything smaller is recomputed relative to max |x|.
 */
const TINY_SUM = 2 ** -900;

/**
 * Statistics from the fast pass (Σ|x|^p in float64 and max |x|), when they can be trusted:
 * for float32 data and p = 2 the sum cannot overflow (3.4e38² ≈ 1.2e77), so only huge p,
 * float64 extremes, subnormal-range data or NaN / ±Infinity entries fall through to the
 * careful two-pass path (find max, then Σ(|x|/max)^p).
 */
function fromFastPass(sum: number, max: number, p: number): NormStats<number> | undefined {
  if (p === Infinity) return sum === 0 && max < Infinity ? { p, ref: max, sum: 0, nan: 0, inf: 0 } : undefined;
  if (max === 0 && sum === 0) return { p, ref: 0, sum: 0, nan: 0, inf: 0 };
  // max^p ≤ sum, so it is finite; and ≥ sum/n ≥ TINY_SUM/n, so it is a normal number.
  if (sum < Infinity && sum >= TINY_SUM) return { p, ref: max, sum: sum / Math.pow(max, p), nan: 0, inf: 0 };
  return undefined;
}

/** Norm statistics of one typed array (overflow- and underflow-safe). */
export function typedNormStats(x: FloatArray, p: number): NormStats<number> {
  const k = kernels();
  const { sum, max } = k.powSumMax(x, p);
  const fast = fromFastPass(sum, max, p);
  if (fast !== undefined) return fast;
  const { maxFinite, nan, inf } = k.finiteMax(x);
  if (p === Infinity) return { p, ref: maxFinite, sum: 0, nan, inf };
  const rel = maxFinite > 0 ? k.scaledPowSum(x, p, maxFinite) : 0;
  return { p, ref: maxFinite, sum: rel, nan, inf };
}

/**
 * Merged statistics of a whole set. The fast pass runs over every array and its raw sums are
 * added directly, so a set of many small tensors costs one kernel call per tensor and no
 * per-tensor merging; only when the set as a whole fails the fast-pass checks are the
 * careful per-tensor statistics computed and merged.
 */
export function typedSetNormStats(xs: readonly FloatArray[], p: number): NormStats<number> {
  const k = kernels();
  const { sum, max } = k.powSumMaxSet?.(xs, p) ?? sumOfPowSums(k, xs, p);
  return (
    fromFastPass(sum, max, p) ??
    mergeAllNormStats(
      typedOps,
      p,
      xs.map((x) => typedNormStats(x, p)),
    )
  );
}

/**
 * Values per piece in `typedClampWithStats`: 128 KiB of float32 stays in L2 between the
 * statistics pass and the clamp, so memory is read and written once. Below the threaded
 * arenas' PARALLEL_MIN, so each piece runs on the calling thread, where it is cached.
 */
const CLAMP_PIECE = 1 << 15;

/**
 * Clamps every array in place and returns the norm statistics of the values before clamping:
 * piece by piece, statistics first (the careful path for a piece the fast pass cannot
 * trust, while its values are still intact), then the clamp while the piece is in cache.
 */
function typedClampWithStats(
  ts: readonly FloatArray[],
  c: number,
  p: number,
): { out: FloatArray[]; stats: NormStats<number> } {
  let k = kernels();
  const pieces: NormStats<number>[] = [];
  for (const [n, t] of ts.entries()) {
    for (let i = 0; i < t.length; i += CLAMP_PIECE) {
      const piece = t.length <= CLAMP_PIECE ? t : t.subarray(i, i + CLAMP_PIECE);
      const counted = pieces.length;
      try {
        pieces.push(pieceStats(k, piece, p));
        k.clamp(piece, c);
      } catch (e) {
        // The fast kernels failed part-way (e.g. the WASM memory could not grow). Earlier
        // pieces are clamped and counted; leaving the rest would hand back a half-clipped
        // gradient. Finish with the plain-JS kernels: this piece's statistics are taken only if
        // the failure came before them (its values are then untouched), and clamping twice is
        // harmless.
        try {
          if (k === jsKernels) throw e;
          k = jsKernels;
          if (pieces.length === counted) pieces.push(pieceStats(k, piece, p));
          k.clamp(piece, c);
        } catch (last) {
          throw partlyClamped(ts, n, i, last);
        }
      }
    }
  }
  return { out: [...ts], stats: mergeAllNormStats(typedOps, p, pieces) };
}

/**
 * When even the plain-JS kernels fail, the clamp cannot finish: say exactly which values it
 * changed (issue 24, F7). Clamping is idempotent, so clamping the same arrays again completes it.
 */
function partlyClamped(ts: readonly FloatArray[], n: number, at: number, cause: unknown): Error {
  return new Error(
    `clipByValue stopped part-way: arrays before ${n} and [0, ${at}) of array ${n} (of ${ts.length}) are clamped, ` +
      'the rest may not be; clipping again completes it',
    { cause },
  );
}

function pieceStats(k: Kernels, piece: FloatArray, p: number): NormStats<number> {
  const { sum, max } = k.powSumMax(piece, p);
  return fromFastPass(sum, max, p) ?? typedNormStats(piece, p);
}

/** ArrayOps over typed arrays and JS numbers; tensor operations work in place. */
export const typedOps: ArrayOps<FloatArray, number, boolean> = {
  name: 'typed',
  scalar: (x) => x,
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  min: Math.min,
  max: Math.max,
  pow: Math.pow,
  sqrt: Math.sqrt,
  gt: (a, b) => a > b,
  ge: (a, b) => a >= b,
  eq: (a, b) => a === b,
  and: (a, b) => a && b,
  or: (a, b) => a || b,
  not: (a) => !a,
  bool: (x) => x,
  isFinite: Number.isFinite,
  isNaN: Number.isNaN,
  where: (c, a, b) => (c ? a : b),

  normStats: typedNormStats,
  normStatsOfSet: typedSetNormStats,
  scale(t, s) {
    // Multiplying by exactly 1 changes no value (NaN and ±Infinity included): skip the pass.
    if (s !== 1) kernels().scale(t, s);
    return t;
  },
  scaleSet(ts, s) {
    if (s !== 1) {
      const k = kernels();
      if (k.scaleSet !== undefined) k.scaleSet(ts, s);
      else for (const t of ts) k.scale(t, s);
    }
    return [...ts];
  },
  clamp(t, c) {
    kernels().clamp(t, c);
    return t;
  },
  clampWithStats: typedClampWithStats,
  zeros(t) {
    t.fill(0);
    return t;
  },
  choose: (c, a, b) => (c ? a() : b()),
  readBool: (b) => b,
  finiteEach: (ts) =>
    ts.map((t) => {
      for (let i = 0; i < t.length; i++) if (!Number.isFinite(t[i]!)) return false;
      return true;
    }),

  unitNorms: typedUnitNorms,
  mapUnits(a, b, f) {
    if (a.length !== b.length) throw new RangeError(`mapUnits: ${a.length} units against ${b.length}`);
    const out = new Float64Array(a.length);
    for (let u = 0; u < a.length; u++) out[u] = f(a[u]!, b[u]!);
    return out;
  },
  scaleUnits(t, shape, layout, factors) {
    const { count, inner } = unitGeometry(shape, layout);
    if (factors.length !== count) throw new RangeError(`scaleUnits: ${count} units but ${factors.length} factors`);
    if (inner === 1) {
      for (let row = 0; row < t.length; row += count) for (let u = 0; u < count; u++) t[row + u]! *= factors[u]!;
      return t;
    }
    forEachUnitRun(t.length, inner, count, (start, end, u) => {
      const f = factors[u]!;
      if (f !== 1) for (let i = start; i < end; i++) t[i]! *= f;
    });
    return t;
  },
  minOf(t) {
    let m = Infinity;
    for (let i = 0; i < t.length; i++) {
      const x = t[i]!;
      if (Number.isNaN(x)) return NaN;
      if (x < m) m = x;
    }
    return m;
  },
};

/**
 * L2 norm of every unit (see `unitGeometry`). One float64 pass of Σx² per unit; a unit whose
 * sum overflowed or fell into the range where squares underflow is redone relative to its
 * largest finite |x| (the same idea as `typedNormStats`).
 */
function typedUnitNorms(t: FloatArray, shape: readonly number[], layout: UnitLayout): Float64Array {
  const { count, inner } = unitGeometry(shape, layout);
  const n = t.length;
  const sums = new Float64Array(count);
  // Σ|x| per unit (branch-free, unlike a running max) tells an all-zero unit from one whose
  // squares all underflowed: it cannot underflow itself.
  const absSums = new Float64Array(count);
  if (inner === 1) {
    // 'tf': units interleave (element i → unit i mod count); walk the rows.
    for (let row = 0; row < n; row += count) {
      for (let u = 0; u < count; u++) {
        const x = t[row + u]!;
        sums[u]! += x * x;
        absSums[u]! += Math.abs(x);
      }
    }
  } else {
    forEachUnitRun(n, inner, count, (start, end, u) => {
      let s = 0;
      let a = 0;
      for (let i = start; i < end; i++) {
        const x = t[i]!;
        s += x * x;
        a += Math.abs(x);
      }
      sums[u]! += s;
      absSums[u]! += a;
    });
  }
  let careful = false;
  for (let u = 0; u < count; u++) {
    const s = sums[u]!;
    // A sum of 0 from non-zero values means every square underflowed; a NaN sum fails `s < Infinity`.
    if (!(s < Infinity) || (s < TINY_SUM && absSums[u]! > 0)) careful = true;
  }
  if (!careful) return sums.map(Math.sqrt);
  // Rare path (overflow, underflow, NaN / ±Infinity): per unit, relative to its largest finite |x|.
  const ref = new Float64Array(count);
  const nan = new Uint8Array(count);
  const inf = new Uint8Array(count);
  forEachUnitRun(n, inner, count, (start, end, u) => {
    for (let i = start; i < end; i++) {
      const a = Math.abs(t[i]!);
      if (Number.isNaN(a)) nan[u] = 1;
      else if (a === Infinity) inf[u] = 1;
      else if (a > ref[u]!) ref[u] = a;
    }
  });
  sums.fill(0);
  forEachUnitRun(n, inner, count, (start, end, u) => {
    const r = ref[u]!;
    if (r > 0)
      for (let i = start; i < end; i++) {
        const a = Math.abs(t[i]!);
        if (a < Infinity) sums[u]! += (a / r) ** 2;
      }
  });
  return sums.map((s, u) => (nan[u] ? NaN : inf[u] ? Infinity : ref[u]! * Math.sqrt(s)));
}

/**
 * Calls f(start, end, unit) for every run of consecutive elements that share a unit: runs of
 * `inner` elements, cycling through the `count` units (see `unitGeometry`).
 */
function forEachUnitRun(
  n: number,
  inner: number,
  count: number,
  f: (start: number, end: number, unit: number) => void,
): void {
  if (count === 0) return;
  for (let start = 0, u = 0; start < n; start += inner) {
    f(start, Math.min(start + inner, n), u);
    if (++u === count) u = 0;
  }
}
