import { numpy as np, type JsTree } from '@jax-js/jax';
import type { StateTree } from '../clipper.js';
import type { Leaf } from '../gradients.js';
import { describe } from '../gradients.js';

/** A jax-js pytree of arrays: an array, a list or a plain object of them (nested). */
export type ArrayTree = JsTree<np.Array>;

/** The arrays of a pytree with their names, and how to put new arrays in their places. */
export interface FlatTree {
  /**
   * The leaves in order. A leaf's name is its path of record keys / list positions joined by
   * '/' ('' for a lone array; '0', '1', … for a flat list; 'dense/kernel' for nested records),
   * which is what the name-keyed rules (AdaGC's thresholds, AGC's pairing of parameters,
   * perGroup's glob patterns) go by.
   */
  readonly leaves: Leaf<np.Array>[];
  /** The same container with `out[i]` in the place of leaf i (null / undefined entries kept). */
  rebuild(out: readonly np.Array[]): ArrayTree;
}

const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' &&
  x !== null &&
  (Object.getPrototypeOf(x) === Object.prototype || Object.getPrototypeOf(x) === null);

function checkArray(arg: string, path: string, x: np.Array): np.Array {
  const at = path === '' ? arg : `${arg}.${path.split('/').join('.')}`;
  if (x.dtype !== np.float32) throw new TypeError(`${at} must be a float32 jax-js array, got dtype ${x.dtype}`);
  // (A tracer — the array inside the caller's jit — has no reference count of its own.)
  if (x instanceof np.Array && x.refCount <= 0) throw new TypeError(`${at} is a disposed jax-js array`);
  return x;
}

/**
 * Lists the arrays of a pytree (refusing anything but float32 jax-js arrays — or the tracers that
 * stand for them inside the caller's `jit` — lists, plain objects, null and undefined, with a
 * TypeError naming the path) without touching them.
 */
export function flattenTree(tree: unknown, arg = 'updates'): FlatTree {
  const leaves: Leaf<np.Array>[] = [];
  const seen = new Set<unknown>();
  const walk = (x: unknown, path: string): void => {
    if (isArrayLike(x)) {
      leaves.push({ name: path, values: checkArray(arg, path, x), shape: x.shape });
      return;
    }
    if (x === null || x === undefined) return;
    const at = path === '' ? arg : `${arg}.${path.split('/').join('.')}`;
    if (seen.has(x)) throw new TypeError(`${at} is a container that holds itself`);
    if (Array.isArray(x)) {
      seen.add(x);
      x.forEach((e: unknown, i) => walk(e, path === '' ? String(i) : `${path}/${i}`));
      seen.delete(x);
      return;
    }
    if (isPlainObject(x)) {
      seen.add(x);
      for (const [k, v] of Object.entries(x)) walk(v, path === '' ? k : `${path}/${k}`);
      seen.delete(x);
      return;
    }
    throw new TypeError(`${at} must be a jax-js array, a list or a plain object of them, got ${describe(x)}`);
  };
  walk(tree, '');
  const rebuild = (out: readonly np.Array[]): ArrayTree => {
    let k = 0;
    const build = (x: unknown): unknown => {
      if (isArrayLike(x)) return out[k++]!;
      if (Array.isArray(x)) return x.map(build);
      if (isPlainObject(x)) return Object.fromEntries(Object.entries(x).map(([key, v]) => [key, build(v)]));
      return x;
    };
    return build(tree) as ArrayTree;
  };
  return { leaves, rebuild };
}

/**
 * jax-js's base class of arrays and of the tracers that stand for them inside `jit` / `grad`
 * (`np.Array` extends it; the class itself is not exported).
 */
const Tracer = Object.getPrototypeOf(np.Array) as abstract new (...a: never[]) => np.Array;

/** An array or a tracer (an array inside jit). */
export const isArrayLike = (x: unknown): x is np.Array => x instanceof Tracer;

/** Every jax-js array in a tree (state trees included: records, lists, null). */
export function arraysOf(t: unknown, out: np.Array[] = []): np.Array[] {
  if (isArrayLike(t)) out.push(t);
  else if (Array.isArray(t)) for (const x of t) arraysOf(x, out);
  else if (typeof t === 'object' && t !== null) for (const x of Object.values(t)) arraysOf(x, out);
  return out;
}

/** Releases the caller's reference of every array in a tree (jax-js's `tree.dispose`, for any tree). */
export function disposeTree(t: unknown): void {
  for (const a of arraysOf(t)) a.dispose();
}

/** A rule's state as an optax state: the same tree (records as plain objects). */
export function plainState(t: StateTree<np.Array>): StateTree<np.Array> {
  if (isArrayLike(t) || t === null || typeof t !== 'object') return t;
  if (Array.isArray(t)) return t.map((x: StateTree<np.Array>) => plainState(x));
  return Object.fromEntries(
    Object.entries(t as Record<string, StateTree<np.Array>>).map(([k, v]) => [k, plainState(v)]),
  );
}
