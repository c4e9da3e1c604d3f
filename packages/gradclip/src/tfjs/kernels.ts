import * as tf from '@tensorflow/tfjs-core';
import { jsKernels, kernels, setKernels, type Kernels } from '../kernels/index.js';
import { mergeNormStats } from '../norm_stats.js';
import type { NormStats, ScalarBlock, Scalars } from '../ops.js';
import { typedNormStats, typedOps } from '../typed_ops.js';
import {
  activeInternals,
  internalsOf,
  markUnusable,
  type BackendInternals,
  type HostInternals,
  type KernelBackend,
  type WebGLInternals,
  type WebGPUInternals,
} from './backend_internals.js';
import { wasmHeapKernels } from './wasm_heap.js';
import {
  DIALECTS,
  namedOutputs,
  traceBlock,
  webglScalars,
  webgpuScalars,
  type TracedBlock,
} from './scalar_programs.js';
import { webglEachNormStats, webglScale, webglSetNormStats } from './webgl_kernels.js';
import { webgpuEachNormStats, webgpuSetNormStats } from './webgpu_kernels.js';

/**
 * Fused tfjs kernels: the norm statistics of a set of tensors in one read of the data, and an
 * out-of-place scale, on each backend gradclip knows.
 *
 * Composed from tf ops, the overflow-safe statistics of a tensor take half a dozen passes (|x|,
 * finite mask, max, scaled power, two counts) and every op has a fixed cost (~5–10 µs of
 * engine overhead on cpu / wasm, a shader dispatch on webgl / webgpu).
 *
 *   cpu, wasm     one pass directly on the backend's own storage — the cpu backend's typed
 *                 arrays, the wasm backend's heap — with the core's typed-array statistics
 *                 (float64 accumulation, overflow-safe), so a tensor's statistics are exactly
 *                 the core's. Reading the backend's storage inside a kernel is what every
 *                 built-in kernel does: it is not a host sync, and there the data already lives
 *                 on the host. Scale and select also run here.
 *   webgl         fragment programs (webgl_kernels.ts), several tensors per program; the scale
 *                 is a program that keeps the tensor's texture layout (tf.mul would repack).
 *   webgpu        compute shaders (webgpu_kernels.ts), at most 7 tensors per dispatch; the
 *                 scale is tf.mul (already one pass).
 *                 On both GPU backends a program has one output, so the scale is one program
 *                 per tensor, and select is tf.where.
 *
 * Kernels are registered for a backend only after backend_internals.ts has checked that the
 * backend's internals look as expected; otherwise, and after any failure of a kernel on a
 * backend, the clippers use composed ops (tfjs/ops.ts). Kernel names carry a `Gradclip`
 * prefix so they cannot collide with tfjs's own.
 */
export const NORM_STATS_KERNEL = 'GradclipNormStats';
export const SET_NORM_STATS_KERNEL = 'GradclipSetNormStats';
export const SCALE_KERNEL = 'GradclipScale';
export const SELECT_KERNEL = 'GradclipSelect';
export const SCALARS_KERNEL = 'GradclipScalars';
export const EACH_NORM_STATS_KERNEL = 'GradclipEachNormStats';

/** Runs f with `k` as the core's active kernels (the core's typedNormStats then runs on the backend's memory). */
function withKernels<R>(k: Kernels, f: () => R): R {
  const previous = kernels();
  setKernels(k);
  try {
    return f();
  } finally {
    setKernels(previous);
  }
}

function host(name: KernelBackend, b: unknown): HostInternals {
  const h = internalsOf(name, b);
  if (h === undefined || (h.kind !== 'cpu' && h.kind !== 'wasm'))
    throw new Error(`gradclip: ${name} backend internals changed`);
  return h;
}

function float32Of(h: HostInternals, t: tf.TensorInfo): Float32Array {
  const v = h.float32(t);
  if (v === undefined) throw new TypeError(`${NORM_STATS_KERNEL}: expected float32 data`);
  return v;
}

