import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, useBackend } from '../test_backends.js';
import { clipPerExample, clipPerExampleByLayer } from '../../privacy/per_example.js';
import { clippedGradients, type PerExampleMethod } from './clip.js';
import type { ModelLike } from './model.js';

const init = (seed: number) => tfl.initializers.glorotUniform({ seed });
const wave = (n: number, f: number, scale = 1) => Array.from({ length: n }, (_, i) => scale * Math.sin(i * f + 0.3));

/**
 * The reference: per-example gradients one at a time with model.apply and tf.variableGrads,
 * read back to the host, then clipped and summed by the core's `clipPerExample` (float64).
 */
function bruteForce(
  model: tfl.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
  c: number,
  loss: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor,
) {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const b = x.shape[0]!;
  const per = vars.map((v) => new Float64Array(b * v.size));
  for (let i = 0; i < b; i++) {
    const { value, grads } = tf.variableGrads(
      () => tf.sum(loss(tf.slice(y, i, 1), model.apply(tf.slice(x, i, 1), { training: true }) as tf.Tensor)),
      vars,
    );
    vars.forEach((v, k) => per[k]!.set(grads[v.name]!.dataSync(), i * v.size));
    tf.dispose([value, ...Object.values(grads)]);
  }
  const out = clipPerExample(
    vars.map((v, k) => ({ values: per[k]!, shape: [b, ...v.shape] })),
    c,
  );
  return { norms: out.norms, sums: vars.map((v, k) => ({ name: v.name, values: out.sum[k]!.values })) };
}

/** Largest |a − b| relative to the largest |b| (per tensor), and per-element relative for norms. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]!));
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
  }
  return scale === 0 ? err : err / scale;
}

interface Case {
  name: string;
  model: () => tfl.LayersModel;
  x: () => tf.Tensor;
  y: () => tf.Tensor;
  loss: 'categoricalCrossentropy' | 'meanSquaredError';
  expect: 'ghost' | 'microbatch';
  /** tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter / UnsortedSegmentSum (conv and gather
   *  gradients): even the brute-force reference cannot run there, so those cases are cpu only. */
  cpuOnly?: boolean;
}

