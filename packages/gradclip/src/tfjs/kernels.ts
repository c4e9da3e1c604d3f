import * as tf from '@tensorflow/tfjs-core';
import { jsKernels, kernels, setKernels, type Kernels } from '../kernels/index.js';
import { mergeNormStats } from '../norm_stats.js';
import type { NormStats } from '../ops.js';
import { typedNormStats, typedOps } from '../typed_ops.js';
import { wasmHeapKernels } from './wasm_heap.js';

/**
 * Fused tfjs kernels for the cpu and wasm backends.
 *
 * Composed from tf ops, the norm statistics of a tensor take half a dozen passes (|x|, finite
 * mask, max, scaled power, two counts) and each scalar op costs ~5–10 µs of engine overhead.
 * These kernels do the work in one pass directly on the backend's own storage — the cpu
 * backend's typed arrays, the wasm backend's heap — using the core's typed-array statistics
 * (float64 accumulation, overflow-safe), so a tensor's statistics are exactly the core's.
 * Reading the backend's storage inside a kernel is what every built-in kernel does: it is not
 * a host sync (no readSync / dataSync), and on these two backends the data already lives on
 * the host.
 *
 * Kernel names carry a `Gradclip` prefix so they cannot collide with tfjs's own.
 */
export const NORM_STATS_KERNEL = 'GradclipNormStats';
export const SET_NORM_STATS_KERNEL = 'GradclipSetNormStats';
export const SCALE_KERNEL = 'GradclipScale';
export const SELECT_KERNEL = 'GradclipSelect';

type Backend = 'cpu' | 'wasm';

interface CpuBackendLike {
  data: { get(dataId: object): { values?: unknown } | undefined };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array): tf.TensorInfo;
  incRef(dataId: object): void;
}

interface WasmBackendLike {
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  dataIdMap: { get(dataId: object): { memoryOffset: number; refCount: number } | undefined };
  wasm: { HEAPU8: Uint8Array };
}

/**
 * Returns x itself as the output, sharing its data (no copy). The backend keeps a reference
 * count per buffer and frees it when the last tensor using it is disposed: the cpu backend
 * has incRef for this (its Identity kernel does the same); the wasm backend has the count in
 * its data map but no method, so it is incremented there.
 */
