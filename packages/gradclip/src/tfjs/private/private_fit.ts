import * as tf from '@tensorflow/tfjs-core';
import { describe } from '../../gradients.js';
import { flag, integerAtLeast, knownOptions, oneOf, positive } from '../../validate.js';
import { RDPAccountant } from '../../privacy/accountant.js';
import { AdaptiveClip, type AdaptiveClipOptions } from '../../privacy/adaptive_clip.js';
import { noiseMultiplierFor } from '../../privacy/calibrate.js';
import { fillGaussian, randomFrom } from '../../privacy/gaussian.js';
import type { RandomSource } from '../../privacy/random.js';
import { checkDelta, checkNoiseMultiplier } from '../../privacy/rdp.js';
import { poissonSample } from '../../privacy/sampling.js';
import { clippedGradients, type PerExampleClipping, type PerExampleMethod } from './clip.js';
import { checkPrivateLayers, perExampleLoss, type LayerLike, type ModelLike, type PerExampleLoss } from './model.js';

/** What `privateFit` reports after each batch and epoch. */
export interface PrivateFitLogs {
  /** Mean per-example loss (of this batch, or over the epoch's examples). Not privatised: see `privateFit`. */
  readonly loss: number;
  /** ε spent so far at the run's δ (∞ when noiseMultiplier is 0). */
  readonly epsilon: number;
  /** δ of the reported ε. */
  readonly delta: number;
  /** Clipping norm C in force (moves under adaptive clipping). */
  readonly l2NormClip: number;
  /**
   * Examples in this batch (Poisson sampling: random around the expected batch size); in the
   * epoch's logs, the mean over the epoch's batches.
   */
  readonly batchSize: number;
  /** Fraction of those examples whose gradient was clipped. */
  readonly clippedFraction: number;
  /** Examples left out because their gradient was not finite (`nonFinite: 'skip'`). */
  readonly skippedExamples: number;
  /**
   * The model's compiled metrics under their tfjs names (`acc`, `mse`, …): means over the
   * batch's (epoch's) examples, computed like `loss` — not privatised.
   */
  readonly [metric: string]: number;
}

export interface PrivateFitCallbacks {
  onBatchEnd?(batch: number, logs: PrivateFitLogs): void | Promise<void>;
  onEpochEnd?(epoch: number, logs: PrivateFitLogs): void | Promise<void>;
}

