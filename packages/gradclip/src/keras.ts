import { applyPerTensorNorm } from './clip_by_norm.js';
import { applyValue } from './clip_by_value.js';
import { jsonOptions, restoreStateless, type ClipRule } from './clipper.js';
import { setNormStats } from './global_norm.js';
import { describe } from './gradients.js';
import { finaliseNorm, statsFinite, statsScalars } from './norm_stats.js';
import { runScalars, type ArrayOps } from './ops.js';
import { applyFactor, factorScalars, ratioToNorm, type FactorScalars, type RuleOutput } from './rule.js';
import type { NonFinitePolicy } from './types.js';
import { knownOptions, nonFinitePolicy, orDefault } from './validate.js';

/**
 * Keras's clipping options, with Keras's numbers. As in Keras 3, exactly one may be set:
 *   clipnorm        — each gradient tensor on its own: t · c / max(‖t‖₂, c) (TF `clip_by_norm`);
 *   clipvalue       — every element clamped to [−c, c];
 *   globalClipnorm  — all gradients together: g · c / max(‖g‖₂, c) (TF `clip_by_global_norm`).
 * No eps is added (gradclip's own `clipByGlobalNorm` follows PyTorch and adds 1e-6).
 */
export interface KerasClipOptions {
  clipnorm?: number;
  clipvalue?: number;
  globalClipnorm?: number;
  /**
   * NaN / ±Infinity gradients (norm options only). Unset: TensorFlow's arithmetic — with
   * `globalClipnorm` every output is NaN when the global norm is not finite (TF multiplies by
   * c·min(1/‖g‖, 1/c) + (‖g‖ − ‖g‖)); with `clipnorm` each tensor on its own. 'skip' leaves
   * weights and optimizer slots unchanged; 'zero' and 'error' as everywhere in gradclip.
   */
  nonFinite?: NonFinitePolicy;
}

const KERAS_KEYS = ['clipnorm', 'clipvalue', 'globalClipnorm'] as const;

type Stateless = Readonly<Record<string, never>>;

/**
 * A Keras threshold: finite and > 0. Keras silently turns clipping off for 0 or a negative
 * value; an explicit error is kinder than a model that trains unclipped by accident.
 */
function kerasThreshold(arg: string, x: unknown): number {
  if (typeof x !== 'number') throw new TypeError(`${arg} must be a number, got ${describe(x)}`);
  if (x === 0)
    throw new RangeError(`${arg} must be > 0, got 0 (Keras ignores 0 and does not clip: leave the option out instead)`);
  if (!(x > 0) || !Number.isFinite(x)) throw new RangeError(`${arg} must be a finite number > 0, got ${x}`);
  return x;
}

/**
 * TF `clip_by_global_norm` on any backend: factor min(1, c / ‖g‖) — the same number as TF's
 * c·min(1/‖g‖, 1/c) — and NaN when a NaN / ±Infinity is present, so that every output is NaN
 * as in TF. A norm that overflows float64 although every value is finite (float64 data near
 * 1e308) is still scaled correctly from the statistics, where TF would give NaN.
 */
function kerasGlobalNormRule<T, S, B>(
  ops: ArrayOps<T, S, B>,
  grads: readonly T[],
  c: number,
  policy: NonFinitePolicy,
): RuleOutput<T, S, B> {
  const r: FactorScalars<S, B> = runScalars(ops, { s: statsScalars(setNormStats(ops, grads, 2)), b: {} }, (s, x) => {
    const stats = { p: 2, ...x.s };
    const norm = finaliseNorm(s, stats);
    const finite = statsFinite(s, stats);
    const factor = s.where(finite, s.min(s.scalar(1), ratioToNorm(s, s.scalar(c), norm, 0, stats)), s.scalar(NaN));
    return factorScalars(s, policy, norm, finite, factor);
  });
  return applyFactor(ops, grads, r, policy);
}

/**
 * The rule behind `withClipping(optimizer, { clipnorm | clipvalue | globalClipnorm })`: Keras's
 * options with Keras's numbers (see `KerasClipOptions`). Validated here, once, for every adapter.
 */
export function kerasClipRule(options: KerasClipOptions): ClipRule<Stateless> {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(
      `clipping must be { clipnorm | clipvalue | globalClipnorm }, a clipper or a rule, got ${describe(options)}`,
    );
  }
  knownOptions('clipping', options, [...KERAS_KEYS, 'nonFinite']);
  const set = KERAS_KEYS.filter((k) => options[k] !== undefined);
  if (set.length !== 1) {
    throw new TypeError(
      set.length === 0
        ? 'clipping needs one of clipnorm, clipvalue or globalClipnorm'
        : `only one of clipnorm, clipvalue and globalClipnorm may be set (as in Keras), got ${set.join(' and ')}`,
    );
  }
  const key = set[0]!;
  const c = kerasThreshold(`clipping.${key}`, options[key]);
  const policy = nonFinitePolicy('clipping.nonFinite', orDefault(options.nonFinite, 'propagate'));
  if (key === 'clipvalue' && options.nonFinite !== undefined) {
    throw new TypeError('clipping.nonFinite applies to clipnorm and globalClipnorm, not clipvalue');
  }
  const values = <T>(leaves: readonly { values: T }[]) => leaves.map((l) => l.values);
  return {
    name: key,
    needsParams: false,
    nonFinite: policy,
    config: { kind: 'keras', args: [jsonOptions(options)] },
    fixedThreshold: c,
    init: () => ({}),
    restore: restoreStateless(key),
    apply: (ops, grads, _params, state) => ({
      out:
        key === 'globalClipnorm'
          ? kerasGlobalNormRule(ops, values(grads), c, policy)
          : key === 'clipnorm'
            ? applyPerTensorNorm(ops, values(grads), c, policy)
            : applyValue(ops, values(grads), c),
      state,
    }),
  };
}
