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
 * One call of a layer in the ghost forward pass: the values it reads and writes, by key (a
 * functional model's symbolic tensor ids; positions along the chain of a Sequential model). A
 * layer shared by several calls has one node per call, all with the same `step`.
 */
export interface GhostNode {
  readonly step: GhostStep;
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
}

/** A model as ghost clipping runs it: nodes in an order where every input is computed before use. */
export interface GhostPlan {
  readonly nodes: readonly GhostNode[];
  readonly input: number;
  readonly output: number;
}

/** The parts of a tfjs-layers functional model (`tf.model`, a `Container`) that the plan reads. */
interface SymbolicLike {
  readonly id: number;
}
interface GraphNodeLike {
  readonly outboundLayer: LayerLike;
  readonly inputTensors: readonly SymbolicLike[];
  readonly outputTensors: readonly SymbolicLike[];
}
interface GraphLike {
  readonly inputs?: readonly SymbolicLike[];
  readonly outputs?: readonly SymbolicLike[];
  readonly nodesByDepth?: Readonly<Record<string, readonly GraphNodeLike[]>>;
}

/**
 * Splits a model into ghost-clipping nodes, or says why it cannot (then the microbatch fallback
 * runs). Ghost clipping needs a `tf.Sequential` chain, or a functional model (`tf.model`) with
 * one input and one output whose graph may branch and merge (Add, Concatenate, any weightless
 * layer) and share layers between calls; its trainable layers must all be Dense, Conv2D
 * (channelsLast) or Embedding (no maskZero), and no layer may draw random numbers in training.
 * A nested model with trainable weights counts as a layer without a ghost norm.
 */
export function ghostPlan(model: ModelLike): GhostPlan | string {
  checkPrivateLayers(model);
  const cls = model.getClassName();
  const steps = new Map<LayerLike, GhostStep>();
  const stepOf = (layer: LayerLike): GhostStep | string => {
    let step = steps.get(layer);
    if (step === undefined) {
      const s = ghostStep(layer);
      if (typeof s === 'string') return s;
      steps.set(layer, (step = s));
    }
    return step;
  };
  const nodes: GhostNode[] = [];
  if (cls === 'Sequential') {
    for (const layer of model.layers) {
      if (layer.getClassName() === 'InputLayer') continue;
      const step = stepOf(layer);
      if (typeof step === 'string') return step;
      nodes.push({ step, inputs: [nodes.length], outputs: [nodes.length + 1] });
    }
    return { nodes, input: 0, output: nodes.length };
  }
  const g = model as unknown as GraphLike;
  if (!g.nodesByDepth || !g.inputs || !g.outputs) return `${cls} is neither a Sequential nor a functional model`;
  if (g.inputs.length !== 1 || g.outputs.length !== 1)
    return `the model has ${g.inputs.length} inputs and ${g.outputs.length} outputs (ghost clipping takes one of each)`;
  // Deepest first: tfjs-layers' own order (Container.runInternalGraph), every input computed before use.
  const depths = Object.keys(g.nodesByDepth)
    .map(Number)
    .sort((a, b) => b - a);
  for (const depth of depths) {
    for (const node of g.nodesByDepth[depth]!) {
      const layer = node.outboundLayer;
      if (layer.getClassName() === 'InputLayer') continue;
      const step = stepOf(layer);
      if (typeof step === 'string') return step;
      nodes.push({ step, inputs: node.inputTensors.map((t) => t.id), outputs: node.outputTensors.map((t) => t.id) });
    }
  }
  return { nodes, input: g.inputs[0]!.id, output: g.outputs[0]!.id };
}

/** The ghost step of one layer, or why it has none. */
function ghostStep(layer: LayerLike): GhostStep | string {
  const cls = layer.getClassName();
  const l = layer as unknown as LayerInternals;
  if (RANDOM_LAYERS.has(cls)) return `layer ${layer.name} (${cls}) is random in training`;
  if (layer.trainableWeights.length === 0) return { kind: 'other', layer };
  let step: GhostStep;
  if (cls === 'Dense' && l.kernel) {
    step = {
      kind: 'dense',
      layer,
      kernel: l.kernel.read() as tf.Variable,
      bias: (l.bias?.read() ?? null) as tf.Variable | null,
      activation: l.activation,
    };
  } else if (
    cls === 'Conv2D' &&
    l.kernel &&
    l.dataFormat === 'channelsLast' &&
    l.rank === 2 &&
    l.padding !== 'causal'
  ) {
    step = {
      kind: 'conv2d',
      layer,
      kernel: l.kernel.read() as tf.Variable,
      bias: (l.bias?.read() ?? null) as tf.Variable | null,
      activation: l.activation,
      strides: [l.strides![0]!, l.strides![1]!],
      padding: l.padding!,
      dilations: [l.dilationRate![0]!, l.dilationRate![1]!],
    };
  } else if (cls === 'Embedding' && l.embeddings && !l.maskZero) {
    step = { kind: 'embedding', layer, embeddings: l.embeddings.read() as tf.Variable };
  } else {
    return `layer ${layer.name} (${cls}) has no ghost norm`;
  }
  const used = step.kind === 'embedding' ? 1 : step.bias ? 2 : 1;
  if (layer.trainableWeights.length !== used)
    return `layer ${layer.name} (${cls}) has weights ghost clipping does not know`;
  return step;
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

/** What the ghost forward pass records per call of a trainable layer (kept until the norms are taken). */
export interface Captured {
  step: GhostStep;
  /** Dense: input as [B, T, K]; Conv2D: the layer input (NHWC); Embedding: int32 indices [B, T]. */
  input: tf.Tensor;
}

/**
 * The model's forward pass, node by node, with the pre-activation output of each call of a
 * trainable layer available as a probe: z ← z + probe. The probes are zeros, so the output is
 * the model's; the gradient of the loss with respect to a probe is ∂L/∂z — the "output
 * gradient" that ghost norms pair with the layer input. `capture` receives each call's input
 * (tf.keep'd: it must outlive the gradient tape's tidy), in the order of the probes.
 */
export function ghostForward(
  plan: GhostPlan,
  x: tf.Tensor,
  probes: readonly tf.Tensor[] | null,
  capture: Captured[] | null,
): tf.Tensor {
  const values = new Map<number, tf.Tensor>([[plan.input, x]]);
  let p = 0;
  const probe = (z: tf.Tensor) => (probes ? tf.add(z, probes[p++]!) : z);
  for (const node of plan.nodes) {
    const ins = node.inputs.map((id) => values.get(id)!);
    const step = node.step;
    let out: tf.Tensor | tf.Tensor[];
    if (step.kind === 'other') {
      out = step.layer.apply(ins.length === 1 ? ins[0]! : (ins as never), { training: true }) as
        tf.Tensor | tf.Tensor[];
    } else {
      out = trainableForward(step, ins[0]!, probe, capture);
    }
    const outs = Array.isArray(out) ? out : [out];
    node.outputs.forEach((id, i) => values.set(id, outs[i]!));
  }
  return values.get(plan.output)!;
}

function trainableForward(
  step: Exclude<GhostStep, { kind: 'other' }>,
  h: tf.Tensor,
  probe: (z: tf.Tensor) => tf.Tensor,
  capture: Captured[] | null,
): tf.Tensor {
  switch (step.kind) {
    case 'dense': {
      const k = step.kernel.shape[0]!;
      const flat = h.rank === 2 ? h : tf.reshape(h, [-1, k]);
      let z = tf.matMul(flat as tf.Tensor2D, step.kernel as tf.Tensor2D);
      if (step.bias) z = tf.add(z, step.bias);
      if (h.rank !== 2) z = tf.reshape(z, [...h.shape.slice(0, -1), step.kernel.shape[1]!]);
      if (capture) capture.push({ step, input: tf.keep(tf.reshape(h, [h.shape[0]!, -1, k])) });
      return activate(step.activation, probe(z));
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
      return activate(step.activation, probe(z));
    }
    case 'embedding': {
      const idx = h.dtype === 'int32' ? h : tf.cast(h, 'int32');
      const d = step.embeddings.shape[1]!;
      const z = tf.reshape(tf.gather(step.embeddings, tf.reshape(idx, [-1])), [...idx.shape, d]);
      if (capture) capture.push({ step, input: tf.keep(tf.reshape(idx, [idx.shape[0]!, -1])) });
      return probe(z);
    }
  }
}

function activate(a: LayerInternals['activation'], z: tf.Tensor): tf.Tensor {
  return a ? a.apply(z) : z;
}

/** Shapes of the probes (pre-activation outputs of the trainable calls, in node order) for an input shape. */
export function probeShapes(plan: GhostPlan, inputShape: readonly number[]): number[][] {
  const shapes = new Map<number, (number | null)[]>([[plan.input, [...inputShape]]]);
  const out: number[][] = [];
  for (const node of plan.nodes) {
    const ins = node.inputs.map((id) => shapes.get(id)!);
    const next = node.step.layer.computeOutputShape(ins.length === 1 ? ins[0]! : (ins as never)) as
      (number | null)[] | (number | null)[][];
    const outs = Array.isArray(next[0]) ? (next as (number | null)[][]) : [next as (number | null)[]];
    if (node.step.kind !== 'other') out.push(outs[0]!.map((d, i) => (d === null ? (inputShape[i] ?? -1) : d)));
    node.outputs.forEach((id, i) => shapes.set(id, outs[i]!));
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
