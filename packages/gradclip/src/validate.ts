import { describe } from './gradients.js';
import type { NonFinitePolicy } from './types.js';

/** A finite or infinite number ≥ 0 (NaN and negatives are rejected). */
export function nonNegative(arg: string, x: unknown): number {
  if (typeof x !== 'number') throw new TypeError(`${arg} must be a number, got ${describe(x)}`);
  if (!(x >= 0)) throw new RangeError(`${arg} must be a number ≥ 0, got ${x}`);
  return x;
}

/** A finite number > 0. */
export function positive(arg: string, x: unknown): number {
  if (typeof x !== 'number') throw new TypeError(`${arg} must be a number, got ${describe(x)}`);
  if (!(x > 0) || !Number.isFinite(x)) throw new RangeError(`${arg} must be a finite number > 0, got ${x}`);
  return x;
}

/** p of a p-norm: any p > 0, or Infinity (max |x|). */
export function normType(arg: string, p: unknown): number {
  if (typeof p !== 'number') throw new TypeError(`${arg} must be a number > 0 or Infinity, got ${describe(p)}`);
  if (!(p > 0)) throw new RangeError(`${arg} must be > 0 or Infinity, got ${p}`);
  // The norm is (Σ|x|^p)^(1/p): below ~5.6e-309 (subnormal p) 1/p overflows to Infinity.
  if (p !== Infinity && !Number.isFinite(1 / p)) throw new RangeError(`${arg} is too small (1/p overflows), got ${p}`);
  return p;
}

/** A number in [lo, hi]. */
export function inRange(arg: string, x: unknown, lo: number, hi: number): number {
  if (typeof x !== 'number') throw new TypeError(`${arg} must be a number, got ${describe(x)}`);
  if (!(x >= lo && x <= hi)) throw new RangeError(`${arg} must be in [${lo}, ${hi}], got ${x}`);
  return x;
}

/** An integer ≥ lo (Infinity allowed when `allowInfinity`). */
export function integerAtLeast(arg: string, x: unknown, lo: number, allowInfinity = false): number {
  if (typeof x !== 'number') throw new TypeError(`${arg} must be an integer, got ${describe(x)}`);
  if (allowInfinity && x === Infinity) return x;
  if (!Number.isInteger(x) || x < lo) throw new RangeError(`${arg} must be an integer ≥ ${lo}, got ${x}`);
  return x;
}

const POLICIES: readonly NonFinitePolicy[] = ['propagate', 'error', 'skip', 'zero'];

export function nonFinitePolicy(arg: string, x: unknown): NonFinitePolicy {
  if (!POLICIES.includes(x as NonFinitePolicy)) {
    throw new RangeError(`${arg} must be one of ${POLICIES.map((s) => `'${s}'`).join(', ')}, got ${describe(x)}`);
  }
  return x as NonFinitePolicy;
}

/** One of a fixed set of strings. */
export function oneOf<K extends string>(arg: string, x: unknown, allowed: readonly K[]): K {
  if (!allowed.includes(x as K)) {
    throw new RangeError(`${arg} must be one of ${allowed.map((s) => `'${s}'`).join(', ')}, got ${describe(x)}`);
  }
  return x as K;
}

/** A finite number ≥ 0. */
export function finiteNonNegative(arg: string, x: unknown): number {
  const v = nonNegative(arg, x);
  if (!Number.isFinite(v)) throw new RangeError(`${arg} must be finite, got ${v}`);
  return v;
}

/** An optional boolean flag. */
export function flag(arg: string, x: unknown, fallback: boolean): boolean {
  if (x === undefined) return fallback;
  if (typeof x !== 'boolean') throw new TypeError(`${arg} must be a boolean, got ${describe(x)}`);
  return x;
}

/**
 * The options of global-norm clipping, checked once for the function (`clipByGlobalNorm`) and
 * every clipper form (`globalNormRule`, `globalNormClipper`, the tensor clipper).
 * eps must be finite: an infinite eps would make every factor 0 and silently zero the gradients.
 */
