import { leavesOf } from './gradients.js';
import { finaliseNorm, mergeAllNormStats, mergeNormStats, statsFinite } from './norm_stats.js';
import type { ArrayOps, NormStats } from './ops.js';
import { typedNormStats, typedOps } from './typed_ops.js';
import type { GradientSet } from './types.js';
import { normType } from './validate.js';

/** Norm statistics of every tensor of a set together (the rules' shared first step). */
export function setNormStats<T, S, B>(ops: ArrayOps<T, S, B>, grads: readonly T[], p: number): NormStats<S> {
  if (ops.normStatsOfSet !== undefined) return ops.normStatsOfSet(grads, p);
  return mergeAllNormStats(ops, p, grads.map((g) => ops.normStats(g, p)));
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
export function globalNorm(grads: GradientSet, normType_ = 2): number {
  const p = normType('normType', normType_);
  const leaves = leavesOf(grads);
  return finaliseNorm(typedOps, setNormStats(typedOps, leaves.map((l) => l.values), p));
}

/**
 * Mergeable norm statistics of a gradient set — the first half of a sharded global-norm
 * clip. Compute them on each shard, exchange them with any transport (they are plain
 * numbers), combine with `mergeNormStatistics`, turn them into a norm with
 * `normFromStatistics`, and pass that norm to `clipByGlobalNorm(…, { norm })` on every shard.
 */
export function normStatistics(grads: GradientSet, normType_ = 2): NormStats<number> {
  const p = normType('normType', normType_);
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
  const p = o.p === null ? Infinity : o.p;
  for (const k of ['ref', 'sum', 'nan', 'inf'] as const) {
    if (typeof o[k] !== 'number' || !((o[k] as number) >= 0)) {
      throw new TypeError(`${arg}.${k} must be a number ≥ 0, got ${String(o[k])}`);
    }
  }
  return { p: normType(`${arg}.p`, p), ref: o.ref as number, sum: o.sum as number, nan: o.nan as number, inf: o.inf as number };
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