export interface PrivateFitOptions {
  /** C: per-example gradients are clipped to this L2 norm. Required unless `adaptiveClipping` is set. */
  readonly l2NormClip?: number;
  /**
   * Adaptive clipping (Andrew et al. 2021): C follows a quantile of the per-example norms; its
   * privacy cost is included in the accountant. `initialClip` defaults to `l2NormClip` if given.
   */
  readonly adaptiveClipping?: AdaptiveClipOptions;
  /** σ: noise standard deviation / C. Give this or `targetEpsilon`. 0 = clipping without noise (ε = ∞). */
  readonly noiseMultiplier?: number;
  /**
   * The budget ε in total: σ = noiseMultiplierFor({ targetEpsilon, delta, sampleRate, steps, accountant }),
   * so the steps of a continued accountant (earlier runs) count against it too.
   */
  readonly targetEpsilon?: number;
  /** δ of the (ε, δ) guarantee. Default 1e-5; it should be well below 1 / (number of examples). */
  readonly delta?: number;
  /** Passes over the data. Default 1. */
  readonly epochs?: number;
  /** Expected batch size m; the sampling rate is q = m / N. Default 32 (or N when smaller). */
  readonly batchSize?: number;
  /**
   * `'poisson'` (default): each example joins each batch independently with probability q —
   * the sampling the RDP accountant assumes. `'shuffle'`: fixed-size batches of a shuffled
   * epoch, as ordinary training does; the accountant still reports the Poisson ε, which is NOT
   * a proven guarantee for shuffled batches (use it only to compare runs).
   */
  readonly sampling?: 'poisson' | 'shuffle';
  /**
   * `'flat'` (default): each example's whole gradient is clipped to C. `'per_layer'`: each
   * trainable variable of each example is clipped to its own Cₖ — C/√K for K variables
   * (`perLayerUniform`, default) or C·√(Dₖ/D) by size — so the whole clipped gradient still has
   * norm ≤ C and the noise N(0, σ²C²) is calibrated as before (McMahan et al. 2017; optax
   * `per_example_layer_norm_clip`; the core's `clipPerExampleByLayer`). Per-layer clipping runs
   * on microbatches (one backward pass per example).
   */
  readonly clipping?: PerExampleClipping;
  /** With `clipping: 'per_layer'`: true (default) Cₖ = C/√K; false Cₖ = C·√(Dₖ/D). */
  readonly perLayerUniform?: boolean;
  /** How per-example norms are found (`clippedGradients`): 'auto' (ghost when possible), 'ghost', 'microbatch'. */
  readonly method?: PerExampleMethod;
  /** Per-example loss; default the compiled model's loss. */
  readonly loss?: PerExampleLoss;
  /**
   * An accountant to continue (default: the one saved in the model's metadata, else a new one).
   * When the model already carries a record, this accountant must extend it (its history begins
   * with the saved runs, as `accountantOf(model)` does): a fresh one is refused with a RangeError,
   * since it would replace the model's lifetime record by a shorter one.
   */
  readonly accountant?: RDPAccountant;
  readonly callbacks?: PrivateFitCallbacks;
  /**
   * An example whose gradient is not finite (NaN or ±∞: NaN in its features, an overflow):
   * `'error'` (default) stops before the step's update with a RangeError naming the step and
   * the rows of `xs`; `'skip'` leaves those examples out of the sum — they contribute zero, like
   * a gradient clipped to norm 0 — and still adds the step's noise and charges the step to the
   * accountant. (Skipping the whole step instead would show, without noise, whether the batch
   * held a bad example.) `logs.skippedExamples` counts them.
   */
  readonly nonFinite?: 'error' | 'skip';
  /**
   * Continue even though the model's optimizer has made more updates than its privacy record
   * covers (`optimizer.iterations`, saved by `model.save(…, { includeOptimizer: true })`).
   * Without it `privateFit` refuses such a model: the missing steps were either trained without
   * privateFit or their record was removed or shortened, and ε would be reported too small. Set
   * it only when those updates did not see private data (pre-training on public data); the
   * number of updates so acknowledged is saved with the record (`gradclipUnaccountedSteps`), so
   * later runs do not ask again — unless more unrecorded updates appear.
   */
  readonly allowUnaccountedSteps?: boolean;
  /**
   * Seed for noise and sampling — makes runs repeatable and NOT PRIVATE (the noise can be
   * recomputed). For tests and experiments only; leave unset to draw from crypto.getRandomValues.
   */
  readonly insecureSeed?: number;
}

/** What `onEpochEnd` receives: the epoch's means, and its steps and last batch size. */
export interface PrivateFitEpoch extends PrivateFitLogs {
  readonly epoch: number;
  readonly steps: number;
  /** Examples in the epoch's last batch. */
  readonly lastBatchSize: number;
}

/** `params` of a `PrivateFitResult`, as `tf.History.params`. */
export interface PrivateFitParams {
  readonly epochs: number;
  /** Steps per epoch. */
  readonly steps: number;
  readonly samples: number;
  /** Expected batch size m (q = m / samples). */
  readonly batchSize: number;
  /** Keys of the logs: loss, the compiled metrics, epsilon. */
  readonly metrics: string[];
}

/**
 * What `privateFit` returns: a `tf.History` look-alike (`epoch`, `history.loss`, `history.acc`,
 * `history.epsilon`, `params`) — code written for `model.fit`'s result reads it unchanged —
 * with the privacy outcome alongside.
 */