/** Statistics of one float32 tensor, computed in place on the backend's storage. */
function statsOf(h: HostInternals, t: tf.TensorInfo, p: number): NormStats<number> {
  const x = float32Of(h, t);
  // The wasm heap: SIMD kernels instantiated on it, or plain JS on heap views.
  return h.kind === 'wasm'
    ? withKernels(wasmHeapKernels(h.backend) ?? jsKernels, () => typedNormStats(x, p))
    : typedNormStats(x, p);
}

function scalarsOut(h: HostInternals, xs: readonly number[]): tf.TensorInfo[] {
  return xs.map((x) => {
    const { info, view } = h.alloc([]);
    view[0] = x;
    return info;
  });
}

/**
 * out[i] = x[i] · s into a new buffer in one pass. The core's kernels scale in place; a tensor
 * result needs a fresh buffer, and copy + in-place scale would be two passes over it.
 */
function scaleInto(x: Float32Array, out: Float32Array, s: number): void {
  for (let i = 0; i < x.length; i++) out[i] = x[i]! * s;
}

function registerHost(name: 'cpu' | 'wasm'): void {
  tf.registerKernel({
    kernelName: NORM_STATS_KERNEL,
    backendName: name,
    kernelFunc: ({ inputs, backend: b, attrs }) => {
      const h = host(name, b);
      const s = statsOf(h, inputs.x as tf.TensorInfo, (attrs as { p: number }).p);
      return scalarsOut(h, [s.ref, s.sum, s.nan, s.inf]);
    },
  });
  tf.registerKernel({
    kernelName: SET_NORM_STATS_KERNEL,
    backendName: name,
    kernelFunc: ({ inputs, backend: b, attrs }) => {
      const h = host(name, b);
      const p = (attrs as { p: number }).p;
      let acc: NormStats<number> = { p, ref: 0, sum: 0, nan: 0, inf: 0 };
      // Last tensor first: the rules then scale from the first tensor on, so the tensors read
      // last here are the first ones scaled, while they are still in the CPU cache.
      for (const t of Object.values(inputs).reverse())
        acc = mergeNormStats(typedOps, acc, statsOf(h, t as tf.TensorInfo, p));
      return scalarsOut(h, [acc.ref, acc.sum, acc.nan, acc.inf]);
    },
  });
  tf.registerKernel({
    kernelName: SCALE_KERNEL,
    backendName: name,
    kernelFunc: ({ inputs, backend: b }) => {
      const h = host(name, b);
      const x = inputs.x as tf.TensorInfo;
      const s = float32Of(h, inputs.s as tf.TensorInfo)[0]!;
      // x · 1 = x for every value (NaN and ±Infinity included): share the data, no pass. This
      // is the common case — most steps are not clipped.
      if (s === 1) return h.share(x);
      const src = float32Of(h, x);
      const { info, view } = h.alloc(x.shape);
      const heap = h.kind === 'wasm' ? wasmHeapKernels(h.backend) : undefined;
      if (heap === undefined) scaleInto(src, view, s);
      else heap.scaleInto(src, view, s);
      return info;
    },
  });
  // c ? a : b for a bool scalar c. tf.where would broadcast c with Tile, and the cpu backend's
  // Tile reads its input through readSync; this kernel reads c in place instead and shares the
  // chosen tensor's data (no copy at all).
  tf.registerKernel({
    kernelName: SELECT_KERNEL,
    backendName: name,
    kernelFunc: ({ inputs, backend: b }) => {
      const h = host(name, b);
      return h.share((h.first(inputs.c as tf.TensorInfo) !== 0 ? inputs.a : inputs.b) as tf.TensorInfo);
    },
  });
}

