import { setNormStats } from '../global_norm.js';
import type { Leaf } from '../gradients.js';
import { finaliseNorm, ratioFromStats, statsFinite } from '../norm_stats.js';
import type { ArrayOps, NormStats, ScalarOps } from '../ops.js';
import { withNonFinitePolicy, type RuleOutput } from '../rule.js';
import type { NonFinitePolicy } from '../types.js';

/** PyTorch's `clip_grad_norm_` adds this to the norm; the AutoClip, ZClip and AdaGC references inherit it. */
export const TORCH_EPS = 1e-6;

/** The L2 norm of a whole gradient set, whether every value was finite, and whether the norm may enter a statistic. */
export function totalNorm<T, S, B>(
  ops: ArrayOps<T, S, B>,
  grads: readonly T[],
): { norm: S; finite: B; valid: B; stats: NormStats<S> } {
  const stats = setNormStats(ops, grads, 2);
  const norm = finaliseNorm(ops, stats);
  // `valid` also excludes a norm that overflowed although every value was finite (float64
  // data near 1e308): such a norm would put Infinity into the statistics.
  return { norm, finite: statsFinite(ops, stats), valid: ops.isFinite(norm), stats };
}

/**
 * target / (norm + eps), the factor every "clip to a threshold" rule applies. When the norm
 * overflowed although every value was finite (float64 data near 1e308), the ratio is taken
 * from the statistics instead, so such gradients are scaled, not zeroed.
 */
export function ratioToNorm<S, B>(ops: ScalarOps<S, B>, target: S, norm: S, eps: number, stats: NormStats<S>): S {
  const overflowed = ops.and(statsFinite(ops, stats), ops.not(ops.isFinite(norm)));
  return ops.where(overflowed, ratioFromStats(ops, target, stats), ops.div(target, ops.add(norm, ops.scalar(eps))));
}

/** Multiplies every gradient by one factor (≤ 1) under a non-finite policy, and reports it. */
export function scaleAll<T, S, B>(
  ops: ArrayOps<T, S, B>,
  grads: readonly T[],
  factor: S,
  norm: S,
  finite: B,
  policy: NonFinitePolicy,
): RuleOutput<T, S, B> {
  const one = ops.scalar(1);
  const r = withNonFinitePolicy(ops, policy, finite, [...grads], () => ({
    grads: grads.map((g) => ops.scale(g, factor)),
    scale: factor,
    clipped: ops.not(ops.ge(factor, one)),
  }));
  return { ...r, norm, finite };
}

/** Multiplies gradient i by factors[i] (≤ 1) under a non-finite policy; reports the smallest factor. */
export function scaleEach<T, S, B>(
  ops: ArrayOps<T, S, B>,
  grads: readonly T[],
  factors: readonly S[],
  norm: S,
  finite: B,
  policy: NonFinitePolicy,
): RuleOutput<T, S, B> {
  const one = ops.scalar(1);
  const r = withNonFinitePolicy(ops, policy, finite, [...grads], () => {
    const scale = factors.reduce((a, f) => ops.min(a, f), one);
    return {
      grads: grads.map((g, i) => ops.scale(g, factors[i]!)),
      scale,
      clipped: ops.not(ops.ge(scale, one)),
    };
  });
  return { ...r, norm, finite };
}

/** Values of the leaves, in order. */
export const valuesOf = <T>(leaves: readonly Leaf<T>[]): T[] => leaves.map((l) => l.values);

/**
 * Keeps a state value unless `valid`: the guard that keeps NaN / ±Infinity norms out of every
 * statistic. Written with `where`, so it needs no host read on device.
 */
export function keepUnless<S, B>(ops: ArrayOps<unknown, S, B>, valid: B, updated: S, old: S): S {
  return ops.where(valid, updated, old);
}

/**
 * Largest finite double. A statistic that would overflow (squared deviations of norms above
 * ~1e154) is held here instead of becoming Infinity, which JSON cannot carry.
 */
export const MAX_STAT = Number.MAX_VALUE;
