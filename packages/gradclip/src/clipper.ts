import { applyGlobalNorm, type ClipByGlobalNormOptions } from './clip_by_global_norm.js';
import { applyPerTensorNorm, type ClipByNormOptions } from './clip_by_norm.js';
import { applyValue } from './clip_by_value.js';
import { leavesOf, type Leaf } from './gradients.js';
import type { ArrayOps } from './ops.js';
import { namingNonFinite, toClipResult, type RuleOutput } from './rule.js';
import { typedOps } from './typed_ops.js';
import type { ClipResult, FloatArray, GradientSet, NonFinitePolicy } from './types.js';
import { globalNormOptions, nonNegative, perTensorNormOptions } from './validate.js';

/**
 * A clipper's state on some backend: a tree of plain objects / arrays whose numeric leaves
 * are the backend's scalars (JS numbers on typed arrays — so the state is JSON — or
 * tf.Scalars held in variables on device).
 */
export type StateTree<S> =
  S | string | boolean | null | readonly StateTree<S>[] | { readonly [key: string]: StateTree<S> };

type RuleFactory = (...args: never[]) => ClipRule;

const ruleKinds = new Map<string, RuleFactory>();

/**
 * Makes the rules of `kind` rebuildable from a saved config (`ClipRule.config`), and returns
 * `factory`. A rule module registers as it defines its factory,
 * `export const fooRule = /* @__PURE__ *\/ ruleKind('foo', function fooRule(…) {…})`, so
 * that a bundler keeps the registration exactly where it keeps the factory: an app that
 * never uses a clipper does not carry it, and one that uses it can load it.
 */
export function ruleKind<F extends RuleFactory>(kind: string, factory: F): F {
  ruleKinds.set(kind, factory);
  return factory;
}

/** The factory registered for `kind` (see `ruleKind`), if any. */
export function ruleFactoryOf(kind: string): RuleFactory | undefined {
  return ruleKinds.get(kind);
}

/** How a saved model rebuilds a rule: a registered kind and its factory's arguments (JSON). */
export interface RuleConfig {
  readonly kind: string;
  readonly args: readonly unknown[];
}

/**
 * A clipping rule written once for every backend. `apply` is pure: it returns the new
 * state instead of mutating the old one, which makes save / restore and device variables
 * straightforward.
 *
 * Everything an adapter needs to know about the rule is a property of the rule, read from
 * here and never copied into an adapter's own options: the non-finite policy (`withClipping`
 * keeps a whole update back under 'skip'), the saved-model description and the fixed threshold.
 */
export interface ClipRule<St extends StateTree<number> = StateTree<number>> {
  readonly name: string;
  /** Whether `apply` needs the parameters (AGC). */
  readonly needsParams: boolean;
  /** The non-finite policy `apply` follows. */
  readonly nonFinite: NonFinitePolicy;
  /** How to rebuild this rule when a model is loaded (undefined: not saveable, e.g. per-group rules). */
  readonly config?: RuleConfig | undefined;
  /** The threshold of a fixed-threshold rule (maxNorm, clipValue), for monitoring. */
  readonly fixedThreshold?: number | undefined;
  /** The initial state, with scalars made by `ops`. */
  init<T, S, B>(ops: ArrayOps<T, S, B>): StateTree<S>;
  /**
   * Checks a state that comes from outside (a factory's `state` option, JSON, a saved model)
   * and returns it in the rule's canonical form, as a fresh copy. Throws a RangeError /
   * TypeError naming the field for a state of another rule, wrong types, out-of-range or
   * inconsistent values. Rules without state accept `{}` (and undefined). Every adapter
   * restores through this one check.
   */
  restore?(state: unknown, arg?: string): StateTree<number>;
  apply<T, S, B>(
    ops: ArrayOps<T, S, B>,
    grads: readonly Leaf<T>[],
    params: readonly Leaf<T>[] | undefined,
    state: StateTree<S>,
  ): { out: RuleOutput<T, S, B>; state: StateTree<S> };
  /** Type witness only: the typed-array state shape. */
  readonly __state?: St;
}

/** The common shape of every clipper on typed arrays. */
export interface Clipper<S = StateTree<number>> {
  readonly name: string;
  /** Clips `grads` in place. `params` is required by rules that scale by weight norms (AGC). */
  clip(grads: GradientSet, params?: GradientSet): ClipResult;
  /** Plain, JSON-serialisable snapshot; pass it back to the factory to restore the clipper. */
  readonly state: S;
  /** The backend-independent rule, for adapters (e.g. `gradclip/tfjs`). */
  readonly rule: ClipRule;
}

