import { defaultDevice, numpy as np } from '@jax-js/jax';
import { mergeAllNormStats } from '../norm_stats.js';
import type { ArrayOps, NormStats, UnitLayout } from '../ops.js';
import { unitReduceAxes } from '../units.js';

type A = np.Array;

/*
 * jax-js arrays are reference-counted with move semantics: every op consumes its arguments.
 * The core's rules are written for values that can be used any number of times (typed arrays,
 * tf.Tensors), so these ops BORROW: each op passes `.ref`s of its inputs to jax-js and leaves
 * the caller's references alone. Every array an op creates is recorded in the innermost open
 * scope (like tf.tidy); `scoped` releases the scope's references when the rule has finished,
 * after the caller has taken a `.ref` of what it keeps (the rule's outputs and new state).
 */

const scopes: A[][] = [];

/** Records a new array in the open scope (it is released when the scope closes). */
export function track<X extends A>(a: X): X {
  const top = scopes[scopes.length - 1];
  if (top === undefined) throw new Error('gradclip/jax: an array operation ran outside a scope');
  top.push(a);
  return a;
}

/**
 * Runs `f` in a fresh scope. `keep(result)` runs before the scope closes: it must take a `.ref`
 * of every array of the result that should outlive the scope. Every array the ops created is
 * then released once, also when `f` or `keep` throws (nothing created is left behind).
 */
export function scoped<R>(f: () => R, keep: (r: R) => void): R {
  const mine: A[] = [];
  scopes.push(mine);
  try {
    const r = f();
    keep(r);
    return r;
  } finally {
    scopes.pop();
    for (const a of mine) a.dispose();
  }
}

/** Borrowed arguments: a new reference of each, for an op that consumes them. */
const r = <X extends A>(a: X): X => a.ref;

/**
 * x^e for x ≥ 0 (NaN and Infinity propagate). jax-js 0.1.25's `power` loses up to ~2e-5 relative
 * in float32 for bases above ~5 (measured against Math.pow), more than the 1e-5 the rules are held
 * to, while its exp and log are accurate to ~1e-7: small integer powers are products, the rest
 * exp(e · log x) (log 0 = −∞ gives 0 for e > 0). Consumes `x`.
 */
function powNonNegative(x: A, e: number): A {
  if (e === 1) return x;
  if (e === 2) return np.square(x);
  if (e === 3) return x.ref.mul(np.square(x));
  if (e === 4) return np.square(np.square(x));
  if (e === 0.5) return np.sqrt(x);
  return np.exp(np.log(x).mul(e));
}

/** Thrown when a rule asks for a host read while it is being traced by jit. */
export class HostReadUnderJit extends Error {
  constructor() {
    super('gradclip/jax: a host read was asked for while tracing');
    this.name = 'HostReadUnderJit';
  }
}

/** float32's smallest normal number: 1 / TINY is finite, and references below it are raised to it. */
export const TINY = 2 ** -126;

/**
 * Merged norm statistics of a set of arrays from composed jax-js ops (the same scheme as
 * gradclip/tfjs's composed path). Per array: m = max |x| and s = Σ (|x|·(1/m))^p, so the terms
 * lie in [0, 1] and s in [1, n]: no overflow or underflow in float32. Non-finite values need no
 * pass of their own: with m finite a NaN makes s NaN; with m = ±Infinity (or NaN, which jax-js's
 * max propagates) the factor is 1 and s is Infinity (or NaN). The scalar logic then runs once on
 * the stacked per-array results: which arrays held a NaN or an Infinity (counted per array: the
 * rules only ask whether there were any), the references (largest finite |x|, raised to TINY;
 * 0 for an array with a non-finite value) and the merge (every sum rescaled to the largest
 * reference, as mergeNormStats does).
 */
