/**
 * The training loop of the RNN experiments: plain SGD on a long-range task, with the
 * clipping step of one method between `computeGradients` and `applyGradients`, recording
 * per step the loss, the pre-clip gradient norm, the threshold in force and whether it
 * clipped. Browser-safe (progress is reported through a callback).
 */
import * as tf from '@tensorflow/tfjs-core';
import { makeClipStep, type MethodSpec } from './methods.js';
import {
  batchTensors,
  disposeRnn,
  hiddenStateGradientNorms,
  initRnn,
  lossAndGradients,
  PARAM_NAMES,
  rnnLoss,
  type RnnParams,
} from './rnn.js';
import { addingProblem, Rng, type TaskSpec } from '@gradclip/experiments/tasks';

export interface TrainConfig {
  task: TaskSpec;
  /** Sequence length T. */
  seqLen: number;
  hidden: number;
  batchSize: number;
  steps: number;
  learningRate: number;
  /** ≈ spectral radius of the initial recurrent matrix. */
  recurrentScale: number;
  /** Size of the held-out batch the final loss is measured on. */
  evalSize: number;
  /** A loss above divergenceFactor × the task's chance loss counts as a divergence. */
  divergenceFactor: number;
}

/**
 * Defaults of `demo`: the adding problem with T = 50, a 32-unit tanh RNN whose recurrent
 * matrix starts with spectral radius ≈ 1.5 and SGD at lr 0.1. Chosen (by trying seeds) so
 * that unclipped training blows up within the first ~50 steps in most seeds while
 * global-norm clipping at 1 trains stably. Clipped runs fall to about the chance loss but do
 * not learn the 50-step dependency in 100 steps; docs/experiments.md lists the settings tried
 * in search of ones that do within the time budget (none found).
 */
export const DEMO_CONFIG: TrainConfig = {
  task: addingProblem,
  seqLen: 50,
  hidden: 32,
  batchSize: 32,
  steps: 100,
  learningRate: 0.1,
  recurrentScale: 1.5,
  evalSize: 256,
  divergenceFactor: 100,
};

export interface RunRecord {
  method: string;
  label: string;
  seed: number;
  /** Per step (until divergence): training loss, pre-clip norm, threshold, clipped, cosine(raw, clipped). */
  loss: number[];
  norm: number[];
  threshold: (number | null)[];
  clipped: boolean[];
  scale: number[];
  cosine: number[];
  diverged: boolean;
  /** Step at which the loss became non-finite or exploded (null when it did not). */
  divergedAt: number | null;
  /** Loss on the held-out batch after training (null when diverged). */
  evalLoss: number | null;
  /** Fraction of steps that clipped. */
  clipFraction: number;
  /** ‖∂L/∂h_t‖, t = 1…T, on the held-out batch before and after training (only when asked). */
  hiddenGradStart?: number[];
  hiddenGradEnd?: number[];
  /**
   * Local smoothness along the trajectory (only when asked): per step,
   * ‖∇f(x_{t+1}; B_t) − ∇f(x_t; B_t)‖ / ‖x_{t+1} − x_t‖ on the step's own batch B_t
   * (Zhang et al. 2020, Fig. 1). NaN on a step that did not move.
   */
  smoothness?: number[];
  /** Wall time of the run in ms (not deterministic; not used in any verdict). */
  ms: number;
}

export interface RunOptions {
  /** Measure ∂L/∂h_t before and after training. */
  profile?: boolean;
  /** Measure the local smoothness of every step (one more gradient per step). */
  smoothness?: boolean;
  /** Measure cos(raw, clipped) every step (default true; `cosine` holds NaN when off). */
  cosine?: boolean;
  /** Called after every step (progress bars). */
  onStep?: (step: number, loss: number) => void;
}

/**
 * ‖∇f(x_{t+1}; B) − ∇f(x_t; B)‖ / ‖x_{t+1} − x_t‖ for plain SGD, where x_{t+1} − x_t is
 * −lr × the applied (clipped) gradient: the change of the gradient per unit of distance along the
 * step just taken (Zhang, He, Sra & Jadbabaie 2020, §3 and Fig. 1).
 */
