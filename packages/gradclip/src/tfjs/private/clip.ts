import * as tf from '@tensorflow/tfjs-core';
import { describe } from '../../gradients.js';
import { flag, knownOptions, oneOf } from '../../validate.js';
import { layerNormSq } from './ghost.js';
import {
  checkPrivateLayers,
  compiledLoss,
  ghostForward,
  ghostPlan,
  perExampleLoss,
  probeShapes,
  type Captured,
  type GhostPlan,
  type ModelLike,
  type PerExampleLoss,
} from './model.js';

export type PerExampleMethod = 'auto' | 'ghost' | 'microbatch';

/** `'flat'`: each example's whole gradient clipped to C; `'per_layer'`: each trainable variable on its own. */
export type PerExampleClipping = 'flat' | 'per_layer';

export interface ClippedGradientsOptions {
  /**
   * How per-example norms are found. `'ghost'`: ghost norms (Dense, Conv2D, Embedding in a
   * Sequential model or a one-input, one-output functional model, shared layers included; an
   * error otherwise); `'microbatch'`: one backward pass per example;
   * `'auto'` (default): ghost when the model allows it, else microbatch.
   */
  readonly method?: PerExampleMethod;
  /** Per-example loss (yTrue, yPred) → [B, …]; default: the compiled model's loss. */
  readonly loss?: PerExampleLoss;
  /**
   * `'flat'` (default): gᵢ / max(1, ‖gᵢ‖/C). `'per_layer'` (McMahan et al. 2017; optax
   * `per_example_layer_norm_clip`, the core's `clipPerExampleByLayer`): each of the K trainable
   * variables k of each example is clipped to its own Cₖ — C/√K (`perLayerUniform`, default) or
   * C·√(Dₖ/D) (Dₖ the variable's size, D the model's) — so Σₖ Cₖ² = C² and the sum's sensitivity
   * is still C. Per-layer clipping runs on microbatches ('ghost' is refused).
   */
  readonly clipping?: PerExampleClipping;
  /** With `clipping: 'per_layer'`: true (default) Cₖ = C/√K; false Cₖ = C·√(Dₖ/D). */
  readonly perLayerUniform?: boolean;
}

export interface ClippedGradients {
  /** Σᵢ ∇ℓᵢ · min(1, C/‖∇ℓᵢ‖) per trainable variable, keyed by variable name (the caller disposes). */
  readonly grads: tf.NamedTensorMap;
  /** ‖∇ℓᵢ‖ before clipping, [B] (the caller disposes). */
  readonly norms: tf.Tensor1D;
  /** Σᵢ ℓᵢ, unclipped (the caller disposes). */
  readonly lossSum: tf.Scalar;
  /** The method that ran. */
  readonly method: 'ghost' | 'microbatch';
  /** `clipping: 'per_layer'` only: ‖gᵢ,ₖ‖ before clipping, [B, K] in trainable-variable order (the caller disposes). */
  readonly layerNorms?: tf.Tensor2D;
  /** `clipping: 'per_layer'` only: the thresholds Cₖ, in trainable-variable order. */
  readonly layerClips?: number[];
}

/**
 * The clipped sum of per-example gradients of a tfjs-layers model — DP-SGD's first step on
 * tensors (see the core's `clipPerExample` for the math): Σᵢ ∇ℓᵢ / max(1, ‖∇ℓᵢ‖/C).
 *
 * Ghost clipping (Goodfellow 2015; Li, Tramèr, Liang & Hashimoto 2021; Opacus "ghost
 * clipping"; Bu et al. "book-keeping"): one forward and backward pass yields, for every
 * trainable layer, its input and the gradient of Σᵢ ℓᵢ with respect to its pre-activation
 * output; the per-example gradient norms follow from those (`linearNormSq`,
 * `embeddingNormSq`) without forming any per-example gradient. A second backward pass on the
 * re-weighted loss Σᵢ wᵢ ℓᵢ with wᵢ = 1 / max(1, ‖∇ℓᵢ‖/C) then gives the clipped sum, since
 * ∇(Σ wᵢ ℓᵢ) = Σ wᵢ ∇ℓᵢ for weights held constant. Functional models run node by node in
 * tfjs-layers' depth order (branches, merges); a layer called more than once contributes one
 * norm term over all its calls (`layerNormSq`: the cross terms between calls count).
 *
 * Microbatch fallback (any model `checkPrivateLayers` accepts): one `tf.variableGrads` per
 * example, norm and scale on the device, accumulated — exact, and B times slower.
 *
 * Nothing is read back to the host. Every intermediate tensor is disposed.
 */