function setNormStats(ts: readonly A[], p: number): NormStats<A> {
  const parts = ts.filter((t) => t.size > 0);
  if (parts.length === 0) return mergeAllNormStats(jaxOps, p, []);
  if (p === 2 && float64Sums) return setL2StatsFloat64(parts);
  // Convention here: an array used more than once is tracked and passed as r(x); a temporary
  // consumed by the next op is not tracked.
  const abs = parts.map((t) => track(np.abs(r(t).reshape([-1]))));
  const m = track(np.stack(abs.map((a) => np.max(r(a)))));
  const inv = track(np.where(np.isfinite(r(m)), np.reciprocal(np.maximum(r(m), TINY)), 1));
  const sums = track(
    np.stack(
      abs.map((a, i) => {
        const x = r(a).mul(r(inv).slice(i));
        // p = ∞ needs no sum, but the sum of |x|/m is what reveals a NaN that max skipped.
        const y = p === Infinity ? x : powNonNegative(x, p);
        return np.sum(y);
      }),
    ),
  );
  const nanV = track(np.logicalOr(np.isnan(r(sums)), np.isnan(r(m))));
  const infV = track(np.logicalAnd(np.logicalNot(r(nanV)), np.logicalOr(np.isinf(r(sums)), np.isinf(r(m)))));
  const ok = track(np.logicalAnd(np.logicalNot(np.logicalOr(r(nanV), r(infV))), np.greater(r(m), 0)));
  // p = ∞: the norm is the reference itself, so it is not raised.
  const refs = track(np.where(r(ok), p === Infinity ? r(m) : np.maximum(r(m), TINY), 0));
  const okSums = np.where(r(ok), r(sums), 0);
  const ref = track(np.max(r(refs)));
  const nan = track(np.sum(r(nanV).astype(np.float32)));
  const inf = track(np.sum(r(infV).astype(np.float32)));
  if (p === Infinity) {
    okSums.dispose();
    return { p, ref, sum: jaxOps.scalar(0), nan, inf };
  }
  const rel = r(refs).div(np.where(np.greater(r(ref), 0), r(ref), 1));
  const weights = powNonNegative(rel, p);
  return { p, ref, sum: track(np.sum(okSums.mul(weights))), nan, inf };
}

/**
 * Whether the open rule runs on a device with float64 arithmetic (jax-js's cpu and wasm; WebGPU
 * and WebGL have none). Set by `withFloat64Sums` around a rule.
 */
let float64Sums = false;

/** Runs `f` (a rule, eager or being traced) with float64 sums on or off; see `setL2StatsFloat64`. */
export function withFloat64Sums<R>(on: boolean, f: () => R): R {
  const before = float64Sums;
  float64Sums = on;
  try {
    return f();
  } finally {
    float64Sums = before;
  }
}

/** The jax-js devices whose kernels compute in float64 (WebGPU and WebGL have no float64). */
const FLOAT64_DEVICES: ReadonlySet<string> = new Set(['cpu', 'wasm']);

/**
 * Whether the arrays run on a device that computes in float64 (for `withFloat64Sums`). A tracer
 * (an array inside the caller's jit) has no device of its own: it runs on jax-js's default one.
 */
export function onFloat64Device(arrays: readonly A[]): boolean {
  return (
    arrays.length > 0 && arrays.every((a) => FLOAT64_DEVICES.has(a instanceof np.Array ? a.device : defaultDevice()))
  );
}

/** 2^127: the largest power of two in float32, the cap of a float64 norm used as `ref`. */
const BIG = 2 ** 127;

/**
 * L2 statistics in ONE pass per array, where the device has float64: Σ x² accumulated in float64
 * cannot overflow (float32's largest square is ~1.2e77) nor lose a float32 value to underflow
 * (its smallest square is 2^-298), so the max pass of the composed scheme — which is as slow as
 * the sum on jax-js's wasm kernels — is not needed. A NaN makes the sum NaN and an Infinity makes
 * it Infinity (or NaN with a NaN beside it), which gives the per-array NaN / Infinity counts as
 * `setNormStats` gives them. The statistics then use the norm itself as the scale: ref = ‖g‖
 * (kept within [2^-126, 2^127], so that float32 holds it and its reciprocal) and sum =
 * (‖g‖ / ref)², which is 1 unless the norm lies outside that range; ref · sum^(1/2) is the norm.
 */
function setL2StatsFloat64(parts: readonly A[]): NormStats<A> {
  const sq = track(np.stack(parts.map((t) => np.sum(np.square(r(t).astype(np.float64))))));
  const nanV = track(np.isnan(r(sq)));
  const infV = track(np.isinf(r(sq)));
  const total = track(np.sum(np.where(np.logicalOr(r(nanV), r(infV)), 0, r(sq))));
  const positive = track(np.greater(r(total), 0));
  const ref64 = track(np.where(r(positive), np.clip(np.sqrt(r(total)), TINY, BIG), 0));
  const sum64 = np.where(r(positive), r(total).div(np.where(r(positive), np.square(r(ref64)), 1)), 0);
  return {
    p: 2,
    ref: track(r(ref64).astype(np.float32)),
    sum: track(sum64.astype(np.float32)),
    nan: track(np.sum(r(nanV).astype(np.float32))),
    // isinf(NaN) is false: an array with both counts as NaN, as in setNormStats.
    inf: track(np.sum(r(infV).astype(np.float32))),
  };
}

/** The array viewed with the given shape (a 0-d gradient as [1], like the core does). */
function shaped(t: A, shape: readonly number[]): A {
  return track(r(t).reshape(shape.length === 0 ? [1] : [...shape]));
}