const B = 6;
const cases: Case[] = [
  {
    name: 'two dense layers',
    model: () =>
      tfl.sequential({
        layers: [
          tfl.layers.dense({ inputShape: [4], units: 8, activation: 'tanh', kernelInitializer: init(1) }),
          tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init(2) }),
        ],
      }),
    x: () => tf.tensor2d(wave(B * 4, 1.3, 2), [B, 4]),
    y: () => tf.oneHot(tf.tensor1d([0, 1, 2, 1, 0, 2], 'int32'), 3),
    loss: 'categoricalCrossentropy',
    expect: 'ghost',
  },
  {
    // Dense over a sequence (T = 5): the first layer takes the (X^T Δ) route (2T² = 50 > K·P = 4·6),
    // the second the Gram route (50 ≤ 6·16).
    name: 'dense on sequences (both T > 1 routes)',
    model: () =>
      tfl.sequential({
        layers: [
          tfl.layers.dense({
            inputShape: [5, 4],
            units: 6,
            activation: 'relu',
            kernelInitializer: init(3),
            biasInitializer: 'ones',
          }),
          tfl.layers.dense({ units: 16, activation: 'tanh', kernelInitializer: init(4) }),
          tfl.layers.flatten(),
          tfl.layers.dense({ units: 2, kernelInitializer: init(5) }),
        ],
      }),
    x: () => tf.tensor3d(wave(B * 20, 0.7, 1.5), [B, 5, 4]),
    y: () => tf.tensor2d(wave(B * 2, 2.1, 3), [B, 2]),
    loss: 'meanSquaredError',
    expect: 'ghost',
  },
  {
    // conv 1: T = 36 positions, K = 3·3·2 = 18, P = 4 → materialised route; conv 2 (stride 2,
    // dilation-free, valid): T = 4 → Gram route.
    name: 'Conv2D (same and valid padding, stride 2)',
    model: () =>
      tfl.sequential({
        layers: [
          tfl.layers.conv2d({
            inputShape: [6, 6, 2],
            filters: 4,
            kernelSize: 3,
            padding: 'same',
            activation: 'relu',
            kernelInitializer: init(6),
            biasInitializer: 'ones',
          }),
          tfl.layers.conv2d({ filters: 5, kernelSize: 3, strides: 2, activation: 'tanh', kernelInitializer: init(7) }),
          tfl.layers.maxPooling2d({ poolSize: 2 }),
          tfl.layers.flatten(),
          tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init(8) }),
        ],
      }),
    x: () => tf.tensor4d(wave(B * 72, 0.37, 1), [B, 6, 6, 2]),
    y: () => tf.oneHot(tf.tensor1d([2, 1, 0, 0, 1, 2], 'int32'), 3),
    loss: 'categoricalCrossentropy',
    expect: 'ghost',
    cpuOnly: true,
  },
  {
    // Repeated tokens inside an example: rows of the embedding gradient add up.
    name: 'Embedding with repeated indices',
    model: () =>
      tfl.sequential({
        layers: [
          tfl.layers.embedding({
            inputDim: 7,
            outputDim: 3,
            inputLength: 5,
            embeddingsInitializer: tfl.initializers.randomUniform({ minval: -1, maxval: 1, seed: 9 }),
          }),
          tfl.layers.flatten(),
          tfl.layers.dense({ units: 2, kernelInitializer: init(10) }),
        ],
      }),
    x: () =>
      tf.tensor2d([1, 2, 1, 1, 6, 0, 0, 0, 3, 4, 5, 5, 5, 5, 5, 2, 3, 4, 2, 3, 6, 1, 6, 1, 6, 0, 1, 2, 3, 4], [B, 5]),
    y: () => tf.tensor2d(wave(B * 2, 1.1, 2), [B, 2]),
    loss: 'meanSquaredError',
    expect: 'ghost',
    cpuOnly: true,
  },
  // Functional models (issue 21 item 5): ghost norms on the graph, branches, merges, shared layers.
  {
    name: 'functional: two branches joined by concatenate',
    model: () => {
      const input = tfl.input({ shape: [4] });
      const a = tfl.layers
        .dense({ units: 5, activation: 'relu', kernelInitializer: init(13), biasInitializer: 'ones' })
        .apply(input) as tfl.SymbolicTensor;
      const b = tfl.layers
        .dense({ units: 3, activation: 'tanh', kernelInitializer: init(14) })
        .apply(input) as tfl.SymbolicTensor;
      const ab = tfl.layers.concatenate().apply([a, b]) as tfl.SymbolicTensor;
      const out = tfl.layers
        .dense({ units: 3, activation: 'softmax', kernelInitializer: init(15) })
        .apply(ab) as tfl.SymbolicTensor;
      return tfl.model({ inputs: input, outputs: out });
    },
    x: () => tf.tensor2d(wave(B * 4, 0.5, 2), [B, 4]),
    y: () => tf.oneHot(tf.tensor1d([2, 0, 1, 1, 2, 0], 'int32'), 3),
    loss: 'categoricalCrossentropy',
    expect: 'ghost',
  },
  {
    name: 'functional: residual block (add) on sequences',
    model: () => {
      const input = tfl.input({ shape: [3, 4] });
      const h = tfl.layers
        .dense({ units: 4, activation: 'tanh', kernelInitializer: init(16) })
        .apply(input) as tfl.SymbolicTensor;
      const r = tfl.layers.dense({ units: 4, kernelInitializer: init(17) }).apply(h) as tfl.SymbolicTensor;
      const sum = tfl.layers.add().apply([h, r]) as tfl.SymbolicTensor;
      const act = tfl.layers.activation({ activation: 'relu' }).apply(sum) as tfl.SymbolicTensor;
      const flat = tfl.layers.flatten().apply(act) as tfl.SymbolicTensor;
      const out = tfl.layers.dense({ units: 2, kernelInitializer: init(18) }).apply(flat) as tfl.SymbolicTensor;
      return tfl.model({ inputs: input, outputs: out });
    },
    x: () => tf.tensor3d(wave(B * 12, 0.8, 1.5), [B, 3, 4]),
    y: () => tf.tensor2d(wave(B * 2, 1.9, 2), [B, 2]),
    loss: 'meanSquaredError',
    expect: 'ghost',
  },
  {
    // One Dense layer called on two branches: its per-example gradient is the sum over both
    // calls, so the cross terms count (T = 1 per call, stacked T = 2: the Gram route, 8 ≤ 4·3).
    name: 'functional: one Dense layer shared by two branches',
    model: () => {
      const input = tfl.input({ shape: [4] });
      const a = tfl.layers
        .dense({ units: 4, activation: 'tanh', kernelInitializer: init(19) })
        .apply(input) as tfl.SymbolicTensor;
      const b = tfl.layers
        .dense({ units: 4, activation: 'relu', kernelInitializer: init(20), biasInitializer: 'ones' })
        .apply(input) as tfl.SymbolicTensor;
      const shared = tfl.layers.dense({
        units: 3,
        activation: 'tanh',
        kernelInitializer: init(21),
        biasInitializer: 'ones',
      });
      const sum = tfl.layers
        .add()
        .apply([shared.apply(a) as tfl.SymbolicTensor, shared.apply(b) as tfl.SymbolicTensor]) as tfl.SymbolicTensor;
      const out = tfl.layers.dense({ units: 2, kernelInitializer: init(22) }).apply(sum) as tfl.SymbolicTensor;
      return tfl.model({ inputs: input, outputs: out });
    },
    x: () => tf.tensor2d(wave(B * 4, 1.1, 2), [B, 4]),
    y: () => tf.tensor2d(wave(B * 2, 0.6, 2), [B, 2]),
    loss: 'meanSquaredError',
    expect: 'ghost',
  },
  {
    // One Dense layer called twice in a chain on sequences (T = 3 per call, stacked T = 6:
    // 2·36 > 4·4, the XᵀΔ route), both calls' outputs concatenated.
    name: 'functional: one Dense layer applied twice in a chain (sequences)',
    model: () => {
      const input = tfl.input({ shape: [3, 4] });
      const shared = tfl.layers.dense({
        units: 4,
        activation: 'tanh',
        kernelInitializer: init(23),
        biasInitializer: 'ones',
      });
      const once = shared.apply(input) as tfl.SymbolicTensor;
      const twice = shared.apply(once) as tfl.SymbolicTensor;
      const both = tfl.layers.concatenate().apply([once, twice]) as tfl.SymbolicTensor;
      const flat = tfl.layers.flatten().apply(both) as tfl.SymbolicTensor;
      const out = tfl.layers.dense({ units: 2, kernelInitializer: init(24) }).apply(flat) as tfl.SymbolicTensor;
      return tfl.model({ inputs: input, outputs: out });
    },
    x: () => tf.tensor3d(wave(B * 12, 0.45, 1.5), [B, 3, 4]),
    y: () => tf.tensor2d(wave(B * 2, 1.3, 2), [B, 2]),
    loss: 'meanSquaredError',
    expect: 'ghost',
  },
  {
    // A trainable nested model inside a functional one has no ghost norm: the microbatch fallback runs.
    name: 'functional model with a nested Sequential (microbatch fallback)',
    model: () => {
      const input = tfl.input({ shape: [4] });
      const inner = tfl.sequential({
        layers: [tfl.layers.dense({ inputShape: [4], units: 3, activation: 'tanh', kernelInitializer: init(25) })],
      });
      const h = inner.apply(input) as tfl.SymbolicTensor;
      const out = tfl.layers.dense({ units: 2, kernelInitializer: init(26) }).apply(h) as tfl.SymbolicTensor;
      return tfl.model({ inputs: input, outputs: out });
    },
    x: () => tf.tensor2d(wave(B * 4, 0.5, 2), [B, 4]),
    y: () => tf.tensor2d(wave(B * 2, 1.9, 2), [B, 2]),
    loss: 'meanSquaredError',
    expect: 'microbatch',
  },
  {
    // LayerNormalization has no ghost norm here: the microbatch fallback runs.
    name: 'LayerNormalization (microbatch fallback)',
    model: () =>
      tfl.sequential({
        layers: [
          tfl.layers.dense({ inputShape: [4], units: 8, kernelInitializer: init(11) }),
          tfl.layers.layerNormalization(),
          tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init(12) }),
        ],
      }),
    x: () => tf.tensor2d(wave(B * 4, 0.9, 2), [B, 4]),
    y: () => tf.oneHot(tf.tensor1d([1, 1, 2, 0, 0, 2], 'int32'), 3),
    loss: 'categoricalCrossentropy',
    expect: 'microbatch',
  },
];

