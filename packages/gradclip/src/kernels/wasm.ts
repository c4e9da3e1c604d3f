import type { FloatArray } from '../types.js';
import { float32Factor, jsKernels } from './js.js';
import type { FiniteMax, Kernels, PowSumMax } from './kernels.js';
import { wasmBase64 } from './wasm_binary.generated.js';

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

/** Why the last attempt to load the WASM kernels failed (undefined if it did not). */
export function wasmUnavailableReason(): string | undefined {
  return unavailable;
}

export function instantiate(
  mod: WebAssembly.Module,
  pages: number,
  wa: typeof WebAssembly = globalThis.WebAssembly,
): WasmInstance {
  const memory = new wa.Memory({ initial: pages, maximum: pages });
  const inst = new wa.Instance(mod, { env: { memory } });
  return {
    ex: inst.exports as unknown as WasmExports,
    memory,
    header: new Float64Array(memory.buffer, 0, HEADER_BYTES / 8),
  };
}

/**
 * Gradient arenas register their memory's buffer here, so kernels run on their arrays in
 * place. A WeakMap: an arena nobody references is collected with its memory.
 */
const arenas = new WeakMap<ArrayBufferLike, WasmInstance>();

export function registerArena(buffer: ArrayBufferLike, inst: WasmInstance): void {
  arenas.set(buffer, inst);
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
  function inPlace(x: FloatArray, inArena: boolean, fn: (ptr: number, n: number, arg: number) => void, arg: number): void {
    if (inArena) {
      fn(x.byteOffset, x.length, arg);
      return;
    }
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
    const arena = arenas.get(x.buffer);
    if (arena !== undefined) {
      const e = arena.ex;
      const sum = f32 ? (k === 2 ? e.pow2_f32 : e.pow1_f32)(x.byteOffset, x.length) : (k === 2 ? e.pow2_f64 : e.pow1_f64)(x.byteOffset, x.length);
      return { sum, max: arena.header[0]! };
    }
    const fn = f32 ? (k === 2 ? ex.pow2_f32 : ex.pow1_f32) : k === 2 ? ex.pow2_f64 : ex.pow1_f64;
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
      if (p === Infinity) {
        // Σ|x| is NaN exactly when some x is NaN (|x| ≥ 0, so no ∞ − ∞): the p = ∞ contract.
        const { sum, max } = powSum(x, 1);
        return { sum: sum !== sum ? NaN : 0, max };
      }
      return jsKernels.powSumMax(x, p);
    },

    finiteMax(x): FiniteMax {
      const f32 = x instanceof Float32Array;
      const arena = arenas.get(x.buffer);
      if (arena !== undefined) {
        const maxFinite = (f32 ? arena.ex.finite_f32 : arena.ex.finite_f64)(x.byteOffset, x.length);
        return { maxFinite, nan: arena.header[1]!, inf: arena.header[2]! };
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
      if (arena !== undefined) return (f32 ? arena.ex.scaled_f32 : arena.ex.scaled_f64)(x.byteOffset, x.length, inv, p);
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

    scale(x, s) {
      let fn: (p: number, n: number, s: number) => void;
      let factor: number;
      let e = ex;
      const arena = arenas.get(x.buffer);
      if (arena !== undefined) e = arena.ex;
      if (x instanceof Float32Array) {
        const f = float32Factor(s);
        if (f === undefined) return jsKernels.scale(x, s);
        fn = e.scale_f32;
        factor = f;
      } else {
        fn = e.scale_f64;
        factor = s;
      }
      inPlace(x, arena !== undefined, fn, factor);
    },

    clamp(x, c) {
      const arena = arenas.get(x.buffer);
      const e = arena === undefined ? ex : arena.ex;
      // A float32 array compares against fround(c); no float32 value lies strictly between
      // fround(c) and c, so every element ends where the float64 comparison puts it.
      const fn = x instanceof Float32Array ? e.clamp_f32 : e.clamp_f64;
      inPlace(x, arena !== undefined, fn, c);
    },
  };
}