export function clippedGradients(
  model: ModelLike,
  x: tf.Tensor,
  y: tf.Tensor,
  l2NormClip: number,
  options: ClippedGradientsOptions = {},
): ClippedGradients {
  knownOptions('clippedGradients options', options, ['method', 'loss', 'clipping', 'perLayerUniform']);
  if (typeof l2NormClip !== 'number')
    throw new TypeError(`l2NormClip must be a number > 0, got ${describe(l2NormClip)}`);
  if (!(l2NormClip > 0)) throw new RangeError(`l2NormClip must be > 0, got ${l2NormClip}`);
  const method = oneOf('method', options.method ?? 'auto', ['auto', 'ghost', 'microbatch'] as const);
  const clipping = oneOf('clipping', options.clipping ?? 'flat', ['flat', 'per_layer'] as const);
  const uniform = flag('perLayerUniform', options.perLayerUniform, true);
  if (x.shape[0] !== y.shape[0]) {
    throw new RangeError(`x has ${x.shape[0]} examples but y has ${y.shape[0]}: the batch dimensions must agree`);
  }
  const loss = options.loss ?? compiledLoss(model);
  checkPrivateLayers(model);
  if (clipping === 'per_layer') {
    if (method === 'ghost')
      throw new TypeError("clipping: 'per_layer' runs on microbatches; method 'ghost' cannot run it");
    return microbatchClip(model, x, y, l2NormClip, loss, layerClipNorms(variablesOf(model), l2NormClip, uniform));
  }
  if (method !== 'microbatch') {
    const plan = ghostPlan(model);
    if (typeof plan !== 'string') return ghostClip(model, plan, x, y, l2NormClip, loss);
    if (method === 'ghost') throw new TypeError(`ghost clipping cannot run on this model: ${plan}`);
  }
  return microbatchClip(model, x, y, l2NormClip, loss, null);
}

/** Cₖ of per-layer clipping, with the core's (optax's) arithmetic: C·(1/K)^0.5 or C·(Dₖ/D)^0.5. */
function layerClipNorms(vars: readonly tf.Variable[], c: number, uniform: boolean): number[] {
  const total = vars.reduce((t, v) => t + v.size, 0);
  return vars.map((v) => (uniform ? c * (1 / vars.length) ** 0.5 : total === 0 ? c : c * (v.size / total) ** 0.5));
}

function variablesOf(model: ModelLike): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/** 1 / max(1, n / C): optax's divisor, so that ghost, microbatch and core agree to the bit pattern of the formula. */
function clipWeights(norms: tf.Tensor1D, c: number): tf.Tensor1D {
  return tf.tidy(() => tf.div(1, tf.maximum(tf.div(norms, c), 1)));
}