export interface PrivateFitResult {
  /** The epochs run (0, 1, …), as `tf.History.epoch`. */
  readonly epoch: number[];
  /**
   * One series per key of the epoch logs, one value per epoch, as `tf.History.history`: `loss`,
   * each compiled metric (`acc` …), `epsilon`, `delta`, `l2NormClip`, `batchSize` (mean),
   * `lastBatchSize`, `clippedFraction`, `skippedExamples`, `steps`.
   */
  readonly history: Record<string, number[]>;
  readonly params: PrivateFitParams;
  /** The accountant with every step of this run (and of earlier runs it continued). */
  readonly accountant: RDPAccountant;
  /** σ used (the one found for `targetEpsilon`, or the one given). */
  readonly noiseMultiplier: number;
  /** ε spent in total at `delta`. */
  readonly epsilon: number;
  readonly delta: number;
}

/** Key of the accountant in the model's user-defined metadata (saved by `model.save`). */
export const ACCOUNTANT_METADATA_KEY = 'gradclipPrivacy';

/**
 * Differentially private training of a compiled tfjs-layers model with DP-SGD (Abadi et al.
 * 2016) — what Opacus's `make_private` and TF Privacy's `DPKerasSGDOptimizer` do in Python:
 *
 *   for each step:  B ← Poisson sample of the N examples, rate q = batchSize / N
 *                   g ← (Σ_{i∈B} clip_C(∇ℓᵢ) + N(0, σ²C²·I)) / batchSize
 *                   model.optimizer.applyGradients(g)
 *                   accountant.step({ noiseMultiplier: σ, sampleRate: q })
 *
 * Per-example clipping by ghost norms when the model allows it, else by microbatches
 * (`clippedGradients`). Noise from `crypto.getRandomValues` by the polar method
 * (`gaussianNoise`). Dividing by the expected batch size (not the sampled one) keeps the
 * update a fixed function of the noisy sum, as Opacus does. Steps per epoch: round(N / batchSize).
 *
 * The ε in the callbacks is the privacy spent so far (RDP accountant, `privacySpent`). The
 * `loss` logged with it is computed from the private data without noise: it is for the data
 * holder's monitoring and is not covered by ε — do not publish it. Layer regularizers and
 * constraints are not applied. Each step is recorded in the accountant, and the accountant
 * stored in the model's user-defined metadata, before that step's update is applied — so a run
 * that fails part-way (a throwing callback, a bad batch) leaves a record of every step that
 * changed the weights; `model.save` keeps it and `accountantOf(loadedModel)` restores it.
 */
