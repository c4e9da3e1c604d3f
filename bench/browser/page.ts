/**
 * The page side of `npm run bench:browser` (bundled by bench/browser/run.mjs): gradclip's
 * global-norm clip against the naive tfjs composition on the GPU backends, and clipping's share
 * of a training step; and the per-tensor clip (Keras `clipnorm`) against its naive form.
 *
 *   naive     per tensor sum(square(t)), a pairwise add of the sums (tfjs's addN with more than
 *             7 inputs builds an invalid pipeline on WebGPU), sqrt, minimum(1, c / (norm + 1e-6)),
 *             mul — what a user writes by hand; not overflow-safe, no non-finite handling.
 *   gradclip  globalNormTensorClipper(c).clip(ts): one-pass (m, s) statistics in gradclip's GPU
 *             kernels, the rule's scalar arithmetic, one tf.mul per tensor.
 *
 * A repetition issues the candidate's work and then awaits the norm's data(): both backends
 * execute in submission order, so the read completes only after every program issued before
 * it (the scale passes included). Candidates alternate within each round, so drift of the
 * software GPU hits both alike.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import {
  adaGCTensorClipper,
  globalNormTensorClipper,
  perTensorNormTensorClipper,
} from '../../packages/gradclip/src/tfjs/index.js';
import { tfOps } from '../../packages/gradclip/src/tfjs/ops.js';
import { fusedKind } from '../../packages/gradclip/src/tfjs/kernels.js';
import { Trainer, type ClipStep } from '../../packages/playground/src/train.js';

const MAX_NORM = 1;

function pairwiseSum(xs: tf.Tensor[]): tf.Tensor {
  let level = xs;
  while (level.length > 1) {
    const next: tf.Tensor[] = [];
    for (let i = 0; i < level.length; i += 2)
      next.push(i + 1 < level.length ? tf.add(level[i]!, level[i + 1]!) : level[i]!);
    level = next;
  }
  return level[0]!;
}

/** The hand-written clip. Returns new tensors (grads and norm). */
function naiveClip(ts: readonly tf.Tensor[]): { grads: tf.Tensor[]; norm: tf.Scalar } {
  return tf.tidy(() => {
    const norm = tf.sqrt(pairwiseSum(ts.map((t) => tf.sum(tf.square(t))))) as tf.Scalar;
    const scale = tf.minimum(tf.scalar(1), tf.div(tf.scalar(MAX_NORM), tf.add(norm, tf.scalar(1e-6))));
    return { grads: ts.map((t) => tf.mul(t, scale)), norm };
  });
}

/** The hand-written per-tensor clip (Keras clipnorm, TF clip_by_norm): t · c / max(‖t‖, c). */
function naivePerTensorClip(ts: readonly tf.Tensor[]): { grads: tf.Tensor[]; norm: tf.Scalar } {
  return tf.tidy(() => {
    const squares = ts.map((t) => tf.sum(tf.square(t)));
    const c = tf.scalar(MAX_NORM);
    const grads = ts.map((t, i) => tf.mul(t, tf.div(c, tf.maximum(tf.sqrt(squares[i]!), c))));
    return { grads, norm: tf.sqrt(pairwiseSum(squares)) as tf.Scalar };
  });
}

const clipper = globalNormTensorClipper(MAX_NORM);
const perTensorClipper = perTensorNormTensorClipper(MAX_NORM);

function gradclipPerTensorClip(ts: readonly tf.Tensor[]): { grads: tf.Tensor[]; norm: tf.Scalar } {
  const r = perTensorClipper.clip(ts as tf.Tensor[]);
  tf.dispose([r.scale, r.clipped, r.finite]);
  return { grads: r.grads as tf.Tensor[], norm: r.norm };
}

