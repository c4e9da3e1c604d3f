/**
 * A vanilla (Elman) tanh RNN written with TensorFlow.js core ops, so that it runs on any
 * backend (cpu, wasm, webgl) and in the browser:
 *
 *     h_t = tanh(x_t·Wx + h_{t−1}·Wh + b),   h_0 = 0,   ŷ = h_T·Wy + c
 *
 * Written out step by step rather than with tfjs-layers' SimpleRNN because the vanishing-
 * gradient experiment needs ∂L/∂h_t for every t: a zero "probe" tensor is added to each
 * h_t and the gradient with respect to the probe is exactly ∂L/∂h_t.
 *
 * Initial weights come from the seeded `Rng`, so a run is reproducible across backends up
 * to float rounding. Wh ~ N(0, (scale²)/H): by the circular law its spectral radius is
 * ≈ scale, so scale > 1 puts the untrained network in the regime where gradients through
 * time can grow exponentially (Pascanu et al. 2013, §2.1: ρ(Wh) > 1/γ is necessary for
 * explosion, γ = 1 for tanh).
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core registers the gradients of its ops in a separate module; tfjs-layers imports it
// in every build (Node CJS and browser ESM), which '@tensorflow/tfjs-core/dist/…' does not.
import '@tensorflow/tfjs-layers';
import type { Batch, Rng, TaskSpec } from '@gradclip/experiments/tasks';

export interface RnnConfig {
  features: number;
  hidden: number;
  outputs: number;
  /** Spectral radius of the initial recurrent matrix (≈). Default 1. */
  recurrentScale?: number;
}

export interface RnnParams {
  wx: tf.Variable;
  wh: tf.Variable;
  b: tf.Variable;
  wy: tf.Variable;
  c: tf.Variable;
}

/** Parameter names in a fixed order: gradients and clippers use this order everywhere. */
export const PARAM_NAMES = ['wx', 'wh', 'b', 'wy', 'c'] as const;
export type ParamName = (typeof PARAM_NAMES)[number];

function gaussian(rng: Rng, n: number, std: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * std;
  return a;
}

/** Creates the parameters as tf.Variables (dispose them with `disposeRnn`). */
export function initRnn(rng: Rng, cfg: RnnConfig, namePrefix = 'rnn'): RnnParams {
  const { features: F, hidden: H, outputs: O } = cfg;
  const scale = cfg.recurrentScale ?? 1;
  // Input and output weights: Glorot-like N(0, 1/fan_in).
  const v = (values: Float32Array, shape: number[], name: string): tf.Variable =>
    tf.tidy(() => tf.variable(tf.tensor(values, shape, 'float32'), true, `${namePrefix}_${name}_${rng.int(1e9)}`));
  return {
    wx: v(gaussian(rng, F * H, 1 / Math.sqrt(F)), [F, H], 'wx'),
    wh: v(gaussian(rng, H * H, scale / Math.sqrt(H)), [H, H], 'wh'),
    b: v(new Float32Array(H), [H], 'b'),
    wy: v(gaussian(rng, H * O, 1 / Math.sqrt(H)), [H, O], 'wy'),
    c: v(new Float32Array(O), [O], 'c'),
  };
}

export function disposeRnn(p: RnnParams): void {
  for (const k of PARAM_NAMES) p[k].dispose();
}

export function paramList(p: RnnParams): tf.Variable[] {
  return PARAM_NAMES.map((k) => p[k]);
}

/** Input and target tensors of a batch (caller disposes). */
export function batchTensors(batch: Batch): { x: tf.Tensor3D; y: tf.Tensor2D } {
  return {
    x: tf.tensor3d(batch.inputs, batch.inputShape),
    y: tf.tensor2d(batch.targets, batch.targetShape),
  };
}

/**
 * The loss of the network on (x, y). With `probes` (T tensors of shape [batch, H], zeros),
 * each probe is added to h_t so that gradients with respect to them are ∂L/∂h_t.
 */
export function rnnLoss(
  p: RnnParams,
  task: TaskSpec,
  x: tf.Tensor3D,
  y: tf.Tensor2D,
  probes?: readonly tf.Tensor[],
): tf.Scalar {
  return tf.tidy((): tf.Scalar => {
    const [batch, steps] = x.shape;
    const H = p.wh.shape[0]!;
    // Input projection and bias of every step at once (one matMul and one add instead of T
    // of each): the step loop then costs 3 ops, which is what dominates on small tensors.
    // Time-major first ([T, batch, F]): unstacking along the leading axis copies contiguous
    // blocks, which is about twice as fast per training step on both the cpu and the wasm
    // backend as unstacking the strided time axis of [batch, T, H].
    const xt = tf.transpose(x, [1, 0, 2]);
    const xwb = tf.add(
      tf.reshape(tf.matMul(tf.reshape(xt, [steps * batch, x.shape[2]]), p.wx), [steps, batch, H]),
      p.b,
    );
    const xw = tf.unstack(xwb, 0);
    let h: tf.Tensor = tf.zeros([batch, H]);
    for (let t = 0; t < steps; t++) {
      h = tf.tanh(tf.add(xw[t]!, tf.matMul(h, p.wh)));
      const probe = probes?.[t];
      if (probe !== undefined) h = tf.add(h, probe);
    }
    const out = tf.add(tf.matMul(h, p.wy), p.c);
    if (task.loss === 'mse') return tf.mean(tf.square(tf.sub(out, y))) as tf.Scalar;
    // Softmax cross-entropy with the log-sum-exp shift, averaged over the batch.
    const logp = tf.logSoftmax(out);
    return tf.neg(tf.mean(tf.sum(tf.mul(y, logp), 1))) as tf.Scalar;
  });
}

/** Loss and gradients of every parameter, in PARAM_NAMES order (caller disposes). */
export function lossAndGradients(
  p: RnnParams,
  task: TaskSpec,
  x: tf.Tensor3D,
  y: tf.Tensor2D,
): { loss: tf.Scalar; grads: Record<ParamName, tf.Tensor> } {
  const { value, grads } = tf.variableGrads(() => rnnLoss(p, task, x, y), paramList(p));
  const out = {} as Record<ParamName, tf.Tensor>;
  for (const k of PARAM_NAMES) out[k] = grads[p[k].name]!;
  return { loss: value, grads: out };
}

/**
 * ‖∂L/∂h_t‖ for t = 1 … T (Frobenius norm over the batch): how much of the error signal
 * reaches step t. Small values at early t are the vanishing-gradient problem.
 */
export function hiddenStateGradientNorms(p: RnnParams, task: TaskSpec, x: tf.Tensor3D, y: tf.Tensor2D): number[] {
  const [batch, steps] = x.shape;
  const H = p.wh.shape[0]!;
  const probes = Array.from({ length: steps }, () => tf.zeros([batch, H]));
  const norms = tf.tidy(() => {
    const g = tf.grads((...ps: tf.Tensor[]) => rnnLoss(p, task, x, y, ps))(probes);
    return tf.stack(g.map((gt) => tf.norm(gt)));
  });
  const values = Array.from(norms.dataSync());
  norms.dispose();
  tf.dispose(probes);
  return values;
}
