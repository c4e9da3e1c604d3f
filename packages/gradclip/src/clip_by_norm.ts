import { leavesOf } from './gradients.js';
import { finaliseNorm, mergeAllNormStats, statsFinite } from './norm_stats.js';
import type { ArrayOps, NormStats } from './ops.js';
import { namingNonFinite, ratioToNorm, scaleEach, toClipResult, type RuleOutput } from './rule.js';
import { typedOps } from './typed_ops.js';
import type { ClipResult, GradientSet, NonFinitePolicy } from './types.js';
import { perTensorNormOptions } from './validate.js';

export interface ClipByNormOptions {
  /** What to do with NaN / ±Infinity gradients (decided for the whole set). Default 'propagate'. */
  nonFinite?: NonFinitePolicy;
}

/**
 * Per-tensor norm clipping (TF `clip_by_norm`, Keras `clipnorm`): each tensor on its own,
 *
 *     t ← t · c / max(‖t‖₂, c)
 *
 * so every tensor's L2 norm ends ≤ c. Unlike global-norm clipping this changes the
 * direction of the whole gradient when only some tensors are large.
 */
export function applyPerTensorNorm<T, S, B>(
  ops: ArrayOps<T, S, B>,
  grads: readonly T[],
  maxNorm: number,
  nonFinite: NonFinitePolicy,
): RuleOutput<T, S, B> {
  const c = ops.scalar(maxNorm);
  const one = ops.scalar(1);
  // c / max(‖t‖, c) is 1 for ‖t‖ ≤ c (also a zero tensor with c = 0, where TF gives 0/0 =
  // NaN), else c / ‖t‖ — taken from the statistics when ‖t‖ overflows float64 although
  // every value is finite (float64 data near 1e308), so such a tensor is scaled, not zeroed.
  const factorOf = (s: NormStats<S>) => {
    const norm = finaliseNorm(ops, s);
    return ops.where(ops.ge(c, norm), one, ratioToNorm(ops, c, norm, 0, s));
  };
  // All tensors at once where the backend gives per-tensor statistics as vectors.
  const batched = ops.normStatsEach?.(grads, 2);
  if (batched !== undefined) {
    const { all } = batched;
    const f = maxNorm === Infinity ? undefined : factorOf(batched.each);
    const factors = f === undefined ? grads.map(() => one) : batched.split(f);
    const smallest = f === undefined ? one : ops.min(one, batched.min(f));
    return scaleEach(ops, grads, factors, finaliseNorm(ops, all), statsFinite(ops, all), nonFinite, smallest);
  }
  const stats = grads.map((g) => ops.normStats(g, 2));
  const all = mergeAllNormStats(ops, 2, stats);
  const finite = statsFinite(ops, all);
  // maxNorm = Infinity means "no limit" (c / max(‖t‖, c) would be Inf / Inf = NaN).
  const factors = stats.map((s) => (maxNorm === Infinity ? one : factorOf(s)));
  return scaleEach(ops, grads, factors, finaliseNorm(ops, all), finite, nonFinite);
}

/**
 * Clips each tensor's L2 norm to `maxNorm` separately, in place (Keras `clipnorm`).
 *
 * @example
 * const grads = [new Float32Array([3, 4]), new Float32Array([0.3, 0.4])];
 * clipByNorm(grads, 1); // [0.6, 0.8] and [0.3, 0.4] (the second is already short enough)
 */
export function clipByNorm(grads: GradientSet, maxNorm: number, options: ClipByNormOptions = {}): ClipResult {
  const o = perTensorNormOptions(maxNorm, options);
  const leaves = leavesOf(grads);
  return toClipResult(
    namingNonFinite(leaves, () =>
      applyPerTensorNorm(
        typedOps,
        leaves.map((l) => l.values),
        o.maxNorm,
        o.nonFinite,
      ),
    ),
  );
}
