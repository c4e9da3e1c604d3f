import type { FloatArray, GradientSet } from './types.js';

/** One non-null gradient (or parameter) of a set, with a stable name and its shape. */
export interface Leaf<T = FloatArray> {
  /** Record key, or the list index as a string, or '' for a single array. */
  readonly name: string;
  readonly values: T;
  readonly shape: readonly number[];
}

export function isFloatArray(x: unknown): x is FloatArray {
  return x instanceof Float32Array || x instanceof Float64Array;
}

/** Short description of a bad value for error messages: `Int32Array(3)`, `array`, `"abc"`. */
export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'undefined';
  if (Array.isArray(x)) return `a plain array of length ${x.length}`;
  if (ArrayBuffer.isView(x)) {
    const len = (x as { length?: number }).length;
    return `${x.constructor.name}${len === undefined ? '' : `(${len})`}`;
  }
  if (typeof x === 'string') return JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}…` : x);
  if (typeof x === 'function') return x.name === '' ? 'a function' : `a function ${x.name}`;
  if (typeof x === 'bigint') return `${x}n`;
  if (typeof x === 'symbol') return x.toString();
  if (typeof x === 'object') {
    // Read the prototype, not x.constructor: a null-prototype object has no constructor, and a
    // hostile object (a Proxy, a getter) must not run code while we describe it.
    let proto: unknown;
    try {
      proto = Object.getPrototypeOf(x);
    } catch {
      return 'an object that cannot be inspected';
    }
    if (proto === null) return 'a null-prototype object';
    if (proto === Object.prototype) return 'a plain object';
    const tag = Object.prototype.toString.call(x).slice(8, -1); // "[object Generator]" → "Generator"
    const ctor = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value as unknown;
    const name = typeof ctor === 'function' && ctor.name !== '' ? ctor.name : tag !== 'Object' ? tag : '';
    return name === '' ? 'an instance of an anonymous class' : `a ${name}`;
  }
  return String(x);
}

/** A record of gradients: a plain object or one made with `Object.create(null)`. */
export function isPlainRecord(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x) || ArrayBuffer.isView(x)) return false;
  const proto = Object.getPrototypeOf(x) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Whether x is a single `{ values, shape }` entry rather than a record of gradients. A record
 * whose gradients happen to be named `values` and `shape` is told apart by its `shape`: an
 * entry's is a plain array of numbers, a record's is a gradient.
 */
function isShapedEntry(x: unknown): x is { values: unknown; shape: unknown } {
  if (typeof x !== 'object' || x === null || Array.isArray(x) || ArrayBuffer.isView(x)) return false;
  if (!('values' in x) || !('shape' in x)) return false;
  const shape = (x as { shape: unknown }).shape;
  if (Array.isArray(shape)) return true;
  return !(
    isFloatArray(shape) ||
    shape === null ||
    shape === undefined ||
    (typeof shape === 'object' && 'values' in shape)
  );
}

/**
 * Whether x looks like a tensor of a tensor library (a tf.Tensor, a jax-js array: `shape` and
 * `dtype`, no `values`), or a tfjs NamedTensor `{ name, tensor }`. Only `in` checks: no getter
 * of the caller's object runs.
 */
function looksLikeTensor(x: unknown): boolean {
  if (typeof x !== 'object' || x === null || ArrayBuffer.isView(x) || Array.isArray(x)) return false;
  if ('shape' in x && 'dtype' in x && !('values' in x)) return true;
  return 'name' in x && 'tensor' in x;
}

/** The pointer a tensor passed to the typed-array core needs. */
const TENSOR_HINT =
  " (this is a tensor: for tf.Tensor gradients import { clipByGlobalNorm, clipByNorm, clipByValue } from 'gradclip/tfjs')";

function badEntry(arg: string, path: string, x: unknown): TypeError {
  return new TypeError(
    `${arg}${path} must be a Float32Array or Float64Array (or { values, shape } of one), got ${describe(x)}${
      looksLikeTensor(x) ? TENSOR_HINT : ''
    }`,
  );
}

/** %TypedArray%.prototype's length getter: it runs only on a genuine typed array. */
const typedLength = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), 'length')!.get!;

/**
 * A Proxy of a typed array (or an object made with `Object.create(Float32Array.prototype)`)
 * passes `instanceof` but has no typed-array internals: every read fails with an engine message
 * about an "incompatible receiver". Say what is wrong instead.
 */
function genuine(arg: string, path: string, x: FloatArray): FloatArray {
  try {
    typedLength.call(x);
  } catch {
    throw new TypeError(`${arg}${path} is a Proxy or imitation of a typed array, not one: pass the array itself`);
  }
  return x;
}

function shapedLeaf(arg: string, path: string, name: string, x: { values: unknown; shape: unknown }): Leaf {
  const { values, shape } = x;
  if (!isFloatArray(values)) throw badEntry(arg, `${path}.values`, values);
  genuine(arg, `${path}.values`, values);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new TypeError(`${arg}${path}.shape must be an array of non-negative integers, got ${describe(shape)}`);
  }
  const size = shape.reduce((a: number, b: number) => a * b, 1);
  if (size !== values.length) {
    throw new RangeError(
      `${arg}${path}.shape [${shape.join(', ')}] holds ${size} values but values has ${values.length}`,
    );
  }
  return { name, values, shape };
}

function entryLeaf(arg: string, path: string, name: string, e: unknown): Leaf | undefined {
  if (e === null || e === undefined) return undefined;
  if (isFloatArray(e)) return { name, values: genuine(arg, path, e), shape: [e.length] };
  if (isShapedEntry(e)) return shapedLeaf(arg, path, name, e);
  throw badEntry(arg, path, e);
}

/**
 * Validates a gradient set and lists its non-null entries in order (list order, or record
 * key order). Throws `TypeError` naming the argument and the offending entry; it never
 * touches the data, so a bad set leaves the caller's buffers as they were.
 */
export function leavesOf(grads: GradientSet, arg = 'grads'): Leaf[] {
  let leaves: Leaf[];
  try {
    leaves = containerLeaves(grads, arg);
  } catch (e) {
    if (e instanceof TypeError || e instanceof RangeError) throw e;
    // A Proxy or getter that throws while we read the container: say which argument it was.
    throw new TypeError(`${arg} could not be read: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  for (const l of leaves) checkAttached(arg, l);
  if (leaves.length > 1) checkNoAliasing(arg, leaves);
  return leaves;
}

