import * as tf from '@tensorflow/tfjs-core';

/**
 * The parts of a tfjs-layers model that private training uses, written structurally so that
 * `gradclip/tfjs` needs no runtime dependency on `@tensorflow/tfjs-layers` (any
 * `tf.LayersModel` / `tf.Sequential` fits).
 */
export interface LayerLike {
  readonly name: string;
  getClassName(): string;
  readonly trainableWeights: readonly { read(): tf.Tensor }[];
  apply(inputs: tf.Tensor, kwargs?: { training?: boolean }): unknown;
  computeOutputShape(inputShape: (number | null)[]): unknown;
}

export interface ModelLike extends LayerLike {
  readonly layers: readonly LayerLike[];
  readonly optimizer?: tf.Optimizer;
  setUserDefinedMetadata?(metadata: object): void;
  getUserDefinedMetadata?(): object | undefined;
}

/** Per-example loss: (yTrue, yPred) → a tensor whose first dimension is the batch. */
export type PerExampleLoss = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

/** Fields of a tfjs-layers layer that are private in its typings. */
interface LayerInternals {
  kernel?: { read(): tf.Tensor } | null;
  bias?: { read(): tf.Tensor } | null;
  embeddings?: { read(): tf.Tensor } | null;
  activation?: { apply(x: tf.Tensor): tf.Tensor; getClassName(): string } | null;
  strides?: number[];
  padding?: 'valid' | 'same' | 'causal';
  dataFormat?: 'channelsFirst' | 'channelsLast';
  dilationRate?: number[];
  rank?: number;
  maskZero?: boolean;
}

/** A layer of the ghost-clipping forward pass. */
export type GhostStep =
  | {
      kind: 'dense';
      layer: LayerLike;
      kernel: tf.Variable;
      bias: tf.Variable | null;
      activation: LayerInternals['activation'];
    }
  | {
      kind: 'conv2d';
      layer: LayerLike;
      kernel: tf.Variable;
      bias: tf.Variable | null;
      activation: LayerInternals['activation'];
      strides: [number, number];
      padding: 'valid' | 'same';
      dilations: [number, number];
    }
  | { kind: 'embedding'; layer: LayerLike; embeddings: tf.Variable }
  | { kind: 'other'; layer: LayerLike };

/** Layers that draw random numbers in training: the two passes of ghost clipping would disagree. */
const RANDOM_LAYERS = new Set(['Dropout', 'SpatialDropout1D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']);
/**
 * Splits a model into ghost-clipping steps, or says why it cannot (then the microbatch
 * fallback runs). Ghost clipping needs a chain of single-input layers (a `tf.Sequential`)
 * whose trainable layers are all Dense, Conv2D (channelsLast) or Embedding (no maskZero), and
 * no layer that draws random numbers in training.
 */
export function ghostPlan(model: ModelLike): GhostStep[] | string {
  checkPrivateLayers(model);
  if (model.getClassName() !== 'Sequential') return `${model.getClassName()} is not a Sequential model`;
  const steps: GhostStep[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const l = layer as unknown as LayerInternals;
    if (cls === 'InputLayer') continue;
    if (RANDOM_LAYERS.has(cls)) return `layer ${layer.name} (${cls}) is random in training`;
    if (layer.trainableWeights.length === 0) {
      steps.push({ kind: 'other', layer });
      continue;
    }
    if (cls === 'Dense' && l.kernel) {
      steps.push({
        kind: 'dense',
        layer,
        kernel: l.kernel.read() as tf.Variable,
        bias: (l.bias?.read() ?? null) as tf.Variable | null,
        activation: l.activation,
      });
    } else if (
      cls === 'Conv2D' &&
      l.kernel &&
      l.dataFormat === 'channelsLast' &&
      l.rank === 2 &&
      l.padding !== 'causal'
    ) {
      steps.push({
        kind: 'conv2d',
        layer,
        kernel: l.kernel.read() as tf.Variable,
        bias: (l.bias?.read() ?? null) as tf.Variable | null,
        activation: l.activation,
        strides: [l.strides![0]!, l.strides![1]!],
        padding: l.padding!,
        dilations: [l.dilationRate![0]!, l.dilationRate![1]!],
      });
    } else if (cls === 'Embedding' && l.embeddings && !l.maskZero) {
      steps.push({ kind: 'embedding', layer, embeddings: l.embeddings.read() as tf.Variable });
    } else {
      return `layer ${layer.name} (${cls}) has no ghost norm`;
    }
    const own = steps[steps.length - 1]!;
    const used = own.kind === 'embedding' ? 1 : own.kind === 'other' ? 0 : own.bias ? 2 : 1;
    if (layer.trainableWeights.length !== used)
      return `layer ${layer.name} (${cls}) has weights ghost clipping does not know`;
  }
  return steps;
}

