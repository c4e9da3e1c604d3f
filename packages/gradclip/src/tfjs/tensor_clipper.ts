import * as tf from '@tensorflow/tfjs-core';
import type { ClipByGlobalNormOptions } from '../clip_by_global_norm.js';
import type { ClipByNormOptions } from '../clip_by_norm.js';
import {
  applyRule,
  globalNormRule,
  perTensorNormRule,
  restoreState,
  safeRecord,
  valueRule,
  type Clipper,
  type ClipRule,
  type StateTree,
} from '../clipper.js';
import type { Leaf } from '../gradients.js';
import { describe } from '../gradients.js';
import type { NonFinitePolicy } from '../types.js';
import { tfOps } from './ops.js';

/** Gradients as tfjs hands them around: a list (null = no gradient), a name → tensor map, or NamedTensor[]. */
export type TensorGradients =
  | tf.Tensor
  | readonly (tf.Tensor | null | undefined)[]
  | tf.NamedTensorMap
  | readonly { name: string; tensor: tf.Tensor | null | undefined }[];

/** The same container with new tensors (null entries kept in place). */
export type Clipped<G extends TensorGradients> = G extends tf.Tensor
  ? tf.Tensor
  : G extends readonly { name: string; tensor: tf.Tensor | null | undefined }[]
    ? { name: string; tensor: tf.Tensor | null }[]
    : G extends readonly (tf.Tensor | null | undefined)[]
      ? (tf.Tensor | null)[]
      : tf.NamedTensorMap;

/** One chained rule's report on tensors (see `chainRule`): new scalars the caller owns. */
export interface TensorStepReport {
  norm: tf.Scalar;
  scale: tf.Scalar;
  clipped: tf.Scalar;
  finite: tf.Scalar;
  threshold?: tf.Scalar;
}

/**
 * What a tensor clipper's `clip` returns. Everything in it is a new tensor the caller owns —
 * the gradients and the report's scalars `norm`, `scale`, `clipped`, `finite` (plus `threshold`
 * and every `steps` entry's scalars when present) — and nothing else is left alive: dispose them
 * (`tf.dispose(result)` frees all) or call `clip` inside `tf.tidy`. For the gradients alone, use
 * `clipGradients`. Nothing has been read back to the host.
 */
export interface TensorClipResult<G extends TensorGradients = TensorGradients> {
  grads: Clipped<G>;
  /** Pre-clip norm (the rule's p-norm; L2 for per-tensor and value rules). */
  norm: tf.Scalar;
  /** Factor applied (smallest factor for per-tensor / per-unit rules). */
  scale: tf.Scalar;
  /** bool scalar: anything changed. */
  clipped: tf.Scalar;
  /** bool scalar: no NaN / ±Infinity in the gradients. */
  finite: tf.Scalar;
  /** The threshold in force this step, for rules that report one (adaptive clippers). */
  threshold?: tf.Scalar;
  /** For a chain of rules: each rule's report, in order. */
  steps?: TensorStepReport[];
}

/** A clipper over tf.Tensor whose state lives in non-trainable tf.Variables. */
export interface TensorClipper {
  readonly name: string;
  readonly rule: ClipRule;
  /** Clips `grads` (and advances the state); `params` is needed by AGC. */
  clip<G extends TensorGradients>(grads: G, params?: TensorGradients): TensorClipResult<G>;
  /**
   * Clips `grads` (and advances the state) and returns only the clipped gradients, in the
   * container given: outside `tf.tidy` the new gradient tensors are all it leaves alive.
   */
  clipGradients<G extends TensorGradients>(grads: G, params?: TensorGradients): Clipped<G>;
  /** The state: a tree of tf.Variables (read it with `readState`). */
  readonly state: StateTree<tf.Variable>;
  /** The state as plain numbers, in the same form as a typed-array clipper's `state` (async read, not for the training loop). */
  readState(): Promise<StateTree<number>>;
  /**
   * Replaces the state: a `readState` snapshot, a typed-array clipper's `state`, or the same
   * tree with tensors for leaves (saved-model weights). The rule checks it first (`restore`:
   * kind, types, ranges, lengths) and throws a RangeError / TypeError naming the field, with
   * the old state kept; tensor leaves are read back for that check (a load-time read).
   */
  setState(state: StateTree<number | tf.Tensor>): void;
  /** Disposes the state variables. */
  dispose(): void;
}

/**
 * Options of `tensorClipper`. Everything else — the non-finite policy, how a saved model
 * rebuilds the clipper, the fixed threshold — is a property of the rule (`ClipRule.nonFinite`,
 * `.config`, `.fixedThreshold`), so every adapter reads the same value.
 */
