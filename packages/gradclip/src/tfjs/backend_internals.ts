import * as tf from '@tensorflow/tfjs-core';

/**
 * Every access gradclip makes to tfjs backend internals lives in this module.
 *
 * tfjs's public API has no way to run a custom kernel on a backend's own memory or GPU
 * program runner: its built-in kernels use backend methods that are not part of the public
 * API (the cpu backend's data map, the wasm backend's heap, the webgl backend's
 * `compileAndRun`, the webgpu backend's `runWebGPUProgram`). gradclip's fused kernels use the
 * same methods. They are checked here, once per backend instance, before any kernel is
 * registered: if a backend does not look the way this module expects (another tfjs version, a
 * different build, a third-party backend under a known name), `internalsOf` returns undefined
 * and the clippers run on composed tf ops instead of throwing.
 *
 * The checks are structural (the methods and fields exist, with the expected arity and
 * types) and never read tensor data back: a check must not count as a host read.
 */

/** A float32 view of a tensor's data plus what the host kernels need to make outputs. */
export interface HostInternals {
  readonly kind: 'cpu' | 'wasm';
  /** The float32 values behind a tensor, in place (no copy); undefined if not float32 host data. */
  float32(t: tf.TensorInfo): Float32Array | undefined;
  /** The first byte / value of a bool scalar, read in place. */
  first(t: tf.TensorInfo): number;
  /** A new float32 tensor of `shape` and a writable view of its data. */
  alloc(shape: number[]): { info: tf.TensorInfo; view: Float32Array };
  /** A new tensor sharing x's data (one more reference; freed when the last one is disposed). */
  share(x: tf.TensorInfo): tf.TensorInfo;
  /** The backend object itself (the wasm heap kernels instantiate on its memory). */
  readonly backend: unknown;
}

/** The part of tfjs-backend-webgl's GPGPUProgram that gradclip's programs use. */
export interface WebGLProgramSpec {
  variableNames: string[];
  outputShape: number[];
  userCode: string;
  packedInputs?: boolean;
  packedOutput?: boolean;
  /** Uniforms of the program's own (values passed to `run`); `arrayIndex` makes an array. */
  customUniforms?: { name: string; type: 'float'; arrayIndex?: number }[];
}

export interface WebGLInternals {
  readonly kind: 'webgl';
  /** Texture units a fragment shader may sample: the most inputs one program can read. */
  readonly maxTextureUnits: number;
  /** Compiles (cached by tfjs) and runs a program; the output is not unpacked eagerly. */
  run(program: WebGLProgramSpec, inputs: tf.TensorInfo[], dtype: tf.DataType, uniforms?: number[][]): tf.TensorInfo;
  /** Releases an intermediate result that no tensor refers to. */
  free(t: tf.TensorInfo): void;
  /**
   * The texture shape [rows, cols] of an unpacked float32 tensor that owns its texture (no
   * shallow-slice offset), uploading it first; undefined otherwise. Presented with exactly this
   * logical shape, tfjs's generated getter reads texel (row, col) without index arithmetic.
   */
  texShape(t: tf.TensorInfo): [number, number] | undefined;
  /** Whether a tensor's texture is packed (four values per texel); undefined if not on the GPU yet. */
  isPacked(t: tf.TensorInfo): boolean | undefined;
}

/** The part of tfjs-backend-webgpu's WebGPUProgram that gradclip's shaders use. */
export interface WebGPUProgramSpec {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  uniforms?: string;
  getUserCode(): string;
}

export interface WebGPUInternals {
  readonly kind: 'webgpu';
  /**
   * Inputs one dispatch may bind: a shader stage binds at most maxStorageBuffersPerShaderStage
   * storage buffers (8 on the WebGPU baseline), and the output takes one of them.
   */
  readonly maxInputs: number;
  /** A new (uninitialised) tensor on the device. */
  alloc(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  /** Records one dispatch; `output` (optional) is written in place. */
  run(
    program: WebGPUProgramSpec,
    inputs: tf.TensorInfo[],
    dtype: tf.DataType,
    uniforms?: { type: 'int32' | 'float32'; data: number[] }[],
    output?: tf.TensorInfo,
  ): tf.TensorInfo;
  /** Releases an intermediate result that no tensor refers to (after the queued work using it). */
  free(t: tf.TensorInfo): void;
}

export type BackendInternals = HostInternals | WebGLInternals | WebGPUInternals;

/** The backends gradclip has kernels for. */
export const KERNEL_BACKENDS = ['cpu', 'wasm', 'webgl', 'webgpu'] as const;
export type KernelBackend = (typeof KERNEL_BACKENDS)[number];

const isFn = (o: unknown, k: string): boolean => typeof (o as Record<string, unknown> | null)?.[k] === 'function';
const obj = (o: unknown, k: string): unknown => (o as Record<string, unknown> | null)?.[k];

interface CpuBackendLike {
  data: { get(dataId: object): { values?: unknown } | undefined };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array): tf.TensorInfo;
  incRef(dataId: object): void;
}