/**
 * A record safe for keys that come from data (parameter names, saved-model weight names):
 * no prototype, so '__proto__', 'constructor' or 'toString' are ordinary own keys and can
 * neither reach Object.prototype nor be found there.
 */
export function safeRecord<V>(entries: Iterable<readonly [string, V]> = []): Record<string, V> {
  const out = Object.create(null) as Record<string, V>;
  for (const [k, v] of entries) out[k] = v;
  return out;
}

/** A deep copy of a plain state tree (records come back null-prototype, see `safeRecord`). */
export function copyState<L>(
  t: StateTree<L>,
  isLeaf: (x: unknown) => x is L = (x): x is L => typeof x === 'number',
): StateTree<L> {
  if (isLeaf(t) || t === null || typeof t !== 'object') return t;
  if (Array.isArray(t)) return t.map((x: StateTree<L>) => copyState(x, isLeaf));
  return safeRecord(
    Object.entries(t as Record<string, StateTree<L>>).map(([k, v]) => [k, copyState(v, isLeaf)] as const),
  );
}

/**
 * A factory's options split into the state to restore and the rule's options. `null` or a
 * non-object is refused by name here, instead of a destructuring error naming nothing.
 */
export function splitState<O extends object>(
  options: (O & { state?: unknown }) | undefined,
): { state: unknown; rest: O } {
  if (options === undefined) return { state: undefined, rest: {} as O };
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(
      `options must be an options object, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`,
    );
  }
  const { state, ...rest } = options;
  return { state, rest: rest as unknown as O };
}

/** `restore` for rules without state: only `{}` (or nothing). */
export function restoreStateless(name: string) {
  return (state: unknown, arg = 'options.state'): StateTree<number> => {
    if (state === undefined) return {};
    if (typeof state !== 'object' || state === null || Array.isArray(state) || Object.keys(state).length > 0) {
      throw new TypeError(`${arg} must be {} for ${name} (it keeps no state), got ${describeState(state)}`);
    }
    return {};
  };
}

function describeState(x: unknown): string {
  if (typeof x === 'object' && x !== null && !Array.isArray(x)) {
    const keys = Object.keys(x);
    return keys.length === 0
      ? '{}'
      : `an object with keys ${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ', …' : ''}`;
  }
  return typeof x === 'object' ? String(x) : `${typeof x} ${String(x)}`;
}

/**
 * `rule.apply` on named leaves: a NonFiniteGradientError it throws comes out naming the
 * offending leaves (`tensors`). Every adapter and every combinator applies rules through this.
 */
export function applyRule<T, S, B>(
  rule: ClipRule,
  ops: ArrayOps<T, S, B>,
  grads: readonly Leaf<T>[],
  params: readonly Leaf<T>[] | undefined,
  state: StateTree<S>,
): { out: RuleOutput<T, S, B>; state: StateTree<S> } {
  return namingNonFinite(grads, () => rule.apply(ops, grads, params, state));
}

/** Restores a state through the rule's own check (rules without `restore` must be stateless). */
export function restoreState(rule: ClipRule, state: unknown, arg = 'options.state'): StateTree<number> {
  return (rule.restore ?? restoreStateless(rule.name))(state, arg);
}

/**
 * Wraps a rule as a typed-array clipper that keeps its state between calls. A given state is
 * checked by the rule (`restore`) before anything else happens, and `state` hands out a
 * checked copy, so a caller who edits or sorts it cannot corrupt the clipper.
 */
export function makeClipper<St extends StateTree<number>>(rule: ClipRule<St>, state?: St): Clipper<St> {
  let current: StateTree<number> = state === undefined ? rule.init(typedOps) : restoreState(rule as ClipRule, state);
  return {
    name: rule.name,
    rule: rule as ClipRule,
    // A fresh copy in the rule's canonical form (e.g. AutoClip's ring oldest-first), so two
    // clippers in the same state report equal states, and editing the copy changes nothing.
    get state() {
      return restoreState(rule as ClipRule, current) as St;
    },
    clip(grads: GradientSet, params?: GradientSet): ClipResult {
      const g: Leaf<FloatArray>[] = leavesOf(grads, 'grads');
      let p: Leaf<FloatArray>[] | undefined;
      if (params !== undefined) p = leavesOf(params, 'params');
      if (rule.needsParams && p === undefined) {
        throw new TypeError(`${rule.name} needs the parameters: call clip(grads, params)`);
      }
      const r = applyRule(rule as ClipRule, typedOps, g, p, current);
      current = r.state;
      return toClipResult(r.out);
    },
  };
}

