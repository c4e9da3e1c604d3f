import { agcRule, type AgcOptions } from '../adaptive/agc.js';
import { adaGCRule, type AdaGCOptions, type AdaGCState } from '../adaptive/ada_gc.js';
import { autoClipRule, type AutoClipOptions, type AutoClipState } from '../adaptive/auto_clip.js';
import { perGroupRule, type GroupClip, type GroupSpec } from '../adaptive/groups.js';
import { zClipRule, type ZClipOptions, type ZClipState } from '../adaptive/z_clip.js';
import { splitState, type StateTree } from '../clipper.js';
import './norm_history.js';
import { tensorClipper, type TensorClipper } from './tensor_clipper.js';

/*
 * Tensor forms of the adaptive clippers. Each runs the core rule unchanged on tf.Tensor; the
 * statistics (ZClip's EMA mean / variance, AdaGC's per-tensor γ, AutoClip's history) live in
 * non-trainable tf.Variables and are updated on the device with `where`, so no step reads a
 * value back to the host. Passing `state` (a typed-array clipper's `state`) resumes it.
 */

/** AGC (Brock et al. 2021) on tensors; `withClipping` passes the variables as params. */
export function agcTensorClipper(options: AgcOptions = {}): TensorClipper {
  return tensorClipper(agcRule(options));
}

/**
 * AutoClip (Seetharaman et al. 2020) on tensors. The history is a device buffer (see
 * norm_history.ts): prefer a finite `historySize` for long runs, as the unbounded history
 * grows by one value per step.
 */
export function autoClipTensorClipper(options: AutoClipOptions & { state?: AutoClipState } = {}): TensorClipper {
  const { state, rest } = splitState(options);
  return tensorClipper(autoClipRule(rest), state === undefined ? {} : { state: state as StateTree<number> });
}

/** ZClip (Kumar et al. 2025) on tensors. */
export function zClipTensorClipper(options: ZClipOptions & { state?: ZClipState } = {}): TensorClipper {
  const { state, rest } = splitState(options);
  return tensorClipper(zClipRule(rest), state === undefined ? {} : { state: state as StateTree<number> });
}

/** AdaGC (Wang et al. 2025) on tensors: one threshold per variable, keyed by its name. */
export function adaGCTensorClipper(options: AdaGCOptions & { state?: AdaGCState } = {}): TensorClipper {
  const { state, rest } = splitState(options);
  return tensorClipper(adaGCRule(rest), state === undefined ? {} : { state: state as StateTree<number> });
}

/**
 * Per-group thresholds on tensors: groups select variables by glob patterns over their names
 * (tfjs variable names such as 'dense_Dense1/kernel'). Not saveable with a model (its groups
 * hold rules, which are code).
 */
export function perGroupTensorClipper(groups: readonly GroupSpec[], defaultClip: GroupClip = null): TensorClipper {
  return tensorClipper(perGroupRule(groups, defaultClip));
}