export function globalNormOptions(
  maxNorm: unknown,
  options: unknown,
  extra: readonly string[] = [],
): { maxNorm: number; p: number; eps: number; nonFinite: NonFinitePolicy } {
  knownOptions('options', options, ['normType', 'eps', 'nonFinite', ...extra]);
  const o = (options ?? {}) as { normType?: unknown; eps?: unknown; nonFinite?: unknown; norm?: unknown };
  // A norm computed beforehand and statistics to compute it from: one would be ignored.
  if (o.norm !== undefined && (o as { statistics?: unknown }).statistics !== undefined) {
    throw new TypeError('options.norm and options.statistics: pass one, not both');
  }
  return {
    maxNorm: nonNegative('maxNorm', maxNorm),
    p: normType('options.normType', orDefault(o.normType, 2)),
    eps: finiteNonNegative('options.eps', orDefault(o.eps, 1e-6)),
    nonFinite: nonFinitePolicy('options.nonFinite', orDefault(o.nonFinite, 'propagate')),
  };
}

/** The options of per-tensor norm clipping (`clipByNorm` and its clipper forms). */
export function perTensorNormOptions(
  maxNorm: unknown,
  options: unknown,
): { maxNorm: number; nonFinite: NonFinitePolicy } {
  knownOptions('options', options, ['nonFinite']);
  const o = (options ?? {}) as { nonFinite?: unknown };
  return {
    maxNorm: nonNegative('maxNorm', maxNorm),
    nonFinite: nonFinitePolicy('options.nonFinite', orDefault(o.nonFinite, 'propagate')),
  };
}

/**
 * A state object restored from outside: an object with exactly the given keys (a state of
 * another rule, or a truncated one, is named as such).
 */
export function stateRecord(arg: string, x: unknown, kind: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) {
    throw new TypeError(`${arg} must be a ${kind} state { ${keys.join(', ')} }, got ${describe(x)}`);
  }
  const have = Object.keys(x);
  const missing = keys.filter((k) => !have.includes(k));
  const extra = have.filter((k) => !keys.includes(k));
  if (missing.length > 0 || extra.length > 0) {
    throw new TypeError(
      `${arg} is not a ${kind} state { ${keys.join(', ')} }: ${[
        missing.length > 0 ? `missing ${missing.join(', ')}` : '',
        extra.length > 0 ? `unexpected ${extra.join(', ')}` : '',
      ]
        .filter((s) => s !== '')
        .join('; ')}`,
    );
  }
  return x as Record<string, unknown>;
}

/** A finite number in [lo, hi] read from a restored state. */
export function stateNumber(arg: string, x: unknown, lo = 0, hi = Infinity): number {
  if (typeof x !== 'number') throw new TypeError(`${arg} must be a number, got ${describe(x)}`);
  if (!Number.isFinite(x) || x < lo || x > hi) {
    throw new RangeError(`${arg} must be a finite number in [${lo}, ${hi}], got ${x}`);
  }
  return x;
}

/** An integer in [lo, hi] read from a restored state. */
export function stateInteger(arg: string, x: unknown, lo: number, hi: number): number {
  const v = stateNumber(arg, x, lo, hi);
  if (!Number.isInteger(v)) throw new RangeError(`${arg} must be an integer in [${lo}, ${hi}], got ${v}`);
  return v;
}

/**
 * An option's value, or the default when it was left out. Only `undefined` means "left out":
 * `null` is passed on to the option's check, which refuses it (issue 24, F35) — `?? default`
 * would have taken `normType: null` for 2.
 */
export function orDefault(x: unknown, fallback: unknown): unknown {
  return x === undefined ? fallback : x;
}

/**
 * Rejects option keys that no function of ours reads — a typo would otherwise be silently
 * ignored — and known options the object only inherits (from its prototype, or a polluted
 * Object.prototype): the functions read `options.eps`, which would pick those up unseen.
 */
export function knownOptions(arg: string, opts: unknown, allowed: readonly string[]): void {
  if (opts === undefined) return;
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) {
    throw new TypeError(`${arg} must be an options object, got ${describe(opts)}`);
  }
  for (const k of Object.keys(opts)) {
    if (!allowed.includes(k)) {
      throw new TypeError(`${arg} has an unknown option '${k}' (known: ${allowed.join(', ')})`);
    }
  }
  for (const k of allowed) {
    if (k in opts && !Object.hasOwn(opts, k)) {
      throw new TypeError(`${arg}.${k} is inherited, not an own property: pass a plain object`);
    }
  }
}
