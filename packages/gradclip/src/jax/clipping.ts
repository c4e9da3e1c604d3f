import { adaGCRule, type AdaGCOptions } from '../adaptive/ada_gc.js';
import { agcRule, type AgcOptions } from '../adaptive/agc.js';
import { autoClipRule, type AutoClipOptions } from '../adaptive/auto_clip.js';
import { perGroupRule, type GroupClip, type GroupSpec } from '../adaptive/groups.js';
import { zClipRule, type ZClipOptions } from '../adaptive/z_clip.js';
import type { ClipByNormOptions } from '../clip_by_norm.js';
import { globalNormRule, perTensorNormRule, valueRule, type Clipper, type ClipRule } from '../clipper.js';
import { describe } from '../gradients.js';
import type { NonFinitePolicy } from '../types.js';
import { ruleTransformation, type ClipTransformation } from './transform.js';

/*
 * The clipping transformations of gradclip/jax. Each is the core's rule (the very code the
 * typed-array clippers run) driven by `ruleTransformation` over jax-js arrays; see the core's
 * modules for the math, defaults and papers.
 */

/** Options of `clipByGlobalNorm` in gradclip/jax. */
export interface ClipByGlobalNormOptions {
  /** p of the p-norm: any p > 0, or Infinity. Default 2. */
  normType?: number;
  /**
   * Added to the norm in the divisor. Default 0: optax's `clip_by_global_norm` numbers
   * (g · min(1, τ/‖g‖), unchanged at ‖g‖ ≤ τ); 1e-6 gives PyTorch's `clip_grad_norm_`.
   */
  eps?: number;
  /** What to do with NaN / ±Infinity updates. Default 'propagate'. */
  nonFinite?: NonFinitePolicy;
}

/**
 * Clips the updates to a global p-norm of at most `maxNorm` (optax `clip_by_global_norm`):
 *
 *     g ← g · min(1, maxNorm / (‖g‖ + eps))        (eps = 0 by default, as optax)
 *
 * The norm is overflow-safe (float32 values of 1e20 are clipped, not zeroed).
 */
export function clipByGlobalNorm(maxNorm: number, options: ClipByGlobalNormOptions = {}): ClipTransformation {
  return ruleTransformation(globalNormRule(maxNorm, { eps: 0, ...options }));
}

/** Clips each array to an L2 norm of at most `maxNorm` on its own (TF `clip_by_norm`, Keras `clipnorm`): t · c / max(‖t‖, c). */
export function clipByNorm(maxNorm: number, options: ClipByNormOptions = {}): ClipTransformation {
  return ruleTransformation(perTensorNormRule(maxNorm, options));
}

/** Clamps every update to [−clipValue, clipValue] (optax `clip`); NaN stays NaN. */
export function clipByValue(clipValue: number): ClipTransformation {
  return ruleTransformation(valueRule(clipValue));
}

/**
 * Adaptive gradient clipping (Brock et al. 2021; optax `adaptive_grad_clip`): each unit's update
 * is limited to `clipping` · max(‖W_u‖, eps). Needs the parameters: `update(updates, state,
 * params)`, matched to the updates by path. Layout 'tf' (jax's [in, out], HWIO) by default.
 */
export function agc(clipping: number, options: Omit<AgcOptions, 'clipping'> = {}): ClipTransformation {
  if (typeof options !== 'object' || options === null || 'clipping' in options)
    throw new TypeError(
      `agc: options must be an options object without 'clipping' (it is the first argument), got ${describe(options)}`,
    );
  return ruleTransformation(agcRule({ clipping, ...options }));
}

/** AutoClip (Seetharaman et al. 2020): clip to a percentile of the norms seen so far (history on device). */
export function autoClip(options: AutoClipOptions = {}): ClipTransformation {
  return ruleTransformation(autoClipRule(options));
}

/** ZClip (Kumar et al. 2025): clip norm spikes by their z-score against an EMA of the norm. */
export function zClip(options: ZClipOptions = {}): ClipTransformation {
  return ruleTransformation(zClipRule(options));
}

/** AdaGC (Wang et al. 2025): one adaptive threshold per array, keyed by its path in the tree. */
export function adaGC(options: AdaGCOptions = {}): ClipTransformation {
  return ruleTransformation(adaGCRule(options));
}

/** What clips a group in gradclip/jax: a gradclip/jax transformation, a core rule or clipper, or null. */
export type JaxGroupClip = ClipTransformation | GroupClip;

/** A group of `perGroup`: glob patterns over the arrays' paths ('dense/bias', '*\/bias') and what clips them. */
export interface JaxGroupSpec {
  /** Glob pattern(s) over paths: `*` any run of characters, `?` one. */
  readonly match: string | readonly string[];
  /** What clips these arrays (`null`: leave them as they are). */
  readonly clip: JaxGroupClip;
  /** Name of the group. Default: the patterns joined with ','. */
  readonly name?: string;
}

function ruleOf(c: JaxGroupClip, at: string): ClipRule | Clipper | null {
  if (c === null) return null;
  if (typeof c === 'object' && 'rule' in c && 'update' in c) return c.rule;
  if (typeof c === 'object' && ('apply' in c || 'clip' in c)) return c;
  throw new TypeError(`${at} must be a gradclip/jax transformation, a ClipRule, a Clipper or null, got ${describe(c)}`);
}

/**
 * Per-group clipping: each group of arrays, selected by glob patterns over their paths in the
 * tree, gets its own rule and state (the first matching group wins); the rest go to
 * `defaultClip` (`null`: not clipped).
 *
 * @example
 * perGroup([{ match: '*\/bias', clip: null }, { match: 'embed/*', clip: clipByGlobalNorm(0.1) }], clipByGlobalNorm(1))
 */
export function perGroup(groups: readonly JaxGroupSpec[], defaultClip: JaxGroupClip = null): ClipTransformation {
  if (!Array.isArray(groups))
    throw new TypeError(`perGroup: groups must be a list of { match, clip }, got ${describe(groups)}`);
  const specs: GroupSpec[] = (groups as readonly JaxGroupSpec[]).map((g, i) => {
    if (typeof g !== 'object' || g === null || !('clip' in g))
      throw new TypeError(`perGroup: groups[${i}] must be { match, clip, name? }, got ${describe(g)}`);
    const c = ruleOf(g.clip, `groups[${i}].clip`);
    const base = { match: g.match, ...(g.name === undefined ? {} : { name: g.name }) };
    return c !== null && 'clip' in c ? { ...base, clipper: c } : { ...base, rule: c };
  });
  return ruleTransformation(perGroupRule(specs, ruleOf(defaultClip, 'defaultClip')));
}
