import { ratioFromStats, statsFinite } from './norm_stats.js';
import type { ArrayOps, NormStats, Scalars, ScalarOps } from './ops.js';
import type { ClipResult, NonFinitePolicy } from './types.js';

/** What a rule returns on any backend: new (or, for typed arrays, the same) tensors and a report. */
export interface RuleOutput<T, S, B> {
  grads: T[];
  /** Pre-clip norm. */
  norm: S;
  /** Applied factor (smallest factor for per-tensor / per-unit rules). */
  scale: S;
  clipped: B;
  finite: B;
  /** The threshold the rule computed this step, for rules whose threshold moves (AutoClip, ZClip). */
  threshold?: S;
  /** A chain's reports, one per rule in order (see `chainRule`). */
  steps?: readonly StepOutput<S, B>[];
}

/** One rule's report inside a chain: a `RuleOutput` without the gradients. */
export interface StepOutput<S, B> {
  norm: S;
  scale: S;
  clipped: B;
  finite: B;
  threshold?: S;
}

/** Converts a typed-array rule's output into the public report. */
export function toClipResult(out: Omit<RuleOutput<unknown, number, boolean>, 'grads'>): ClipResult {
  const r: ClipResult = { norm: out.norm, scale: out.scale, clipped: out.clipped, finite: out.finite };
  if (out.threshold !== undefined) r.threshold = out.threshold;
  if (out.steps !== undefined) r.steps = out.steps.map(toClipResult);
  return r;
}

/**
 * Thrown under `nonFinite: 'error'` when the gradients hold NaN or ±Infinity, before anything is
 * changed. `tensors` names the non-finite entries in order — record keys, list indices as
 * strings ('0', '2'), '' for a single array — and the message names the first. On tfjs the
 * names cost one read of per-tensor flags, on this error path only.
 */
export class NonFiniteGradientError extends RangeError {
  /** Names (record keys / list indices) of the non-finite gradients, in order; [] if unknown. */
  readonly tensors: string[];
  constructor(tensors: readonly string[] = []) {
    const first = tensors[0];
    const where =
      first === undefined
        ? 'the gradients contain'
        : `${first === '' ? 'the gradient' : `gradient ${JSON.stringify(first)}`}${
            tensors.length > 1 ? ` (and ${tensors.length - 1} more)` : ''
          } contains`;
    super(`${where} NaN or ±Infinity (nonFinite: 'error'); nothing was changed`);
    this.name = 'NonFiniteGradientError';
    this.tensors = [...tensors];
  }
}

/**
 * The values of the offending tensors, kept on an error a rule throws (a rule sees values, not
 * names) until `namingNonFinite` — where the leaves are known — turns them into names.
 */
const culprits = /* @__PURE__ */ new WeakMap<NonFiniteGradientError, readonly unknown[]>();

/**
 * The error for non-finite gradients, thrown by a rule: on the error path only, the backend's
 * per-tensor flags (`finiteEach`, one host read) say which of `grads` are not finite.
 */
export function nonFiniteError<T, S, B>(ops: ArrayOps<T, S, B>, grads: readonly T[]): NonFiniteGradientError {
  const e = new NonFiniteGradientError();
  let flags: boolean[] | undefined;
  try {
    flags = ops.finiteEach?.(grads);
  } catch {
    // The names are a diagnostic: a backend that cannot read the flags back (a GPU device lost
    // after the decision's read) still throws the NonFiniteGradientError, without names.
    flags = undefined;
  }
  if (flags !== undefined) {
    const ok = flags;
    culprits.set(
      e,
      grads.filter((_, i) => ok[i] === false),
    );
  }
  return e;
}

/**
 * Runs `f` (a rule applied to `leaves`) and gives a NonFiniteGradientError it throws the names of
 * the offending leaves. Errors already named, and other errors, pass through unchanged.
 */
export function namingNonFinite<R>(leaves: readonly { name: string; values: unknown }[], f: () => R): R {
  try {
    return f();
  } catch (e) {
    const bad = e instanceof NonFiniteGradientError ? culprits.get(e) : undefined;
    if (bad === undefined) throw e;
    const named = new NonFiniteGradientError(leaves.filter((l) => bad.includes(l.values)).map((l) => l.name));
    throw named;
  }
}

/**
 * Applies a clipping step under a non-finite policy. `clip` produces the clipped tensors and
 * the factor it applied; it runs only when it is needed ('propagate', or finite input), so on
 * typed arrays nothing is written before the decision is made.
 *   propagate — whatever the arithmetic gives (PyTorch);
 *   error     — throw before touching anything;
 *   skip      — leave the gradients as they are (factor 1);
 *   zero      — replace every gradient by zeros (factor 0).
 */