export async function privateFit(
  model: ModelLike,
  xs: tf.Tensor,
  ys: tf.Tensor,
  options: PrivateFitOptions,
): Promise<PrivateFitResult> {
  knownOptions('privateFit options', options, [
    'l2NormClip',
    'adaptiveClipping',
    'noiseMultiplier',
    'targetEpsilon',
    'delta',
    'epochs',
    'batchSize',
    'sampling',
    'method',
    'loss',
    'accountant',
    'callbacks',
    'insecureSeed',
    'nonFinite',
    'allowUnaccountedSteps',
    'clipping',
    'perLayerUniform',
  ]);
  if (options === undefined)
    throw new TypeError('privateFit needs options { l2NormClip, noiseMultiplier | targetEpsilon, … }');
  const optimizer = model.optimizer;
  if (!optimizer) throw new TypeError('model must be compiled with an optimizer before privateFit');
  checkPrivateLayers(model);
  const n = xs.shape[0]!;
  if (ys.shape[0] !== n) throw new RangeError(`xs has ${n} examples but ys has ${ys.shape[0]}`);
  if (n === 0) throw new RangeError('xs has no examples');
  const epochs = integerAtLeast('epochs', options.epochs ?? 1, 1);
  const batchSize = integerAtLeast('batchSize', options.batchSize ?? Math.min(32, n), 1);
  if (batchSize > n) throw new RangeError(`batchSize must be ≤ the number of examples (${n}), got ${batchSize}`);
  const delta = checkDelta('delta', options.delta ?? 1e-5);
  const sampling = oneOf('sampling', options.sampling ?? 'poisson', ['poisson', 'shuffle'] as const);
  const nonFinite = oneOf('nonFinite', options.nonFinite ?? 'error', ['error', 'skip'] as const);
  const clipping = oneOf('clipping', options.clipping ?? 'flat', ['flat', 'per_layer'] as const);
  const perLayerUniform = flag('perLayerUniform', options.perLayerUniform, true);
  if (clipping === 'per_layer' && options.adaptiveClipping !== undefined)
    throw new TypeError("adaptiveClipping works with clipping: 'flat' only (it adapts one threshold C)");
  const q = batchSize / n;
  const stepsPerEpoch = Math.max(1, Math.round(n / batchSize));

  if (!model.setUserDefinedMetadata)
    throw new TypeError('model has no setUserDefinedMetadata: not a tfjs-layers model?');
  if (options.accountant !== undefined && !(options.accountant instanceof RDPAccountant))
    throw new TypeError(`accountant must be an RDPAccountant, got ${describe(options.accountant)}`);
  const saved = accountantOf(model);
  if (options.accountant !== undefined && saved !== null) checkExtends(options.accountant, saved);
  const accountant = options.accountant ?? saved ?? new RDPAccountant();
  const allowUnaccounted = flag('allowUnaccountedSteps', options.allowUnaccountedSteps, false);
  checkOptimizerSteps(model, optimizer, accountant, allowUnaccounted);
  if (options.accountant === undefined && saved === null && !allowUnaccounted) warnIfTrainedWithoutRecord(model);
  let sigma: number;
  if ((options.noiseMultiplier === undefined) === (options.targetEpsilon === undefined)) {
    throw new TypeError('privateFit needs exactly one of noiseMultiplier and targetEpsilon');
  }
  if (options.noiseMultiplier !== undefined) sigma = checkNoiseMultiplier('noiseMultiplier', options.noiseMultiplier);
  else {
    // The budget is for the whole life of the model: steps the accountant already holds count.
    sigma = noiseMultiplierFor({
      targetEpsilon: options.targetEpsilon!,
      delta,
      sampleRate: q,
      steps: epochs * stepsPerEpoch,
      accountant,
    });
  }

  let adaptive: AdaptiveClip | null = null;
  let clip: number;
  if (options.adaptiveClipping !== undefined) {
    const initialClip = options.adaptiveClipping.initialClip ?? options.l2NormClip;
    adaptive = new AdaptiveClip(batchSize, {
      ...options.adaptiveClipping,
      ...(initialClip === undefined ? {} : { initialClip }),
    });
    clip = adaptive.clip;
  } else {
    if (options.l2NormClip === undefined) throw new TypeError('privateFit needs l2NormClip (or adaptiveClipping)');
    clip = positive('l2NormClip', options.l2NormClip);
  }
  // Gradient noise multiplier: σ itself, or σ_Δ when the clipped-count query shares the budget.
  const gradientSigma = adaptive ? adaptive.gradientNoiseMultiplier(sigma) : sigma;

  const random: RandomSource = randomFrom(
    options.insecureSeed === undefined ? {} : { insecureSeed: options.insecureSeed },
  );
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const metrics = compiledMetrics(model);
  const epochIndices: number[] = [];
  const history: Record<string, number[]> = {};

  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = sampling === 'shuffle' ? shuffled(n, random) : null;
    let lossTotal = 0;
    let seen = 0;
    let counted = 0;
    let clippedTotal = 0;
    let skippedTotal = 0;
    let lastBatchSize = 0;
    const metricTotals = metrics.map(() => 0);
    for (let s = 0; s < stepsPerEpoch; s++) {
      const idx = order ? order.subarray(s * batchSize, Math.min(n, (s + 1) * batchSize)) : poissonSample(n, q, random);
      const at = `step ${accountant.steps + 1} of the model (epoch ${epoch}, batch ${s})`;
      const r = await privateStep(model, optimizer, vars, xs, ys, idx, {
        nonFinite,
        at,
        clip,
        stddev: gradientSigma * clip,
        batchSize,
        random,
        method: options.method,
        loss: options.loss,
        metrics,
        clipping,
        perLayerUniform,
        // The step is charged, and the model's record updated, before the weights change: whatever
        // throws later (a callback, the next step, an abort), the record covers every update made.
        account: () => {
          accountant.step({ noiseMultiplier: sigma, sampleRate: q });
          attachAccountant(model, accountant);
        },
      });
      const usedClip = clip;
      if (adaptive) clip = adaptive.update(r.norms, sigma, random);
      const used = idx.length - r.skipped;
      lossTotal += r.lossSum;
      seen += idx.length;
      counted += used;
      clippedTotal += r.clipped;
      skippedTotal += r.skipped;
      lastBatchSize = idx.length;
      r.metricSums.forEach((v, k) => (metricTotals[k]! += v));
      await options.callbacks?.onBatchEnd?.(s, {
        loss: used ? r.lossSum / used : NaN,
        ...Object.fromEntries(metrics.map((m, k) => [m.name, used ? r.metricSums[k]! / used : NaN])),
        epsilon: accountant.privacySpent(delta).epsilon,
        delta,
        l2NormClip: usedClip,
        batchSize: idx.length,
        clippedFraction: used ? r.clipped / used : 0,
        skippedExamples: r.skipped,
      });
    }
    const logs: PrivateFitEpoch = {
      loss: counted ? lossTotal / counted : NaN,
      ...Object.fromEntries(metrics.map((m, k) => [m.name, counted ? metricTotals[k]! / counted : NaN])),
      epsilon: accountant.privacySpent(delta).epsilon,
      delta,
      l2NormClip: clip,
      batchSize: seen / stepsPerEpoch,
      lastBatchSize,
      clippedFraction: counted ? clippedTotal / counted : 0,
      skippedExamples: skippedTotal,
      steps: stepsPerEpoch,
      epoch,
    };
    epochIndices.push(epoch);
    for (const [key, value] of Object.entries(logs)) if (key !== 'epoch') (history[key] ??= []).push(value);
    await options.callbacks?.onEpochEnd?.(epoch, logs);
  }
  return {
    epoch: epochIndices,
    history,
    params: {
      epochs,
      steps: stepsPerEpoch,
      samples: n,
      batchSize,
      metrics: ['loss', ...metrics.map((m) => m.name), 'epsilon'],
    },
    accountant,
    noiseMultiplier: sigma,
    epsilon: accountant.privacySpent(delta).epsilon,
    delta,
  };
}

