import { HEADER_BYTES, instantiate, registerArena, wasmModule } from './wasm.js';

export type ArenaDtype = 'float32' | 'float64';

/** Gradient buffers allocated by the library, in one block of memory. */
export interface GradientArena<T extends Float32Array | Float64Array = Float32Array | Float64Array> {
  /** One array per requested size, in order; fill them with gradients and clip them. */
  readonly arrays: T[];
  /** Whether the arrays view WebAssembly memory (the WASM kernels then run on them in place). */
  readonly wasm: boolean;
  /** Bytes reserved for the arrays (each starts on a 16-byte boundary). */
  readonly byteLength: number;
}

const ALIGN = 16;
const PAGE = 65536;
/** wasm32 memories are limited to 4 GiB (65536 pages). */
const MAX_PAGES = 65536;

/**
 * Allocates gradient buffers that the WASM kernels can use without copying: Float32Arrays
 * (or Float64Arrays) viewing the memory of a dedicated WebAssembly instance. Clipping
 * a user-owned array streams it through WASM memory in chunks; arena arrays are processed
 * where they lie, which saves the copies (see docs/performance.md for the difference).
 *
 * The memory never grows, so the arrays stay valid for the arena's lifetime; it is freed when
 * the arrays are no longer referenced. Where WebAssembly SIMD is unavailable the arrays are
 * ordinary typed arrays sharing one ArrayBuffer (`wasm: false`); everything still works.
 *
 * @example
 * const { arrays: [w, b] } = gradientArena([784 * 128, 128]);
 * w.set(gradW); b.set(gradB);
 * clipByGlobalNorm([w, b], 1);
 */
export function gradientArena(sizes: readonly number[], dtype: 'float32'): GradientArena<Float32Array>;
export function gradientArena(sizes: readonly number[], dtype: 'float64'): GradientArena<Float64Array>;
export function gradientArena(sizes: readonly number[]): GradientArena<Float32Array>;
export function gradientArena(sizes: readonly number[], dtype: ArenaDtype = 'float32'): GradientArena {
  if (!Array.isArray(sizes)) throw new TypeError(`sizes must be an array of non-negative integers, got ${typeof sizes}`);
  sizes.forEach((n: unknown, i) => {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
      throw new RangeError(`sizes[${i}] must be a non-negative integer, got ${String(n)}`);
    }
  });
  if (dtype !== 'float32' && dtype !== 'float64') {
    throw new RangeError(`dtype must be 'float32' or 'float64', got ${JSON.stringify(dtype)}`);
  }
  const bytesPer = dtype === 'float32' ? 4 : 8;
  const offsets: number[] = [];
  let end = HEADER_BYTES;
  for (const n of sizes) {
    offsets.push(end);
    end += Math.ceil((n * bytesPer) / ALIGN) * ALIGN;
  }
  const pages = Math.max(1, Math.ceil(end / PAGE));
  const mod = pages <= MAX_PAGES ? wasmModule() : null;
  let buffer: ArrayBuffer;
  let wasm = false;
  if (mod !== null) {
    const inst = instantiate(mod, pages);
    buffer = inst.memory.buffer;
    registerArena(buffer, inst);
    wasm = true;
  } else {
    buffer = new ArrayBuffer(end);
  }
  const Ctor = dtype === 'float32' ? Float32Array : Float64Array;
  const arrays = sizes.map((n, i) => new Ctor(buffer, offsets[i]!, n));
  return { arrays, wasm, byteLength: end - HEADER_BYTES };
}