export interface TensorClipperOptions {
  /** Initial state (plain numbers), e.g. a typed-array clipper's `state`. */
  state?: StateTree<number>;
}

interface Normalised {
  leaves: Leaf<tf.Tensor>[];
  rebuild(out: readonly tf.Tensor[]): unknown;
}

function checkTensor(arg: string, path: string, x: unknown): tf.Tensor {
  if (!(x instanceof tf.Tensor)) throw new TypeError(`${arg}${path} must be a tf.Tensor, got ${describe(x)}`);
  if (x.dtype !== 'float32') throw new TypeError(`${arg}${path} must be a float32 tensor, got dtype ${x.dtype}`);
  if (x.isDisposed) throw new TypeError(`${arg}${path} is a disposed tensor`);
  return x;
}

const isNamed = (x: unknown): x is { name: string; tensor: tf.Tensor | null | undefined } =>
  typeof x === 'object' && x !== null && !(x instanceof tf.Tensor) && 'name' in x && 'tensor' in x;

/** Lists the non-null tensors of a gradient container in order and knows how to rebuild it. */
export function normaliseGradients(grads: unknown, arg = 'grads'): Normalised {
  if (grads instanceof tf.Tensor) {
    const t = checkTensor(arg, '', grads);
    return { leaves: [{ name: '', values: t, shape: t.shape }], rebuild: (out) => out[0] };
  }
  if (Array.isArray(grads)) {
    const leaves: Leaf<tf.Tensor>[] = [];
    const slots: number[] = [];
    const named = grads.some(isNamed);
    grads.forEach((e: unknown, i) => {
      const entry = named ? (isNamed(e) ? e.tensor : e) : e;
      if (named && !isNamed(e)) throw new TypeError(`${arg}[${i}] must be a { name, tensor }, got ${describe(e)}`);
      if (entry === null || entry === undefined) return;
      const t = checkTensor(arg, named ? `[${i}].tensor` : `[${i}]`, entry);
      leaves.push({ name: named ? (e as { name: string }).name : String(i), values: t, shape: t.shape });
      slots.push(i);
    });
    return {
      leaves,
      rebuild: (out) => {
        const res: unknown[] = grads.map((e: unknown) =>
          named ? { name: (e as { name: string }).name, tensor: null } : null,
        );
        slots.forEach((slot, k) => {
          if (named) (res[slot] as { tensor: tf.Tensor }).tensor = out[k]!;
          else res[slot] = out[k]!;
        });
        return res;
      },
    };
  }
  if (typeof grads === 'object' && grads !== null && (grads as object).constructor === Object) {
    const leaves: Leaf<tf.Tensor>[] = [];
    for (const [k, e] of Object.entries(grads as Record<string, unknown>)) {
      if (e === null || e === undefined) continue;
      const t = checkTensor(arg, `[${JSON.stringify(k)}]`, e);
      leaves.push({ name: k, values: t, shape: t.shape });
    }
    return {
      leaves,
      rebuild: (out) => Object.fromEntries(leaves.map((l, i) => [l.name, out[i]!])),
    };
  }
  throw new TypeError(
    `${arg} must be a tf.Tensor, a list of them, a NamedTensorMap or NamedTensor[], got ${describe(grads)}`,
  );
}

type Tree<L> = StateTree<L>;

function isLeaf(x: unknown): x is tf.Tensor {
  return x instanceof tf.Tensor;
}

function mapTree<A, B>(t: Tree<A>, leaf: (a: A, path: string) => B, isA: (x: unknown) => x is A, path = ''): Tree<B> {
  if (isA(t)) return leaf(t, path);
  if (t === null || typeof t !== 'object') return t;
  if (Array.isArray(t)) return t.map((x: Tree<A>, i) => mapTree(x, leaf, isA, `${path}/${i}`));
  // Keys can be parameter names (AdaGC): a null-prototype record keeps '__proto__' an ordinary key.
  return safeRecord(
    Object.entries(t as Record<string, Tree<A>>).map(([k, v]) => [k, mapTree(v, leaf, isA, `${path}/${k}`)] as const),
  );
}

function leavesOfTree<A>(t: Tree<A>, isA: (x: unknown) => x is A, path = '', out: [string, A][] = []): [string, A][] {
  if (isA(t)) out.push([path, t]);
  else if (Array.isArray(t)) t.forEach((x: Tree<A>, i) => leavesOfTree(x, isA, `${path}/${i}`, out));
  else if (t !== null && typeof t === 'object') {
    for (const [k, v] of Object.entries(t as Record<string, Tree<A>>)) leavesOfTree(v, isA, `${path}/${k}`, out);
  }
  return out;
}