/** A compiled metric of the model (single output): its tfjs name and per-example function. */
interface CompiledMetric {
  name: string;
  fn: PerExampleLoss;
}

/** The model's compiled metrics (`model.compile({ metrics })`), as `model.fit` computes them. */
function compiledMetrics(model: ModelLike): CompiledMetric[] {
  type Compiled = { metricsNames?: string[]; metricsTensors?: [PerExampleLoss, number][] };
  const m = model as unknown as Compiled & { model?: Compiled };
  const src = m.metricsTensors ? m : m.model;
  const names = src?.metricsNames ?? [];
  const fns = src?.metricsTensors ?? [];
  const offset = names.length - fns.length;
  return fns
    .map(([fn, output], k) => ({ name: names[offset + k]!, fn, output }))
    .filter((x) => x.output === 0 && typeof x.fn === 'function' && typeof x.name === 'string')
    .map(({ name, fn }) => ({ name, fn }));
}

interface StepConfig {
  nonFinite: 'error' | 'skip';
  /** Names the step in errors. */
  at: string;
  clip: number;
  stddev: number;
  batchSize: number;
  random: RandomSource;
  method: PerExampleMethod | undefined;
  loss: PerExampleLoss | undefined;
  metrics: readonly CompiledMetric[];
  clipping: PerExampleClipping;
  perLayerUniform: boolean;
  /** Records the step in the accountant and the model; called right before the update is applied. */
  account: () => void;
}

