/**
 * gradclip/tfjs — gradient clipping for TensorFlow.js.
 *
 * The core's clipping rules run on tf.Tensor through `tfOps` (tensor ArrayOps that never read
 * values back to the host); `tensorClipper` keeps a rule's state in tf.Variables, and
 * `withClipping` wraps any tf.Optimizer so that `minimize`, `model.fit`, `fitDataset` and
 * `trainOnBatch` clip before every update.
 */
export { tfOps } from './ops.js';
export { clipByGlobalNorm, clipByNorm, clipByValue, type TensorClipByGlobalNormOptions } from './functions.js';
export {
  tensorClipper,
  globalNormTensorClipper,
  perTensorNormTensorClipper,
  valueTensorClipper,
  normaliseGradients,
} from './tensor_clipper.js';
export type {
  TensorClipper,
  TensorClipperOptions,
  TensorClipResult,
  TensorStepReport,
  TensorGradients,
  Clipped,
} from './tensor_clipper.js';
export {
  agcTensorClipper,
  autoClipTensorClipper,
  zClipTensorClipper,
  adaGCTensorClipper,
  perGroupTensorClipper,
} from './adaptive.js';
export { devicePercentile } from './norm_history.js';
export { withClipping, ClippedOptimizer, registerClipperKind, toTensorClipper } from './with_clipping.js';
export type { KerasClipOptions, WithClippingOptions } from './with_clipping.js';
export { ClipMonitor } from './monitor.js';
export type { ClipMonitorOptions, ClipRecord } from './monitor.js';
export {
  registerGradclipKernels,
  setFusedKernelsDisabled,
  hasFusedKernels,
  NORM_STATS_KERNEL,
  SET_NORM_STATS_KERNEL,
  SCALE_KERNEL,
} from './kernels.js';

// privacy (issue 16)
export {
  clippedGradients,
  type ClippedGradients,
  type ClippedGradientsOptions,
  type PerExampleMethod,
  type PerExampleClipping,
} from './private/clip.js';
export type { LayerLike, ModelLike, PerExampleLoss } from './private/model.js';
export {
  privateFit,
  attachAccountant,
  accountantOf,
  ACCOUNTANT_METADATA_KEY,
  type PrivateFitOptions,
  type PrivateFitResult,
  type PrivateFitLogs,
  type PrivateFitCallbacks,
  type PrivateFitEpoch,
  type PrivateFitParams,
} from './private/private_fit.js';
