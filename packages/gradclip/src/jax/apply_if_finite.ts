import { jit, numpy as np, type JsTree } from '@jax-js/jax';
import { describe } from '../gradients.js';
import { type GradientTransformation, type OptState, refTree } from './transform.js';
import { arraysOf, disposeTree, flattenTree, isArrayLike } from './tree.js';

/** Options of `applyIfFinite`. */
export interface ApplyIfFiniteOptions {
  /**
   * After this many consecutive non-finite steps the wrapped transformation gives up and applies
   * the update anyway (optax's `max_consecutive_errors`). Default Infinity: never.
   */
  maxConsecutiveErrors?: number;
}

/** The state of `applyIfFinite`, with optax's `ApplyIfFiniteState` field names. */
export type ApplyIfFiniteState = {
  /** int32: non-finite steps in a row (0 after a finite one). */
  notfinite_count: np.Array;
  /** bool: whether the last step's updates were all finite. */
  last_finite: np.Array;
  /** int32: non-finite steps in all. */
  total_notfinite: np.Array;
  /** The wrapped transformation's state (kept as it was on a rejected step). */
  inner_state: OptState;
};

const INT32_MAX = 2 ** 31 - 1;

/**
 * Wraps a transformation so that a step whose updates hold a NaN or ±Infinity is skipped (optax
 * `apply_if_finite`): the updates come out as zeros and the wrapped state is kept as it was, so
 * neither the parameters nor the optimizer's statistics see the bad step. After more than
 * `maxConsecutiveErrors` such steps in a row the update is applied anyway. The counters are
 * optax's (`notfinite_count`, `last_finite`, `total_notfinite`, saturating like its
 * `safe_increment`).
 *
 * On the device both outcomes are computed and selected with `where` (no host read, as optax's
 * `lax.cond` under jit). A state array whose shape the wrapped step changed (gradclip's AutoClip
 * with an unbounded history grows by one slot per step) is taken from the wrapped step: its new
 * slot is empty when the step was not finite.
 */