/** One DP-SGD update; returns the batch's loss sum, clipped and skipped counts and per-example norms (host). */
async function privateStep(
  model: ModelLike,
  optimizer: tf.Optimizer,
  vars: tf.Variable[],
  xs: tf.Tensor,
  ys: tf.Tensor,
  idx: Uint32Array,
  cfg: StepConfig,
): Promise<{ lossSum: number; clipped: number; skipped: number; norms: Float32Array; metricSums: number[] }> {
  let r = await clipBatch(model, vars, xs, ys, idx, cfg);
  let skipped = 0;
  const bad = idx.filter((_, i) => !Number.isFinite(r.norms[i]!));
  if (bad.length > 0) {
    tf.dispose(r.sums);
    const rows = Array.from(bad.subarray(0, 5)).join(', ') + (bad.length > 5 ? ', …' : '');
    if (cfg.nonFinite === 'error') {
      throw new RangeError(
        `privateFit: ${cfg.at}: the gradient of ${bad.length} example(s) is not finite (NaN or ±Infinity), xs rows ${rows}; ` +
          `nothing of this step was applied. Clean the data, or pass nonFinite: 'skip' to leave such examples out`,
      );
    }
    // Leave the bad examples out: each finite example's clipped gradient does not depend on the others.
    const good = idx.filter((_, i) => Number.isFinite(r.norms[i]!));
    skipped = bad.length;
    r = await clipBatch(model, vars, xs, ys, good, cfg);
    if (r.norms.some((nm) => !Number.isFinite(nm))) {
      tf.dispose(r.sums);
      throw new RangeError(`privateFit: ${cfg.at}: a gradient is still not finite after leaving out rows ${rows}`);
    }
  }
  const { sums, lossSum, norms, metricSums, clipped } = r;
  const update: tf.NamedTensorMap = {};
  for (const v of vars) {
    const sum = sums[v.name] ?? tf.zerosLike(v);
    const noise = new Float32Array(v.size);
    if (cfg.stddev > 0) fillGaussian(noise, cfg.stddev, cfg.random);
    update[v.name] = tf.tidy(() => tf.div(tf.add(sum, tf.tensor(noise, v.shape, 'float32')), cfg.batchSize));
    if (sum !== sums[v.name]) sum.dispose();
  }
  tf.dispose(sums);
  try {
    cfg.account();
    optimizer.applyGradients(update);
  } finally {
    tf.dispose(update);
  }
  return { lossSum, clipped, skipped, norms, metricSums };
}