function containerLeaves(grads: GradientSet, arg: string): Leaf[] {
  if (grads === null || grads === undefined) return [];
  const single = entryLeafOrUndefined(arg, grads);
  if (single !== false) return single === undefined ? [] : [single];
  const out: Leaf[] = [];
  if (Array.isArray(grads)) {
    // A hole is not a gradient: refuse sparse lists rather than walk every missing index of
    // a `new Array(1e9)` (Object.keys lists only the entries that exist).
    const present = Object.keys(grads).length;
    if (present !== grads.length) {
      throw new RangeError(
        `${arg} is a sparse array (${present} entries in a length of ${grads.length}): use null for a missing gradient`,
      );
    }
    for (let i = 0; i < grads.length; i++) {
      const leaf = entryLeaf(arg, `[${i}]`, String(i), (grads as readonly unknown[])[i]);
      if (leaf) out.push(leaf);
    }
    return out;
  }
  if (isPlainRecord(grads)) {
    for (const [k, e] of Object.entries(grads)) {
      const leaf = entryLeaf(arg, `[${JSON.stringify(k)}]`, k, e);
      if (leaf) out.push(leaf);
    }
    return out;
  }
  throw new TypeError(
    `${arg} must be a Float32Array, Float64Array, { values, shape }, or a list or record of them, got ${describe(grads)}${
      looksLikeTensor(grads) ? TENSOR_HINT : ''
    }`,
  );
}

const label = (arg: string, l: Leaf) => (l.name === '' ? arg : `${arg}[${JSON.stringify(l.name)}]`);

/** %TypedArray%.prototype.slice: throws on a view that is out of bounds of its buffer. */
const typedSlice = Object.getPrototypeOf(Uint8Array.prototype).slice as (
  this: FloatArray,
  a: number,
  b: number,
) => unknown;

/**
 * A typed array whose buffer was transferred (postMessage, structuredClone) reads as empty:
 * refuse it instead of clipping nothing. Creating a view of a detached buffer throws, which
 * tells a detached buffer from a genuinely empty one on every engine. Likewise a fixed-length
 * view of a resizable ArrayBuffer that was shrunk below its end (issue 24, F15): it reads as
 * empty (norm 0) although it stands for values; the typed-array methods throw on it.
 */
