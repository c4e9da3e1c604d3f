import { jsKernels } from '../kernels/js.js';
import type { FiniteMax, Kernels, PowSumMax } from '../kernels/kernels.js';
import { wasmModule } from '../kernels/wasm.js';
import type { FloatArray } from '../types.js';
import { wasmMemory } from './backend_internals.js';
import { heapKernelsBase64 } from './heap_kernels_wasm.generated.js';

/**
 * gradclip's WASM SIMD kernels (kernels/kernels.wat) instantiated on the tfjs wasm backend's
 * own memory, so they run on tensors in place: no copy in or out of another module's memory.
 * kernels.wat imports its memory for exactly this kind of reuse (gradient arenas).
 *
 * The module returns secondary results in a 64-byte header at an address it imports (0 here)
 * of the memory it runs on. In the tfjs heap those bytes belong to the emscripten runtime (unused in practice:
 * static data starts at 1024), so every call saves them first and restores them after; the
 * calls are synchronous, so nothing else can observe the header in between.
 */
interface HeapExports {
  pow1_f32(p: number, n: number): number;
  finite_f32(p: number, n: number): number;
  scaled_f32(p: number, n: number, inv: number, k: number): number;
  scale_f32(p: number, n: number, s: number): void;
  clamp_f32(p: number, n: number, c: number): void;
}

const HEADER_BYTES = 64;

/** The core's kernels on the heap, plus the out-of-place scale of heap_kernels.wat. */
export interface HeapKernels extends Kernels {
  /** dst ← src · s, both float32 views of the heap, same length. */
  scaleInto(src: Float32Array, dst: Float32Array, s: number): void;
}

const cache = new WeakMap<object, HeapKernels | null>();

function decode(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** heap_kernels.wat's exports. */
interface OwnExports {
  scale_into(src: number, dst: number, n: number, s: number): void;
  sumsq_max(p: number, n: number): number;
  last_max(): number;
}

/** Below this largest |x|, float32 squares could underflow: sumsq_max defers to the exact path. */
const SUMSQ_MIN_MAX = 2 ** -50;

function heapKernels(memory: WebAssembly.Memory, ex: HeapExports, own: OwnExports): HeapKernels {
  const onHeap = (x: FloatArray): x is Float32Array => x instanceof Float32Array && x.buffer === memory.buffer;
  /** Runs f with the header bytes saved; returns f's result and the header as it left it. */
  const call = <R>(f: () => R): { r: R; header: Float64Array } => {
    const bytes = new Uint8Array(memory.buffer, 0, HEADER_BYTES);
    const saved = bytes.slice();
    try {
      const r = f();
      return { r, header: new Float64Array(bytes.slice().buffer) };
    } finally {
      new Uint8Array(memory.buffer, 0, HEADER_BYTES).set(saved);
    }
  };
  return {
    name: 'wasm-tfjs-heap',
    powSumMax(x, p): PowSumMax {
      if (onHeap(x) && p === 2) {
        const sum = own.sumsq_max(x.byteOffset, x.length);
        const max = own.last_max();
        // A non-finite sum sends typedNormStats to its exact two-pass path (finiteMax,
        // scaledPowSum); so does tiny data, where float32 squares lose precision.
        return { sum: max > 0 && max < SUMSQ_MIN_MAX ? Infinity : sum, max };
      }
      if (!onHeap(x) || p !== 1) return jsKernels.powSumMax(x, p);
      const { r, header } = call(() => ex.pow1_f32(x.byteOffset, x.length));
      return { sum: r, max: header[0]! };
    },
    finiteMax(x): FiniteMax {
      if (!onHeap(x)) return jsKernels.finiteMax(x);
      const { r, header } = call(() => ex.finite_f32(x.byteOffset, x.length));
      return { maxFinite: r, nan: header[1]!, inf: header[2]! };
    },
    scaledPowSum(x, p, ref) {
      if (!onHeap(x) || (p !== 1 && p !== 2)) return jsKernels.scaledPowSum(x, p, ref);
      return call(() => ex.scaled_f32(x.byteOffset, x.length, 1 / ref, p)).r;
    },
    scale(x, s) {
      if (!onHeap(x)) return jsKernels.scale(x, s);
      ex.scale_f32(x.byteOffset, x.length, s);
    },
    clamp(x, c) {
      if (!onHeap(x)) return jsKernels.clamp(x, c);
      ex.clamp_f32(x.byteOffset, x.length, c);
    },
    scaleInto(src, dst, s) {
      if (!onHeap(src) || !onHeap(dst) || src.length !== dst.length)
        throw new RangeError('scaleInto: two heap views of the same length');
      own.scale_into(src.byteOffset, dst.byteOffset, src.length, s);
    },
  };
}

/**
 * The SIMD kernels on this wasm backend's heap, or undefined where they cannot run (no
 * WebAssembly SIMD, a threaded build's shared memory, an unrecognised backend layout); the
 * callers then use the plain-JS kernels on the same heap views.
 */
export function wasmHeapKernels(backend: unknown): HeapKernels | undefined {
  if (typeof backend !== 'object' || backend === null) return undefined;
  const b = backend;
  if (cache.has(b)) return cache.get(b) ?? undefined;
  let k: HeapKernels | null = null;
  try {
    const memory = wasmMemory(b);
    const mod = wasmModule();
    if (memory !== undefined && mod !== null) {
      const env = { env: { memory, header: 0 } };
      const inst = new WebAssembly.Instance(mod, env);
      const own = new WebAssembly.Instance(new WebAssembly.Module(decode(heapKernelsBase64)), env);
      k = heapKernels(memory, inst.exports as unknown as HeapExports, own.exports as unknown as OwnExports);
    }
  } catch {
    k = null;
  }
  cache.set(b, k);
  return k ?? undefined;
}
