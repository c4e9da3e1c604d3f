import type { FloatArray } from '../types.js';
import { float32Factor, jsKernels, sumOfPowSums } from './js.js';
import type { FiniteMax, Kernels, PowSumMax } from './kernels.js';
import type { ThreadKernel, ThreadPool } from './threads.js';
import { wasmBase64, wasmSharedBase64 } from './wasm_binary.generated.js';

/** The functions kernels.wat exports (pointers are byte offsets into the instance's memory). */
interface WasmExports {
  pow2_f32(p: number, n: number): number;
  pow2_f64(p: number, n: number): number;
  pow1_f32(p: number, n: number): number;
  pow1_f64(p: number, n: number): number;
  finite_f32(p: number, n: number): number;
  finite_f64(p: number, n: number): number;
  scaled_f32(p: number, n: number, inv: number, k: number): number;
  scaled_f64(p: number, n: number, inv: number, k: number): number;
  scale_f32(p: number, n: number, s: number): void;
  scale_f64(p: number, n: number, s: number): void;
  clamp_f32(p: number, n: number, c: number): void;
  clamp_f64(p: number, n: number, c: number): void;
}

/** An instance of the module on one memory, with views of its result header. */
export interface WasmInstance {
  readonly ex: WasmExports;
  readonly memory: WebAssembly.Memory;
  /** header[0] = max, header[1] = NaN count, header[2] = ±Inf count (see kernels.wat). */
  readonly header: Float64Array;
}

/**
 * A call on a threaded arena's arrays goes to its threads when they hold at least this many
 * values in all; below, waking the workers and joining them costs about what it saves.
 */
export const PARALLEL_MIN = 1 << 16;

/** The pow kernel for Σ|x|^k (k = 1, 2) on float32 or float64 data. */
function powKernel(f32: boolean, k: 1 | 2): Extract<ThreadKernel, `pow${string}`> {
  return f32 ? (k === 2 ? 'pow2_f32' : 'pow1_f32') : k === 2 ? 'pow2_f64' : 'pow1_f64';
}

/**
 * p = ∞ through the Σ|x| kernel: the sum only tells whether a NaN is present (|x| ≥ 0, so no
 * ∞ − ∞), which is the p = ∞ contract of powSumMax (sum NaN or 0).
 */
function asInfinityNorm({ sum, max }: PowSumMax): PowSumMax {
  return { sum: sum !== sum ? NaN : 0, max };
}

/** Bytes reserved at address 0 for results; data starts after them, 16-byte aligned. */
export const HEADER_BYTES = 64;
/**
 * User arrays are streamed through a scratch buffer in WASM memory in chunks of this size:
 * small enough to stay in L2 between the copy and the kernel (so the DRAM traffic is the
 * same as a direct pass), large enough that the per-chunk call overhead is a few percent.
 */
export const CHUNK_BYTES = 1 << 16;
const PAGE = 65536;

/** Why the WASM kernels are unavailable (for `useKernels('wasm')`'s error), or undefined. */
let unavailable: string | undefined;
let compiled: WebAssembly.Module | null | undefined;
let compiledShared: WebAssembly.Module | null | undefined;