function localSmoothness(
  params: RnnParams,
  task: TaskSpec,
  x: tf.Tensor3D,
  y: tf.Tensor2D,
  before: readonly tf.Tensor[],
  applied: readonly tf.Tensor[],
  lr: number,
): number {
  const { loss, grads } = lossAndGradients(params, task, x, y);
  const n = tf.tidy(() => {
    const diff = tf.sqrt(tf.addN(PARAM_NAMES.map((k, i) => tf.sum(tf.square(tf.sub(grads[k], before[i]!))))));
    return tf.stack([diff, tf.sqrt(tf.addN(applied.map((g) => tf.sum(tf.square(g)))))]);
  });
  const [dg, step] = Array.from(n.dataSync());
  tf.dispose([n, loss, ...Object.values(grads)]);
  return step! > 0 ? dg! / (lr * step!) : NaN;
}

/**
 * Trains one model. The seed fixes the initial weights and the data stream; every method
 * sees the same weights and the same batches for a given seed.
 */
export function trainRun(cfg: TrainConfig, method: MethodSpec, seed: number, options: RunOptions = {}): RunRecord {
  const t0 = performance.now();
  const task = cfg.task;
  const params = initRnn(new Rng(seed), {
    features: task.features,
    hidden: cfg.hidden,
    outputs: task.outputs,
    recurrentScale: cfg.recurrentScale,
  });
  const dataRng = new Rng(seed + 7919);
  const evalBatch = batchTensors(task.batch(new Rng(seed + 104729), cfg.evalSize, cfg.seqLen));
  const optimizer = tf.train.sgd(cfg.learningRate);
  const clipStep = makeClipStep(method, { steps: cfg.steps, cosine: options.cosine !== false });
  const rec: RunRecord = {
    method: method.id,
    label: method.label,
    seed,
    loss: [],
    norm: [],
    threshold: [],
    clipped: [],
    scale: [],
    cosine: [],
    diverged: false,
    divergedAt: null,
    evalLoss: null,
    clipFraction: 0,
    ms: 0,
  };
  try {
    if (options.profile) rec.hiddenGradStart = hiddenStateGradientNorms(params, task, evalBatch.x, evalBatch.y);
    for (let step = 0; step < cfg.steps; step++) {
      const { x, y } = batchTensors(task.batch(dataRng, cfg.batchSize, cfg.seqLen));
      const { loss, grads } = lossAndGradients(params, task, x, y);
      const lossValue = loss.dataSync()[0]!;
      // The clip step may dispose the raw gradient; measuring smoothness needs it afterwards.
      const raw = options.smoothness ? PARAM_NAMES.map((k) => tf.clone(grads[k])) : null;
      const { grads: clipped, report } = clipStep(grads, params);
      rec.loss.push(lossValue);
      rec.norm.push(report.norm);
      rec.threshold.push(report.threshold);
      rec.clipped.push(report.clipped);
      rec.scale.push(report.scale);
      rec.cosine.push(report.cosine);
      const exploded =
        !Number.isFinite(lossValue) ||
        lossValue > cfg.divergenceFactor * task.chanceLoss ||
        !Number.isFinite(report.norm);
      if (!exploded) {
        optimizer.applyGradients(Object.fromEntries(PARAM_NAMES.map((k) => [params[k].name, clipped[k]])));
        if (raw)
          (rec.smoothness ??= []).push(
            localSmoothness(
              params,
              task,
              x,
              y,
              raw,
              PARAM_NAMES.map((k) => clipped[k]),
              cfg.learningRate,
            ),
          );
      }
      if (raw) tf.dispose(raw);
      tf.dispose([x, y, loss, ...Object.values(clipped)]);
      options.onStep?.(step, lossValue);
      if (exploded) {
        rec.diverged = true;
        rec.divergedAt = step;
        break;
      }
    }
    if (!rec.diverged) {
      const l = rnnLoss(params, task, evalBatch.x, evalBatch.y);
      const v = l.dataSync()[0]!;
      l.dispose();
      if (Number.isFinite(v) && v <= cfg.divergenceFactor * task.chanceLoss) rec.evalLoss = v;
      else {
        rec.diverged = true;
        rec.divergedAt = cfg.steps;
      }
      if (options.profile) rec.hiddenGradEnd = hiddenStateGradientNorms(params, task, evalBatch.x, evalBatch.y);
    }
  } finally {
    clipStep.dispose();
    optimizer.dispose();
    disposeRnn(params);
    tf.dispose([evalBatch.x, evalBatch.y]);
  }
  rec.clipFraction = rec.clipped.length === 0 ? 0 : rec.clipped.filter(Boolean).length / rec.clipped.length;
  rec.ms = performance.now() - t0;
  return rec;
}