function ghostClip(
  model: ModelLike,
  plan: GhostPlan,
  x: tf.Tensor,
  y: tf.Tensor,
  c: number,
  loss: PerExampleLoss,
): ClippedGradients {
  const captured: Captured[] = [];
  const probes = probeShapes(plan, x.shape).map((s) => tf.zeros(s));
  let norms: tf.Tensor1D;
  try {
    // Pass 1: the gradient with respect to the probes only (tfjs prunes the weight gradients).
    const { value, grads: deltas } = tf.valueAndGrads((...ps: tf.Tensor[]) =>
      tf.sum(perExampleLoss(loss, y, ghostForward(plan, x, ps, captured))),
    )(probes);
    value.dispose();
    // One term per trainable layer: the calls of a shared layer are taken together (their gradients add).
    const byLayer = new Map<Captured['step'], number[]>();
    captured.forEach((cap, i) => byLayer.set(cap.step, [...(byLayer.get(cap.step) ?? []), i]));
    norms = tf.tidy(() =>
      tf.sqrt(
        tf.addN(
          [...byLayer.values()].map((ix) =>
            layerNormSq(
              ix.map((i) => captured[i]!),
              ix.map((i) => deltas[i]!),
            ),
          ),
        ),
      ),
    );
    tf.dispose(deltas);
  } finally {
    tf.dispose(probes);
    tf.dispose(captured.map((cap) => cap.input));
  }
  // Pass 2: ∇ Σᵢ wᵢ ℓᵢ = Σᵢ wᵢ ∇ℓᵢ, the clipped sum.
  const weights = clipWeights(norms, c);
  let lossSum: tf.Scalar | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const l = perExampleLoss(loss, y, ghostForward(plan, x, null, null));
    lossSum = tf.keep(tf.sum(l) as tf.Scalar);
    return tf.sum(tf.mul(l, weights));
  }, variablesOf(model));
  value.dispose();
  weights.dispose();
  return { grads, norms, lossSum: lossSum!, method: 'ghost' };
}

function microbatchClip(
  model: ModelLike,
  x: tf.Tensor,
  y: tf.Tensor,
  c: number,
  loss: PerExampleLoss,
  layerClips: number[] | null,
): ClippedGradients {
  const vars = variablesOf(model);
  const layerNorms: tf.Tensor1D[] = [];
  const b = x.shape[0]!;
  let acc: tf.NamedTensorMap = Object.fromEntries(vars.map((v) => [v.name, tf.zerosLike(v)]));
  const norms: tf.Scalar[] = [];
  const losses: tf.Scalar[] = [];
  try {
    for (let i = 0; i < b; i++) {
      const xi = tf.slice(x, i, 1);
      const yi = tf.slice(y, i, 1);
      const { value, grads } = tf.variableGrads(
        () => tf.sum(perExampleLoss(loss, yi, model.apply(xi, { training: true }) as tf.Tensor)),
        vars,
      );
      tf.dispose([xi, yi]);
      const next = tf.tidy(() => {
        const gs = vars.map((v) => grads[v.name] ?? tf.zerosLike(v));
        const sq = gs.map((g) => tf.sum(tf.square(g)));
        const norm = tf.sqrt(tf.addN(sq));
        norms.push(tf.keep(norm as tf.Scalar));
        if (layerClips) {
          // Per layer: variable k scaled by 1 / max(1, ‖gᵢ,ₖ‖ / Cₖ) on its own.
          const ln = sq.map((s) => tf.sqrt(s));
          layerNorms.push(tf.keep(tf.stack(ln) as tf.Tensor1D));
          return Object.fromEntries(
            vars.map((v, k) => [
              v.name,
              tf.add(acc[v.name]!, tf.div(gs[k]!, tf.maximum(tf.div(ln[k]!, layerClips[k]!), 1))),
            ]),
          );
        }
        const w = tf.div(1, tf.maximum(tf.div(norm, c), 1));
        return Object.fromEntries(vars.map((v, k) => [v.name, tf.add(acc[v.name]!, tf.mul(gs[k]!, w))]));
      });
      tf.dispose(grads);
      tf.dispose(acc);
      acc = next;
      losses.push(value);
    }
    const normsT = norms.length ? (tf.stack(norms) as tf.Tensor1D) : (tf.zeros([0]) as tf.Tensor1D);
    const lossSum = tf.tidy(() => (losses.length ? tf.sum(tf.stack(losses)) : tf.scalar(0))) as tf.Scalar;
    if (!layerClips) return { grads: acc, norms: normsT, lossSum, method: 'microbatch' };
    const layerNormsT = (layerNorms.length ? tf.stack(layerNorms) : tf.zeros([0, vars.length])) as tf.Tensor2D;
    return { grads: acc, norms: normsT, lossSum, method: 'microbatch', layerNorms: layerNormsT, layerClips };
  } finally {
    tf.dispose(norms);
    tf.dispose(losses);
    tf.dispose(layerNorms);
  }
}