/**
 * L2 norm of each unit (AGC), overflow-safe like the statistics: with float64 sums (cpu, wasm)
 * one pass of Σ x² in float64 (a NaN makes it NaN, else an Infinity makes it Infinity); elsewhere
 * relative to the unit's largest finite |x|, with NaN and Infinity found by their own passes.
 * Keeps the reduced dims, so it broadcasts against the array.
 */
function unitNorms(t: A, shape: readonly number[], layout: UnitLayout): A {
  const x = shaped(t, shape);
  const axes = unitReduceAxes(x.ndim, layout);
  if (float64Sums) {
    const sq = np.sum(np.square(r(x).astype(np.float64)), axes, { keepdims: true });
    return track(np.sqrt(sq).astype(np.float32));
  }
  const a = track(np.abs(r(x)));
  const af = track(np.where(np.isfinite(r(a)), r(a), 0));
  const ref = track(np.max(r(af), axes, { keepdims: true }));
  // Raised to TINY like the statistics' references: jax-js divides through the reciprocal, and
  // that of a subnormal is Infinity (a unit of subnormal values had norm Infinity).
  const safe = track(np.where(np.greater(r(ref), 0), np.maximum(r(ref), TINY), 1));
  const norm = np
    .where(np.greater(r(ref), 0), r(safe), 0)
    .mul(np.sqrt(np.sum(np.square(r(af).div(r(safe))), axes, { keepdims: true })));
  const hasNaN = np.any(np.isnan(r(a)), axes, { keepdims: true });
  const hasInf = np.any(np.isinf(r(a)), axes, { keepdims: true });
  return track(np.where(hasNaN, NaN, np.where(hasInf, Infinity, norm)));
}

/**
 * ArrayOps over jax-js arrays: T = float32 array, S = float32 0-d array, B = bool 0-d array.
 * Nothing is read back to the host (except `readBool`, used only by the 'error' non-finite
 * policy). Ops borrow their arguments and record what they create in the open scope (see
 * `scoped`). jax-js's minimum / maximum propagate NaN and its clip keeps NaN, as the rules
 * require, so no guard is composed around them.
 */
export const jaxOps: ArrayOps<A, A, A> = {
  name: 'jax',
  scalar: (x) => track(np.array(x, { dtype: np.float32 })),
  add: (a, b) => track(np.add(r(a), r(b))),
  sub: (a, b) => track(np.subtract(r(a), r(b))),
  mul: (a, b) => track(np.multiply(r(a), r(b))),
  div: (a, b) => track(np.divide(r(a), r(b))),
  min: (a, b) => track(np.minimum(r(a), r(b))),
  max: (a, b) => track(np.maximum(r(a), r(b))),
  // The rules raise only non-negative values (norms, sums of |x|^p, ratios of them).
  pow: (a, e) => (e === 1 ? a : track(powNonNegative(r(a), e))),
  sqrt: (a) => track(np.sqrt(r(a))),
  gt: (a, b) => track(np.greater(r(a), r(b))),
  ge: (a, b) => track(np.greaterEqual(r(a), r(b))),
  eq: (a, b) => track(np.equal(r(a), r(b))),
  and: (a, b) => track(np.logicalAnd(r(a), r(b))),
  or: (a, b) => track(np.logicalOr(r(a), r(b))),
  not: (a) => track(np.logicalNot(r(a))),
  bool: (x) => track(np.array(x)),
  isFinite: (a) => track(np.isfinite(r(a))),
  isNaN: (a) => track(np.isnan(r(a))),
  where: (c, a, b) => track(np.where(r(c), r(a), r(b))),

  normStats: (t, p) => setNormStats([t], p),
  normStatsOfSet: setNormStats,
  scale: (t, s) => track(np.multiply(r(t), r(s))),
  clamp: (t, c) => track(np.clip(r(t), -c, c)),
  zeros: (t) => track(np.zerosLike(r(t))),
  choose(c, a, b) {
    // Both branches are computed and selected element-wise: choosing on the host would read `c`.
    const x = a();
    const y = b();
    return x.map((xi, i) => track(np.where(r(c), r(xi), r(y[i]!))));
  },
  // The one host read, for the 'error' policy only (`js` consumes the reference it is given).
  // Inside jit there is no value to read: the transformation then runs the rule eagerly.
  readBool(b) {
    if (!(b instanceof np.Array)) throw new HostReadUnderJit();
    return Boolean(r(b).js());
  },

  unitNorms,
  mapUnits: (a, b, f) => f(a, b),
  scaleUnits(t, shape, _layout, factors) {
    return track(r(shaped(t, shape)).mul(r(factors)).reshape(t.shape));
  },
  minOf(t) {
    if (t.size === 0) return jaxOps.scalar(Infinity);
    return track(np.where(np.any(np.isnan(r(t))), NaN, np.min(r(t))));
  },
};