function gradclipClip(ts: readonly tf.Tensor[]): { grads: tf.Tensor[]; norm: tf.Scalar } {
  const r = clipper.clip(ts as tf.Tensor[]);
  tf.dispose([r.scale, r.clipped, r.finite]);
  return { grads: r.grads as tf.Tensor[], norm: r.norm };
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export interface CaseResult {
  label: string;
  tensors: number;
  size: number;
  times: Record<string, number[]>;
  norms: Record<string, number>;
}

async function use(backend: string): Promise<{ backend: string; fused: string | null; adapter: string }> {
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} failed to initialise`);
  await tf.ready();
  let adapter = '';
  if (backend === 'webgl') {
    const gl = (tf.backend() as unknown as { gpgpu: { gl: WebGL2RenderingContext } }).gpgpu.gl;
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    adapter = String(ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
  } else {
    const info = (tf.backend() as unknown as { adapterInfo?: Record<string, unknown> }).adapterInfo;
    adapter = info ? JSON.stringify(info) : '';
  }
  return { backend: tf.getBackend(), fused: fusedKind() ?? null, adapter };
}

/**
 * Interleaved rounds of naive vs gradclip on `tensors` float32 tensors of `size` values ~ N(0, 1):
 * the global-norm clip, or (`perTensor`) the per-tensor one.
 */
async function clipCase(
  label: string,
  tensors: number,
  size: number,
  rounds: number,
  perTensor = false,
  warmup = 3,
): Promise<CaseResult> {
  const ts = Array.from({ length: tensors }, (_, i) => tf.randomNormal([size], 0, 1, 'float32', i + 1));
  // Settle the uploads before timing.
  await Promise.all(ts.map((t) => tf.sum(t).data()));
  const candidates: Record<string, (ts: readonly tf.Tensor[]) => { grads: tf.Tensor[]; norm: tf.Scalar }> = {
    naive: perTensor ? naivePerTensorClip : naiveClip,
    gradclip: perTensor ? gradclipPerTensorClip : gradclipClip,
  };
  const times: Record<string, number[]> = { naive: [], gradclip: [] };
  const norms: Record<string, number> = {};
  for (let round = -warmup; round < rounds; round++) {
    // Alternate which candidate goes first.
    const order = round % 2 === 0 ? ['naive', 'gradclip'] : ['gradclip', 'naive'];
    for (const name of order) {
      const t0 = performance.now();
      const r = candidates[name]!(ts);
      const norm = (await r.norm.data())[0]!;
      const dt = performance.now() - t0;
      tf.dispose([...r.grads, r.norm]);
      if (round >= 0) times[name]!.push(dt);
      norms[name] = norm;
    }
  }
  tf.dispose(ts);
  return { label, tensors, size, times, norms };
}

/**
 * A training step's time without clipping, with the naive clip and with gradclip: the
 * playground's RNN (seqLen 10, batch 32, 16 units), interleaved.
 */
async function rnnShare(rounds: number, seqLen = 10): Promise<{ times: Record<string, number[]> }> {
  const none: ClipStep = {
    apply: (grads) => ({
      grads: Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.clone(g)])),
      preNorm: tf.scalar(0),
      threshold: null,
      clipped: tf.scalar(0),
    }),
    dispose: () => {},
  };
  const rnnClipper = globalNormTensorClipper(MAX_NORM);
  const clip: ClipStep = {
    apply(grads) {
      const r = rnnClipper.clip(grads);
      tf.dispose([r.scale, r.finite]);
      return { grads: r.grads, preNorm: r.norm, threshold: null, clipped: r.clipped };
    },
    dispose: () => rnnClipper.dispose(),
  };
  const naive: ClipStep = {
    apply(grads) {
      const names = Object.keys(grads);
      const r = naiveClip(names.map((k) => grads[k]!));
      return {
        grads: Object.fromEntries(names.map((k, i) => [k, r.grads[i]!])),
        preNorm: r.norm,
        threshold: null,
        clipped: tf.scalar(1),
      };
    },
    dispose: () => {},
  };
  const opts = { seqLen, learningRate: 0.01, weightScale: 1, seed: 1 };
  const trainers: Record<string, Trainer> = {
    none: new Trainer(opts, none),
    naive: new Trainer(opts, naive),
    gradclip: new Trainer(opts, clip),
  };
  const times: Record<string, number[]> = { none: [], naive: [], gradclip: [] };
  const orders = [
    ['none', 'naive', 'gradclip'],
    ['gradclip', 'none', 'naive'],
    ['naive', 'gradclip', 'none'],
  ];
  for (let round = -5; round < rounds; round++) {
    const order = orders[(round + 6) % 3]!;
    for (const name of order) {
      const t0 = performance.now();
      await trainers[name]!.step();
      if (round >= 0) times[name]!.push(performance.now() - t0);
    }
  }
  Object.values(trainers).forEach((t) => t.dispose());
  return { times };
}

/** The same for a small dense model (256 → 128 → 10, batch 64, softmax cross-entropy, SGD). */
async function denseShare(rounds: number): Promise<{ times: Record<string, number[]> }> {
  const rand = (shape: number[], seed: number, std: number) => tf.randomNormal(shape, 0, std, 'float32', seed);
  const make = () => ({
    w1: tf.variable(rand([256, 128], 1, 1 / 16)),
    b1: tf.variable(tf.zeros([128])),
    w2: tf.variable(rand([128, 10], 2, 1 / 11)),
    b2: tf.variable(tf.zeros([10])),
  });
  const x = rand([64, 256], 3, 1);
  const y = tf.oneHot(
    tf.tensor1d(
      Array.from({ length: 64 }, (_, i) => i % 10),
      'int32',
    ),
    10,
  );
  const models = { none: make(), naive: make(), gradclip: make() };
  const opt = { none: tf.train.sgd(0.01), naive: tf.train.sgd(0.01), gradclip: tf.train.sgd(0.01) };
  const denseClipper = globalNormTensorClipper(MAX_NORM);
  const times: Record<string, number[]> = { none: [], naive: [], gradclip: [] };
  const orders = [
    ['none', 'naive', 'gradclip'],
    ['gradclip', 'none', 'naive'],
    ['naive', 'gradclip', 'none'],
  ] as const;
  for (let round = -5; round < rounds; round++) {
    const order = orders[(round + 6) % 3]!;
    for (const name of order) {
      const m = models[name];
      const t0 = performance.now();
      const { value, grads } = tf.variableGrads(
        () =>
          tf.losses.softmaxCrossEntropy(
            y,
            tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(x, m.w1), m.b1)), m.w2), m.b2),
          ) as tf.Scalar,
      );
      let applied: tf.NamedTensorMap = grads;
      const extra: tf.Tensor[] = [];
      if (name === 'gradclip') {
        const r = denseClipper.clip(grads);
        applied = r.grads;
        extra.push(...Object.values(r.grads), r.norm, r.scale, r.clipped, r.finite);
      } else if (name === 'naive') {
        const names = Object.keys(grads);
        const r = naiveClip(names.map((k) => grads[k]!));
        applied = Object.fromEntries(names.map((k, i) => [k, r.grads[i]!]));
        extra.push(...r.grads, r.norm);
      }
      opt[name].applyGradients(applied);
      await value.data();
      if (round >= 0) times[name]!.push(performance.now() - t0);
      tf.dispose([value, ...Object.values(grads), ...extra]);
    }
  }
  denseClipper.dispose();
  tf.dispose([x, y, ...Object.values(models).flatMap((m) => Object.values(m))]);
  return { times };
}

/**
 * AdaGC (per-tensor thresholds) with the per-tensor statistics batched (`tfOps.normStatsEach`,
 * the default on GPU backends) against the same clipper with it switched off (statistics and
 * arithmetic tensor by tensor), interleaved on the same named tensors.
 */
async function batchingCase(
  tensors: number,
  size: number,
  rounds: number,
  warmup = 3,
): Promise<Record<string, number[]>> {
  const each = tfOps.normStatsEach;
  const grads = Object.fromEntries(
    Array.from({ length: tensors }, (_, i) => [`w${i}`, tf.randomNormal([size], 0, 1, 'float32', i + 1)]),
  );
  const clippers = {
    batched: adaGCTensorClipper({ warmupSteps: 2 }),
    perTensor: adaGCTensorClipper({ warmupSteps: 2 }),
  };
  const times: Record<string, number[]> = { batched: [], perTensor: [] };
  try {
    for (let round = -warmup; round < rounds; round++) {
      const order = round % 2 === 0 ? (['batched', 'perTensor'] as const) : (['perTensor', 'batched'] as const);
      for (const name of order) {
        (tfOps as unknown as { normStatsEach: typeof each | undefined }).normStatsEach =
          name === 'batched' ? each : undefined;
        const t0 = performance.now();
        const r = clippers[name].clip(grads);
        await r.norm.data();
        if (round >= 0) times[name]!.push(performance.now() - t0);
        tf.dispose([...Object.values(r.grads as tf.NamedTensorMap), r.norm, r.scale, r.clipped, r.finite]);
      }
    }
  } finally {
    (tfOps as unknown as { normStatsEach: typeof each | undefined }).normStatsEach = each;
    Object.values(clippers).forEach((c) => c.dispose());
    tf.dispose(Object.values(grads));
  }
  return times;
}

export const bench = { use, clipCase, batchingCase, rnnShare, denseShare, median };

declare global {
  interface Window {
    gradclipBench: typeof bench;
  }
}
window.gradclipBench = bench;
