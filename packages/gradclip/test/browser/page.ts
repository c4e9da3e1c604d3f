/**
 * The page side of the Chromium tests and benchmark (bundled by harness.ts with esbuild): the
 * library from source, tfjs with the webgl and webgpu backends, and the checks, run in the page
 * and returned as plain JSON for the Node side to assert on.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import {
  adaGC,
  agc,
  autoClip,
  clipByGlobalNorm,
  clipByNorm,
  clipByValue,
  globalNorm,
  globalNormRule,
  perGroup,
  zClip,
  type Clipper,
  type NonFinitePolicy,
} from '../../src/index.js';
import {
  adaGCTensorClipper,
  agcTensorClipper,
  autoClipTensorClipper,
  globalNormTensorClipper,
  perGroupTensorClipper,
  perTensorNormTensorClipper,
  valueTensorClipper,
  zClipTensorClipper,
  type TensorClipper,
  type TensorClipResult,
  type TensorGradients,
} from '../../src/tfjs/index.js';
import { runScalars, type ScalarOps } from '../../src/ops.js';
import { typedOps } from '../../src/typed_ops.js';
import { fusedKind, SCALARS_KERNEL, SET_NORM_STATS_KERNEL, setFusedKernelsDisabled } from '../../src/tfjs/kernels.js';
import { tfOps } from '../../src/tfjs/ops.js';

export type GpuBackend = 'webgl' | 'webgpu';

/** Deterministic pseudo-random numbers (mulberry32), so a failure can be reproduced. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Float32 values ~ N(0, scale²) (Box–Muller). */
function normal(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  return out;
}

const watched = new WeakSet<object>();

