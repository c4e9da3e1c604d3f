import { describe, leavesOf } from './gradients.js';
import { finaliseNorm, mergeAllNormStats, mergeNormStats, statsFinite } from './norm_stats.js';
import type { ArrayOps, NormStats } from './ops.js';
import { typedNormStats, typedOps } from './typed_ops.js';
import type { GradientSet } from './types.js';
import { normType as checkNormType, stateNumber } from './validate.js';

/** Norm statistics of every tensor of a set together (the rules' shared first step). */
export function setNormStats<T, S, B>(ops: ArrayOps<T, S, B>, grads: readonly T[], p: number): NormStats<S> {
  if (ops.normStatsOfSet !== undefined) return ops.normStatsOfSet(grads, p);
  return mergeAllNormStats(
    ops,
    p,
    grads.map((g) => ops.normStats(g, p)),
  );
}

/**
 * The p-norm of all gradients seen as one vector: (Σ|x|^p)^(1/p), or max |x| for
 * p = Infinity. The empty set has norm 0.
 *
 * Accumulates in float64 relative to the largest |x|, so the result is finite whenever every
 * value is finite: 1000 float32 values of 1e20 give 3.162e21 (PyTorch 1.13 gives inf), and
 * values of 1e-30 with p = 10 do not underflow to 0. A NaN gives NaN, else ±Infinity gives
 * Infinity (PyTorch's arithmetic).
 *
 * @param grads a Float32Array / Float64Array, `{ values, shape }`, or a list / record of them.
 * @param normType p of the p-norm: any p > 0, or Infinity. Default 2.
 */
export function globalNorm(grads: GradientSet, normType = 2): number {
  const p = checkNormType('normType', normType);
  const leaves = leavesOf(grads);
  return finaliseNorm(
    typedOps,
    setNormStats(
      typedOps,
      leaves.map((l) => l.values),
      p,
    ),
  );
}

/**
 * Mergeable norm statistics of a gradient set — the first half of a sharded global-norm
 * clip. Compute them on each shard, exchange them with any transport (they are plain
 * numbers), combine with `mergeNormStatistics`, turn them into a norm with
 * `normFromStatistics`, and pass that norm to `clipByGlobalNorm(…, { norm })` on every shard.
 */
export function normStatistics(grads: GradientSet, normType = 2): NormStats<number> {
  const p = checkNormType('normType', normType);
  return leavesOf(grads).reduce(
    (acc, l) => mergeNormStats(typedOps, acc, typedNormStats(l.values, p)),
    mergeAllNormStats(typedOps, p, []),
  );
}

/**
 * Checks statistics that came from elsewhere (another worker, JSON). JSON writes
 * p = Infinity as null, so null is read back as Infinity.
 */
export function checkNormStatistics(arg: string, s: unknown): NormStats<number> {
  if (typeof s !== 'object' || s === null) throw new TypeError(`${arg} must be norm statistics, got ${String(s)}`);
  const o = s as Record<string, unknown>;
  const p = checkNormType(`${arg}.p`, o.p === null ? Infinity : o.p);
  for (const k of ['ref', 'sum', 'nan', 'inf'] as const) {
    if (typeof o[k] !== 'number') throw new TypeError(`${arg}.${k} must be a number, got ${describe(o[k])}`);
  }
  // ref is the largest finite |x| and sum = Σ(|x|/ref)^p: the largest term is 1, so
  // sum ≥ 1 whenever ref > 0 and sum = 0 when ref = 0. Counts are whole numbers. Anything else
  // did not come from normStatistics, and would zero (ref = Infinity) or poison (nan = 0.5)
  // every shard's gradients.
  const ref = stateNumber(`${arg}.ref`, o.ref);
  const sum = stateNumber(`${arg}.sum`, o.sum);
  const nan = stateNumber(`${arg}.nan`, o.nan);
  const inf = stateNumber(`${arg}.inf`, o.inf);
  if (!Number.isInteger(nan)) throw new RangeError(`${arg}.nan must be a count (an integer ≥ 0), got ${nan}`);
  if (!Number.isInteger(inf)) throw new RangeError(`${arg}.inf must be a count (an integer ≥ 0), got ${inf}`);
  // (1 − 1e-9: the fast pass divides a float64 sum by ref^p, which may round just below 1.)
  if (p !== Infinity && ref > 0 && sum < 1 - 1e-9)
    throw new RangeError(`${arg}.sum must be ≥ 1 when ref > 0 (the largest value contributes 1), got ${sum}`);
  if (ref === 0 && sum !== 0) throw new RangeError(`${arg}.sum must be 0 when ref is 0, got ${sum}`);
  return { p, ref, sum, nan, inf };
}

/** Combines shards' statistics (all for the same p). */
export function mergeNormStatistics(...stats: readonly NormStats<number>[]): NormStats<number> {
  const checked = stats.map((s, i) => checkNormStatistics(`stats[${i}]`, s));
  const first = checked[0];
  if (first === undefined) throw new RangeError('mergeNormStatistics needs at least one set of statistics');
  return mergeAllNormStats(typedOps, first.p, checked);
}

/** The norm described by (merged) statistics. */
export function normFromStatistics(stats: NormStats<number>): number {
  return finaliseNorm(typedOps, checkNormStatistics('stats', stats));
}

/** Whether the values described by the statistics were all finite. */
export function statisticsFinite(stats: NormStats<number>): boolean {
  return statsFinite(typedOps, checkNormStatistics('stats', stats));
}
