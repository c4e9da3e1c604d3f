import type { NormStats, ScalarOps } from './ops.js';

/** Statistics of no values at all: the norm of the empty set is 0. */
export function emptyNormStats<S, B>(ops: ScalarOps<S, B>, p: number): NormStats<S> {
  const zero = ops.scalar(0);
  return { p, ref: zero, sum: zero, nan: zero, inf: zero };
}

/**
 * Merges the statistics of two disjoint sets of values: rescale both sums to the larger ref.
 * A ratio ref_small/ref_big ≤ 1 raised to p can only underflow for terms that are below
 * 2^-1074 relative to the largest one, which cannot change the norm in float64.
 */
export function mergeNormStats<S, B>(ops: ScalarOps<S, B>, a: NormStats<S>, b: NormStats<S>): NormStats<S> {
  if (a.p !== b.p) throw new RangeError(`cannot merge norm statistics of p = ${a.p} and p = ${b.p}`);
  const ref = ops.max(a.ref, b.ref);
  const zero = ops.scalar(0);
  let sum: S;
  if (a.p === Infinity) {
    sum = zero;
  } else {
    const positive = ops.gt(ref, zero);
    // Guard the division: with ref = 0 both sums are 0 and the merged sum is 0.
    const safeRef = ops.where(positive, ref, ops.scalar(1));
    const term = (s: NormStats<S>) => ops.mul(s.sum, ops.pow(ops.div(s.ref, safeRef), a.p));
    sum = ops.where(positive, ops.add(term(a), term(b)), zero);
  }
  return { p: a.p, ref, sum, nan: ops.add(a.nan, b.nan), inf: ops.add(a.inf, b.inf) };
}

export function mergeAllNormStats<S, B>(ops: ScalarOps<S, B>, p: number, all: readonly NormStats<S>[]): NormStats<S> {
  let acc = emptyNormStats(ops, p);
  for (const s of all) acc = mergeNormStats(ops, acc, s);
  return acc;
}

/** The fields of norm statistics that are scalars (a block's inputs). */
export function statsScalars<S>(st: NormStats<S>): { ref: S; sum: S; nan: S; inf: S } {
  return { ref: st.ref, sum: st.sum, nan: st.nan, inf: st.inf };
}

/** Whether the values behind the statistics were all finite. */
export function statsFinite<S, B>(ops: ScalarOps<S, B>, s: NormStats<S>): B {
  const zero = ops.scalar(0);
  return ops.and(ops.eq(s.nan, zero), ops.eq(s.inf, zero));
}

/**
 * The p-norm. With non-finite values it follows IEEE / PyTorch arithmetic: any NaN → NaN,
 * else any ±Infinity → Infinity. It is finite whenever every value is finite, unless the
 * norm itself exceeds the float64 range (only possible for float64 inputs near 1.8e308);
 * `ratioToNorm` (rule.ts) then takes the clipping factor from the statistics directly.
 */
export function finaliseNorm<S, B>(ops: ScalarOps<S, B>, s: NormStats<S>): S {
  const zero = ops.scalar(0);
  const norm = s.p === Infinity ? s.ref : ops.mul(s.ref, ops.pow(s.sum, 1 / s.p));
  return ops.where(ops.gt(s.nan, zero), ops.scalar(NaN), ops.where(ops.gt(s.inf, zero), ops.scalar(Infinity), norm));
}

/**
 * maxNorm / norm computed from the statistics without forming the norm: (maxNorm / ref) /
 * sum^(1/p). Used when the norm overflows although every value is finite.
 */
export function ratioFromStats<S, B>(ops: ScalarOps<S, B>, maxNorm: S, s: NormStats<S>): S {
  const r = ops.div(maxNorm, s.ref);
  return s.p === Infinity ? r : ops.div(r, ops.pow(s.sum, 1 / s.p));
}