/** Tensor leaves → numbers (scalars) or arrays (higher ranks), as `readState` gives them. */
function tensorsToNumbers(t: Tree<number | tf.Tensor>): Tree<number> {
  const isTensor = (x: unknown): x is tf.Tensor => x instanceof tf.Tensor;
  return mapTree(
    t as Tree<tf.Tensor>,
    (v) => {
      if (v.isDisposed) throw new TypeError('state holds a disposed tensor');
      const d = Array.from(v.dataSync());
      return (v.rank === 0 ? d[0]! : d) as unknown as number;
    },
    isTensor,
  ) as Tree<number>;
}

/** Number leaves → scalar variables; tensor leaves → variables holding the same data. */
function numbersToVariables(state: Tree<number | tf.Tensor>): Tree<tf.Variable> {
  const isValue = (x: unknown): x is number | tf.Tensor => typeof x === 'number' || x instanceof tf.Tensor;
  // tf.variable shares the scalar's data and takes its own reference: the tidy frees the
  // temporary scalars, leaving only the variables.
  return tf.tidy(
    () =>
      mapTree(
        state,
        (x) => tf.variable(typeof x === 'number' ? tf.scalar(x) : x, false),
        isValue,
      ) as unknown as tf.TensorContainer,
  ) as unknown as Tree<tf.Variable>;
}

/**
 * Moves a rule's new state (fresh tensors from inside a tidy) into the variables: same path,
 * shape and dtype → `assign` (the variable keeps the data, the old data is freed); otherwise
 * a new variable replaces the old one.
 */
function commitState(old: Tree<tf.Variable>, next: Tree<tf.Tensor>): Tree<tf.Variable> {
  const oldVars = new Map(leavesOfTree(old, isLeaf) as [string, tf.Variable][]);
  const used = new Set<tf.Variable>();
  const result = mapTree(
    next,
    (t, path) => {
      const v = oldVars.get(path);
      if (v !== undefined && tf.util.arraysEqual(v.shape, t.shape) && v.dtype === t.dtype) {
        if (t !== v) v.assign(t);
        used.add(v);
        return v;
      }
      return tf.variable(t, false);
    },
    isLeaf,
  );
  for (const v of oldVars.values()) if (!used.has(v)) v.dispose();
  // The rule's outputs are owned here; variables keep their own reference to the data.
  for (const [, t] of leavesOfTree(next, isLeaf)) if (!(t instanceof tf.Variable)) t.dispose();
  return result;
}

/**
 * Runs a backend-generic clipping rule (or a typed-array clipper's rule) on tf.Tensors. The
 * algorithm is the core's: `rule.apply(tfOps, …)` with tensor operations that never read
 * values back to the host, so the whole step stays on the device. The state is held in
 * non-trainable tf.Variables and replaced (assign) after each step.
 */