/**
 * Layers refused anywhere in a model (nested models, functional graphs and wrappers included),
 * with the reason. BatchNormalization normalises each example by statistics of the whole batch,
 * so per-example gradients do not exist, and in training it updates its moving mean and
 * variance from the private batch — weights saved with the model that no noise covers.
 */
const REFUSED_LAYERS: Readonly<Record<string, string>> = {
  BatchNormalization:
    'it mixes the examples of a batch (per-example gradients, and DP-SGD, are undefined) and updates its moving mean and variance from the private batch without noise; use LayerNormalization or none',
};

/** Where a tfjs-layers layer keeps the layers inside it (models, wrappers, RNN cells) and its state. */
interface NestedLayer {
  layers?: readonly LayerLike[];
  layer?: LayerLike;
  forwardLayer?: LayerLike;
  backwardLayer?: LayerLike;
  cell?: LayerLike;
  cells?: readonly LayerLike[];
  trainable?: boolean;
  /** Weights a layer declared non-trainable (BatchNormalization's moving statistics); not frozen ones. */
  _nonTrainableWeights?: readonly { name?: string; originalName?: string }[];
  nonTrainableWeights?: readonly { name?: string; originalName?: string }[];
}

function innerLayers(layer: LayerLike): LayerLike[] {
  const n = layer as unknown as NestedLayer;
  const inner = [...(n.layers ?? []), n.layer, n.forwardLayer, n.backwardLayer, n.cell, ...(n.cells ?? [])];
  return inner.filter(
    (l): l is LayerLike => typeof l === 'object' && l !== null && typeof l.getClassName === 'function',
  );
}

/**
 * Refuses a model that private training would let learn from the data outside the noise: every
 * layer is visited, inside nested models, functional graphs, wrappers (TimeDistributed,
 * Bidirectional) and RNN cells, and a layer is refused when it is a BatchNormalization or
 * when it declares weights that gradients do not train (non-trainable state a layer may update
 * in `call`, as BatchNormalization's moving statistics are). Frozen layers (`trainable: false`)
 * are fine: their weights do not change. The error names the layer by its path from the model
 * (`sequential_1/batch_normalization_1`).
 */
export function checkPrivateLayers(model: ModelLike): void {
  const seen = new Set<LayerLike>();
  const visit = (layer: LayerLike, path: string): void => {
    if (seen.has(layer)) return;
    seen.add(layer);
    const cls = layer.getClassName();
    const at = `${path}${layer.name}`;
    const why = REFUSED_LAYERS[cls];
    if (why !== undefined)
      throw new TypeError(`model layer ${at} is a ${cls}: private training refuses it, because ${why}`);
    const inner = innerLayers(layer);
    const n = layer as unknown as NestedLayer;
    const state = n._nonTrainableWeights ?? (n.trainable !== false && inner.length === 0 ? n.nonTrainableWeights : []);
    if (state && state.length > 0) {
      const names = state.map((w) => w.originalName ?? w.name ?? '?').join(', ');
      throw new TypeError(
        `model layer ${at} (${cls}) has non-trainable weights (${names}): a layer that updates weights from the data in training would change them outside the privacy accounting, so private training refuses it`,
      );
    }
    for (const l of inner) visit(l, `${at}/`);
  };
  for (const layer of model.layers) visit(layer, '');
}

/** What the ghost forward pass records per trainable layer (kept until the norms are taken). */
export interface Captured {
  step: GhostStep;
  /** Dense: input as [B, T, K]; Conv2D: the layer input (NHWC); Embedding: int32 indices [B, T]. */
  input: tf.Tensor;
}