function decodeBase64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Compiles the kernels once, synchronously. Returns null (and never throws) when this engine
 * cannot run them: no WebAssembly, no SIMD (validate is false), or a refused synchronous
 * compile (browsers' main-thread size limit; the module is kept under 4 KiB to avoid it).
 */
export function wasmModule(wa: typeof WebAssembly | undefined = globalThis.WebAssembly): WebAssembly.Module | null {
  const cache = wa === globalThis.WebAssembly;
  if (cache && compiled !== undefined) return compiled;
  let mod: WebAssembly.Module | null = null;
  try {
    if (typeof wa !== 'object' || wa === null || typeof wa.Module !== 'function') {
      unavailable = 'WebAssembly is not available';
    } else {
      const bytes = decodeBase64(wasmBase64);
      if (!wa.validate(bytes)) unavailable = 'WebAssembly SIMD is not supported by this engine';
      else mod = new wa.Module(bytes);
    }
  } catch (e) {
    unavailable = `the WASM kernels could not be compiled: ${String(e)}`;
    mod = null;
  }
  if (cache) compiled = mod;
  return mod;
}

/** The kernels compiled for a shared memory (threaded arenas), or null where that fails. */
export function wasmSharedModule(): WebAssembly.Module | null {
  if (compiledShared === undefined) {
    try {
      compiledShared = wasmModule() === null ? null : new WebAssembly.Module(decodeBase64(wasmSharedBase64));
    } catch {
      compiledShared = null;
    }
  }
  return compiledShared;
}

/** Why the last attempt to load the WASM kernels failed (undefined if it did not). */
export function wasmUnavailableReason(): string | undefined {
  return unavailable;
}

/** Instantiates the kernels on a new memory of `pages` pages, result header at address 0. */
export function instantiate(
  mod: WebAssembly.Module,
  pages: number,
  wa: typeof WebAssembly = globalThis.WebAssembly,
  shared = false,
): WasmInstance {
  const memory = new wa.Memory({ initial: pages, maximum: pages, shared });
  const inst = new wa.Instance(mod, { env: { memory, header: 0 } });
  return {
    ex: inst.exports as unknown as WasmExports,
    memory,
    header: new Float64Array(memory.buffer, 0, HEADER_BYTES / 8),
  };
}

/** A gradient arena's instance, and its worker threads when it has some. */
interface ArenaEntry {
  readonly inst: WasmInstance;
  readonly pool: ThreadPool | undefined;
}

/**
 * Gradient arenas register their memory's buffer here, so kernels run on their arrays in
 * place. A WeakMap: an arena nobody references is collected with its memory.
 */
const arenas = new WeakMap<ArrayBufferLike, ArenaEntry>();

export function registerArena(buffer: ArrayBufferLike, inst: WasmInstance, pool?: ThreadPool): void {
  arenas.set(buffer, { inst, pool });
}

/** The thread pool of the arena an array views, if it has one (tests reach its hooks through this). @internal */
export function arenaPool(x: FloatArray): ThreadPool | undefined {
  return arenas.get(x.buffer)?.pool;
}

/**
 * Runs a kernel in place on arrays of one arena (all of one element type): across the arena's
 * threads when it has running workers and the arrays hold at least PARALLEL_MIN values, else
 * array by array on the calling thread. Returns the kernel's results summed and the largest
 * max it left in the header.
 */
function onArena(
  entry: ArenaEntry,
  kernel: ThreadKernel,
  xs: readonly Float32Array[] | readonly Float64Array[],
  arg: number,
): { sum: number; max: number } {
  const { inst, pool } = entry;
  const fn = inst.ex[kernel] as (p: number, n: number, arg: number) => number | undefined;
  const self = (p: number, n: number) => fn(p, n, arg) ?? 0;
  const selfMax = () => inst.header[0]!;
  if (pool !== undefined) {
    let total = 0;
    for (const x of xs) total += x.length;
    if (total >= PARALLEL_MIN && pool.running() > 0) return pool.run(kernel, xs, arg, self, selfMax);
  }
  let sum = 0;
  let max = 0;
  for (const x of xs) {
    sum += self(x.byteOffset, x.length);
    const m = selfMax();
    if (m > max) max = m;
  }
  return { sum, max };
}

/**
 * The arena shared by every array of a set, when they all view one arena and have one element
 * type (the case the threaded set kernels handle in one dispatch), else undefined.
 */
function sharedArena(xs: readonly FloatArray[]): { entry: ArenaEntry; f32: boolean } | undefined {
  const first = xs[0];
  if (first === undefined) return undefined;
  const entry = arenas.get(first.buffer);
  if (entry?.pool === undefined) return undefined;
  const f32 = first instanceof Float32Array;
  for (const x of xs) if (x.buffer !== first.buffer || x instanceof Float32Array !== f32) return undefined;
  return { entry, f32 };
}

/**
 * The WASM SIMD kernels, on a fresh instance with its own scratch memory. Arrays that view an
 * arena's memory are processed in place; any other array is streamed through the scratch
 * buffer in CHUNK_BYTES pieces (copied in, and for scale / clamp copied back).
 * General p (not 1, 2 or ∞) uses the JS kernels: a vectorised pow is not worth its code size
 * for a rarely used norm, and the pass is compute-bound anyway.
 * Returns null when WebAssembly SIMD is unavailable. `chunkBytes` sizes the scratch buffer
 * (for tuning and tests; the default suits the L2 caches of current CPUs).
 */
export function loadWasmKernels(
  wa: typeof WebAssembly | undefined = globalThis.WebAssembly,
  chunkBytes = CHUNK_BYTES,
): Kernels | null {
  if (!Number.isInteger(chunkBytes) || chunkBytes < 64 || chunkBytes % 16 !== 0) {
    throw new RangeError(`chunkBytes must be a positive multiple of 16 (≥ 64), got ${chunkBytes}`);
  }
  const mod = wasmModule(wa);
  if (mod === null || wa === undefined) return null;
  let own: WasmInstance;
  try {
    own = instantiate(mod, Math.ceil((HEADER_BYTES + chunkBytes) / PAGE), wa);
  } catch (e) {
    unavailable = `the WASM kernels could not be instantiated: ${String(e)}`;
    return null;
  }
  const { ex, header, memory } = own;
  const s32 = new Float32Array(memory.buffer, HEADER_BYTES, chunkBytes / 4);
  const s64 = new Float64Array(memory.buffer, HEADER_BYTES, chunkBytes / 8);

  /** Copies x[i, i + len) into the scratch buffer. */
  function stage(x: FloatArray, i: number, len: number): void {
    if (x instanceof Float32Array) s32.set(i === 0 && len === x.length ? x : x.subarray(i, i + len));
    else s64.set(i === 0 && len === x.length ? x : x.subarray(i, i + len));
  }
  function unstage(x: FloatArray, i: number, len: number): void {
    if (x instanceof Float32Array) x.set(len === s32.length ? s32 : s32.subarray(0, len), i);
    else x.set(len === s64.length ? s64 : s64.subarray(0, len), i);
  }
  const chunkOf = (x: FloatArray) => (x instanceof Float32Array ? s32.length : s64.length);

  /**
   * Runs an element-wise in-place kernel over x: directly on an arena array, otherwise chunk by
   * chunk through the scratch buffer (copied in, transformed, copied back).
   */
  function inPlace(x: FloatArray, kernel: ThreadKernel, arg: number): void {
    const arena = arenas.get(x.buffer);
    if (arena !== undefined) {
      onArena(arena, kernel, [x] as Float32Array[], arg);
      return;
    }
    const fn = ex[kernel] as (p: number, n: number, arg: number) => void;
    const chunk = chunkOf(x);
    for (let i = 0; i < x.length; i += chunk) {
      const len = Math.min(chunk, x.length - i);
      stage(x, i, len);
      fn(HEADER_BYTES, len, arg);
      unstage(x, i, len);
    }
  }

  /** Σ|x|^k (k = 1, 2) and max |x| via the pow kernels. */
  function powSum(x: FloatArray, k: 1 | 2): PowSumMax {
    const f32 = x instanceof Float32Array;
    const kernel = powKernel(f32, k);
    const arena = arenas.get(x.buffer);
    if (arena !== undefined) return onArena(arena, kernel, [x] as Float32Array[], 0);
    const fn = ex[kernel];
    const chunk = chunkOf(x);
    let sum = 0;
    let max = 0;
    for (let i = 0; i < x.length; i += chunk) {
      const len = Math.min(chunk, x.length - i);
      stage(x, i, len);
      sum += fn(HEADER_BYTES, len);
      const m = header[0]!;
      if (m > max) max = m;
    }
    return { sum, max };
  }

  return {
    name: 'wasm',

    powSumMax(x, p) {
      if (p === 2) return powSum(x, 2);
      if (p === 1) return powSum(x, 1);
      if (p === Infinity) return asInfinityNorm(powSum(x, 1));
      return jsKernels.powSumMax(x, p);
    },

    finiteMax(x): FiniteMax {
      const f32 = x instanceof Float32Array;
      const arena = arenas.get(x.buffer);
      if (arena !== undefined) {
        const { ex: e, header: h } = arena.inst;
        const maxFinite = (f32 ? e.finite_f32 : e.finite_f64)(x.byteOffset, x.length);
        return { maxFinite, nan: h[1]!, inf: h[2]! };
      }
      const fn = f32 ? ex.finite_f32 : ex.finite_f64;
      const chunk = chunkOf(x);
      let maxFinite = 0;
      let nan = 0;
      let inf = 0;
      for (let i = 0; i < x.length; i += chunk) {
        const len = Math.min(chunk, x.length - i);
        stage(x, i, len);
        const m = fn(HEADER_BYTES, len);
        if (m > maxFinite) maxFinite = m;
        nan += header[1]!;
        inf += header[2]!;
      }
      return { maxFinite, nan, inf };
    },

    scaledPowSum(x, p, ref) {
      const inv = 1 / ref;
      // 1/ref overflows for float64 refs below ~5.6e-309; the JS kernel divides instead.
      if ((p !== 2 && p !== 1) || !(inv < Infinity)) return jsKernels.scaledPowSum(x, p, ref);
      const f32 = x instanceof Float32Array;
      const arena = arenas.get(x.buffer);
      if (arena !== undefined)
        return (f32 ? arena.inst.ex.scaled_f32 : arena.inst.ex.scaled_f64)(x.byteOffset, x.length, inv, p);
      const fn = f32 ? ex.scaled_f32 : ex.scaled_f64;
      const chunk = chunkOf(x);
      let sum = 0;
      for (let i = 0; i < x.length; i += chunk) {
        const len = Math.min(chunk, x.length - i);
        stage(x, i, len);
        sum += fn(HEADER_BYTES, len, inv, p);
      }
      return sum;
    },

    powSumMaxSet(xs, p) {
      const shared = p === 2 || p === 1 || p === Infinity ? sharedArena(xs) : undefined;
      if (shared === undefined) return sumOfPowSums(this, xs, p);
      const r = onArena(shared.entry, powKernel(shared.f32, p === 2 ? 2 : 1), xs as Float32Array[], 0);
      return p === Infinity ? asInfinityNorm(r) : r;
    },

    scaleSet(xs, s) {
      const shared = sharedArena(xs);
      const f = shared?.f32 === true ? float32Factor(s) : s;
      if (shared === undefined || f === undefined) {
        for (const x of xs) this.scale(x, s);
        return;
      }
      onArena(shared.entry, shared.f32 ? 'scale_f32' : 'scale_f64', xs as Float32Array[], f);
    },

    scale(x, s) {
      if (x instanceof Float32Array) {
        const f = float32Factor(s);
        if (f === undefined) return jsKernels.scale(x, s);
        inPlace(x, 'scale_f32', f);
      } else {
        inPlace(x, 'scale_f64', s);
      }
    },

    clamp(x, c) {
      // A float32 array compares against fround(c); no float32 value lies strictly between
      // fround(c) and c, so every element ends where the float64 comparison puts it.
      inPlace(x, x instanceof Float32Array ? 'clamp_f32' : 'clamp_f64', c);
    },
  };
}