/** The clipped gradient sum of the rows `idx` (zeros when empty), with the loss sum and norms read back. */
async function clipBatch(
  model: ModelLike,
  vars: tf.Variable[],
  xs: tf.Tensor,
  ys: tf.Tensor,
  idx: Uint32Array,
  cfg: StepConfig,
): Promise<{ sums: tf.NamedTensorMap; lossSum: number; norms: Float32Array; metricSums: number[]; clipped: number }> {
  if (idx.length === 0) {
    // An empty Poisson batch still releases noise: the update is pure noise, as the analysis assumes.
    return {
      sums: Object.fromEntries(vars.map((v) => [v.name, tf.zerosLike(v)])),
      lossSum: 0,
      norms: new Float32Array(0),
      metricSums: cfg.metrics.map(() => 0),
      clipped: 0,
    };
  }
  const indices = tf.tensor1d(Int32Array.from(idx), 'int32');
  const x = tf.gather(xs, indices);
  const y = tf.gather(ys, indices);
  indices.dispose();
  try {
    const r = clippedGradients(model, x, y, cfg.clip, {
      ...(cfg.method === undefined ? {} : { method: cfg.method }),
      ...(cfg.loss === undefined ? {} : { loss: cfg.loss }),
      clipping: cfg.clipping,
      perLayerUniform: cfg.perLayerUniform,
    });
    let metricT: tf.Tensor | null = null;
    try {
      // The compiled metrics on the batch, before the update (as model.fit reports them): one forward pass.
      if (cfg.metrics.length > 0) {
        metricT = tf.tidy(() => {
          const pred = model.apply(x, { training: true }) as tf.Tensor;
          return tf.stack(cfg.metrics.map((m) => tf.sum(perExampleLoss(m.fn, y, pred))));
        });
      }
      const [l, nr, ms, ln] = await Promise.all([
        r.lossSum.data(),
        r.norms.data(),
        metricT?.data(),
        r.layerNorms?.data(),
      ]);
      // Clipped: the whole gradient above C, or (per layer) any variable above its Cₖ.
      let clipped = 0;
      const cs = r.layerClips;
      for (let i = 0; i < nr.length; i++) {
        if (ln && cs ? cs.some((ck, k) => ln[i * cs.length + k]! > ck) : nr[i]! > cfg.clip) clipped++;
      }
      return { sums: r.grads, lossSum: l[0]!, norms: nr as Float32Array, metricSums: Array.from(ms ?? []), clipped };
    } catch (e) {
      tf.dispose(r.grads);
      throw e;
    } finally {
      tf.dispose([r.lossSum, r.norms]);
      if (r.layerNorms) r.layerNorms.dispose();
      if (metricT) metricT.dispose();
    }
  } finally {
    tf.dispose([x, y]);
  }
}

