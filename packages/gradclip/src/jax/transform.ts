import { jit, numpy as np, type JsTree, type OwnedFunction } from '@jax-js/jax';
import { safeRecord, type ClipRule, type StateTree } from '../clipper.js';
import { describe } from '../gradients.js';
import './norm_history.js';
import { HostReadUnderJit, jaxOps, onFloat64Device, scoped, withFloat64Sums } from './ops.js';
import { arraysOf, disposeTree, flattenTree, isArrayLike, plainState } from './tree.js';

/** An optimizer state: a tree of jax-js arrays (jax-js optax's `OptState`; a per-group state may hold null). */
export type OptState = JsTree<np.Array>;

/**
 * optax's `GradientTransformation`, in the shape of jax-js's optax port: a pair of pure
 * functions, usable on their own and inside its `chain` (or gradclip/jax's).
 *
 * Ownership follows jax-js's move semantics, as its optax does: `init` consumes `params`;
 * `update` consumes `updates`, `state` and `params` and returns new arrays the caller owns. Pass
 * `tree.ref(params)` (or `.ref`) for what you still need afterwards.
 */
export interface GradientTransformation {
  init<Params extends JsTree<np.Array>>(params: Params): OptState;
  update<Params extends JsTree<np.Array>>(updates: Params, state: OptState, params?: Params): [Params, OptState];
  /**
   * Releases what the transformation keeps between steps: its compiled programs (jax-js's jit
   * holds the constants of a traced step on the device). Optional: jax-js's optax transformations
   * keep nothing.
   */
  dispose?(): void;
}

/** A transformation that runs one of gradclip's clipping rules (the same rule as the typed-array clipper). */
export interface ClipTransformation extends GradientTransformation {
  /** The backend-independent rule it runs (for perGroup, and to run the same rule on typed arrays). */
  readonly rule: ClipRule;
}

/** A state's structure with its arrays as holes (JSON: keys in order), and the arrays in order. */
function templateOf(t: unknown): string {
  return JSON.stringify(t, (_k, v: unknown) => (isArrayLike(v) ? 0 : v));
}

/** The template filled with arrays in order; records come back null-prototype (their keys can be names). */
function fill(template: string, arrays: readonly np.Array[]): StateTree<np.Array> {
  let k = 0;
  const build = (x: unknown): unknown => {
    if (x === 0) return arrays[k++]!;
    if (Array.isArray(x)) return x.map(build);
    if (x !== null && typeof x === 'object')
      return safeRecord(Object.entries(x).map(([key, v]) => [key, build(v)] as const));
    return x;
  };
  return build(JSON.parse(template)) as StateTree<np.Array>;
}

interface Args {
  g: np.Array[];
  p: np.Array[];
  s: np.Array[];
}

interface Compiled {
  /** The rule on flat arrays; consumes its arguments, returns new references. */
  run(args: Args): { g: np.Array[]; s: np.Array[] };
  jitted: OwnedFunction<(args: Args) => { g: np.Array[]; s: np.Array[] }> | undefined;
  /** The new state's structure (set when the rule runs or is traced). */
  out: string;
  traces: number;
}

/** Beyond this many traces for one tree structure (a state whose shape changes every step), run eagerly. */
const MAX_TRACES = 3;

/**
 * A rule as a transformation. `update` lists the arrays of `updates` (and `params`) by path and
 * runs `rule.apply(jaxOps, …)` — the core's algorithm, unchanged, with jax-js array operations
 * that never read a value back to the host. The step is compiled with jax-js's `jit` (one
 * program per tree structure and shapes; eager jax-js dispatches each of a rule's ~100 small
 * operations on its own), except where the rule needs a host read (the 'error' policy) or its
 * state changes shape every step (AutoClip's unbounded history), which run eagerly with the same
 * operations. Inside, the clipped arrays and the new state are referenced, everything the rule
 * created is released, and only then the inputs. A bad argument throws before anything is
 * consumed.
 */