export function applyIfFinite(
  inner: GradientTransformation,
  options: ApplyIfFiniteOptions = {},
): GradientTransformation {
  if (typeof inner?.init !== 'function' || typeof inner?.update !== 'function')
    throw new TypeError(`applyIfFinite: inner must be a { init, update } transformation, got ${describe(inner)}`);
  const max = options.maxConsecutiveErrors ?? Infinity;
  if (typeof max !== 'number' || !(max >= 0) || (max !== Infinity && !Number.isInteger(max)))
    throw new RangeError(`options.maxConsecutiveErrors must be an integer ≥ 0 or Infinity, got ${describe(max)}`);
  // Counts saturate at INT32_MAX (optax's safe_increment), so "more than INT32_MAX" is never.
  const limit = Math.min(max, INT32_MAX);
  const decide = jit((x: { u: np.Array[]; count: np.Array; total: np.Array }) => {
    let finite = np.array(true);
    for (const a of x.u) finite = np.logicalAnd(finite, np.all(np.isfinite(a)));
    const bump = (c: np.Array) => np.where(np.less(c.ref, INT32_MAX), c.ref.add(1), c);
    const count = np.where(finite.ref, 0, bump(x.count)).astype(np.int32);
    const accept = np.logicalOr(finite.ref, np.greater(count.ref, limit));
    const total = np.where(finite.ref, x.total.ref, bump(x.total)).astype(np.int32);
    return { finite, count, accept, total };
  });
  const select = jit((x: { a: np.Array; u: np.Array[]; z: np.Array[]; n: np.Array[]; o: np.Array[] }) => {
    const u = x.u.map((ui, i) => np.where(x.a.ref, ui, np.zerosLike(x.z[i]!)));
    const s = x.n.map((ni, i) => np.where(x.a.ref, ni, x.o[i]!));
    x.a.dispose();
    return { u, s };
  });
  return {
    dispose() {
      decide.dispose();
      select.dispose();
      inner.dispose?.();
    },
    init(params) {
      const state: ApplyIfFiniteState = {
        notfinite_count: np.array(0, { dtype: np.int32 }),
        last_finite: np.array(true),
        total_notfinite: np.array(0, { dtype: np.int32 }),
        inner_state: inner.init(params),
      };
      return state as unknown as OptState;
    },
    update<Params extends JsTree<np.Array>>(updates: Params, state: OptState, params?: Params): [Params, OptState] {
      const st = state as unknown as ApplyIfFiniteState;
      if (typeof st !== 'object' || st === null || !isArrayLike(st.notfinite_count))
        throw new TypeError(`applyIfFinite: state must be what init returned, got ${describe(state)}`);
      const leaves = flattenTree(updates, 'updates').leaves.map((l) => l.values);
      // Decisions first (one compiled program), then the wrapped step on references of the
      // inputs, then the selection.
      const d = decide({
        u: leaves.map((a) => a.ref),
        count: st.notfinite_count.ref,
        total: st.total_notfinite.ref,
      });
      const [innerUpdates, innerState] = inner.update(
        refTree(updates),
        refTree(st.inner_state),
        params === undefined ? undefined : refTree(params),
      );
      const fresh = flattenTree(innerUpdates, 'the wrapped transformation’s updates');
      const newLeaves = fresh.leaves.map((l) => l.values);
      if (newLeaves.length !== leaves.length)
        throw new TypeError(
          `applyIfFinite: the wrapped transformation returned ${newLeaves.length} arrays for ${leaves.length}`,
        );
      const fa = arraysOf(innerState);
      const oa = arraysOf(st.inner_state);
      const sameShapes =
        fa.length === oa.length &&
        fa.every((f, i) => f.shape.length === oa[i]!.shape.length && f.shape.every((n, j) => n === oa[i]!.shape[j]));
      let out: Params;
      let keptState: OptState;
      if (sameShapes) {
        // One compiled program selects the updates and every state array.
        const r = select({ a: d.accept.ref, u: newLeaves, z: leaves.map((l) => l.ref), n: fa, o: oa });
        out = fresh.rebuild(r.u) as Params;
        keptState = replaceArrays(innerState, r.s);
      } else {
        out = fresh.rebuild(newLeaves.map((u, i) => np.where(d.accept.ref, u, np.zerosLike(leaves[i]!.ref)))) as Params;
        keptState = selectState(d.accept, innerState, st.inner_state);
      }
      disposeTree(updates);
      disposeTree(params);
      st.notfinite_count.dispose();
      st.total_notfinite.dispose();
      st.last_finite.dispose();
      d.accept.dispose();
      const next: ApplyIfFiniteState = {
        notfinite_count: d.count,
        last_finite: d.finite,
        total_notfinite: d.total,
        inner_state: keptState,
      };
      return [out, next as unknown as OptState];
    },
  };
}

/** The tree with its arrays replaced, in order, by `arrays`. */
function replaceArrays(t: OptState, arrays: readonly np.Array[]): OptState {
  let k = 0;
  const build = (x: unknown): unknown => {
    if (isArrayLike(x)) return arrays[k++]!;
    if (Array.isArray(x)) return x.map(build);
    if (typeof x === 'object' && x !== null)
      return Object.fromEntries(Object.entries(x).map(([key, v]) => [key, build(v)]));
    return x;
  };
  return build(t) as OptState;
}

/** where(accept, fresh, old) leaf by leaf over two states of the same structure (consumes both). */
function selectState(accept: np.Array, fresh: OptState, old: OptState): OptState {
  const a = arraysOf(fresh);
  const b = arraysOf(old);
  if (a.length !== b.length) {
    disposeTree(old);
    return fresh;
  }
  let k = 0;
  const pick = (x: unknown): unknown => {
    if (isArrayLike(x)) {
      const o = b[k++]!;
      const same = x.shape.length === o.shape.length && x.shape.every((n, i) => n === o.shape[i]);
      if (!same) {
        o.dispose();
        return x;
      }
      return np.where(accept.ref, x, o);
    }
    if (Array.isArray(x)) return x.map(pick);
    if (typeof x === 'object' && x !== null)
      return Object.fromEntries(Object.entries(x).map(([key, v]) => [key, pick(v)]));
    return x;
  };
  return pick(fresh) as OptState;
}
