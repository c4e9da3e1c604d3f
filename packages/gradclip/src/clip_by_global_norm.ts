import { checkNormStatistics, setNormStats } from './global_norm.js';
import { leavesOf } from './gradients.js';
import { finaliseNorm, statsFinite, statsScalars } from './norm_stats.js';
import { runScalars, type ArrayOps, type NormStats, type ScalarOps } from './ops.js';
import {
  applyFactor,
  factorScalars,
  namingNonFinite,
  ratioToNorm,
  toClipResult,
  type FactorScalars,
  type RuleOutput,
} from './rule.js';
import { typedOps } from './typed_ops.js';
import type { ClipResult, GradientSet, NonFinitePolicy } from './types.js';
import { globalNormOptions } from './validate.js';

export interface ClipByGlobalNormOptions {
  /** p of the p-norm: any p > 0, or Infinity. Default 2. */
  normType?: number;
  /**
   * Added to the norm before dividing: scale = min(1, maxNorm / (norm + eps)). Default 1e-6
   * as in PyTorch, which also keeps the factor finite for an all-zero gradient. `eps: 0`
   * gives the TensorFlow / optax form, which leaves gradients with norm ≤ maxNorm untouched.
   */
  eps?: number;
  /** What to do with NaN / ±Infinity gradients. Default 'propagate' (PyTorch). */
  nonFinite?: NonFinitePolicy;
  /** A norm computed beforehand (e.g. all-reduced across workers); skips the norm pass. */
  norm?: number;
  /** Merged norm statistics of all shards (see `normStatistics`); skips the norm pass. */
  statistics?: NormStats<number>;
}

export interface GlobalNormRuleOptions<S> {
  p: number;
  eps: number;
  nonFinite: NonFinitePolicy;
  norm?: S | undefined;
  statistics?: NormStats<S> | undefined;
}

/**
 * Global-norm clipping (Pascanu et al. 2013; PyTorch `clip_grad_norm_`, TF
 * `clip_by_global_norm`, optax `clip_by_global_norm`, Keras `global_clipnorm`):
 *
 *     scale = min(1, maxNorm / (‖g‖_p + eps)),   g ← scale · g
 *
 * The direction of the whole gradient is kept; only its length is limited.
 */
export function applyGlobalNorm<T, S, B>(
  ops: ArrayOps<T, S, B>,
  grads: readonly T[],
  maxNorm: number,
  o: GlobalNormRuleOptions<S>,
): RuleOutput<T, S, B> {
  // Everything between the statistics and the scale is scalar arithmetic, run as one block
  // (one GPU program per output type instead of ~30 one-value programs).
  const policy = o.nonFinite;
  const r: FactorScalars<S, B> =
    o.norm !== undefined
      ? runScalars(ops, { s: { norm: o.norm }, b: {} }, (s, x) =>
          factorScalars(s, policy, x.s.norm, s.isFinite(x.s.norm), globalNormFactor(s, maxNorm, o.eps, x.s.norm)),
        )
      : runScalars(ops, { s: statsScalars(o.statistics ?? setNormStats(ops, grads, o.p)), b: {} }, (s, x) => {
          const stats = { p: o.p, ...x.s };
          const norm = finaliseNorm(s, stats);
          return factorScalars(
            s,
            policy,
            norm,
            statsFinite(s, stats),
            globalNormFactor(s, maxNorm, o.eps, norm, stats),
          );
        });
  return applyFactor(ops, grads, r, policy);
}

/** min(1, maxNorm / (norm + eps)), guarded as described below. */
function globalNormFactor<S, B>(ops: ScalarOps<S, B>, maxNorm: number, eps: number, norm: S, stats?: NormStats<S>): S {
  const one = ops.scalar(1);
  // maxNorm = Infinity means "no limit": factor 1 whatever the norm (Inf / Inf would be NaN).
  if (maxNorm === Infinity) return one;
  // norm + eps = 0 only for all-zero gradients with eps = 0: any factor leaves them 0, and
  // 1 avoids 0/0 = NaN. A NaN norm is not equal to 0 and still propagates (PyTorch).
  // With statistics, a norm beyond the float64 range (float64 data near 1e308) still gives
  // the right ratio: see ratioToNorm.
  const allZero = ops.eq(ops.add(norm, ops.scalar(eps)), ops.scalar(0));
  return ops.where(allZero, one, ops.min(one, ratioToNorm(ops, ops.scalar(maxNorm), norm, eps, stats)));
}

/**
 * Scales all gradients together, in place, so that their joint p-norm is at most `maxNorm`
 * (PyTorch `clip_grad_norm_` semantics), and reports the norm before clipping.
 *
 * @example
 * const grads = { w: new Float32Array([3, 4]), b: new Float32Array([0]) };
 * const r = clipByGlobalNorm(grads, 1); // r.norm = 5, r.scale ≈ 0.2; grads.w ≈ [0.6, 0.8]
 */
export function clipByGlobalNorm(
  grads: GradientSet,
  maxNorm: number,
  options: ClipByGlobalNormOptions = {},
): ClipResult {
  const o = globalNormOptions(maxNorm, options, ['norm', 'statistics']);
  if (options.norm !== undefined && typeof options.norm !== 'number') {
    throw new TypeError(`options.norm must be a number, got ${typeof options.norm}`);
  }
  if (options.norm !== undefined && options.norm < 0) {
    throw new RangeError(`options.norm must be ≥ 0 (or NaN / Infinity), got ${options.norm}`);
  }
  const statistics =
    options.statistics === undefined ? undefined : checkNormStatistics('options.statistics', options.statistics);
  if (statistics !== undefined && statistics.p !== o.p) {
    throw new RangeError(`options.statistics are for p = ${statistics.p} but normType is ${o.p}`);
  }
  const leaves = leavesOf(grads);
  return toClipResult(
    namingNonFinite(leaves, () =>
      applyGlobalNorm(
        typedOps,
        leaves.map((l) => l.values),
        o.maxNorm,
        { ...o, norm: options.norm, statistics },
      ),
    ),
  );
}