function registerGpu(name: 'webgl' | 'webgpu'): void {
  if (name === 'webgl') {
    tf.registerKernel({
      kernelName: SCALE_KERNEL,
      backendName: name,
      kernelFunc: ({ inputs, backend: b }) => {
        const g = internalsOf(name, b);
        if (g?.kind !== 'webgl') throw new Error(`gradclip: ${name} backend internals changed`);
        return webglScale(g, inputs.x as tf.TensorInfo, inputs.s as tf.TensorInfo);
      },
    });
  }
  // Kernels with a webgl and a webgpu implementation over the tensors' TensorInfos and attrs.
  const gpuKernel = <A>(
    kernelName: string,
    webgl: (g: WebGLInternals, xs: tf.TensorInfo[], attrs: A) => tf.TensorInfo | tf.TensorInfo[],
    webgpu: (g: WebGPUInternals, xs: tf.TensorInfo[], attrs: A) => tf.TensorInfo | tf.TensorInfo[],
  ) =>
    tf.registerKernel({
      kernelName,
      backendName: name,
      kernelFunc: ({ inputs, backend: b, attrs }) => {
        const g = internalsOf(name, b);
        const xs = Object.values(inputs) as tf.TensorInfo[];
        const a = attrs as unknown as A;
        if (g?.kind === 'webgpu') return webgpu(g, xs, a);
        if (g?.kind === 'webgl') return webgl(g, xs, a);
        throw new Error(`gradclip: ${name} backend internals changed`);
      },
    });
  gpuKernel<{ p: number }>(
    EACH_NORM_STATS_KERNEL,
    (g, xs, { p }) => webglEachNormStats(g, xs, p),
    (g, xs, { p }) => webgpuEachNormStats(g, xs, p),
  );
  gpuKernel<{ traced: TracedBlock }>(
    SCALARS_KERNEL,
    (g, xs, { traced }) => webglScalars(g, traced, xs),
    (g, xs, { traced }) => webgpuScalars(g, traced, xs),
  );
  gpuKernel<{ p: number }>(
    SET_NORM_STATS_KERNEL,
    (g, xs, { p }) => webglSetNormStats(g, xs, p),
    (g, xs, { p }) => webgpuSetNormStats(g, xs, p),
  );
}

const registered = new Set<string>();

function ensureRegistered(name: string, i: BackendInternals): void {
  if (registered.has(name)) return;
  registered.add(name);
  if (i.kind === 'cpu' || i.kind === 'wasm') {
    if (tf.getKernel(NORM_STATS_KERNEL, name) === undefined) registerHost(i.kind);
  } else if (tf.getKernel(SET_NORM_STATS_KERNEL, name) === undefined) {
    registerGpu(i.kind);
  }
}

/**
 * Registers the fused kernels for the active backend if it passes the capability check
 * (idempotent; the clippers call it themselves).
 */
export function registerGradclipKernels(): void {
  const i = activeInternals();
  if (i !== undefined) ensureRegistered(tf.getBackend(), i);
}

let disabled = false;

/** Turns the fused kernels off (true) or back on, to compare them with the composed ops. */
export function setFusedKernelsDisabled(off: boolean): void {
  disabled = off;
}

/** Which fused kernels the active backend has: host (cpu, wasm), gpu (webgl, webgpu) or none. */
export function fusedKind(): 'host' | 'gpu' | undefined {
  if (disabled) return undefined;
  const i = activeInternals();
  if (i === undefined) return undefined;
  ensureRegistered(tf.getBackend(), i);
  return i.kind === 'cpu' || i.kind === 'wasm' ? 'host' : 'gpu';
}

/** Whether the active backend has the fused kernels (and they are not disabled). */
export function hasFusedKernels(): boolean {
  return fusedKind() !== undefined;
}

const float32 = (t: tf.Tensor): tf.Tensor => (t.dtype === 'float32' ? t : tf.cast(t, 'float32'));

/**
 * Runs a statistics kernel; a failure (the backend's internals differ after all) marks the
 * backend unusable, so this and every later call use the composed ops instead.
 */
