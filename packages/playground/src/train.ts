/**
 * The network the playground trains: a vanilla tanh RNN (16 units) on the adding problem,
 * written with tfjs-core ops so that it runs on WebGL (or cpu) in the browser and on cpu in
 * Node tests. One `step()` = one SGD update on a fresh seeded batch:
 *
 *     h_t = tanh(x_t·W_x + h_{t−1}·W_h + b_h),   ŷ = h_T·W_y + b_y,   L = mean((ŷ − y)²)
 *
 * Gradients come from `tf.variableGrads`, go through a swappable `ClipStep` (gradclip's
 * TF.js clippers), and are applied by `optimizer.applyGradients`. The only host read of a
 * step is one small `data()` of the numbers the charts plot, awaited so the page stays
 * responsive.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core registers the gradient functions of its ops only on request (the union
// package does it for its users).
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { addingProblem, Rng } from '@gradclip/experiments/tasks';

export const HIDDEN = 16;
export const BATCH = 32;

/** What one clipping step gives back; tensors are owned by the caller. */
export interface ClipOutput {
  grads: tf.NamedTensorMap;
  /** Total L2 norm of the gradients before clipping. */
  preNorm: tf.Scalar;
  /** The norm threshold used at this step, when the method has one (adaptive ones vary). */
  threshold: tf.Scalar | null;
  /** 1 (or true) when the method changed the gradients at this step, else 0 (false). */
  clipped: tf.Scalar;
}

/** A clipping method as the trainer uses it. The trainer owns it and disposes it. */
export interface ClipStep {
  /**
   * Takes the gradients and the current weights (AGC needs them), returns new tensors.
   * Must not dispose its inputs.
   */
  apply(grads: tf.NamedTensorMap, params: tf.NamedTensorMap): ClipOutput;
  /** Frees the method's state (adaptive clippers keep statistics in tf.Variables). */
  dispose(): void;
}

export interface StepRecord {
  step: number;
  loss: number;
  /** Global L2 norm of the gradient before clipping. */
  preNorm: number;
  /** Global L2 norm of the gradient actually applied (after clipping). */
  postNorm: number;
  threshold: number | null;
  clipped: boolean;
}

export interface TrainerOptions {
  seqLen: number;
  learningRate: number;
  weightScale: number;
  seed: number;
}

const PARAM_NAMES = ['Wx', 'Wh', 'bh', 'Wy', 'by'] as const;
type ParamName = (typeof PARAM_NAMES)[number];

let trainerCount = 0;

export class Trainer {
  readonly options: TrainerOptions;
  private readonly rng: Rng;
  private readonly vars: Record<ParamName, tf.Variable>;
  private readonly optimizer: tf.SGDOptimizer;
  private clip: ClipStep;
  private steps = 0;
  private disposed = false;

  constructor(options: TrainerOptions, clip: ClipStep) {
    this.options = options;
    this.clip = clip;
    this.rng = new Rng(options.seed);
    const init = new Rng(options.seed + 7919);
    const normal = (shape: number[], std: number): tf.Tensor => {
      const n = shape.reduce((a, b) => a * b, 1);
      const v = new Float32Array(n);
      for (let i = 0; i < n; i++) v[i] = init.normal() * std;
      return tf.tensor(v, shape);
    };
    // Variable names are global in tfjs: a per-trainer suffix lets a reset create new ones
    // before the old trainer is disposed.
    const id = ++trainerCount;
    const make = (name: ParamName, t: tf.Tensor): tf.Variable => {
      const v = tf.variable(t, true, `${name}_${id}`);
      t.dispose();
      return v;
    };
    // W_h ~ N(0, scale²/H) has spectral radius ≈ scale: above 1 the recurrence amplifies
    // and back-propagated gradients can grow exponentially with the sequence length.
    this.vars = {
      Wx: make('Wx', normal([addingProblem.features, HIDDEN], 1)),
      Wh: make('Wh', normal([HIDDEN, HIDDEN], options.weightScale / Math.sqrt(HIDDEN))),
      bh: make('bh', tf.zeros([HIDDEN])),
      Wy: make('Wy', normal([HIDDEN, 1], 1 / Math.sqrt(HIDDEN))),
      by: make('by', tf.zeros([1])),
    };
    this.optimizer = tf.train.sgd(options.learningRate);
  }

