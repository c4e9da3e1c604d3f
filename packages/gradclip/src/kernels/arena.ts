import { integerAtLeast, knownOptions, oneOf } from '../validate.js';
import { startPool, threadsUnavailableReason, type ThreadPool } from './threads.js';
import { HEADER_BYTES, instantiate, registerArena, wasmModule, wasmSharedModule } from './wasm.js';

export type ArenaDtype = 'float32' | 'float64';

export interface GradientArenaOptions {
  /** Element type of the arrays (default 'float32'). */
  dtype?: ArenaDtype;
  /**
   * Threads that share the work on large arrays (≥ 65,536 values), the calling thread
   * included; default 1. With more than 1 the arena's memory is shared with `threads − 1`
   * worker threads, which start in the background (see `ready`). Node.js ≥ 20.16 only: anywhere
   * else `threads > 1` throws an Error saying why. Clipping is memory-bound, so more threads
   * than memory channels rarely help; `os.availableParallelism()` is a sensible upper bound.
   */
  threads?: number;
}

/** Gradient buffers allocated by the library, in one block of memory. */
export interface GradientArena<T extends Float32Array | Float64Array = Float32Array | Float64Array> {
  /** One array per requested size, in order; fill them with gradients and clip them. */
  readonly arrays: T[];
  /** Whether the arrays view WebAssembly memory (the WASM kernels then run on them in place). */
  readonly wasm: boolean;
  /** Bytes reserved for the arrays (each starts on a 16-byte boundary). */
  readonly byteLength: number;
  /** Threads requested (the calling thread included). */
  readonly threads: number;
  /**
   * Resolves with the number of threads in use once the workers have started (or failed to);
   * until then every kernel runs on the calling thread. 1 for an arena without workers.
   */
  readonly ready: Promise<number>;
  /**
   * Stops the worker threads (a no-op without them). The arrays stay valid and are clipped on
   * the calling thread from then on. Workers never keep a process alive, and are stopped when
   * the arena's memory is garbage-collected, so calling this is optional.
   */
  dispose(): void;
}

/** Stops the workers of arenas whose memory was collected without dispose(). */
const reaper =
  typeof FinalizationRegistry === 'function' ? new FinalizationRegistry<ThreadPool>((pool) => pool.dispose()) : undefined;

const ALIGN = 16;
const PAGE = 65536;
/** wasm32 memories are limited to 4 GiB (65536 pages). */
const MAX_PAGES = 65536;
/** More workers than this cannot help a memory-bound loop on any current machine. */
const MAX_THREADS = 256;

/**
 * Allocates gradient buffers that the WASM kernels can use without copying: Float32Arrays
 * (or Float64Arrays) viewing the memory of a dedicated WebAssembly instance. Clipping
 * a user-owned array streams it through WASM memory in chunks; arena arrays are processed
 * where they lie, which saves the copies (see docs/performance.md for the difference).
 * With `threads > 1` (Node.js), large arrays are also split across worker threads.
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
export function gradientArena(sizes: readonly number[], dtype: 'float64' | (GradientArenaOptions & { dtype: 'float64' })): GradientArena<Float64Array>;
export function gradientArena(sizes: readonly number[], dtype?: 'float32' | (GradientArenaOptions & { dtype?: 'float32' })): GradientArena<Float32Array>;
export function gradientArena(sizes: readonly number[], options?: ArenaDtype | GradientArenaOptions): GradientArena;
export function gradientArena(sizes: readonly number[], options: ArenaDtype | GradientArenaOptions = {}): GradientArena {
  if (!Array.isArray(sizes)) throw new TypeError(`sizes must be an array of non-negative integers, got ${typeof sizes}`);
  sizes.forEach((n: unknown, i) => {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
      throw new RangeError(`sizes[${i}] must be a non-negative integer, got ${String(n)}`);
    }
  });
  const opts: GradientArenaOptions = typeof options === 'string' ? { dtype: options } : options;
  knownOptions('options', opts, ['dtype', 'threads']);
  const dtype = oneOf('dtype', opts.dtype ?? 'float32', ['float32', 'float64']);
  const threads = integerAtLeast('threads', opts.threads ?? 1, 1);
  if (threads > MAX_THREADS) throw new RangeError(`threads must be at most ${MAX_THREADS}, got ${threads}`);
  const bytesPer = dtype === 'float32' ? 4 : 8;
  const offsets: number[] = [];
  // One 64-byte result header per thread before the arrays.
  let end = HEADER_BYTES * threads;
  for (const n of sizes) {
    offsets.push(end);
    end += Math.ceil((n * bytesPer) / ALIGN) * ALIGN;
  }
  const pages = Math.max(1, Math.ceil(end / PAGE));
  if (threads > 1) {
    const why =
      threadsUnavailableReason() ??
      (pages > MAX_PAGES ? `the arrays need ${end} bytes, over the 4 GiB of a WebAssembly memory` : undefined) ??
      (wasmSharedModule() === null ? 'WebAssembly SIMD with shared memory is not available' : undefined);
    if (why !== undefined) throw new Error(`gradientArena: threads = ${threads} is not possible here: ${why}`);
  }
  const mod = pages > MAX_PAGES ? null : threads > 1 ? wasmSharedModule() : wasmModule();
  let buffer: ArrayBufferLike;
  let pool: ThreadPool | undefined;
  if (mod !== null) {
    const inst = instantiate(mod, pages, WebAssembly, threads > 1);
    buffer = inst.memory.buffer;
    if (threads > 1) {
      pool = startPool(mod, inst.memory, threads - 1, (i) => HEADER_BYTES * (i + 1));
      reaper?.register(buffer, pool);
    }
    registerArena(buffer, inst, pool);
  } else {
    buffer = new ArrayBuffer(end);
  }
  const Ctor = dtype === 'float32' ? Float32Array : Float64Array;
  const arrays = sizes.map((n, i) => new Ctor(buffer, offsets[i]!, n));
  return {
    arrays,
    wasm: mod !== null,
    byteLength: end - HEADER_BYTES * threads,
    threads,
    ready: pool?.ready ?? Promise.resolve(1),
    dispose: () => pool?.dispose(),
  };
}