/** A uniformly random permutation of 0..n−1 (Fisher–Yates with the run's random source). */
function shuffled(n: number, random: RandomSource): Uint32Array {
  const p = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random.uniform() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

/**
 * Refuses an accountant that does not continue the record saved in the model: its history must
 * begin with the saved runs (the last one may have grown). Otherwise the record would be
 * replaced by a shorter one and the privacy already spent forgotten (issue 24, N3).
 */
function checkExtends(given: RDPAccountant, saved: RDPAccountant): void {
  const g = given.history;
  const s = saved.history;
  const ok =
    g.length >= s.length &&
    s.every(
      (r, i) =>
        g[i]!.noiseMultiplier === r.noiseMultiplier &&
        g[i]!.sampleRate === r.sampleRate &&
        (i === s.length - 1 ? g[i]!.steps >= r.steps : g[i]!.steps === r.steps),
    );
  if (!ok) {
    throw new RangeError(
      `options.accountant (${given.steps} steps) does not continue the privacy record saved in the model ` +
        `(${saved.steps} steps): using it would forget privacy already spent. Leave accountant out to ` +
        `continue the saved record, or pass one whose history begins with it (e.g. accountantOf(model))`,
    );
  }
}

const warned = new WeakSet<object>();

/**
 * Warns once per model (issue 24, N4) when privateFit starts a fresh record on a model whose
 * weights look trained: weights loaded from a saved model (tfjs-layers marks the layers it
 * builds for loaded weights, `fastWeightInitDuringBuild`), or user-defined metadata without a
 * record (a saved model whose record was deleted). Such weights may hold privacy loss that the
 * new record will not count. Passing `accountant: new RDPAccountant()` (or `allowUnaccountedSteps`) says they do not.
 * gradclip cannot recognise trained weights in general (weights set by `setWeights`, a record
 * removed with all the metadata); the optimizer cross-check catches the rest when the
 * optimizer's state was saved.
 */
function warnIfTrainedWithoutRecord(model: ModelLike): void {
  if (warned.has(model)) return;
  const meta = model.getUserDefinedMetadata?.();
  const loaded = allLayers(model).some(
    (l) => (l as { fastWeightInitDuringBuild?: unknown }).fastWeightInitDuringBuild === true,
  );
  if (!loaded && meta === undefined) return;
  warned.add(model);
  console.warn(
    `gradclip privateFit: model ${model.name} ${loaded ? 'has weights loaded from a saved model' : 'carries saved metadata'} ` +
      `but no privacy record (${ACCOUNTANT_METADATA_KEY}). If those weights were trained on private data, that ` +
      `privacy loss is NOT in the ε reported from now on: the record may have been removed from the saved file. ` +
      `Pass the right accountant (or accountant: new RDPAccountant() if the weights saw no private data) to ` +
      `silence this warning.`,
  );
}

/** Every layer of a model, nested models included. */
function allLayers(model: ModelLike): LayerLike[] {
  const out: LayerLike[] = [];
  const visit = (l: LayerLike) => {
    out.push(l);
    for (const inner of (l as { layers?: readonly LayerLike[] }).layers ?? []) visit(inner);
  };
  model.layers.forEach(visit);
  return out;
}

/** Key of the number of optimizer updates acknowledged as not private (`allowUnaccountedSteps`). */
const UNACCOUNTED_METADATA_KEY = 'gradclipUnaccountedSteps';

/**
 * Cross-checks the record against the optimizer (issue 25): every privateFit step is one
 * `applyGradients`, charged before it runs, so `optimizer.iterations` ≤ recorded steps +
 * acknowledged ones unless the model was trained without privateFit or its record was cut.
 */
function checkOptimizerSteps(
  model: ModelLike,
  optimizer: tf.Optimizer,
  accountant: RDPAccountant,
  allow: boolean,
): void {
  const iterations = (optimizer as { iterations?: unknown }).iterations;
  if (typeof iterations !== 'number' || !(iterations > 0)) return;
  const meta = (model.getUserDefinedMetadata?.() ?? {}) as Record<string, unknown>;
  const ack = meta[UNACCOUNTED_METADATA_KEY];
  const acknowledged = typeof ack === 'number' && Number.isSafeInteger(ack) && ack > 0 ? ack : 0;
  const missing = iterations - accountant.steps;
  if (missing <= acknowledged) return;
  if (!allow) {
    throw new RangeError(
      `the model's optimizer has made ${iterations} updates but its privacy record covers ${accountant.steps} steps` +
        (acknowledged ? ` (and ${acknowledged} acknowledged as not private)` : '') +
        `: ${missing - acknowledged} updates are unaccounted — trained without privateFit, or the record saved with the ` +
        `model was removed or shortened — so the ε reported would be too small. If those updates saw no private data ` +
        `(pre-training on public data), pass allowUnaccountedSteps: true`,
    );
  }
  model.setUserDefinedMetadata!({ ...meta, [UNACCOUNTED_METADATA_KEY]: missing });
}

/** Stores the accountant in the model's user-defined metadata (kept by `model.save`). */
export function attachAccountant(model: ModelLike, accountant: RDPAccountant): void {
  if (!model.setUserDefinedMetadata)
    throw new TypeError('model has no setUserDefinedMetadata: not a tfjs-layers model?');
  const old = (model.getUserDefinedMetadata?.() ?? {}) as Record<string, unknown>;
  model.setUserDefinedMetadata({ ...old, [ACCOUNTANT_METADATA_KEY]: accountant.toJSON() });
}

/** The accountant saved with a model by `privateFit` / `attachAccountant`, or null (validated by `RDPAccountant.fromJSON`). */
export function accountantOf(model: ModelLike): RDPAccountant | null {
  const meta = model.getUserDefinedMetadata?.() as Record<string, unknown> | undefined;
  const json = meta?.[ACCOUNTANT_METADATA_KEY];
  return json === undefined ? null : RDPAccountant.fromJSON(json);
}
