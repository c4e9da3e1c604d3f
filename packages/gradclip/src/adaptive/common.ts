import { setNormStats } from '../global_norm.js';
import type { Leaf } from '../gradients.js';
import { finaliseNorm, statsFinite } from '../norm_stats.js';
import type { ArrayOps, NormStats, ScalarOps } from '../ops.js';

/** PyTorch's `clip_grad_norm_` adds this to the norm; the AutoClip, ZClip and AdaGC references inherit it. */
export const TORCH_EPS = 1e-6;

/** The L2 norm of a whole gradient set, whether every value was finite, and whether the norm may enter a statistic. */
export function totalNorm<T, S, B>(
  ops: ArrayOps<T, S, B>,
  grads: readonly T[],
): { norm: S; finite: B; valid: B; stats: NormStats<S> } {
  return normOfStats(ops, setNormStats(ops, grads, 2));
}

/** `totalNorm` from statistics: scalar operations only, so it can run in a scalar block. */
export function normOfStats<S, B>(
  ops: ScalarOps<S, B>,
  stats: NormStats<S>,
): { norm: S; finite: B; valid: B; stats: NormStats<S> } {
  const norm = finaliseNorm(ops, stats);
  // `valid` also excludes a norm that overflowed although every value was finite (float64
  // data near 1e308): such a norm would put Infinity into the statistics.
  return { norm, finite: statsFinite(ops, stats), valid: ops.isFinite(norm), stats };
}

/** Values of the leaves, in order. */
export const valuesOf = <T>(leaves: readonly Leaf<T>[]): T[] => leaves.map((l) => l.values);

/**
 * Largest finite double. A statistic that would overflow (squared deviations of norms above
 * ~1e154) is held here instead of becoming Infinity, which JSON cannot carry.
 */
export const MAX_STAT = Number.MAX_VALUE;