function runStats(
  kernel: string,
  inputs: tf.NamedTensorMap,
  p: number,
  composed: () => NormStats<tf.Scalar>,
): NormStats<tf.Scalar> {
  let out: tf.Tensor | tf.Tensor[];
  try {
    out = tf.engine().runKernel(kernel, inputs, { p } as unknown as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[];
  } catch (e) {
    if (e instanceof TypeError) throw e;
    markUnusable(tf.backend());
    return composed();
  }
  // GPU kernels on webgl return the four statistics as one [4] vector: its slices are shallow.
  const [ref, sum, nan, inf] = Array.isArray(out) ? out : tf.unstack(out);
  return { p, ref: ref as tf.Scalar, sum: sum as tf.Scalar, nan: nan as tf.Scalar, inf: inf as tf.Scalar };
}

/** Norm statistics of one tensor by the fused kernel; `composed` computes them if the kernel fails. */
export function fusedNormStats(
  t: tf.Tensor,
  p: number,
  composed: () => NormStats<tf.Scalar> = failed,
): NormStats<tf.Scalar> {
  if (t.size === 0) return zeroStats(p);
  if (fusedKind() === 'gpu') return runStats(SET_NORM_STATS_KERNEL, { x0: float32(t) }, p, composed);
  return runStats(NORM_STATS_KERNEL, { x: float32(t) }, p, composed);
}

/** Merged norm statistics of a whole set of tensors by one fused kernel call. */
export function fusedSetNormStats(
  ts: readonly tf.Tensor[],
  p: number,
  composed: () => NormStats<tf.Scalar> = failed,
): NormStats<tf.Scalar> {
  const nonEmpty = ts.filter((t) => t.size > 0);
  if (nonEmpty.length === 0) return zeroStats(p);
  const inputs: tf.NamedTensorMap = {};
  nonEmpty.forEach((t, i) => (inputs[`x${i}`] = float32(t)));
  return runStats(SET_NORM_STATS_KERNEL, inputs, p, composed);
}

function failed(): never {
  throw new Error('gradclip: fused kernel failed');
}

/** Statistics of no values: the norm of the empty set is 0. */
function zeroStats(p: number): NormStats<tf.Scalar> {
  const z = tf.scalar(0);
  return { p, ref: z, sum: z, nan: z, inf: z };
}

/**
 * c ? a : b for a bool scalar c and two tensors of the same shape and dtype, without a host
 * read: the fused kernel where registered (whatever `setFusedKernelsDisabled` says — it is
 * needed for correctness of the no-sync promise on cpu), tf.where elsewhere.
 */
export function select(c: tf.Scalar, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  registerGradclipKernels();
  const ok = a.dtype === b.dtype && tf.util.arraysEqual(a.shape, b.shape) && c.dtype === 'bool';
  if (ok && tf.getKernel(SELECT_KERNEL, tf.getBackend()) !== undefined && activeInternals() !== undefined) {
    return tf.engine().runKernel(SELECT_KERNEL, { c, a, b }, {}) as tf.Tensor;
  }
  return tf.where(c, a, b);
}

/**
 * t · s: the fused kernel on cpu / wasm (shares the data when s = 1) and webgl (keeps t's
 * texture layout), tf.mul elsewhere (webgpu's own multiply is already one pass).
 */
export function fusedScale(t: tf.Tensor, s: tf.Scalar): tf.Tensor {
  if (t.dtype !== 'float32' || s.dtype !== 'float32' || fusedKind() === undefined) return tf.mul(t, s);
  if (tf.getKernel(SCALE_KERNEL, tf.getBackend()) === undefined) return tf.mul(t, s);
  return tf.engine().runKernel(SCALE_KERNEL, { x: t, s }, {}) as tf.Tensor;
}

/**
 * A scalar block (`runScalars`) as GPU programs on webgl / webgpu (scalar_programs.ts): one
 * program per output type on webgl, one dispatch per output on webgpu, instead of one per
 * operation. `opByOp` runs the block with tf ops: on other backends, for blocks with more
 * inputs than a program can bind, and after a failure (which marks the backend unusable).
 */
export function fusedScalars<I extends string, J extends string, O extends string, P extends string>(
  x: Scalars<tf.Scalar, tf.Scalar, I, J>,
  block: ScalarBlock<I, J, O, P>,
  opByOp: () => Scalars<tf.Scalar, tf.Scalar, O, P>,
): Scalars<tf.Scalar, tf.Scalar, O, P> {
  const i = fusedKind() === 'gpu' ? activeInternals() : undefined;
  if (i === undefined || (i.kind !== 'webgl' && i.kind !== 'webgpu')) return opByOp();
  const numberKeys = Object.keys(x.s) as I[];
  const boolKeys = Object.keys(x.b) as J[];
  const n = numberKeys.length + boolKeys.length;
  // webgpu binds ≤ maxInputs buffers: more inputs are packed into ≤ maxInputs buffers first.
  const limit = i.kind === 'webgl' ? i.maxTextureUnits : i.maxInputs * i.maxInputs;
  if (n > limit) return opByOp();
  const dialect = i.kind === 'webgl' ? DIALECTS.glsl : DIALECTS.wgsl(n > i.maxInputs ? i.maxInputs : undefined);
  const traced = traceBlock(dialect, numberKeys, boolKeys, block);
  if (traced.values.length === 0) return opByOp();
  const inputs: tf.NamedTensorMap = {};
  numberKeys.forEach((k, j) => (inputs[`v${j}`] = float32(x.s[k])));
  boolKeys.forEach((k, j) => (inputs[`v${numberKeys.length + j}`] = x.b[k]));
  let out: tf.Tensor[];
  try {
    out = tf.engine().runKernel(SCALARS_KERNEL, inputs, { traced } as unknown as tf.NamedAttrMap) as tf.Tensor[];
  } catch (e) {
    if (e instanceof TypeError) throw e;
    markUnusable(tf.backend());
    return opByOp();
  }
  // webgl returns a float vector and a bool vector (unstacked: shallow slices); webgpu scalars.
  const values = i.kind === 'webgl' ? out.flatMap((v) => tf.unstack(v)) : out;
  if (i.kind === 'webgl') tf.dispose(out);
  return namedOutputs(traced, values as tf.Scalar[], (v) => tf.clone(v));
}

/**
 * The statistics of every tensor on its own, as four vectors (one entry per tensor), by one
 * kernel call on the GPU backends: they take up to 16 (webgl) / 7
 * (webgpu) tensors per program and give [4, k] parts, concatenated here. Undefined where the
 * kernels do not apply (no kernels, an empty or non-float32 tensor); a failing kernel marks the
 * backend unusable, and the caller then computes the statistics per tensor.
 */
export function fusedEachNormStats(ts: readonly tf.Tensor[], p: number): NormStats<tf.Tensor1D> | undefined {
  // GPU backends only: there every scalar op is a program, and splitting the vectors is free on
  // webgl; on cpu / wasm a per-tensor kernel costs microseconds and wasm's slices read back.
  if (ts.length === 0 || fusedKind() !== 'gpu') return undefined;
  if (ts.some((t) => t.size === 0 || t.dtype !== 'float32')) return undefined;
  const inputs: tf.NamedTensorMap = {};
  ts.forEach((t, i) => (inputs[`x${i}`] = t));
  let out: tf.Tensor | tf.Tensor[];
  try {
    out = tf.engine().runKernel(EACH_NORM_STATS_KERNEL, inputs, { p } as unknown as tf.NamedAttrMap) as
      tf.Tensor | tf.Tensor[];
  } catch (e) {
    if (e instanceof TypeError) throw e;
    markUnusable(tf.backend());
    return undefined;
  }
  const parts = Array.isArray(out) ? out : [out];
  const all = parts.length === 1 ? parts[0]! : tf.concat(parts, 1);
  const [ref, sum, nan, inf] = tf.unstack(all) as tf.Tensor1D[];
  tf.dispose([...parts, all].filter((x) => x !== ref && x !== sum && x !== nan && x !== inf));
  return { p, ref: ref!, sum: sum!, nan: nan!, inf: inf! };
}