function cpuInternals(b: unknown): HostInternals | undefined {
  if (!isFn(obj(b, 'data'), 'get') || !isFn(b, 'makeTensorInfo') || !isFn(b, 'incRef')) return undefined;
  const cpu = b as CpuBackendLike;
  return {
    kind: 'cpu',
    backend: b,
    float32(t) {
      const v = cpu.data.get(t.dataId)?.values;
      return v instanceof Float32Array ? v : undefined;
    },
    first(t) {
      const v = cpu.data.get(t.dataId)?.values as ArrayLike<number> | undefined;
      return v?.[0] ?? 0;
    },
    alloc(shape) {
      const view = new Float32Array(tf.util.sizeFromShape(shape));
      return { info: cpu.makeTensorInfo(shape, 'float32', view), view };
    },
    share(x) {
      // The cpu backend's own Identity kernel does the same.
      cpu.incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  };
}

interface WasmBackendLike {
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  dataIdMap: { get(dataId: object): { memoryOffset: number; refCount: number } | undefined };
}

function wasmInternals(b: unknown): HostInternals | undefined {
  if (!isFn(b, 'typedArrayFromHeap') || !isFn(b, 'makeOutput') || !isFn(obj(b, 'dataIdMap'), 'get')) return undefined;
  const w = b as WasmBackendLike;
  return {
    kind: 'wasm',
    backend: b,
    float32(t) {
      const v = w.typedArrayFromHeap(t);
      return v instanceof Float32Array ? v : undefined;
    },
    first: (t) => w.typedArrayFromHeap(t)[0] ?? 0,
    alloc(shape) {
      const info = w.makeOutput(shape, 'float32');
      return { info, view: w.typedArrayFromHeap(info) as Float32Array };
    },
    share(x) {
      // The wasm backend keeps a reference count per buffer in its data map but has no method
      // to raise it: it is incremented there, so the buffer is freed with its last tensor.
      const entry = w.dataIdMap.get(x.dataId);
      if (entry === undefined || typeof entry.refCount !== 'number')
        throw new Error('gradclip: unexpected wasm backend data map');
      entry.refCount++;
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  };
}

interface WebGLBackendLike {
  compileAndRun(
    program: WebGLProgramSpec,
    inputs: tf.TensorInfo[],
    outputDtype?: tf.DataType,
    customUniformValues?: number[][],
    preventEagerUnpackingOfOutput?: boolean,
  ): tf.TensorInfo;
  disposeIntermediateTensorInfo(t: tf.TensorInfo): void;
  uploadToGPU(dataId: object): void;
  texData: {
    get(
      dataId: object,
    ): { isPacked?: boolean; slice?: unknown; texShape?: [number, number] | null; dtype?: string } | undefined;
  };
  gpgpu: { gl: { getParameter(p: number): unknown; MAX_TEXTURE_IMAGE_UNITS: number } };
}

function webglInternals(b: unknown): WebGLInternals | undefined {
  // gradclip's GLSL uses floatBitsToUint (GLSL ES 3.00): WebGL 2 only.
  if (tf.env().getNumber('WEBGL_VERSION') !== 2) return undefined;
  // float16 render targets (some mobile GPUs) would lose the statistics' precision.
  if (!tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED')) return undefined;
  if (!isFn(b, 'compileAndRun') || !isFn(b, 'runWebGLProgram') || !isFn(b, 'disposeIntermediateTensorInfo'))
    return undefined;
  if (!isFn(b, 'uploadToGPU') || !isFn(obj(b, 'texData'), 'get')) return undefined;
  const gl = obj(obj(b, 'gpgpu'), 'gl') as WebGLBackendLike['gpgpu']['gl'] | undefined;
  if (!isFn(gl, 'getParameter')) return undefined;
  const units = Number(gl!.getParameter(gl!.MAX_TEXTURE_IMAGE_UNITS));
  if (!Number.isFinite(units) || units < 2) return undefined;
  const w = b as WebGLBackendLike;
  return {
    kind: 'webgl',
    maxTextureUnits: units,
    run: (program, inputs, dtype, uniforms) => w.compileAndRun(program, inputs, dtype, uniforms, true),
    free: (t) => w.disposeIntermediateTensorInfo(t),
    isPacked(t) {
      const packed = w.texData.get(t.dataId)?.isPacked;
      return typeof packed === 'boolean' ? packed : undefined;
    },
    texShape(t) {
      w.uploadToGPU(t.dataId);
      const d = w.texData.get(t.dataId);
      const shape = d?.texShape;
      if (d === undefined || d.isPacked !== false || d.slice != null || d.dtype !== 'float32' || !Array.isArray(shape))
        return undefined;
      const [r, c] = shape;
      if (!Number.isInteger(r) || !Number.isInteger(c) || r * c < tf.util.sizeFromShape(t.shape)) return undefined;
      return [r, c];
    },
  };
}

interface WebGPUBackendLike {
  runWebGPUProgram: WebGPUInternals['run'];
  makeTensorInfo(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: object): boolean;
  device: { limits: { maxStorageBuffersPerShaderStage: number; maxComputeInvocationsPerWorkgroup: number } };
}

function webgpuInternals(b: unknown): WebGPUInternals | undefined {
  if (!isFn(b, 'runWebGPUProgram') || !isFn(b, 'makeTensorInfo') || !isFn(b, 'disposeData')) return undefined;
  // runWebGPUProgram(program, inputs, outputDtype, programDefinedUniform?, output?): the last
  // two parameters are what gradclip relies on.
  if ((b as { runWebGPUProgram: (...a: unknown[]) => unknown }).runWebGPUProgram.length < 5) return undefined;
  const limits = obj(obj(b, 'device'), 'limits') as WebGPUBackendLike['device']['limits'] | undefined;
  const buffers = Number(limits?.maxStorageBuffersPerShaderStage);
  const invocations = Number(limits?.maxComputeInvocationsPerWorkgroup);
  if (!(buffers >= 2) || !(invocations >= WEBGPU_WORKGROUP)) return undefined;
  const g = b as WebGPUBackendLike;
  return {
    kind: 'webgpu',
    // tfjs's own addN fails with more than 7 inputs for the same reason.
    maxInputs: Math.min(buffers, 8) - 1,
    alloc: (shape, dtype) => g.makeTensorInfo(shape, dtype),
    run: (program, inputs, dtype, uniforms, output) => g.runWebGPUProgram(program, inputs, dtype, uniforms, output),
    free: (t) => void g.disposeData(t.dataId),
  };
}

/** Workgroup size of gradclip's compute shaders (the WebGPU baseline allows 256 invocations). */
export const WEBGPU_WORKGROUP = 256;

const probes: Record<KernelBackend, (b: unknown) => BackendInternals | undefined> = {
  cpu: cpuInternals,
  wasm: wasmInternals,
  webgl: webglInternals,
  webgpu: webgpuInternals,
};

/** Per backend instance, per name it was checked under: its internals, or null (failed). */
const cache = new WeakMap<object, Map<string, BackendInternals | null>>();
const unusable = new WeakSet<object>();

/**
 * The internals of backend object `b` registered as `name`, or undefined when gradclip has no
 * kernels for that backend or it does not pass the capability check. Cached per instance.
 */
export function internalsOf(name: string, b: unknown): BackendInternals | undefined {
  if (typeof b !== 'object' || b === null || unusable.has(b)) return undefined;
  let byName = cache.get(b);
  if (byName === undefined) cache.set(b, (byName = new Map()));
  if (byName.has(name)) return byName.get(name) ?? undefined;
  const probe = (probes as Record<string, ((b: unknown) => BackendInternals | undefined) | undefined>)[name];
  let found: BackendInternals | undefined;
  try {
    found = probe?.(b);
  } catch {
    found = undefined;
  }
  byName.set(name, found ?? null);
  return found;
}

/** Marks a backend instance as unusable (a kernel failed on it): composed ops from now on. */
export function markUnusable(b: unknown): void {
  if (typeof b === 'object' && b !== null) unusable.add(b);
}

/** The internals of the active backend, if it passes the check. */
export function activeInternals(): BackendInternals | undefined {
  const name = tf.getBackend();
  return internalsOf(name, tf.engine().findBackend(name));
}

/**
 * The WebAssembly memory of a tfjs wasm backend (its emscripten module's exported memory), on
 * which gradclip instantiates its SIMD kernels; undefined if it is not where 4.x keeps it.
 */
export function wasmMemory(b: unknown): WebAssembly.Memory | undefined {
  const memory = obj(obj(obj(b, 'wasm'), 'asm'), 'memory');
  return memory instanceof WebAssembly.Memory ? memory : undefined;
}
