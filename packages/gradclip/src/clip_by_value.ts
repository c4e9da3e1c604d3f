import { leavesOf } from './gradients.js';
import { setNormStats } from './global_norm.js';
import { finaliseNorm, statsFinite } from './norm_stats.js';
import type { ArrayOps } from './ops.js';
import { toClipResult, type RuleOutput } from './rule.js';
import { typedOps } from './typed_ops.js';
import type { ClipResult, GradientSet } from './types.js';
import { nonNegative } from './validate.js';

/**
 * Value clipping: every element is clamped to [−clipValue, clipValue].
 *
 *     g ← min(max(g, −c), c)
 *
 * PyTorch `clip_grad_value_`, Keras `clipvalue`, optax `clip`, brain.js `clipval`. NaN stays
 * NaN and ±Infinity becomes ±c, as in PyTorch. It changes the direction of the gradient,
 * unlike norm clipping. `norm` in the report is the L2 norm before clipping.
 */
export function applyValue<T, S, B>(
  ops: ArrayOps<T, S, B>,
  grads: readonly T[],
  clipValue: number,
): RuleOutput<T, S, B> {
  // Value clipping has no non-finite policy (NaN stays NaN, ±Infinity becomes ±c), so the
  // clamp may run while the statistics are taken when the backend can fuse the two.
  const fused = ops.clampWithStats?.(grads, clipValue, 2);
  const all = fused?.stats ?? setNormStats(ops, grads, 2);
  const c = ops.scalar(clipValue);
  // ref is the largest finite |x|; an infinite entry is always clamped.
  const clipped = ops.or(ops.gt(all.ref, c), ops.gt(all.inf, ops.scalar(0)));
  return {
    grads: fused?.out ?? grads.map((g) => ops.clamp(g, clipValue)),
    norm: finaliseNorm(ops, all),
    scale: ops.scalar(1),
    clipped,
    finite: statsFinite(ops, all),
  };
}

/**
 * Clamps every gradient value to [−clipValue, clipValue], in place.
 *
 * @example
 * const g = new Float32Array([3, -0.5, -7]);
 * clipByValue(g, 1); // g is now [1, -0.5, -1]
 */
export function clipByValue(grads: GradientSet, clipValue: number): ClipResult {
  const c = nonNegative('clipValue', clipValue);
  const leaves = leavesOf(grads);
  return toClipResult(
    applyValue(
      typedOps,
      leaves.map((l) => l.values),
      c,
    ),
  );
}