describe.each(BACKENDS)(
  'clippedGradients equals brute-force per-example clipping (1e-5 relative) — %s backend',
  (backend) => {
    beforeAll(() => useBackend(backend));
    for (const cs of cases.filter((c) => backend === 'cpu' || !c.cpuOnly)) {
      for (const method of ['auto', 'microbatch'] as PerExampleMethod[]) {
        if (method === 'microbatch' && cs.expect === 'microbatch') continue;
        it(`${cs.name} — method ${method}`, () => {
          const model = cs.model();
          model.compile({ optimizer: 'sgd', loss: cs.loss });
          const x = cs.x();
          const y = cs.y();
          type LossHolder = { lossFunctions?: ((a: tf.Tensor, b: tf.Tensor) => tf.Tensor)[]; model?: LossHolder };
          const holder = model as unknown as LossHolder;
          const lossFn = (holder.lossFunctions ?? holder.model!.lossFunctions!)[0]!;
          // C at the median norm: about half the examples are clipped, half are not.
          const probe = bruteForce(model, x, y, Infinity, lossFn);
          const c = [...probe.norms].sort((a, b) => a - b)[B / 2]!;
          const ref = bruteForce(model, x, y, c, lossFn);
          const before = tf.memory().numTensors;
          const typed: ModelLike = model; // a tfjs-layers model fits the structural type
          const got = clippedGradients(typed, x, y, c, { method });
          expect(got.method).toBe(method === 'auto' ? cs.expect : 'microbatch');
          expect(relErr(got.norms.dataSync(), ref.norms)).toBeLessThan(1e-5);
          for (let k = 0; k < probe.norms.length; k++)
            expect(Math.abs(got.norms.dataSync()[k]! / ref.norms[k]! - 1)).toBeLessThan(1e-5);
          for (const { name, values } of ref.sums) {
            expect(got.grads[name], name).toBeDefined();
            expect(relErr(got.grads[name]!.dataSync(), values), name).toBeLessThan(1e-5);
          }
          // Σ ℓᵢ is the plain loss sum.
          const lossSum = tf.tidy(() => tf.sum(lossFn(y, model.apply(x) as tf.Tensor)).dataSync()[0]!);
          expect(got.lossSum.dataSync()[0]).toBeCloseTo(lossSum, 4);
          tf.dispose([got.norms, got.lossSum, ...Object.values(got.grads)]);
          expect(tf.memory().numTensors).toBe(before); // nothing leaked
          tf.dispose([x, y]);
          model.dispose();
        });
      }
    }
  },
);