export function withNonFinitePolicy<T, S, B>(
  ops: ArrayOps<T, S, B>,
  policy: NonFinitePolicy,
  finite: B,
  grads: T[],
  clip: () => { grads: T[]; scale: S; clipped: B },
): { grads: T[]; scale: S; clipped: B } {
  if (policy === 'propagate') return clip();
  if (policy === 'error') {
    if (!ops.readBool(finite)) throw nonFiniteError(ops, grads);
    return clip();
  }
  let scale = ops.scalar(1);
  let clipped = ops.bool(false);
  const out = ops.choose(
    finite,
    () => {
      const r = clip();
      scale = r.scale;
      clipped = r.clipped;
      return r.grads;
    },
    () => (policy === 'zero' ? grads.map((g) => ops.zeros(g)) : grads),
  );
  const fallback = ops.scalar(policy === 'zero' ? 0 : 1);
  return {
    grads: out,
    scale: ops.where(finite, scale, fallback),
    clipped: policy === 'zero' ? ops.or(ops.not(finite), ops.and(finite, clipped)) : ops.and(finite, clipped),
  };
}

/**
 * target / (norm + eps), the factor every "clip to a threshold" rule applies. When the norm
 * overflowed although every value was finite (float64 data near 1e308), the ratio is taken
 * from the statistics instead, so such gradients are scaled, not zeroed.
 */
export function ratioToNorm<S, B>(ops: ScalarOps<S, B>, target: S, norm: S, eps: number, stats?: NormStats<S>): S {
  const plain = ops.div(target, ops.add(norm, ops.scalar(eps)));
  if (stats === undefined) return plain;
  const overflowed = ops.and(statsFinite(ops, stats), ops.not(ops.isFinite(norm)));
  return ops.where(overflowed, ratioFromStats(ops, target, stats), plain);
}

/**
 * What a one-factor rule reports and applies under a non-finite policy — pure scalar logic, so
 * it can run inside a fused scalar block (see `runScalars`):
 *   apply   — the factor the gradients are multiplied by: for 'skip' 1 when the gradients are
 *             not finite (x · 1 = x for every value, NaN and ±Infinity included, so this leaves
 *             them exactly as they are);
 *   scale   — the factor reported (0 for 'zero' on non-finite gradients);
 *   clipped — whether the step changed the gradients' length.
 */
export function policyReport<S, B>(
  ops: ScalarOps<S, B>,
  policy: NonFinitePolicy,
  finite: B,
  factor: S,
): { apply: S; scale: S; clipped: B } {
  const one = ops.scalar(1);
  const clipped = ops.not(ops.ge(factor, one));
  switch (policy) {
    case 'propagate':
    case 'error':
      return { apply: factor, scale: factor, clipped };
    case 'skip': {
      const f = ops.where(finite, factor, one);
      return { apply: f, scale: f, clipped: ops.and(finite, clipped) };
    }
    case 'zero':
      return {
        apply: factor,
        scale: ops.where(finite, factor, ops.scalar(0)),
        clipped: ops.or(ops.not(finite), clipped),
      };
  }
}

/** The scalars a one-factor rule's block hands to `applyFactor`. */
export type FactorScalars<S, B> = Scalars<S, B, 'norm' | 'apply' | 'scale', 'finite' | 'clipped'>;

/** The block's end for a one-factor rule: the policy's report and the norm, in the shape `applyFactor` takes. */
export function factorScalars<S, B>(
  ops: ScalarOps<S, B>,
  policy: NonFinitePolicy,
  norm: S,
  finite: B,
  factor: S,
): FactorScalars<S, B> {
  const r = policyReport(ops, policy, finite, factor);
  return { s: { norm, apply: r.apply, scale: r.scale }, b: { finite, clipped: r.clipped } };
}

/**
 * Multiplies every gradient by the factor a rule's scalar block computed (see `factorScalars`),
 * under the non-finite policy: 'error' throws before anything is changed, 'zero' replaces
 * non-finite gradients by zeros (x · 0 would keep a NaN), the others scale.
 */
export function applyFactor<T, S, B>(
  ops: ArrayOps<T, S, B>,
  grads: readonly T[],
  r: FactorScalars<S, B>,
  policy: NonFinitePolicy,
): RuleOutput<T, S, B> {
  const { finite, clipped } = r.b;
  if (policy === 'error' && !ops.readBool(finite)) throw nonFiniteError(ops, grads);
  const scaled = () =>
    ops.scaleSet !== undefined ? ops.scaleSet(grads, r.s.apply) : grads.map((g) => ops.scale(g, r.s.apply));
  const out = policy === 'zero' ? ops.choose(finite, scaled, () => grads.map((g) => ops.zeros(g))) : scaled();
  return { grads: out, norm: r.s.norm, scale: r.s.scale, clipped, finite };
}

/**
 * Multiplies gradient i by factors[i] (≤ 1) under a non-finite policy; reports the smallest
 * factor (`smallest`, when the caller has it already: min(1, every factor)).
 */
export function scaleEach<T, S, B>(
  ops: ArrayOps<T, S, B>,
  grads: readonly T[],
  factors: readonly S[],
  norm: S,
  finite: B,
  policy: NonFinitePolicy,
  smallest?: S,
): RuleOutput<T, S, B> {
  const one = ops.scalar(1);
  const r = withNonFinitePolicy(ops, policy, finite, [...grads], () => {
    const scale = smallest ?? factors.reduce((a, f) => ops.min(a, f), one);
    return {
      grads: grads.map((g, i) => ops.scale(g, factors[i]!)),
      scale,
      clipped: ops.not(ops.ge(scale, one)),
    };
  });
  return { ...r, norm, finite };
}
