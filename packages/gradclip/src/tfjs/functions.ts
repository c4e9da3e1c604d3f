import * as tf from '@tensorflow/tfjs-core';
import type { ClipByGlobalNormOptions } from '../clip_by_global_norm.js';
import type { ClipByNormOptions } from '../clip_by_norm.js';
import { applyRule, globalNormRule, perTensorNormRule, valueRule, type ClipRule } from '../clipper.js';
import { tfOps } from './ops.js';
import { normaliseGradients, type Clipped, type TensorGradients } from './tensor_clipper.js';

/** Options of `clipByGlobalNorm` on tensors: the core's, without the precomputed norm / statistics. */
export type TensorClipByGlobalNormOptions = Omit<ClipByGlobalNormOptions, 'norm' | 'statistics'>;

/**
 * Applies a stateless rule once: only the clipped gradients (and the norm when asked) leave
 * the tidy, each a new tensor (an untouched gradient is cloned, so the caller may dispose
 * everything it gets and nothing else is left alive).
 */
function applyOnce(rule: ClipRule, grads: TensorGradients, withNorm: boolean): { grads: unknown; norm?: tf.Scalar } {
  const g = normaliseGradients(grads, 'grads');
  const out = tf.tidy(() => {
    const r = applyRule(rule, tfOps, g.leaves, undefined, {});
    const own = (t: tf.Tensor) => (g.leaves.some((l) => l.values === t) ? tf.clone(t) : t);
    return { grads: r.out.grads.map(own), norm: withNorm ? [own(r.out.norm)] : [] };
  });
  const res: { grads: unknown; norm?: tf.Scalar } = { grads: g.rebuild(out.grads) };
  if (withNorm) res.norm = out.norm[0] as tf.Scalar;
  return res;
}

/**
 * Global-norm clipping of tensors, in TensorFlow's `tf.clip_by_global_norm` shape: the clipped
 * gradients in the container given (a list with null entries kept, a NamedTensorMap, or
 * NamedTensor[] `{ name, tensor }` as `optimizer.computeGradients` / `applyGradients` use) and
 * the global norm before clipping.
 *
 *     scale = min(1, maxNorm / (‖g‖_p + eps)),   g ← scale · g
 *
 * The options are the core's `clipByGlobalNorm` options: `eps` (default 1e-6 as in PyTorch;
 * `eps: 0` is TensorFlow's / optax's form, which leaves gradients with norm ≤ maxNorm exactly as
 * they are), `normType` (default 2) and `nonFinite` (default 'propagate'; 'error' throws a
 * NonFiniteGradientError naming the offending tensors, at the cost of a host read).
 *
 * Every returned tensor is new and the caller's: outside `tf.tidy` the gradients and `norm`
 * are all it leaves alive; the inputs are not disposed. Nothing is read back to the host
 * (except under `nonFinite: 'error'`).
 *
 * @example
 * tf.tidy(() => {
 *   const { grads } = optimizer.computeGradients(loss);
 *   optimizer.applyGradients(clipByGlobalNorm(grads, 1).grads);
 * });
 */
export function clipByGlobalNorm<G extends TensorGradients>(
  grads: G,
  maxNorm: number,
  options: TensorClipByGlobalNormOptions = {},
): { grads: Clipped<G>; norm: tf.Scalar } {
  const r = applyOnce(globalNormRule(maxNorm, options), grads, true);
  return { grads: r.grads as Clipped<G>, norm: r.norm! };
}

/**
 * Clips each tensor's L2 norm to `maxNorm` on its own (TensorFlow `tf.clip_by_norm`, Keras
 * `clipnorm`): t · maxNorm / max(‖t‖₂, maxNorm). Returns the clipped gradients in the container
 * given, all new tensors (nothing else is left alive); `nonFinite` as in the core.
 */
export function clipByNorm<G extends TensorGradients>(
  grads: G,
  maxNorm: number,
  options: ClipByNormOptions = {},
): Clipped<G> {
  return applyOnce(perTensorNormRule(maxNorm, options), grads, false).grads as Clipped<G>;
}

/**
 * Clamps every value to [−clipValue, clipValue] (TensorFlow `tf.clip_by_value`, Keras
 * `clipvalue`, PyTorch `clip_grad_value_`); NaN stays NaN. Returns the clipped gradients in the
 * container given, all new tensors (nothing else is left alive).
 */
export function clipByValue<G extends TensorGradients>(grads: G, clipValue: number): Clipped<G> {
  return applyOnce(valueRule(clipValue), grads, false).grads as Clipped<G>;
}