async function use(backend: GpuBackend): Promise<{ backend: string; fused: string | null; registered: boolean }> {
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} failed to initialise`);
  await tf.ready();
  setFusedKernelsDisabled(false);
  // WebGPU reports an invalid shader or binding asynchronously, not as an exception: log it as
  // an error so that the 'no errors' test fails on it.
  const device = (tf.backend() as { device?: EventTarget }).device;
  if (backend === 'webgpu' && device !== undefined && !watched.has(device)) {
    watched.add(device);
    device.addEventListener('uncapturederror', (e) =>
      console.error(`WebGPU: ${(e as Event & { error?: { message?: string } }).error?.message ?? 'error'}`),
    );
  }
  const kind = fusedKind();
  return {
    backend: tf.getBackend(),
    fused: kind ?? null,
    registered: tf.getKernel(SET_NORM_STATS_KERNEL, backend) !== undefined,
  };
}

const num = async (t: tf.Tensor) => (await t.data())[0]!;

/** Disposes every tensor of a clip result. */
function release(r: TensorClipResult<TensorGradients>): void {
  const grads = (r.grads instanceof tf.Tensor ? [r.grads] : Object.values(r.grads)) as unknown[];
  const ts = grads.map((g) =>
    g !== null && typeof g === 'object' && 'tensor' in g ? (g as { tensor: unknown }).tensor : g,
  );
  tf.dispose([
    ...ts.filter((t): t is tf.Tensor => t instanceof tf.Tensor),
    r.norm,
    r.scale,
    r.clipped,
    r.finite,
    ...(r.threshold ? [r.threshold] : []),
  ]);
}

/** Norms of many tensor sets and p against the core's float64 statistics. */
async function norms(): Promise<{ label: string; p: number; got: number; want: number }[]> {
  const sizes: [string, number[]][] = [
    ['one value', [1]],
    ['chunk edges', [4095, 4096, 4097, 1023, 1024, 1025]],
    ['20 tensors (> 7 and > 16 per program)', Array.from({ length: 20 }, (_, i) => 37 * i + 5)],
    ['large and small', [300_000, 3, 70_000]],
    ['with empty tensors', [0, 10, 0, 5]],
    // More tensors than 16 programs of 16 inputs: webgl merges its partials in two levels.
    ['300 tensors', Array.from({ length: 300 }, (_, i) => 1 + (i % 7) * 50)],
  ];
  const out: { label: string; p: number; got: number; want: number }[] = [];
  let seed = 1;
  for (const [label, shape] of sizes) {
    const arrays = shape.map((n) => normal(n, seed++, seed % 3 === 0 ? 1e-3 : 1));
    const ts = arrays.map((a) => tf.tensor1d(a));
    for (const p of [1, 2, 3, Infinity]) {
      const c = globalNormTensorClipper(1e30, { normType: p });
      const r = c.clip(ts);
      out.push({ label, p, got: await num(r.norm), want: globalNorm(arrays, p) });
      release(r);
      c.dispose();
    }
    tf.dispose(ts);
  }
  // A 2-D tensor whose values spread over 40 decades.
  const wide = Float32Array.from(normal(5000, 99), (v, i) => v * 10 ** ((i % 40) - 20));
  const t2 = tf.tensor2d(wide, [50, 100]);
  for (const p of [1, 2]) {
    const c = globalNormTensorClipper(1, { normType: p });
    const r = c.clip([t2]);
    out.push({ label: 'values over 40 decades, 2-D', p, got: await num(r.norm), want: globalNorm([wide], p) });
    release(r);
  }
  t2.dispose();
  return out;
}

/** 1,000 float32 values of 1e20 (PyTorch 1.13: inf) and of 1e-25 (squares underflow float32). */
async function extremes(): Promise<{
  big: number;
  bigScaled: number;
  tiny: number;
  lateNaN: number[];
  lateInf: number[];
  top: { label: string; p: number; got: number; want: number }[];
}> {
  const c = globalNormTensorClipper(1);
  const big = c.clip([tf.fill([1000], 1e20)]);
  const tiny = c.clip([tf.fill([1000], 1e-25)]);
  // One NaN / one Infinity deep inside large tensors (not in the first block or chunk), for
  // p = 1, 2 (the fast path) and 3 (the careful path): [norm, finite] for each p.
  const lateNaN: number[] = [];
  const lateInf: number[] = [];
  for (const [bad, out] of [
    [NaN, lateNaN],
    [-Infinity, lateInf],
  ] as const) {
    const a = normal(100_000, 5);
    const b = normal(30_000, 6);
    a[77_777] = bad;
    for (const p of [1, 2, 3]) {
      const cp = globalNormTensorClipper(1, { normType: p });
      const r = cp.clip([tf.tensor1d(b), tf.tensor1d(a)]);
      out.push(await num(r.norm), await num(r.finite));
      release(r);
      cp.dispose();
    }
  }
  const res = {
    big: await num(big.norm),
    bigScaled: (await big.grads[0]!.data())[7]!,
    tiny: await num(tiny.norm),
    lateNaN,
    lateInf,
    top: await topOfRange(),
  };
  release(big);
  release(tiny);
  return res;
}

/**
 * Norms at the top of float32's range (issue 22's composed-path counterexample, on the GPU
 * kernels): a block whose largest |x| is above 2¹²⁶ has a subnormal reciprocal, which GPUs flush
 * to 0 — the fast path must not scale by it. Against the core's float64 norm.
 */
async function topOfRange(): Promise<{ label: string; p: number; got: number; want: number }[]> {
  const sets: [string, Float32Array[]][] = [
    ['−3.4028228579130005e38 alone', [Float32Array.of(-3.4028228579130005e38)]],
    ['float32 max', [Float32Array.of(3.4028234663852886e38)]],
    ['two of 1.7e38', [Float32Array.of(1.7e38, -1.7e38)]],
    ['2.4e38 twice', [Float32Array.of(2.4e38), Float32Array.of(-2.4e38)]],
    ['1e38 with small values', [Float32Array.from({ length: 300 }, (_, i) => (i === 150 ? 1e38 : i + 1))]],
  ];
  const out: { label: string; p: number; got: number; want: number }[] = [];
  for (const [label, arrays] of sets) {
    for (const p of [1, 2, 3, Infinity]) {
      const want = globalNorm(arrays, p);
      if (!(want < 3.4028234663852886e38)) continue; // a norm float32 cannot hold is Infinity on the device
      const c = globalNormTensorClipper(1, { normType: p });
      const r = c.clip(arrays.map((a) => tf.tensor1d(a)));
      out.push({ label, p, got: await num(r.norm), want });
      release(r);
      c.dispose();
    }
  }
  return out;
}

interface PolicyResult {
  policy: NonFinitePolicy;
  bad: number;
  threw: string | null;
  wantThrew: string | null;
  /** NonFiniteGradientError.tensors on the device and on typed arrays (null when nothing threw). */
  tensors: string[] | null;
  wantTensors: string[] | null;
  got: number[] | null;
  want: number[];
  norm: number | null;
  wantNorm: number;
  finite: boolean | null;
}

/** Every non-finite policy against the typed-array function on the same data. */
async function policies(which: readonly NonFinitePolicy[]): Promise<PolicyResult[]> {
  const out: PolicyResult[] = [];
  for (const bad of [NaN, Infinity, -Infinity]) {
    for (const policy of which) {
      const base = [Float32Array.from([3, bad, 1]), Float32Array.from([4, -2])];
      const typed = base.map((a) => Float32Array.from(a));
      let wantThrew: string | null = null;
      let wantTensors: string[] | null = null;
      let wantNorm = NaN;
      try {
        wantNorm = clipByGlobalNorm(typed, 1, { nonFinite: policy }).norm;
      } catch (e) {
        wantThrew = (e as Error).name;
        wantTensors = (e as { tensors?: string[] }).tensors ?? null;
      }
      const c = globalNormTensorClipper(1, { nonFinite: policy });
      const ts = base.map((a) => tf.tensor1d(a));
      let threw: string | null = null;
      let tensors: string[] | null = null;
      let got: number[] | null = null;
      let norm: number | null = null;
      let finite: boolean | null = null;
      try {
        const r = c.clip(ts);
        got = (await Promise.all(r.grads.map((g) => g!.data()))).flatMap((d) => Array.from(d));
        norm = await num(r.norm);
        finite = (await num(r.finite)) !== 0;
        release(r);
      } catch (e) {
        threw = (e as Error).name;
        tensors = (e as { tensors?: string[] }).tensors ?? null;
      }
      tf.dispose(ts);
      c.dispose();
      out.push({
        policy,
        bad,
        threw,
        wantThrew,
        tensors,
        wantTensors,
        got,
        want: typed.flatMap((a) => Array.from(a)),
        norm,
        wantNorm,
        finite,
      });
    }
  }
  return out;
}

/** Gradient sets for the step-by-step comparisons: spikes every 7 steps, a NaN at step 9. */
function steps(n: number): { w: Float32Array; b: Float32Array; big: Float32Array }[] {
  return Array.from({ length: n }, (_, t) => {
    const spike = t % 7 === 5 ? 50 : 1;
    const w = Float32Array.from({ length: 6 }, (_, i) => spike * Math.sin(1 + t * 0.37 + i * 1.3));
    const b = Float32Array.from({ length: 3 }, (_, i) => spike * 0.5 * Math.cos(t * 0.21 + i));
    const big = Float32Array.from(normal(5000, 1000 + t), (v) => v * 0.01 * spike);
    if (t === 9) w[2] = NaN;
    return { w, b, big };
  });
}

const shapes = { w: [3, 2], b: [3], big: [50, 100] };
const params = {
  w: Float32Array.from([0.5, -1, 2, 0.1, 0, 3]),
  b: Float32Array.from([0.2, 0, -0.4]),
  big: Float32Array.from(normal(5000, 7)),
};

type Twin = [string, () => Clipper | null, () => TensorClipper, boolean];

/** Each tensor clipper and its typed-array twin (null: the twin is a plain function). */
export const twins: Twin[] = [
  ['globalNorm', () => null, () => globalNormTensorClipper(1), false],
  ['globalNorm p=1 eps=0', () => null, () => globalNormTensorClipper(2, { normType: 1, eps: 0 }), false],
  ['perTensorNorm', () => null, () => perTensorNormTensorClipper(0.5), false],
  ['value', () => null, () => valueTensorClipper(0.3), false],
  ['agc', () => agc({ clipping: 0.05 }), () => agcTensorClipper({ clipping: 0.05 }), true],
  ['autoClip', () => autoClip({ percentile: 25 }), () => autoClipTensorClipper({ percentile: 25 }), false],
  [
    'zClip',
    () => zClip({ warmupSteps: 4, zThresh: 1.5 }),
    () => zClipTensorClipper({ warmupSteps: 4, zThresh: 1.5 }),
    false,
  ],
  ['adaGC', () => adaGC({ warmupSteps: 4 }), () => adaGCTensorClipper({ warmupSteps: 4 }), false],
  [
    'perGroup',
    () => perGroup([{ match: 'w', rule: globalNormRule(1) }], globalNormRule(0.1)),
    () => perGroupTensorClipper([{ match: 'w', rule: globalNormRule(1) }], globalNormRule(0.1)),
    false,
  ],
];

/** The typed-array result of the stateless twins. */
function statelessTyped(name: string, g: Record<string, { values: Float32Array; shape: number[] }>) {
  if (name === 'globalNorm') return clipByGlobalNorm(g, 1);
  if (name === 'globalNorm p=1 eps=0') return clipByGlobalNorm(g, 2, { normType: 1, eps: 0 });
  if (name === 'perTensorNorm') return clipByNorm(g, 0.5);
  return clipByValue(g, 0.3);
}

interface TwinResult {
  name: string;
  steps: number;
  /** Largest |got − want| / max(1, |want|) over every gradient value and norm of finite steps. */
  worst: number;
  where: string;
  clippedMismatch: string[];
  finiteMismatch: string[];
}

/** Every clipper on device against its typed-array twin, step by step (20 steps, one with a NaN). */
async function twinSteps(): Promise<TwinResult[]> {
  const out: TwinResult[] = [];
  for (const [name, typed, tensor, needsParams] of twins) {
    const tc = typed();
    const dc = tensor();
    const res: TwinResult = { name, steps: 0, worst: 0, where: '', clippedMismatch: [], finiteMismatch: [] };
    for (const [t, g] of steps(20).entries()) {
      const gt = Object.fromEntries(
        (['w', 'b', 'big'] as const).map((k) => [k, { values: Float32Array.from(g[k]), shape: shapes[k] }]),
      );
      const pt = Object.fromEntries(
        (['w', 'b', 'big'] as const).map((k) => [k, { values: params[k], shape: shapes[k] }]),
      );
      const ref = tc === null ? statelessTyped(name, gt) : needsParams ? tc.clip(gt, pt) : tc.clip(gt);
      const gd = { w: tf.tensor(g.w, shapes.w), b: tf.tensor(g.b, shapes.b), big: tf.tensor(g.big, shapes.big) };
      const pd = {
        w: tf.tensor(params.w, shapes.w),
        b: tf.tensor(params.b, shapes.b),
        big: tf.tensor(params.big, shapes.big),
      };
      const r = needsParams ? dc.clip(gd, pd) : dc.clip(gd);
      const clipped = (await num(r.clipped)) !== 0;
      const finite = (await num(r.finite)) !== 0;
      if (clipped !== ref.clipped) res.clippedMismatch.push(`step ${t}: ${clipped} vs ${ref.clipped}`);
      if (finite !== ref.finite) res.finiteMismatch.push(`step ${t}: ${finite} vs ${ref.finite}`);
      const dev = (got: number, want: number, what: string) => {
        const d = Math.abs(got - want) / Math.max(1, Math.abs(want));
        if (!(d <= res.worst)) {
          res.worst = Number.isNaN(d) ? Infinity : d;
          res.where = `step ${t} ${what}: ${got} vs ${want}`;
        }
      };
      if (ref.finite) {
        dev(await num(r.norm), ref.norm, 'norm');
        for (const k of ['w', 'b', 'big'] as const) {
          const got = await r.grads[k]!.data();
          const want = gt[k]!.values;
          for (let i = 0; i < want.length; i++) dev(got[i]!, want[i]!, `${k}[${i}]`);
        }
      }
      res.steps++;
      release(r);
      tf.dispose([...Object.values(gd), ...Object.values(pd)]);
    }
    dc.dispose();
    out.push(res);
  }
  return out;
}

/** Tensors alive and backend reads after `n` clipping steps of every clipper. */
async function leaksAndReads(
  n: number,
): Promise<{ name: string; leaked: number; buffers: number; reads: number; fused: string | null; ms: number }[]> {
  const out: { name: string; leaked: number; buffers: number; reads: number; fused: string | null; ms: number }[] = [];
  const b = tf.backend() as unknown as Record<string, (...a: unknown[]) => unknown>;
  let reads = 0;
  const counted = ['readSync', 'read', 'readToGPU'].filter((k) => typeof b[k] === 'function');
  const originals = counted.map((k) => [k, b[k]!] as const);
  for (const [k, f] of originals) {
    b[k] = function (this: unknown, ...a: unknown[]) {
      reads++;
      return f.apply(this, a);
    };
  }
  try {
    const data = steps(10);
    // Every clipper, plus the policies that choose between tensors on the device.
    const clippers: [string, () => TensorClipper, boolean][] = [
      ...twins.map(
        ([name, , tensor, needsParams]) => [name, tensor, needsParams] as [string, () => TensorClipper, boolean],
      ),
      ["globalNorm, nonFinite 'skip'", () => globalNormTensorClipper(1, { nonFinite: 'skip' }), false],
      ["globalNorm, nonFinite 'zero'", () => globalNormTensorClipper(1, { nonFinite: 'zero' }), false],
    ];
    for (const [name, tensor, needsParams] of clippers) {
      const t0 = performance.now();
      const gd = data.map((g) => ({
        w: tf.tensor(g.w, shapes.w),
        b: tf.tensor(g.b, shapes.b),
        big: tf.tensor(g.big, shapes.big),
      }));
      const pd = {
        w: tf.tensor(params.w, shapes.w),
        b: tf.tensor(params.b, shapes.b),
        big: tf.tensor(params.big, shapes.big),
      };
      const dc = tensor();
      // One step first: a rule may create its state on the first step (AdaGC's per-tensor γ).
      const first = needsParams ? dc.clip(gd[0]!, pd) : dc.clip(gd[0]!);
      release(first);
      const before = tf.memory().numTensors;
      // The backend's own buffers too: the kernels' intermediates (partials) are no tensors.
      const buffersBefore = tf.memory().numDataBuffers;
      reads = 0;
      for (let i = 1; i <= n; i++) {
        const r = needsParams ? dc.clip(gd[i % gd.length]!, pd) : dc.clip(gd[i % gd.length]!);
        release(r);
      }
      const stepReads = reads;
      const leaked = tf.memory().numTensors - before;
      const buffers = tf.memory().numDataBuffers - buffersBefore;
      dc.dispose();
      gd.forEach((g) => tf.dispose(Object.values(g)));
      tf.dispose(Object.values(pd));
      out.push({ name, leaked, buffers, reads: stepReads, fused: fusedKind() ?? null, ms: performance.now() - t0 });
    }
  } finally {
    for (const [k, f] of originals) b[k] = f;
  }
  return out;
}

/**
 * Gradients as backprop leaves them: on webgl, outputs of packed programs (matMul here), odd
 * shapes included, so that the kernel reads packed textures (four values per texel, padding
 * lanes masked). Returns whether each input really was packed, and norms against the core.
 */
async function packedNorms(): Promise<{
  packed: boolean[];
  rows: { p: number; got: number; want: number }[];
  bad: number[];
}> {
  const shapes: [number[], number[]][] = [
    [
      [3, 4],
      [4, 5],
    ],
    [
      [7, 2],
      [2, 1],
    ],
    [
      [1, 6],
      [6, 9],
    ],
    [
      [2, 3, 4],
      [2, 4, 5],
    ],
    [
      [65, 30],
      [30, 33],
    ],
  ];
  const ts = shapes.map(([a, b], i) =>
    tf.matMul(
      tf.tensor(
        normal(
          a.reduce((x, y) => x * y),
          50 + i,
        ),
        a,
      ),
      tf.tensor(
        normal(
          b.reduce((x, y) => x * y),
          60 + i,
        ),
        b,
      ),
    ),
  );
  const texData = (tf.backend() as unknown as { texData?: { get(id: object): { isPacked?: boolean } | undefined } })
    .texData;
  const packed = ts.map((t) => texData?.get(t.dataId)?.isPacked === true);
  const arrays = await Promise.all(ts.map(async (t) => Float32Array.from(await t.data())));
  const rows: { p: number; got: number; want: number }[] = [];
  for (const p of [1, 2, 3, Infinity]) {
    const c = globalNormTensorClipper(1e30, { normType: p });
    const r = c.clip(ts);
    rows.push({ p, got: await num(r.norm), want: globalNorm(arrays, p) });
    release(r);
    c.dispose();
  }
  tf.dispose(ts);
  // A NaN and an Infinity in packed textures (a packed elementwise op writes them): [norm, finite] for p = 1, 2, 3.
  const bad: number[] = [];
  for (const v of [NaN, Infinity]) {
    const x = tf.tensor(normal(65 * 33, 70), [65, 33]);
    const t = tf.mul(
      tf.add(x, tf.scalar(0)),
      tf.tensor(
        Float32Array.from({ length: 65 * 33 }, (_, i) => (i === 1500 ? v : 1)),
        [65, 33],
      ),
    );
    for (const p of [1, 2, 3]) {
      const c = globalNormTensorClipper(1, { normType: p });
      const r = c.clip([t]);
      bad.push(await num(r.norm), await num(r.finite));
      release(r);
      c.dispose();
    }
    tf.dispose([x, t]);
  }
  return { packed, rows, bad };
}

/**
 * The composed-ops fallback (what runs when a backend fails the capability check) on this
 * backend: norms of 20 tensors, of 1e20s, and with a NaN / Infinity, against the core.
 */
async function composed(): Promise<{ got: number; want: number }[]> {
  setFusedKernelsDisabled(true);
  try {
    const sets = [
      Array.from({ length: 20 }, (_, i) => normal(100 + 37 * i, 300 + i)),
      [new Float32Array(1000).fill(1e20)],
      [normal(5000, 11), Float32Array.from([1, NaN, 2])],
      [normal(5000, 12), Float32Array.from([1, -Infinity, 2])],
    ];
    const out: { got: number; want: number }[] = [];
    for (const arrays of sets) {
      for (const p of [1, 2, Infinity]) {
        const c = globalNormTensorClipper(1, { normType: p });
        const r = c.clip(arrays.map((a) => tf.tensor1d(a)));
        out.push({ got: await num(r.norm), want: globalNorm(arrays, p) });
        release(r);
        c.dispose();
      }
    }
    return out;
  } finally {
    setFusedKernelsDisabled(false);
  }
}

/**
 * Every scalar operation of a fused block (scalar_programs.ts) on every pair of special values
 * — ±0, ±1, tiny, huge, float32's largest, ±Infinity, NaN — against JavaScript's float64
 * arithmetic rounded to float32 (what tf ops on scalars compute). One block per pair, so the
 * block compiles once and every pair reuses it. Returns the mismatches and how many programs
 * the blocks ran (the block must be fused, not op by op).
 */
async function scalarBlocks(): Promise<{ checked: number; kernels: string[]; mismatches: string[] }> {
  const V = [0, -0, 1, -1, 0.1, 2.5, 1e-30, 1e30, 3.4e38, Infinity, -Infinity, NaN];
  const block = <S, B>(o: ScalarOps<S, B>, x: { s: { a: S; b: S }; b: Record<never, B> }) => {
    const { a, b } = x.s;
    const gt = o.gt(a, b);
    return {
      s: {
        add: o.add(a, b),
        sub: o.sub(a, b),
        mul: o.mul(a, b),
        div: o.div(a, b),
        min: o.min(a, b),
        max: o.max(a, b),
        sqrt: o.sqrt(a),
        square: o.pow(a, 2),
        root: o.pow(a, 0.5),
        cube: o.pow(a, 3),
        inverse: o.pow(a, -1.5),
        constant: o.add(o.scalar(0.5), o.scalar(1e-6)),
        where: o.where(gt, a, b),
      },
      b: {
        gt,
        ge: o.ge(a, b),
        eq: o.eq(a, b),
        and: o.and(gt, o.isFinite(a)),
        or: o.or(o.isNaN(a), o.bool(false)),
        not: o.not(o.eq(a, b)),
        isFinite: o.isFinite(a),
        isNaN: o.isNaN(b),
      },
    };
  };
  const f = Math.fround;
  // The reference: the core's scalar operations (JavaScript's float64) rounded to float32.
  const rounded =
    <A extends unknown[]>(g: (...a: A) => number) =>
    (...a: A) =>
      f(g(...a));
  const ref: ScalarOps<number, boolean> = {
    ...typedOps,
    scalar: rounded(typedOps.scalar),
    add: rounded(typedOps.add),
    sub: rounded(typedOps.sub),
    mul: rounded(typedOps.mul),
    div: rounded(typedOps.div),
    sqrt: rounded(typedOps.sqrt),
    // e = 0.5 is the square root, as tfOps computes it (Math.pow(-Infinity, 0.5) is +Infinity).
    pow: (a, e) => f(e === 0.5 ? Math.sqrt(a) : typedOps.pow(a, e)),
  };
  // Division, square root and powers on a GPU are not exactly rounded (GLSL ES allows 2.5 ulp
  // for division, exp2 / log2 for pow): a relative tolerance for those, exact for the rest.
  const tolerance: Record<string, number> = { div: 1e-6, sqrt: 1e-6, root: 1e-6, cube: 2e-6, inverse: 2e-6 };
  const mismatches: string[] = [];
  let checked = 0;
  let kernels: string[] = [];
  for (const a of V) {
    for (const b of V) {
      const want = block(ref, { s: { a: f(a), b: f(b) }, b: {} });
      const ta = tf.scalar(a);
      const tb = tf.scalar(b);
      const profile = await tf.profile(() => {
        const r = runScalars(tfOps, { s: { a: ta, b: tb }, b: {} }, block);
        return [...Object.values(r.s), ...Object.values(r.b)];
      });
      kernels = profile.kernels.map((k) => k.name);
      const got = runScalars(tfOps, { s: { a: ta, b: tb }, b: {} }, block);
      for (const [k, w] of Object.entries(want.s)) {
        const t = got.s[k as keyof typeof got.s];
        const g = (await t.data())[0]!;
        checked++;
        const tol = tolerance[k] ?? 0;
        // GPUs flush subnormal results to zero (tf's own webgl / webgpu ops do too).
        const flushed = g === 0 && Math.abs(w) < 2 ** -126;
        const same = Number.isNaN(w)
          ? Number.isNaN(g)
          : !Number.isFinite(w) || tol === 0
            ? g === w || flushed
            : Math.abs(g - w) <= tol * Math.abs(w) || flushed;
        if (!same || t.dtype !== 'float32') mismatches.push(`${k}(${a}, ${b}): ${g} (${t.dtype}), want ${w}`);
      }
      for (const [k, w] of Object.entries(want.b)) {
        const t = got.b[k as keyof typeof got.b];
        const g = (await t.data())[0] !== 0;
        checked++;
        if (g !== w || t.dtype !== 'bool') mismatches.push(`${k}(${a}, ${b}): ${g} (${t.dtype}), want ${w}`);
      }
      tf.dispose([ta, tb, ...Object.values(got.s), ...Object.values(got.b)]);
    }
  }
  // A block with more inputs than a WebGPU dispatch binds (7): packed into buffers first.
  const wide = <S, B>(o: ScalarOps<S, B>, x: { s: Record<string, S>; b: { p: B; q: B } }) => ({
    s: { total: Object.values(x.s).reduce((a, v) => o.add(a, v), o.scalar(0)) },
    b: { either: o.or(x.b.p, x.b.q), both: o.and(x.b.p, x.b.q) },
  });
  const ins = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`x${i}`, tf.scalar(i + 1)]));
  const flags = { p: tf.scalar(true, 'bool'), q: tf.scalar(false, 'bool') };
  const w = runScalars(tfOps, { s: ins, b: flags }, wide);
  const wideGot = [(await w.s.total.data())[0], (await w.b.either.data())[0], (await w.b.both.data())[0]];
  checked += 3;
  if (wideGot.join() !== '55,1,0') mismatches.push(`wide block: ${wideGot.join()}, want 55,1,0`);
  tf.dispose([...Object.values(ins), flags.p, flags.q, w.s.total, w.b.either, w.b.both]);
  return {
    checked,
    kernels: kernels.filter((k) => k === SCALARS_KERNEL || !/^(Unpack|Identity)$/.test(k)),
    mismatches,
  };
}

/**
 * Per-tensor clipping of large sets (the batched per-tensor statistics: several programs' worth
 * of tensors, packed and unpacked textures mixed, float32 extremes) against the core's
 * clipByNorm, tensor by tensor; and the number of kernels one clip runs (it must not grow by
 * a few dozen per tensor, as it did with per-tensor arithmetic).
 */
async function perTensorSets(): Promise<{ n: number; worst: number; where: string; kernels: number }[]> {
  const rows: { n: number; worst: number; where: string; kernels: number }[] = [];
  for (const n of [1, 7, 8, 17, 40]) {
    const ts = Array.from({ length: n }, (_, i) => {
      const scale = i % 5 === 3 ? 1e20 : i % 5 === 4 ? 1e-20 : 0.1 * (i + 1);
      const size = 1 + ((i * 997) % 3000);
      const t = tf.tensor(normal(size, 100 + i, scale), [size]);
      if (i % 3 !== 1) return t;
      // A packed texture on webgl: a matMul result.
      const m = tf.matMul(tf.reshape(t, [size, 1]), tf.ones([1, 2]));
      tf.dispose(t);
      return m;
    });
    const host = await Promise.all(ts.map(async (t) => Float32Array.from(await t.data())));
    const want = host.map((h) => Float32Array.from(h));
    clipByNorm(want, 1);
    const clipper = perTensorNormTensorClipper(1);
    const profile = await tf.profile(() => {
      const r = clipper.clip(ts);
      return [...(r.grads as tf.Tensor[]), r.norm, r.scale, r.clipped, r.finite];
    });
    const r = clipper.clip(ts);
    let worst = 0;
    let where = '';
    for (let i = 0; i < n; i++) {
      const got = await (r.grads as tf.Tensor[])[i]!.data();
      for (let j = 0; j < got.length; j++) {
        const w = want[i]![j]!;
        const e = Math.abs(got[j]! - w) / Math.max(Math.abs(w), 1e-30);
        if (!(e <= worst)) {
          worst = Number.isNaN(e) ? Infinity : e;
          where = `tensor ${i}[${j}]: ${got[j]} vs ${w}`;
        }
      }
    }
    rows.push({ n, worst, where, kernels: profile.kernels.length });
    release(r as TensorClipResult<TensorGradients>);
    clipper.dispose();
    tf.dispose(ts);
  }
  return rows;
}

export const suites = {
  use,
  norms,
  extremes,
  policies,
  twinSteps,
  leaksAndReads,
  composed,
  packedNorms,
  scalarBlocks,
  perTensorSets,
};

declare global {
  interface Window {
    gradclipTest: {
      suites: typeof suites;
      tf: typeof tf;
      normal: typeof normal;
      globalNormTensorClipper: typeof globalNormTensorClipper;
      setFusedKernelsDisabled: typeof setFusedKernelsDisabled;
    };
  }
}

window.gradclipTest = { suites, tf, normal, globalNormTensorClipper, setFusedKernelsDisabled };