export function tensorClipper(ruleOrClipper: ClipRule | Clipper, options: TensorClipperOptions = {}): TensorClipper {
  const rule: ClipRule = 'clip' in ruleOrClipper ? ruleOrClipper.rule : ruleOrClipper;
  if (typeof rule?.apply !== 'function')
    throw new TypeError(`tensorClipper needs a ClipRule or a Clipper, got ${describe(ruleOrClipper)}`);
  const given = options.state ?? ('clip' in ruleOrClipper ? ruleOrClipper.state : undefined);
  const initial = given === undefined ? undefined : restoreState(rule, given);
  let state: Tree<tf.Variable> =
    initial !== undefined
      ? numbersToVariables(initial)
      : (tf.tidy(() => {
          const init = rule.init(tfOps) as Tree<tf.Tensor>;
          return mapTree(init, (t) => tf.variable(t, false), isLeaf) as unknown as tf.TensorContainer;
        }) as unknown as Tree<tf.Variable>);
  type Raw = {
    grads: tf.Tensor[];
    report: tf.Tensor[];
    threshold: tf.Tensor[];
    steps: tf.Tensor[][];
    state: unknown;
  };
  // One step. With `report` false only the clipped gradients leave the tidy; with it, the
  // report's scalars too (and each chained rule's): exactly what the caller gets.
  const run = (grads: TensorGradients, params: TensorGradients | undefined, report: boolean) => {
    const g = normaliseGradients(grads, 'grads');
    const p = params === undefined ? undefined : normaliseGradients(params, 'params').leaves;
    if (rule.needsParams && p === undefined) {
      throw new TypeError(`${rule.name} needs the parameters: call clip(grads, params)`);
    }
    const out = tf.tidy((): tf.TensorContainer => {
      const r = applyRule(rule, tfOps, g.leaves, p, state as Tree<tf.Scalar>);
      const o = r.out;
      // Outputs that are the inputs themselves (an untouched gradient) are cloned, so the
      // caller owns every tensor in the result and can dispose it.
      // A tensor that appears twice in the report (a chain's norm is its first step's) is
      // cloned the second time, so that every entry can be disposed on its own.
      const seen = new Set<tf.Tensor>();
      const own = (t: tf.Tensor) => {
        const copy = seen.has(t) || g.leaves.some((l) => l.values === t) || t instanceof tf.Variable;
        const res = copy ? tf.clone(t) : t;
        seen.add(res);
        return res;
      };
      const scalars = (x: { norm: tf.Tensor; scale: tf.Tensor; clipped: tf.Tensor; finite: tf.Tensor }) =>
        [x.norm, x.scale, x.clipped, x.finite].map(own);
      return {
        grads: o.grads.map(own),
        report: report ? scalars(o) : [],
        threshold: report && o.threshold !== undefined ? [own(o.threshold)] : [],
        steps:
          report && o.steps !== undefined
            ? o.steps.map((s) => [...scalars(s), ...(s.threshold === undefined ? [] : [own(s.threshold)])])
            : [],
        state: r.state as unknown as tf.TensorContainer,
      };
    }) as unknown as Raw;
    state = commitState(state, out.state as unknown as Tree<tf.Tensor>);
    const grads_ = g.rebuild(out.grads) as Clipped<TensorGradients>;
    if (!report) return { grads: grads_ } as TensorClipResult;
    const [norm, scale, clipped, finite] = out.report as tf.Scalar[];
    const res: TensorClipResult = { grads: grads_, norm: norm!, scale: scale!, clipped: clipped!, finite: finite! };
    if (out.threshold[0] !== undefined) res.threshold = out.threshold[0] as tf.Scalar;
    if (out.steps.length > 0) {
      res.steps = out.steps.map(([n, s, c, f, t]) => {
        const step: TensorStepReport = {
          norm: n as tf.Scalar,
          scale: s as tf.Scalar,
          clipped: c as tf.Scalar,
          finite: f as tf.Scalar,
        };
        if (t !== undefined) step.threshold = t as tf.Scalar;
        return step;
      });
    }
    return res;
  };
  return {
    name: rule.name,
    rule,
    get state() {
      return state;
    },
    clip<G extends TensorGradients>(grads: G, params?: TensorGradients): TensorClipResult<G> {
      return run(grads, params, true) as TensorClipResult<G>;
    },
    clipGradients<G extends TensorGradients>(grads: G, params?: TensorGradients): Clipped<G> {
      return run(grads, params, false).grads as Clipped<G>;
    },
    async readState() {
      const leaves = leavesOfTree(state, isLeaf);
      const values = await Promise.all(leaves.map(([, v]) => v.data()));
      const byPath = new Map(leaves.map(([path], i) => [path, values[i]!]));
      const numbers = mapTree(
        state,
        (v, path) => {
          const d = byPath.get(path)!;
          return (v.rank === 0 ? d[0]! : Array.from(d)) as unknown as number;
        },
        isLeaf,
      );
      // The rule's canonical form: the same shape a typed-array clipper's `state` has (e.g.
      // AutoClip's device ring comes back as { history, next }), so the two are interchangeable.
      return restoreState(rule, numbers, 'state');
    },
    setState(next: StateTree<number | tf.Tensor>) {
      const fresh = numbersToVariables(restoreState(rule, tensorsToNumbers(next), 'state'));
      for (const [, v] of leavesOfTree(state, isLeaf)) v.dispose();
      state = fresh;
    },
    dispose() {
      for (const [, v] of leavesOfTree(state, isLeaf)) v.dispose();
      state = mapTree(state, () => null, isLeaf) as Tree<tf.Variable>;
    },
  };
}

/** Tensor form of `clipByGlobalNorm` (PyTorch `clip_grad_norm_`, Keras `global_clipnorm`). */
export function globalNormTensorClipper(
  maxNorm: number,
  options: Omit<ClipByGlobalNormOptions, 'norm' | 'statistics'> = {},
): TensorClipper {
  return tensorClipper(globalNormRule(maxNorm, options));
}

/** Tensor form of `clipByNorm` (each tensor's L2 norm on its own, Keras `clipnorm`). */
export function perTensorNormTensorClipper(maxNorm: number, options: ClipByNormOptions = {}): TensorClipper {
  return tensorClipper(perTensorNormRule(maxNorm, options));
}

/** Tensor form of `clipByValue` (Keras `clipvalue`). */
export function valueTensorClipper(clipValue: number): TensorClipper {
  return tensorClipper(valueRule(clipValue));
}

export type { NonFinitePolicy };
