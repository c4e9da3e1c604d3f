import { integerAtLeast, knownOptions, oneOf } from '../validate.js';
import { startPool, threadsUnavailableReason, type PoolStopper, type ThreadPool } from './threads.js';
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
   * Stops the worker threads now (a no-op without them; calling it again does nothing). The
   * arrays stay valid and are clipped on the calling thread from then on. The memory itself is
   * freed when neither the arena nor any of its arrays is referenced any more (a WebAssembly
   * memory cannot be released while a view of it exists). An arena collected without dispose()
   * stops its workers then, and workers never keep a process alive, so calling this is optional;
   * it frees the threads' stacks and CPU sooner.
   */
  dispose(): void;
}

/**
 * Stops the workers of arenas whose memory was collected without dispose(). The registry holds
 * its values strongly, so the value is the pool's stopper, which reaches the workers and the
 * pool's control block but never the memory: were the memory reachable from it, the memory
 * would never be collected and the entry never run (issue 12, item 12: every threaded arena
 * kept its memory for ever, ~260 MB of RSS per 256 MiB arena, even after dispose()).
 * The stopper is also the unregister token (held weakly), so dispose() drops the entry.
 */
const reaper =
  typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry<PoolStopper>((stopper) => stopper.stop('collected'))
    : undefined;

/**
 * Live arenas with WebAssembly memory, for the error when the engine refuses another memory
 * (each memory reserves its own address space: V8 on 64-bit reserves ~10 GiB per memory,
 * whatever its size, and refuses the ~13,000th live one). Counted down when collected.
 */
let liveArenas = 0;
const counter =
  typeof FinalizationRegistry === 'function' ? new FinalizationRegistry<number>(() => liveArenas--) : undefined;

/** Live arenas with WebAssembly memory (created and not yet garbage-collected). @internal */
export function liveArenaCount(): number {
  return liveArenas;
}

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
 * neither the arena nor its arrays are referenced any more. Each arena holds its own
 * WebAssembly memory and engines limit how many can be alive at once (V8 on 64-bit: about
 * 13,000, whatever their size; the next one throws a RangeError saying so), so allocate one
 * arena for a model's gradients and reuse it across steps. Where WebAssembly SIMD is
 * unavailable the arrays are ordinary typed arrays sharing one ArrayBuffer (`wasm: false`);
 * everything still works.
 *
 * @example
 * const { arrays: [w, b] } = gradientArena([784 * 128, 128]);
 * w.set(gradW); b.set(gradB);
 * clipByGlobalNorm([w, b], 1);
 */
export function gradientArena(
  sizes: readonly number[],
  dtype: 'float64' | (GradientArenaOptions & { dtype: 'float64' }),
): GradientArena<Float64Array>;
export function gradientArena(
  sizes: readonly number[],
  dtype?: 'float32' | (GradientArenaOptions & { dtype?: 'float32' }),
): GradientArena<Float32Array>;
export function gradientArena(sizes: readonly number[], options?: ArenaDtype | GradientArenaOptions): GradientArena;
export function gradientArena(
  sizes: readonly number[],
  options: ArenaDtype | GradientArenaOptions = {},
): GradientArena {
  if (!Array.isArray(sizes))
    throw new TypeError(`sizes must be an array of non-negative integers, got ${typeof sizes}`);
  sizes.forEach((n: unknown, i) => {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
      throw new RangeError(`sizes[${i}] must be a non-negative integer, got ${String(n)}`);
    }
  });
  const opts: GradientArenaOptions = typeof options === 'string' ? { dtype: options } : options;
  knownOptions('options', opts, ['dtype', 'threads']);
  // Only a missing option means the default: null is refused like any other wrong value.
  const dtype = oneOf('dtype', opts.dtype === undefined ? 'float32' : opts.dtype, ['float32', 'float64']);
  const threads = integerAtLeast('threads', opts.threads === undefined ? 1 : opts.threads, 1);
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
    let inst: ReturnType<typeof instantiate>;
    try {
      inst = instantiate(mod, pages, WebAssembly, threads > 1);
    } catch (e) {
      throw memoryRefused(pages * PAGE, e);
    }
    buffer = inst.memory.buffer;
    liveArenas++;
    counter?.register(buffer, 0);
    if (threads > 1) {
      pool = startPool(mod, inst.memory, threads - 1, (i) => HEADER_BYTES * (i + 1));
      reaper?.register(buffer, pool.stopper, pool.stopper);
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
    dispose: () => {
      if (pool === undefined) return;
      pool.dispose();
      reaper?.unregister(pool.stopper);
    },
  };
}

/**
 * The error for a WebAssembly memory the engine would not create: say what to do instead of
 * passing on V8's "WebAssembly.Memory(): could not allocate memory" (issue 12, item 17).
 */
function memoryRefused(bytes: number, cause: unknown): Error {
  const mib = (bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 2 : 0);
  return new RangeError(
    `gradientArena: the engine refused a WebAssembly memory of ${mib} MiB (${String(cause)}). ` +
      `${liveArenas} gradient arenas are alive: each one holds its own WebAssembly memory, and an engine can hold only so many ` +
      '(V8 reserves ~10 GiB of address space per memory and refuses more than about 13,000 live ones), or memory is exhausted. ' +
      'Reuse one arena across steps, drop the arenas you no longer need (and dispose() threaded ones) so they can be collected, ' +
      'or ask for less memory.',
    { cause },
  );
}