describe('clippedGradients: models and arguments it refuses', () => {
  beforeAll(() => useBackend('cpu'));
  it('BatchNormalization mixes examples: a TypeError', () => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.dense({ inputShape: [2], units: 2 }),
        tfl.layers.batchNormalization(),
        tfl.layers.dense({ units: 1 }),
      ],
    });
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    expect(() => clippedGradients(model as unknown as ModelLike, tf.ones([2, 2]), tf.ones([2, 1]), 1)).toThrow(
      /BatchNormalization.*mixes the examples/,
    );
  });
  it("method 'ghost' on an unsupported model says why; bad C and batch mismatch are named", () => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.dense({ inputShape: [2], units: 2 }),
        tfl.layers.dropout({ rate: 0.5 }),
        tfl.layers.dense({ units: 1 }),
      ],
    });
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const m = model as unknown as ModelLike;
    expect(() => clippedGradients(m, tf.ones([2, 2]), tf.ones([2, 1]), 1, { method: 'ghost' })).toThrow(
      /Dropout\) is random in training/,
    );
    expect(() => clippedGradients(m, tf.ones([2, 2]), tf.ones([2, 1]), 0)).toThrow(/l2NormClip must be > 0, got 0/);
    expect(() => clippedGradients(m, tf.ones([2, 2]), tf.ones([3, 1]), 1)).toThrow(/x has 2 examples but y has 3/);
    expect(() => clippedGradients(m, tf.ones([2, 2]), tf.ones([2, 1]), 1, { method: 'fast' as 'auto' })).toThrow(
      /method must be one of/,
    );
  });
});

