/**
 * gradclip/jax: gradient clipping for jax-js (`@jax-js/jax`), as optax-shaped transformations.
 *
 * Every transformation runs the core's rule (the same code as the typed-array clippers) over
 * jax-js arrays through `jaxOps`, with no host read in `update`, and follows jax-js's ownership
 * rules as its optax port does: `update` consumes `updates`, `state` and `params`.
 *
 * @module
 */
export {
  clipByGlobalNorm,
  clipByNorm,
  clipByValue,
  agc,
  autoClip,
  zClip,
  adaGC,
  perGroup,
  type ClipByGlobalNormOptions,
  type JaxGroupClip,
  type JaxGroupSpec,
} from './clipping.js';
export { applyIfFinite, type ApplyIfFiniteOptions, type ApplyIfFiniteState } from './apply_if_finite.js';
export {
  chain,
  ruleTransformation,
  type ClipTransformation,
  type GradientTransformation,
  type OptState,
} from './transform.js';
export { jaxOps } from './ops.js';
export type { ArrayTree } from './tree.js';
export type { AdaGCOptions } from '../adaptive/ada_gc.js';
export type { AgcOptions } from '../adaptive/agc.js';
export type { AutoClipOptions } from '../adaptive/auto_clip.js';
export type { ZClipOptions } from '../adaptive/z_clip.js';
export type { ClipByNormOptions } from '../clip_by_norm.js';
export type { NonFinitePolicy } from '../types.js';
export type { ClipRule, Clipper } from '../clipper.js';
export { clipPerExample, dpSgdAggregate, type DpSgdAggregateOptions, type JaxClipPerExampleResult } from './private.js';
export type { RandomSource } from '../privacy/random.js';
export type { AccountantStep } from '../privacy/accountant.js';
