/**
 * gradclip — gradient clipping for TypeScript and JavaScript.
 *
 * Typed-array functions clip in place (like PyTorch) and return a `ClipResult`.
 * TensorFlow.js versions live in `gradclip/tfjs`.
 */
export type { ClipResult, Entry, FloatArray, GradientSet, NonFinitePolicy, Shaped } from './types.js';
export type { Leaf } from './gradients.js';
export type { ArrayOps, EachNormStats, NormStats, ScalarBlock, Scalars, ScalarOps, UnitLayout } from './ops.js';
export type { RuleOutput, StepOutput } from './rule.js';
export type { ClipByGlobalNormOptions, GlobalNormRuleOptions } from './clip_by_global_norm.js';
export type { ClipByNormOptions } from './clip_by_norm.js';
export type { Clipper, ClipRule, RuleConfig, StateTree } from './clipper.js';
export type { KerasClipOptions } from './keras.js';
export type { Kernels, KernelChoice, GradientArena, GradientArenaOptions, ArenaDtype } from './kernels/index.js';

export {
  globalNorm,
  normStatistics,
  mergeNormStatistics,
  normFromStatistics,
  statisticsFinite,
} from './global_norm.js';
export { clipByGlobalNorm } from './clip_by_global_norm.js';
export { clipByNorm } from './clip_by_norm.js';
export { clipByValue } from './clip_by_value.js';
export { NonFiniteGradientError, withNonFinitePolicy } from './rule.js';
export { kerasClipRule } from './keras.js';
export { chainRule } from './chain.js';
export {
  clipWatch,
  withWarnings,
  type ClipWarningOptions,
  type ClipWatch,
  type NeverClippedWarning,
  type TinyScaleWarning,
} from './diagnostics.js';
export {
  makeClipper,
  globalNormClipper,
  perTensorNormClipper,
  valueClipper,
  globalNormRule,
  perTensorNormRule,
  valueRule,
  globalNormRuleOf,
  perTensorNormRuleOf,
  valueRuleOf,
} from './clipper.js';
export { leavesOf } from './gradients.js';
export { mergeNormStats, mergeAllNormStats, finaliseNorm, emptyNormStats, statsFinite } from './norm_stats.js';
export { typedOps } from './typed_ops.js';
export { kernels, setKernels, useKernels, jsKernels, loadWasmKernels, gradientArena } from './kernels/index.js';
export { unitReduceAxes, unitGeometry, type UnitGeometry } from './units.js';
export { agc, agcRule, matchParams, type AgcOptions } from './adaptive/agc.js';
export {
  autoClip,
  autoClipRule,
  registerNormHistory,
  type AutoClipOptions,
  type AutoClipState,
  type NormHistory,
  type NormHistoryFactory,
} from './adaptive/auto_clip.js';
export { zClip, zClipRule, type ZClipOptions, type ZClipState } from './adaptive/z_clip.js';
export { adaGC, adaGCRule, type AdaGCOptions, type AdaGCState } from './adaptive/ada_gc.js';
export {
  perGroup,
  perGroupRule,
  globMatch,
  type GroupClip,
  type GroupSpec,
  type GroupReport,
  type PerGroupClipper,
  type PerGroupOutput,
  type PerGroupState,
} from './adaptive/groups.js';
export { SortedBlocks } from './adaptive/order_statistics.js';

// privacy (issue 16)
export {
  privacySpent,
  DEFAULT_ACCOUNTING,
  type Accounting,
  type DeltaSpentOptions,
  type EpsilonSpentOptions,
  type PrivacySpentReport,
} from './privacy/spent.js';
export {
  PLDAccountant,
  MAX_PLD_MECHANISMS,
  type PLDAccountantJSON,
  type PLDHistoryRun,
  type PLDPrivacySpent,
} from './privacy/pld.js';
export {
  computeRdp,
  epsilonFromRdp,
  DEFAULT_ORDERS,
  MAX_ORDER,
  MAX_ORDERS,
  MAX_STEPS,
  type Mechanism,
  type PrivacySpent,
  type PrivacySpentOptions,
} from './privacy/rdp.js';
export {
  RDPAccountant,
  MAX_ACCOUNTANT_MECHANISMS,
  type AccountantStep,
  type RDPAccountantJSON,
  type RDPAccountantOptions,
} from './privacy/accountant.js';
export { noiseMultiplierFor, type NoiseMultiplierForOptions } from './privacy/calibrate.js';
export {
  clipPerExample,
  clipPerExampleByLayer,
  type ClipPerExampleByLayerOptions,
  type ClipPerExampleByLayerResult,
  type ClipPerExampleResult,
  type PerExampleGradients,
  type SummedGradients,
} from './privacy/per_example.js';
export { gaussianNoise, type GaussianNoiseOptions } from './privacy/gaussian.js';
export { secureRandom, insecureSeededRandom, type RandomSource } from './privacy/random.js';
export { poissonSample } from './privacy/sampling.js';
export { AdaptiveClip, type AdaptiveClipOptions, type AdaptiveClipState } from './privacy/adaptive_clip.js';