export function ruleTransformation(rule: ClipRule): ClipTransformation {
  const compiled = new Map<string, Compiled>();
  const compile = (gNames: string[], pNames: string[] | undefined, stateTemplate: string, f64: boolean): Compiled => {
    const c: Compiled = {
      out: '',
      traces: 0,
      jitted: undefined,
      run(args) {
        const traced = args.g.some((a) => !(a instanceof np.Array));
        if (traced) c.traces++;
        const leaves = (vs: np.Array[], names: string[]) =>
          vs.map((v, i) => ({ name: names[i]!, values: v, shape: v.shape }));
        const state = fill(stateTemplate, args.s);
        const res = scoped(
          () =>
            withFloat64Sums(f64, () =>
              rule.apply(jaxOps, leaves(args.g, gNames), pNames && leaves(args.p, pNames), state),
            ),
          (x) => {
            for (const a of x.out.grads) void a.ref;
            for (const a of arraysOf(x.state)) void a.ref;
          },
        );
        c.out = templateOf(res.state);
        for (const a of [...args.g, ...args.p, ...args.s]) a.dispose();
        return { g: res.out.grads, s: arraysOf(res.state) };
      },
    };
    c.jitted = jit(c.run);
    return c;
  };
  return {
    rule,
    dispose() {
      for (const c of compiled.values()) c.jitted?.dispose();
      compiled.clear();
    },
    init(params) {
      disposeTree(params);
      const state = scoped(
        () => rule.init(jaxOps) as StateTree<np.Array>,
        (s) => arraysOf(s).forEach((a) => a.ref),
      );
      return plainState(state) as OptState;
    },
    update<Params extends JsTree<np.Array>>(updates: Params, state: OptState, params?: Params): [Params, OptState] {
      const g = flattenTree(updates, 'updates');
      const p = params === undefined || params === null ? undefined : flattenTree(params, 'params').leaves;
      if (rule.needsParams && p === undefined)
        throw new TypeError(`${rule.name} needs the parameters: call update(updates, state, params)`);
      if (state === undefined)
        throw new TypeError(`state must be what init (or the last update) returned, got undefined`);
      const stateArrays = arraysOf(state);
      const template = templateOf(state);
      const gNames = g.leaves.map((l) => l.name);
      const pNames = p?.map((l) => l.name);
      // Norms are summed in float64 where the device has it (one pass instead of two; ops.ts).
      const f64 = onFloat64Device(g.leaves.map((l) => l.values));
      const key = JSON.stringify([gNames, pNames ?? null, template, f64]);
      let c = compiled.get(key);
      if (c === undefined) {
        c = compile(gNames, pNames, template, f64);
        compiled.set(key, c);
      }
      // The compiled step gets its own references: if tracing stops (a host read), nothing of
      // the caller's has been consumed, and the step runs eagerly instead.
      const args = (): Args => ({
        g: g.leaves.map((l) => l.values.ref),
        p: (p ?? []).map((l) => l.values.ref),
        s: stateArrays.map((a) => a.ref),
      });
      let out: { g: np.Array[]; s: np.Array[] } | undefined;
      if (c.jitted !== undefined) {
        const a = args();
        try {
          out = c.jitted(a);
        } catch (e) {
          for (const x of [...a.g, ...a.p, ...a.s]) x.dispose();
          if (!(e instanceof HostReadUnderJit)) throw e;
          c.jitted.dispose();
          c.jitted = undefined;
        }
        if (c.jitted !== undefined && c.traces > MAX_TRACES) {
          c.jitted.dispose();
          c.jitted = undefined;
        }
      }
      if (out === undefined) {
        const a = args();
        try {
          out = c.run(a);
        } catch (e) {
          for (const x of [...a.g, ...a.p, ...a.s]) x.dispose();
          // Still tracing: the caller's own jit (or grad) is tracing this update.
          if (e instanceof HostReadUnderJit)
            throw new TypeError(
              `${rule.name} reads a value on the host (the 'error' non-finite policy) and cannot run inside jit; use nonFinite 'skip' or 'zero', or applyIfFinite, there`,
            );
          throw e;
        }
      }
      disposeTree(updates);
      disposeTree(state);
      disposeTree(params);
      return [g.rebuild(out.g) as Params, plainState(fill(c.out, out.s)) as OptState];
    },
  };
}

/**
 * Applies transformations in turn (optax `chain`): each one's updates feed the next, the state
 * is the list of their states, and each is given its own reference of `params`.
 */
export function chain(...transforms: GradientTransformation[]): GradientTransformation {
  transforms.forEach((t, i) => {
    if (typeof t?.init !== 'function' || typeof t?.update !== 'function')
      throw new TypeError(`chain: transforms[${i}] must be a { init, update } transformation, got ${describe(t)}`);
  });
  return {
    dispose() {
      for (const t of transforms) t.dispose?.();
    },
    init(params) {
      const states = transforms.map((t) => t.init(refTree(params)));
      disposeTree(params);
      return states;
    },
    update<Params extends JsTree<np.Array>>(updates: Params, state: OptState, params?: Params): [Params, OptState] {
      if (!Array.isArray(state) || state.length !== transforms.length)
        throw new TypeError(
          `chain: state must be the list of ${transforms.length} states that init returned, got ${describe(state)}`,
        );
      const next: OptState[] = [];
      let u = updates;
      for (let i = 0; i < transforms.length; i++) {
        const [v, s] = transforms[i]!.update(
          u,
          state[i] as OptState,
          params === undefined ? undefined : refTree(params),
        );
        u = v;
        next.push(s);
      }
      disposeTree(params);
      return [u, next];
    },
  };
}

/** A new reference of every array in a tree (jax-js's `tree.ref`). */
export function refTree<T>(t: T): T {
  for (const a of arraysOf(t)) void a.ref;
  return t;
}