const values = <T>(leaves: readonly Leaf<T>[]): T[] => leaves.map((l) => l.values);
type Stateless = Readonly<Record<string, never>>;

/**
 * Options as JSON: Infinity (a valid normType) does not survive JSON, so it is written as the
 * string 'Infinity' and read back by `fromJson`.
 */
export function jsonOptions(o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v === Infinity ? 'Infinity' : v]));
}

/** The inverse of `jsonOptions`, applied to a saved rule's arguments. */
export function fromJson(x: unknown): unknown {
  if (x === 'Infinity') return Infinity;
  if (Array.isArray(x)) return x.map(fromJson);
  if (typeof x === 'object' && x !== null)
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, fromJson(v)]));
  return x;
}

/** Rule form of `clipByGlobalNorm` (PyTorch `clip_grad_norm_`, Keras `global_clipnorm`). */
export function globalNormRule(
  maxNorm: number,
  options: Omit<ClipByGlobalNormOptions, 'norm' | 'statistics'> = {},
): ClipRule<Stateless> {
  const o = globalNormOptions(maxNorm, options);
  return {
    name: 'globalNorm',
    needsParams: false,
    nonFinite: o.nonFinite,
    config: { kind: 'globalNorm', args: [maxNorm, jsonOptions(options)] },
    fixedThreshold: o.maxNorm,
    init: () => ({}),
    restore: restoreStateless('globalNorm'),
    apply: (ops, grads, _params, state) => ({ out: applyGlobalNorm(ops, values(grads), o.maxNorm, o), state }),
  };
}

/** Rule form of `clipByNorm` (per tensor, Keras `clipnorm`). */
export function perTensorNormRule(maxNorm: number, options: ClipByNormOptions = {}): ClipRule<Stateless> {
  const o = perTensorNormOptions(maxNorm, options);
  return {
    name: 'perTensorNorm',
    needsParams: false,
    nonFinite: o.nonFinite,
    config: { kind: 'perTensorNorm', args: [maxNorm, jsonOptions(options)] },
    fixedThreshold: o.maxNorm,
    init: () => ({}),
    restore: restoreStateless('perTensorNorm'),
    apply: (ops, grads, _params, state) => ({
      out: applyPerTensorNorm(ops, values(grads), o.maxNorm, o.nonFinite),
      state,
    }),
  };
}

/** Rule form of `clipByValue` (Keras `clipvalue`). Value clipping has no non-finite policy: NaN stays NaN. */
export function valueRule(clipValue: number): ClipRule<Stateless> {
  const c = nonNegative('clipValue', clipValue);
  return {
    name: 'value',
    needsParams: false,
    nonFinite: 'propagate',
    config: { kind: 'value', args: [c] },
    fixedThreshold: c,
    init: () => ({}),
    restore: restoreStateless('value'),
    apply: (ops, grads, _params, state) => ({ out: applyValue(ops, values(grads), c), state }),
  };
}

/** @deprecated Renamed `globalNormRule` (issue 22); this alias goes in the next minor version. */
export const globalNormRuleOf = globalNormRule;
/** @deprecated Renamed `perTensorNormRule` (issue 22); this alias goes in the next minor version. */
export const perTensorNormRuleOf = perTensorNormRule;
/** @deprecated Renamed `valueRule` (issue 22); this alias goes in the next minor version. */
export const valueRuleOf = valueRule;

/** Clipper form of `clipByGlobalNorm`. */
export function globalNormClipper(
  maxNorm: number,
  options: Omit<ClipByGlobalNormOptions, 'norm' | 'statistics'> = {},
): Clipper<Stateless> {
  return makeClipper(globalNormRule(maxNorm, options));
}

/** Clipper form of `clipByNorm` (per tensor). */
export function perTensorNormClipper(maxNorm: number, options: ClipByNormOptions = {}): Clipper<Stateless> {
  return makeClipper(perTensorNormRule(maxNorm, options));
}

/** Clipper form of `clipByValue`. */
export function valueClipper(clipValue: number): Clipper<Stateless> {
  return makeClipper(valueRule(clipValue));
}