describe("clippedGradients clipping: 'per_layer' (issue 21 item 4)", () => {
  beforeAll(() => useBackend('cpu'));

  /** Per-example gradients read back, clipped and summed by the core's clipPerExampleByLayer (float64). */
  function perLayerReference(model: tfl.LayersModel, x: tf.Tensor, y: tf.Tensor, c: number, uniform: boolean) {
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const b = x.shape[0]!;
    const per = vars.map((v) => new Float64Array(b * v.size));
    for (let i = 0; i < b; i++) {
      const { value, grads } = tf.variableGrads(
        () =>
          tf.sum(
            tfl.metrics.categoricalCrossentropy(
              tf.slice(y, i, 1),
              model.apply(tf.slice(x, i, 1), { training: true }) as tf.Tensor,
            ),
          ),
        vars,
      );
      vars.forEach((v, k) => per[k]!.set(grads[v.name]!.dataSync(), i * v.size));
      tf.dispose([value, ...Object.values(grads)]);
    }
    return clipPerExampleByLayer(
      vars.map((v, k) => ({ values: per[k]!, shape: [b, ...v.shape] })),
      c,
      { uniform },
    );
  }

  for (const uniform of [true, false]) {
    it(`equals the core's clipPerExampleByLayer on per-example gradients (uniform: ${uniform}), no leaks`, () => {
      const model = cases[0]!.model();
      model.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
      const [x, y] = [cases[0]!.x(), cases[0]!.y()];
      // C at a size where some layers of some examples are clipped and others not.
      const c = 2;
      const ref = perLayerReference(model, x, y, c, uniform);
      expect(ref.clipped.some((n) => n > 0) && ref.clipped.some((n) => n < B)).toBe(true);
      const before = tf.memory().numTensors;
      const r = clippedGradients(model, x, y, c, { clipping: 'per_layer', perLayerUniform: uniform });
      expect(r.method).toBe('microbatch');
      const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
      // K = 4 variables (two kernels, two biases); Cₖ as optax computes them.
      const sizes = vars.map((v) => v.size);
      const total = sizes.reduce((a, b) => a + b, 0);
      expect(r.layerClips).toEqual(sizes.map((d) => (uniform ? c * (1 / 4) ** 0.5 : c * (d / total) ** 0.5)));
      vars.forEach((v, k) => expect(relErr(r.grads[v.name]!.dataSync(), ref.sum[k]!.values)).toBeLessThan(1e-5));
      const ln = r.layerNorms!.arraySync();
      ln.forEach((row, i) => row.forEach((n, k) => expect(n).toBeCloseTo(ref.norms[k]![i]!, 5)));
      tf.dispose([...Object.values(r.grads), r.norms, r.lossSum, r.layerNorms!]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, y]);
      model.dispose();
    });
  }

  it("refuses method 'ghost' and a bad perLayerUniform by name", () => {
    const model = cases[0]!.model();
    model.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    const [x, y] = [cases[0]!.x(), cases[0]!.y()];
    expect(() => clippedGradients(model, x, y, 1, { clipping: 'per_layer', method: 'ghost' })).toThrow(
      /clipping: 'per_layer' runs on microbatches/,
    );
    expect(() =>
      clippedGradients(model, x, y, 1, { clipping: 'per_layer', perLayerUniform: 1 as unknown as boolean }),
    ).toThrow(/perLayerUniform must be a boolean, got 1/);
    expect(() => clippedGradients(model, x, y, 1, { clipping: 'layer' as 'flat' })).toThrow(/clipping must be one of/);
    tf.dispose([x, y]);
    model.dispose();
  });
});