  /** Switches the clipping method mid-run (the weights and the step count carry on). */
  setClip(clip: ClipStep): void {
    if (clip === this.clip) return;
    this.clip.dispose();
    this.clip = clip;
  }

  get stepCount(): number {
    return this.steps;
  }

  /** The weights by their short names (Wx, Wh, bh, Wy, by). */
  params(): tf.NamedTensorMap {
    return { ...this.vars };
  }

  private loss(xs: tf.Tensor3D, ys: tf.Tensor2D): tf.Scalar {
    const { Wx, Wh, bh, Wy, by } = this.vars;
    const inputs = tf.unstack(xs, 1) as tf.Tensor2D[];
    let h: tf.Tensor2D = tf.zeros([xs.shape[0], HIDDEN]);
    for (const x of inputs) {
      h = tf.tanh(tf.add(tf.add(tf.matMul(x, Wx as tf.Tensor2D), tf.matMul(h, Wh as tf.Tensor2D)), bh)) as tf.Tensor2D;
    }
    const y = tf.add(tf.matMul(h, Wy as tf.Tensor2D), by);
    return tf.mean(tf.square(tf.sub(y, ys)));
  }

  async step(): Promise<StepRecord> {
    if (this.disposed) throw new Error('Trainer was disposed');
    const b = addingProblem.batch(this.rng, BATCH, this.options.seqLen);
    const xs = tf.tensor3d(b.inputs, b.inputShape);
    const ys = tf.tensor2d(b.targets, b.targetShape);
    const varList = PARAM_NAMES.map((n) => this.vars[n]);
    const { value, grads: raw } = tf.variableGrads(() => this.loss(xs, ys), varList);
    xs.dispose();
    ys.dispose();
    // variableGrads keys by the (suffixed) variable name; the clippers see the short names.
    const grads: tf.NamedTensorMap = {};
    for (const n of PARAM_NAMES) grads[n] = raw[this.vars[n].name]!;
    const out = this.clip.apply(grads, this.params());
    const applied = PARAM_NAMES.map((n) => ({ name: this.vars[n].name, tensor: out.grads[n]! }));
    this.optimizer.applyGradients(applied);
    const stats = tf.tidy(() => {
      const post = tf.sqrt(tf.addN(PARAM_NAMES.map((n) => tf.sum(tf.square(out.grads[n]!)))));
      const parts: tf.Tensor[] = [value, out.preNorm, post, out.clipped];
      if (out.threshold !== null) parts.push(out.threshold);
      return tf.stack(parts.map((p) => tf.cast(p, 'float32')));
    });
    const toDispose = new Set<tf.Tensor>([
      value,
      out.preNorm,
      out.clipped,
      ...Object.values(grads),
      ...Object.values(out.grads),
    ]);
    if (out.threshold !== null) toDispose.add(out.threshold);
    for (const t of toDispose) t.dispose();
    const v = await stats.data();
    stats.dispose();
    this.steps += 1;
    const preNorm = v[1]!;
    const postNorm = v[2]!;
    return {
      step: this.steps,
      loss: v[0]!,
      preNorm,
      postNorm,
      // ZClip without a cap has no threshold during its warm-up (Infinity): no line to draw.
      threshold: out.threshold === null || !Number.isFinite(v[4]!) ? null : v[4]!,
      clipped: v[3]! !== 0,
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of Object.values(this.vars)) v.dispose();
    this.optimizer.dispose();
    this.clip.dispose();
  }
}
