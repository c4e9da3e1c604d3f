import { globalNormRule, type ClipByGlobalNormOptions } from './clip_by_global_norm.js';
import { perTensorNormRule, type ClipByNormOptions } from './clip_by_norm.js';
import { valueRule } from './clip_by_value.js';
import { leavesOf, type Leaf } from './gradients.js';
import type { ArrayOps } from './ops.js';
import { toClipResult, type RuleOutput } from './rule.js';
import { typedOps } from './typed_ops.js';
import type { ClipResult, FloatArray, GradientSet } from './types.js';
import { knownOptions, nonFinitePolicy, nonNegative, normType } from './validate.js';

/**
 * A clipper's state on some backend: a tree of plain objects / arrays whose numeric leaves
 * are the backend's scalars (JS numbers on typed arrays — so the state is JSON — or
 * tf.Scalars held in variables on device).
 */
export type StateTree<S> = S | string | boolean | null | readonly StateTree<S>[] | { readonly [key: string]: StateTree<S> };

/**
 * A clipping rule written once for every backend. `apply` is pure: it returns the new
 * state instead of mutating the old one, which makes save / restore and device variables
 * straightforward.
 */
export interface ClipRule<St extends StateTree<number> = StateTree<number>> {
  readonly name: string;
  /** Whether `apply` needs the parameters (AGC). */
  readonly needsParams: boolean;
  /** The initial state, with scalars made by `ops`. */
  init<T, S, B>(ops: ArrayOps<T, S, B>): StateTree<S>;
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

/** Wraps a rule as a typed-array clipper that keeps its state between calls. */
export function makeClipper<St extends StateTree<number>>(rule: ClipRule<St>, state?: St): Clipper<St> {
  let current: StateTree<number> = state ?? rule.init(typedOps);
  return {
    name: rule.name,
    rule: rule as ClipRule,
    get state() {
      return current as St;
    },
    clip(grads: GradientSet, params?: GradientSet): ClipResult {
      const g: Leaf<FloatArray>[] = leavesOf(grads, 'grads');
      let p: Leaf<FloatArray>[] | undefined;
      if (params !== undefined) p = leavesOf(params, 'params');
      if (rule.needsParams && p === undefined) {
        throw new TypeError(`${rule.name} needs the parameters: call clip(grads, params)`);
      }
      const r = rule.apply(typedOps, g, p, current);
      current = r.state;
      return toClipResult(r.out);
    },
  };
}

const values = <T>(leaves: readonly Leaf<T>[]): T[] => leaves.map((l) => l.values);
type Stateless = Readonly<Record<string, never>>;

/** Rule form of `clipByGlobalNorm` (PyTorch `clip_grad_norm_`, Keras `global_clipnorm`). */
export function globalNormRuleOf(maxNorm: number, options: Omit<ClipByGlobalNormOptions, 'norm' | 'statistics'> = {}): ClipRule<Stateless> {
  knownOptions('options', options, ['normType', 'eps', 'nonFinite']);
  const mx = nonNegative('maxNorm', maxNorm);
  const o = {
    p: normType('options.normType', options.normType ?? 2),
    eps: nonNegative('options.eps', options.eps ?? 1e-6),
    nonFinite: nonFinitePolicy('options.nonFinite', options.nonFinite ?? 'propagate'),
  };
  return {
    name: 'globalNorm',
    needsParams: false,
    init: () => ({}),
    apply: (ops, grads, _params, state) => ({ out: globalNormRule(ops, values(grads), mx, o), state }),
  };
}

/** Rule form of `clipByNorm` (per tensor, Keras `clipnorm`). */
export function perTensorNormRuleOf(maxNorm: number, options: ClipByNormOptions = {}): ClipRule<Stateless> {
  knownOptions('options', options, ['nonFinite']);
  const c = nonNegative('maxNorm', maxNorm);
  const policy = nonFinitePolicy('options.nonFinite', options.nonFinite ?? 'propagate');
  return {
    name: 'perTensorNorm',
    needsParams: false,
    init: () => ({}),
    apply: (ops, grads, _params, state) => ({ out: perTensorNormRule(ops, values(grads), c, policy), state }),
  };
}

/** Rule form of `clipByValue` (Keras `clipvalue`). */
export function valueRuleOf(clipValue: number): ClipRule<Stateless> {
  const c = nonNegative('clipValue', clipValue);
  return {
    name: 'value',
    needsParams: false,
    init: () => ({}),
    apply: (ops, grads, _params, state) => ({ out: valueRule(ops, values(grads), c), state }),
  };
}

/** Clipper form of `clipByGlobalNorm`. */
export function globalNormClipper(maxNorm: number, options: Omit<ClipByGlobalNormOptions, 'norm' | 'statistics'> = {}): Clipper<Stateless> {
  return makeClipper(globalNormRuleOf(maxNorm, options));
}

/** Clipper form of `clipByNorm` (per tensor). */
export function perTensorNormClipper(maxNorm: number, options: ClipByNormOptions = {}): Clipper<Stateless> {
  return makeClipper(perTensorNormRuleOf(maxNorm, options));
}

/** Clipper form of `clipByValue`. */
export function valueClipper(clipValue: number): Clipper<Stateless> {
  return makeClipper(valueRuleOf(clipValue));
}