function share(backend: Backend, b: unknown, x: tf.TensorInfo): tf.TensorInfo {
  if (backend === 'cpu') (b as CpuBackendLike).incRef(x.dataId);
  else (b as WasmBackendLike).dataIdMap.get(x.dataId)!.refCount++;
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** The float32 values behind a tensor, read in place from the backend's storage. */
function valuesOf(backend: Backend, b: unknown, t: tf.TensorInfo): Float32Array {
  if (backend === 'cpu') {
    const v = (b as CpuBackendLike).data.get(t.dataId)?.values;
    if (!(v instanceof Float32Array)) throw new TypeError(`${SCALE_KERNEL}: expected float32 data`);
    return v;
  }
  return (b as WasmBackendLike).typedArrayFromHeap(t) as Float32Array;
}

function scalarsOut(backend: Backend, b: unknown, xs: readonly number[]): tf.TensorInfo[] {
  return xs.map((x) => {
    if (backend === 'cpu') return (b as CpuBackendLike).makeTensorInfo([], 'float32', Float32Array.of(x));
    const out = (b as WasmBackendLike).makeOutput([], 'float32');
    (b as WasmBackendLike).typedArrayFromHeap(out)[0] = x;
    return out;
  });
}

/**
 * Runs f with `k` as the core's active kernels, so the core's own `typedNormStats` (fast pass,
 * careful fallback for non-finite or extreme data) runs unchanged on the backend's memory.
 */
function withKernels<R>(k: Kernels, f: () => R): R {
  const previous = kernels();
  setKernels(k);
  try {
    return f();
  } finally {
    setKernels(previous);
  }
}

/** The kernels for a backend's storage: SIMD on the wasm heap where possible, else plain JS on views. */
function kernelsFor(backend: Backend, b: unknown): Kernels {
  return backend === 'wasm' ? (wasmHeapKernels(b) ?? jsKernels) : kernels();
}

/** Statistics of one float32 tensor, computed in place on the backend's storage. */
function statsOf(backend: Backend, b: unknown, t: tf.TensorInfo, p: number): NormStats<number> {
  const x = valuesOf(backend, b, t);
  return backend === 'wasm' ? withKernels(kernelsFor(backend, b), () => typedNormStats(x, p)) : typedNormStats(x, p);
}

/**
 * out[i] = x[i] · s into a new buffer in one pass. The core's kernels scale in place; a tensor
 * result needs a fresh buffer, and copy + in-place scale would be two passes over it.
 */
function scaleInto(x: Float32Array, out: Float32Array, s: number): void {
  for (let i = 0; i < x.length; i++) out[i] = x[i]! * s;
}

function register(backend: Backend): void {
  tf.registerKernel({
    kernelName: NORM_STATS_KERNEL,
    backendName: backend,
    kernelFunc: ({ inputs, backend: b, attrs }) => {
      const s = statsOf(backend, b, inputs.x as tf.TensorInfo, (attrs as { p: number }).p);
      return scalarsOut(backend, b, [s.ref, s.sum, s.nan, s.inf]);
    },
  });
  tf.registerKernel({
    kernelName: SET_NORM_STATS_KERNEL,
    backendName: backend,
    kernelFunc: ({ inputs, backend: b, attrs }) => {
      const p = (attrs as { p: number }).p;
      let acc: NormStats<number> = { p, ref: 0, sum: 0, nan: 0, inf: 0 };
      // Last tensor first: the rules then scale from the first tensor on, so the tensors read
      // last here are the first ones scaled, while they are still in the CPU cache.
      for (const t of Object.values(inputs).reverse()) acc = mergeNormStats(typedOps, acc, statsOf(backend, b, t as tf.TensorInfo, p));
      return scalarsOut(backend, b, [acc.ref, acc.sum, acc.nan, acc.inf]);
    },
  });
  tf.registerKernel({
    kernelName: SCALE_KERNEL,
    backendName: backend,
    kernelFunc: ({ inputs, backend: b }) => {
      const x = inputs.x as tf.TensorInfo;
      const s = valuesOf(backend, b, inputs.s as tf.TensorInfo)[0]!;
      // x · 1 = x for every value (NaN and ±Infinity included): share the data, no pass. This
      // is the common case — most steps are not clipped.
      if (s === 1) return share(backend, b, x);
      if (backend === 'cpu') {
        const cpu = b as CpuBackendLike;
        const src = valuesOf(backend, b, x);
        const out = new Float32Array(src.length);
        scaleInto(src, out, s);
        return cpu.makeTensorInfo(x.shape, 'float32', out);
      }
      const wb = b as WasmBackendLike;
      const out = wb.makeOutput(x.shape, 'float32');
      const o = wb.typedArrayFromHeap(out) as Float32Array;
      const src = valuesOf(backend, b, x);
      const heap = wasmHeapKernels(wb);
      if (heap === undefined) {
        scaleInto(src, o, s);
      } else {
        heap.scaleInto(src, o, s);
      }
      return out;
    },
  });
}

function registerSelect(backend: Backend): void {
  // c ? a : b for a bool scalar c. tf.where would broadcast c with Tile, and the cpu backend's
  // Tile reads its input through readSync; this kernel reads c in place instead and shares the
  // chosen tensor's data (no copy at all).
  tf.registerKernel({
    kernelName: SELECT_KERNEL,
    backendName: backend,
    kernelFunc: ({ inputs, backend: b }) => {
      const c = inputs.c as tf.TensorInfo;
      const pick = (backend === 'cpu'
        ? ((b as CpuBackendLike).data.get(c.dataId)!.values as Uint8Array)[0]
        : (b as WasmBackendLike).typedArrayFromHeap(c)[0]) !== 0
        ? (inputs.a as tf.TensorInfo)
        : (inputs.b as tf.TensorInfo);
      return share(backend, b, pick);
    },
  });
}

let registered = false;

/** Registers the fused kernels for the cpu and wasm backends (idempotent). */
export function registerGradclipKernels(): void {
  if (registered) return;
  registered = true;
  for (const b of ['cpu', 'wasm'] as const) {
    if (tf.getKernel(NORM_STATS_KERNEL, b) === undefined) register(b);
    if (tf.getKernel(SELECT_KERNEL, b) === undefined) registerSelect(b);
  }
}

let disabled = false;

/** Turns the fused kernels off (true) or back on, to compare them with the composed ops. */
export function setFusedKernelsDisabled(off: boolean): void {
  disabled = off;
}

/** Whether the active backend has the fused kernels (and they are not disabled). */
export function hasFusedKernels(): boolean {
  if (disabled) return false;
  registerGradclipKernels();
  return tf.getKernel(SCALE_KERNEL, tf.getBackend()) !== undefined;
}

function runScalars(name: string, inputs: tf.NamedTensorMap, p: number): tf.Scalar[] {
  return tf.engine().runKernel(name, inputs, { p } as unknown as tf.NamedAttrMap) as unknown as tf.Scalar[];
}

const float32 = (t: tf.Tensor): tf.Tensor => (t.dtype === 'float32' ? t : tf.cast(t, 'float32'));

/** Norm statistics of one tensor by the fused kernel. */
export function fusedNormStats(t: tf.Tensor, p: number): NormStats<tf.Scalar> {
  const [ref, sum, nan, inf] = runScalars(NORM_STATS_KERNEL, { x: float32(t) }, p);
  return { p, ref: ref!, sum: sum!, nan: nan!, inf: inf! };
}

/** Merged norm statistics of a whole set of tensors by one fused kernel call. */
export function fusedSetNormStats(ts: readonly tf.Tensor[], p: number): NormStats<tf.Scalar> {
  const inputs: tf.NamedTensorMap = {};
  ts.forEach((t, i) => (inputs[`x${i}`] = float32(t)));
  const [ref, sum, nan, inf] = runScalars(SET_NORM_STATS_KERNEL, inputs, p);
  return { p, ref: ref!, sum: sum!, nan: nan!, inf: inf! };
}

/**
 * c ? a : b for a bool scalar c and two tensors of the same shape and dtype, without a host
 * read: the fused kernel where registered (whatever `setFusedKernelsDisabled` says — it is
 * needed for correctness of the no-sync promise on cpu), tf.where elsewhere.
 */
export function select(c: tf.Scalar, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  registerGradclipKernels();
  const ok = a.dtype === b.dtype && tf.util.arraysEqual(a.shape, b.shape) && c.dtype === 'bool';
  if (ok && tf.getKernel(SELECT_KERNEL, tf.getBackend()) !== undefined) {
    return tf.engine().runKernel(SELECT_KERNEL, { c, a, b }, {}) as tf.Tensor;
  }
  return tf.where(c, a, b);
}

/** t · s by the fused kernel (float32 tensors; others go through tf.mul). */
export function fusedScale(t: tf.Tensor, s: tf.Scalar): tf.Tensor {
  if (t.dtype !== 'float32' || s.dtype !== 'float32') return tf.mul(t, s);
  return tf.engine().runKernel(SCALE_KERNEL, { x: t, s }, {}) as tf.Tensor;
}