function checkAttached(arg: string, l: Leaf): void {
  if (l.values.length !== 0) return;
  try {
    new Uint8Array(l.values.buffer, 0, 0);
  } catch {
    throw new TypeError(
      `${label(arg, l)} is a typed array whose buffer was detached (transferred); it holds no data any more`,
    );
  }
  try {
    typedSlice.call(l.values, 0, 0);
  } catch {
    throw new RangeError(`${label(arg, l)} is out of bounds of its resizable ArrayBuffer (shrunk)`);
  }
}

/**
 * Two entries over the same memory would be counted twice in the norm and scaled twice (the
 * same array passed twice ends at ‖a‖ = 0.1 instead of 1), and overlapping views would change
 * the gradient's direction. Refused, with the two entries named. Views of one arena that do
 * not overlap are fine.
 *
 * Two SharedArrayBuffer objects can stand for the same memory (`structuredClone(sab)`, or a
 * shared WebAssembly.Memory's `buffer` read before and after it grew), always with the same
 * byte offsets: when a set holds views of more than one SharedArrayBuffer, each pair is tested
 * by flipping byte 0 of one (atomically, and flipped back at once) and looking at the other's.
 *
 * One map entry per buffer: the index of its only leaf, or the list once a second leaf shares
 * it — a list of 10^6 one-value arrays allocates nothing more per leaf (issue 25).
 */
function checkNoAliasing(arg: string, leaves: readonly Leaf[]): void {
  const byBuffer = new Map<ArrayBufferLike, number | number[]>();
  const sabs: ArrayBufferLike[] = [];
  let sharing = false;
  for (let i = 0; i < leaves.length; i++) {
    const v = leaves[i]!.values;
    if (v.byteLength === 0) continue;
    const buffer = isShared(v.buffer) ? sameSharedMemory(v.buffer, sabs) : v.buffer;
    const seen = byBuffer.get(buffer);
    if (seen === undefined) byBuffer.set(buffer, i);
    else if (typeof seen === 'number') {
      byBuffer.set(buffer, [seen, i]);
      sharing = true;
    } else seen.push(i);
  }
  if (!sharing) return;
  for (const entry of byBuffer.values()) {
    if (typeof entry === 'number') continue;
    const list = entry.map((i) => {
      const v = leaves[i]!.values;
      return { start: v.byteOffset, end: v.byteOffset + v.byteLength, leaf: leaves[i]! };
    });
    list.sort((a, b) => a.start - b.start);
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1]!;
      const cur = list[i]!;
      if (cur.start < prev.end) {
        const same = cur.start === prev.start && cur.end === prev.end;
        throw new RangeError(
          `${label(arg, prev.leaf)} and ${label(arg, cur.leaf)} ${same ? 'are the same array' : 'overlap in memory'}: ` +
            'each gradient needs its own memory, or it would be counted and scaled twice',
        );
      }
    }
  }
}

const isShared = (b: ArrayBufferLike): boolean =>
  typeof SharedArrayBuffer !== 'undefined' && b instanceof SharedArrayBuffer;

/** The first of `seen` over the same memory as `b` (else `b`, added to `seen`). */
function sameSharedMemory(b: ArrayBufferLike, seen: ArrayBufferLike[]): ArrayBufferLike {
  for (const s of seen) {
    if (s === b) return s;
    const mine = new Uint8Array(b, 0, 1);
    const theirs = new Uint8Array(s, 0, 1);
    const before = Atomics.load(theirs, 0);
    Atomics.xor(mine, 0, 0xff);
    const after = Atomics.load(theirs, 0);
    Atomics.xor(mine, 0, 0xff);
    if (after !== before) return s;
  }
  seen.push(b);
  return b;
}

/** A single entry as a leaf, or `false` when `x` is a container (list / record). */
function entryLeafOrUndefined(arg: string, x: unknown): Leaf | undefined | false {
  if (isFloatArray(x)) return { name: '', values: genuine(arg, '', x), shape: [x.length] };
  if (isShapedEntry(x)) return shapedLeaf(arg, '', '', x);
  if (ArrayBuffer.isView(x)) throw badEntry(arg, '', x);
  return false;
}