/**
 * The model's forward pass, layer by layer, with the pre-activation output of each trainable
 * layer available as a probe: z ← z + probe. The probes are zeros, so the output is the
 * model's; the gradient of the loss with respect to a probe is ∂L/∂z — the "output
 * gradient" that ghost norms pair with the layer input. `capture` receives each trainable
 * layer's input (tf.keep'd: it must outlive the gradient tape's tidy).
 */
export function ghostForward(
  steps: readonly GhostStep[],
  x: tf.Tensor,
  probes: readonly tf.Tensor[] | null,
  capture: Captured[] | null,
): tf.Tensor {
  let h = x;
  let p = 0;
  const probe = (z: tf.Tensor) => (probes ? tf.add(z, probes[p++]!) : z);
  for (const step of steps) {
    switch (step.kind) {
      case 'other':
        h = step.layer.apply(h, { training: true }) as tf.Tensor;
        break;
      case 'dense': {
        const k = step.kernel.shape[0]!;
        const flat = h.rank === 2 ? h : tf.reshape(h, [-1, k]);
        let z = tf.matMul(flat as tf.Tensor2D, step.kernel as tf.Tensor2D);
        if (step.bias) z = tf.add(z, step.bias);
        if (h.rank !== 2) z = tf.reshape(z, [...h.shape.slice(0, -1), step.kernel.shape[1]!]);
        if (capture) capture.push({ step, input: tf.keep(tf.reshape(h, [h.shape[0]!, -1, k])) });
        h = activate(step.activation, probe(z));
        break;
      }
      case 'conv2d': {
        let z: tf.Tensor = tf.conv2d(
          h as tf.Tensor4D,
          step.kernel as tf.Tensor4D,
          step.strides,
          step.padding,
          'NHWC',
          step.dilations,
        );
        if (step.bias) z = tf.add(z, step.bias);
        // A clone (shares the data): the captured tensor is disposed later, the input must not be.
        if (capture) capture.push({ step, input: tf.keep(tf.clone(h)) });
        h = activate(step.activation, probe(z));
        break;
      }
      case 'embedding': {
        const idx = h.dtype === 'int32' ? h : tf.cast(h, 'int32');
        const d = step.embeddings.shape[1]!;
        const z = tf.reshape(tf.gather(step.embeddings, tf.reshape(idx, [-1])), [...idx.shape, d]);
        if (capture) capture.push({ step, input: tf.keep(tf.reshape(idx, [idx.shape[0]!, -1])) });
        h = probe(z);
        break;
      }
    }
  }
  return h;
}

function activate(a: LayerInternals['activation'], z: tf.Tensor): tf.Tensor {
  return a ? a.apply(z) : z;
}

/** Shapes of the probes (pre-activation outputs of the trainable layers) for an input shape. */
export function probeShapes(steps: readonly GhostStep[], inputShape: readonly number[]): number[][] {
  let shape: (number | null)[] = [...inputShape];
  const out: number[][] = [];
  for (const step of steps) {
    const next = step.layer.computeOutputShape(shape) as (number | null)[];
    if (step.kind !== 'other') out.push(next.map((d, i) => (d === null ? (inputShape[i] ?? -1) : d)));
    shape = next;
  }
  return out;
}

/** The loss of each example: `loss(yTrue, yPred)` averaged over every axis but the first. */
export function perExampleLoss(loss: PerExampleLoss, yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor1D {
  const l = loss(yTrue, yPred);
  if (l.rank === 1) return l as tf.Tensor1D;
  if (l.rank === 0)
    throw new TypeError(
      'loss must return one value per example (a tensor with the batch dimension first), got a scalar',
    );
  return tf.mean(
    l,
    Array.from({ length: l.rank - 1 }, (_, i) => i + 1),
  );
}

/** The compiled model's loss function (tfjs-layers' losses already return one value per example). */
export function compiledLoss(model: ModelLike): PerExampleLoss {
  const m = model as unknown as { lossFunctions?: PerExampleLoss[]; model?: { lossFunctions?: PerExampleLoss[] } };
  const fns = m.lossFunctions ?? m.model?.lossFunctions;
  if (!fns || fns.length !== 1) {
    throw new TypeError(
      'model must be compiled with one loss (or pass options.loss: (yTrue, yPred) => per-example loss)',
    );
  }
  return fns[0]!;
}
