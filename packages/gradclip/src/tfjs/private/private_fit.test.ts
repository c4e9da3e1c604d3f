import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { RDPAccountant } from '../../privacy/accountant.js';
import { noiseMultiplierFor } from '../../privacy/calibrate.js';
import { clipPerExampleByLayer } from '../../privacy/per_example.js';
import { privacySpent } from '../../privacy/rdp.js';
import { clippedGradients } from './clip.js';
import { accountantOf, privateFit, type PrivateFitLogs } from './private_fit.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

/** Two Gaussian blobs in 2-D, labels one-hot: linearly separable with margin. */
function blobs(n: number) {
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    x.push((c ? 2 : -2) + Math.sin(i * 12.9898) * 0.8, (c ? 1 : -1) + Math.cos(i * 78.233) * 0.8);
    y.push(c ? 0 : 1, c ? 1 : 0);
  }
  return { xs: tf.tensor2d(x, [n, 2]), ys: tf.tensor2d(y, [n, 2]) };
}

function classifier(optimizer: tf.Optimizer | string = 'sgd') {
  const m = tfl.sequential({
    layers: [
      tfl.layers.dense({
        inputShape: [2],
        units: 8,
        activation: 'relu',
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
      }),
      tfl.layers.dense({
        units: 2,
        activation: 'softmax',
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }),
      }),
    ],
  });
  m.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return m;
}

function accuracy(m: tfl.LayersModel, xs: tf.Tensor, ys: tf.Tensor): number {
  return tf.tidy(
    () =>
      tf.mean(tf.cast(tf.equal(tf.argMax(m.predict(xs) as tf.Tensor, 1), tf.argMax(ys, 1)), 'float32')).dataSync()[0]!,
  );
}

describe('privateFit', () => {
  it('trains privately, reports ε per batch and epoch as the accountant computes it, leaks no tensor', async () => {
    const { xs, ys } = blobs(400);
    const model = classifier(tf.train.sgd(0.5));
    const batches: PrivateFitLogs[] = [];
    const epochs: number[] = [];
    const before = tf.memory().numTensors;
    const r = await privateFit(model, xs, ys, {
      l2NormClip: 1,
      noiseMultiplier: 1.1,
      delta: 1e-5,
      epochs: 3,
      batchSize: 40,
      insecureSeed: 1,
      callbacks: { onBatchEnd: (_, l) => void batches.push(l), onEpochEnd: (_, l) => void epochs.push(l.epsilon) },
    });
    expect(tf.memory().numTensors).toBe(before);
    // 400 / 40 = 10 steps per epoch, 30 steps of the sampled Gaussian mechanism at q = 0.1.
    expect(r.accountant.history).toEqual([{ noiseMultiplier: 1.1, sampleRate: 0.1, steps: 30 }]);
    expect(r.epsilon).toBe(privacySpent({ sampleRate: 0.1, noiseMultiplier: 1.1, steps: 30, delta: 1e-5 }).epsilon);
    expect(batches).toHaveLength(30);
    for (let i = 1; i < batches.length; i++) expect(batches[i]!.epsilon).toBeGreaterThan(batches[i - 1]!.epsilon);
    expect(epochs).toEqual(r.history.epsilon);
    // Poisson batches vary in size around 40.
    expect(new Set(batches.map((b) => b.batchSize)).size).toBeGreaterThan(3);
    expect(accuracy(model, xs, ys)).toBeGreaterThan(0.9);
    tf.dispose([xs, ys]);
  });

  it('without noise and with q = 1 one step is exactly clipped full-batch SGD', async () => {
    // batchSize = N: every example in every batch; C huge: nothing clipped; σ = 0:
    // update = lr · (Σ ∇ℓᵢ) / N = lr · ∇(mean loss), what model.fit's one SGD step does.
    const { xs, ys } = blobs(16);
    const a = classifier(tf.train.sgd(0.1));
    const b = classifier(tf.train.sgd(0.1));
    await privateFit(a, xs, ys, { l2NormClip: 1e9, noiseMultiplier: 0, batchSize: 16, epochs: 1, insecureSeed: 3 });
    await b.fit(xs, ys, { batchSize: 16, epochs: 1, shuffle: false, verbose: 0 });
    const wa = a.getWeights().map((w) => Array.from(w.dataSync()));
    const wb = b.getWeights().map((w) => Array.from(w.dataSync()));
    wa.forEach((w, k) => w.forEach((v, j) => expect(v).toBeCloseTo(wb[k]![j]!, 5)));
    tf.dispose([xs, ys]);
  });

  it('calibrates σ for targetEpsilon and stays within it', async () => {
    const { xs, ys } = blobs(200);
    const r = await privateFit(classifier(), xs, ys, {
      l2NormClip: 1,
      targetEpsilon: 2,
      delta: 1e-5,
      epochs: 2,
      batchSize: 20,
      insecureSeed: 4,
    });
    expect(r.epsilon).toBeLessThanOrEqual(2);
    expect(r.epsilon).toBeGreaterThan(1.5); // the smallest σ on the grid: close to the budget
    expect(r.accountant.steps).toBe(20);
    tf.dispose([xs, ys]);
  });

  it('adaptive clipping moves C and charges the count query to the accountant', async () => {
    const { xs, ys } = blobs(200);
    const seen: number[] = [];
    const r = await privateFit(classifier(tf.train.sgd(0.3)), xs, ys, {
      adaptiveClipping: { initialClip: 0.01, targetQuantile: 0.5 },
      noiseMultiplier: 1,
      epochs: 2,
      batchSize: 50,
      insecureSeed: 5,
      callbacks: { onBatchEnd: (_, l) => void seen.push(l.l2NormClip) },
    });
    // C starts far below every norm (b̃ ≈ 0) and grows by about e^{0.2·0.5} per step.
    expect(seen[0]).toBe(0.01);
    expect(seen.at(-1)!).toBeGreaterThan(0.01 * 1.05 ** 6);
    // The accountant records the total σ = 1; the gradient noise was (1 − (2·2.5)⁻²)^{−1/2} = 1.0206…
    expect(r.accountant.history).toEqual([{ noiseMultiplier: 1, sampleRate: 0.25, steps: 8 }]);
    tf.dispose([xs, ys]);
  });

  it('model.save keeps the accountant; a later run continues it', async () => {
    const { xs, ys } = blobs(100);
    const model = classifier();
    const r = await privateFit(model, xs, ys, {
      l2NormClip: 1,
      noiseMultiplier: 2,
      epochs: 1,
      batchSize: 10,
      insecureSeed: 6,
    });
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(
        async (a) => ((saved = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }),
      ),
    );
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
    const restored = accountantOf(loaded);
    expect(restored).toBeInstanceOf(RDPAccountant);
    expect(restored!.toJSON()).toEqual(r.accountant.toJSON());
    loaded.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    const again = await privateFit(loaded, xs, ys, {
      l2NormClip: 1,
      noiseMultiplier: 2,
      epochs: 1,
      batchSize: 10,
      insecureSeed: 7,
    });
    expect(again.accountant.steps).toBe(20);
    expect(again.epsilon).toBe(privacySpent({ sampleRate: 0.1, noiseMultiplier: 2, steps: 20, delta: 1e-5 }).epsilon);
    // A budget given to a continued run covers the earlier steps too.
    const third = await privateFit(loaded, xs, ys, {
      l2NormClip: 1,
      targetEpsilon: 1.5,
      epochs: 1,
      batchSize: 10,
      insecureSeed: 8,
    });
    expect(third.accountant.steps).toBe(30);
    expect(third.epsilon).toBeLessThanOrEqual(1.5);
    expect(third.noiseMultiplier).toBeGreaterThan(
      noiseMultiplierFor({ targetEpsilon: 1.5, delta: 1e-5, sampleRate: 0.1, steps: 10, accounting: 'rdp' }),
    );
    tf.dispose([xs, ys]);
  });

  it("sampling: 'shuffle' takes fixed-size batches of a shuffled epoch (and still accounts at q = m / N)", async () => {
    const { xs, ys } = blobs(100);
    const sizes: number[] = [];
    const r = await privateFit(classifier(tf.train.sgd(0.5)), xs, ys, {
      l2NormClip: 1,
      noiseMultiplier: 0.8,
      sampling: 'shuffle',
      epochs: 2,
      batchSize: 25,
      insecureSeed: 8,
      callbacks: { onBatchEnd: (_, l) => void sizes.push(l.batchSize) },
    });
    expect(sizes).toEqual([25, 25, 25, 25, 25, 25, 25, 25]);
    expect(r.history.batchSize).toEqual([25, 25]); // the mean batch: every example once per epoch
    expect(r.history.lastBatchSize).toEqual([25, 25]);
    expect(r.accountant.history).toEqual([{ noiseMultiplier: 0.8, sampleRate: 0.25, steps: 8 }]);
    tf.dispose([xs, ys]);
  });

  it('rejects bad options by name', async () => {
    const { xs, ys } = blobs(20);
    const m = classifier();
    await expect(privateFit(m, xs, ys, { l2NormClip: 1, epochs: 1 })).rejects.toThrow(
      /exactly one of noiseMultiplier and targetEpsilon/,
    );
    await expect(privateFit(m, xs, ys, { noiseMultiplier: 1 })).rejects.toThrow(/needs l2NormClip/);
    await expect(privateFit(m, xs, ys, { l2NormClip: 1, noiseMultiplier: 1, batchSize: 50 })).rejects.toThrow(
      /batchSize must be ≤ the number of examples \(20\), got 50/,
    );
    await expect(privateFit(m, xs, ys, { l2NormClip: -1, noiseMultiplier: 1 })).rejects.toThrow(/l2NormClip/);
    await expect(privateFit(m, xs, ys, { l2NormClip: 1, noiseMultiplier: 1, delta: 2 })).rejects.toThrow(
      /delta must be in \(0, 1\), got 2/,
    );
    await expect(
      privateFit(m, xs, ys, { l2NormClip: 1, noiseMultiplier: 1, sampling: 'random' as 'poisson' }),
    ).rejects.toThrow(/sampling must be one of/);
    tf.dispose([xs, ys]);
  });
});

describe('privateFit keeps the privacy record whole (issue 24)', () => {
  it('N2: a run that throws part-way leaves the model a record of every step that changed its weights', async () => {
    const { xs, ys } = blobs(40);
    const model = classifier();
    const before = tf.memory().numTensors;
    const w0 = model.getWeights().map((w) => Array.from(w.dataSync()));
    await expect(
      privateFit(model, xs, ys, {
        l2NormClip: 1,
        noiseMultiplier: 1,
        batchSize: 4,
        insecureSeed: 9,
        callbacks: {
          onBatchEnd: (batch) => {
            if (batch === 2) throw new Error('callback failed');
          },
        },
      }),
    ).rejects.toThrow(/callback failed/);
    expect(tf.memory().numTensors).toBe(before);
    // Batches 0, 1 and 2 were applied before the callback of batch 2 threw: three steps spent.
    expect(model.getWeights().some((w, k) => Array.from(w.dataSync()).some((v, j) => v !== w0[k]![j]))).toBe(true);
    expect(accountantOf(model)!.history).toEqual([{ noiseMultiplier: 1, sampleRate: 0.1, steps: 3 }]);
    // The next run continues from there instead of from ε = 0.
    const r = await privateFit(model, xs, ys, { l2NormClip: 1, noiseMultiplier: 1, batchSize: 4, insecureSeed: 10 });
    expect(r.accountant.steps).toBe(13);
    expect(accountantOf(model)!.steps).toBe(13);
    tf.dispose([xs, ys]);
  });

  it('N3: a fresh accountant cannot overwrite the lifetime record of a model that has one', async () => {
    const { xs, ys } = blobs(40);
    const model = classifier();
    await privateFit(model, xs, ys, { l2NormClip: 1, noiseMultiplier: 1, batchSize: 5, insecureSeed: 11 });
    expect(accountantOf(model)!.steps).toBe(8);
    const w = model.getWeights().map((t) => Array.from(t.dataSync()));
    await expect(
      privateFit(model, xs, ys, {
        l2NormClip: 1,
        noiseMultiplier: 1,
        batchSize: 5,
        insecureSeed: 12,
        accountant: new RDPAccountant(),
      }),
    ).rejects.toThrow(
      /options\.accountant \(0 steps\) does not continue the privacy record saved in the model \(8 steps\)/,
    );
    // Refused before training: weights and record as they were.
    model.getWeights().forEach((t, k) => expect(Array.from(t.dataSync())).toEqual(w[k]));
    expect(accountantOf(model)!.steps).toBe(8);
    // An accountant with different earlier runs is no continuation either.
    const other = new RDPAccountant().step({ noiseMultiplier: 2, sampleRate: 0.125, steps: 8 });
    await expect(
      privateFit(model, xs, ys, { l2NormClip: 1, noiseMultiplier: 1, batchSize: 5, accountant: other }),
    ).rejects.toThrow(/does not continue/);
    // One that extends the record is accepted: the saved record, or a longer history starting with it.
    const longer = accountantOf(model)!.step({ noiseMultiplier: 3, sampleRate: 0.5 });
    const r = await privateFit(model, xs, ys, {
      l2NormClip: 1,
      noiseMultiplier: 1,
      batchSize: 5,
      insecureSeed: 13,
      accountant: longer,
    });
    expect(r.accountant.steps).toBe(17);
    expect(accountantOf(model)!.steps).toBe(17);
    tf.dispose([xs, ys]);
  });
});

describe('privateFit refuses layers that learn from the data outside the noise (issue 25)', () => {
  /** Trains nothing: the refusal comes first. Returns the moving statistics' values to check they did not move. */
  function bnState(layer: tfl.layers.Layer) {
    return layer.getWeights().map((w) => Array.from(w.dataSync()));
  }

  it('BatchNormalization inside a nested model is refused, by its path, before any weight changes', async () => {
    const { xs, ys } = blobs(32);
    const bn = tfl.layers.batchNormalization();
    const inner = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [2], units: 4 }), bn] });
    const m = tfl.sequential({ layers: [inner, tfl.layers.dense({ units: 2, activation: 'softmax' })] });
    m.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    const before = bnState(bn);
    const w = m.getWeights().map((t) => Array.from(t.dataSync()));
    for (const method of ['auto', 'microbatch'] as const) {
      await expect(privateFit(m, xs, ys, { l2NormClip: 1, noiseMultiplier: 1, method })).rejects.toThrow(
        new RegExp(`model layer ${inner.name}/${bn.name} is a BatchNormalization: private training refuses it`),
      );
    }
    expect(bnState(bn)).toEqual(before);
    m.getWeights().forEach((t, k) => expect(Array.from(t.dataSync())).toEqual(w[k]));
    expect(accountantOf(m)).toBeNull();
    // clippedGradients, the public building block, refuses it too.
    expect(() => clippedGradients(m, xs, ys, 1, { method: 'microbatch' })).toThrow(/is a BatchNormalization/);
    tf.dispose([xs, ys]);
  });

  it('BatchNormalization in a functional graph, inside a wrapper, or frozen is refused too', async () => {
    const { xs, ys } = blobs(16);
    const input = tfl.input({ shape: [2] });
    const a = tfl.layers.dense({ units: 3 }).apply(input) as tfl.SymbolicTensor;
    const bn = tfl.layers.batchNormalization({ trainable: false });
    const b = bn.apply(tfl.layers.dense({ units: 3 }).apply(input)) as tfl.SymbolicTensor;
    const out = tfl.layers
      .dense({ units: 2, activation: 'softmax' })
      .apply(tfl.layers.concatenate().apply([a, b])) as tfl.SymbolicTensor;
    const functional = tfl.model({ inputs: input, outputs: out });
    functional.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    await expect(privateFit(functional, xs, ys, { l2NormClip: 1, noiseMultiplier: 1 })).rejects.toThrow(
      new RegExp(`model layer ${bn.name} is a BatchNormalization`),
    );
    // A functional model nested in a Sequential one.
    const outer = tfl.sequential({ layers: [functional] });
    outer.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    await expect(privateFit(outer, xs, ys, { l2NormClip: 1, noiseMultiplier: 1 })).rejects.toThrow(
      new RegExp(`model layer ${functional.name}/${bn.name} is a BatchNormalization`),
    );
    // Inside a TimeDistributed wrapper.
    const inner = tfl.layers.batchNormalization();
    const td = tfl.layers.timeDistributed({ layer: inner, inputShape: [1, 2] });
    const seq = tfl.sequential({
      layers: [td, tfl.layers.flatten(), tfl.layers.dense({ units: 2, activation: 'softmax' })],
    });
    seq.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    const xs3 = tf.reshape(xs, [16, 1, 2]);
    await expect(privateFit(seq, xs3, ys, { l2NormClip: 1, noiseMultiplier: 1 })).rejects.toThrow(
      new RegExp(`model layer ${td.name}/${inner.name} is a BatchNormalization`),
    );
    tf.dispose([xs, ys, xs3]);
  });

  it('a layer with non-trainable state of its own is refused; frozen layers are accepted', async () => {
    const { xs, ys } = blobs(16);
    /** Keeps a running sum of its inputs in a non-trainable weight, as a stateful layer would. */
    class RunningSum extends tfl.layers.Layer {
      static className = 'RunningSum';
      total!: tfl.LayerVariable;
      override build(shape: tfl.Shape | tfl.Shape[]) {
        this.total = this.addWeight(
          'total',
          [(shape as number[])[1]!],
          'float32',
          tfl.initializers.zeros(),
          undefined,
          false,
        );
        this.built = true;
      }
      override call(x: tf.Tensor | tf.Tensor[]) {
        return Array.isArray(x) ? x[0]! : x;
      }
    }
    const stateful = new RunningSum({ inputShape: [3] });
    const m = tfl.sequential({
      layers: [
        tfl.layers.dense({ inputShape: [2], units: 3 }),
        tfl.sequential({ layers: [stateful], name: 'block' }),
        tfl.layers.dense({ units: 2, activation: 'softmax' }),
      ],
    });
    m.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    await expect(privateFit(m, xs, ys, { l2NormClip: 1, noiseMultiplier: 1 })).rejects.toThrow(
      new RegExp(
        `model layer block/${stateful.name} \\(RunningSum\\) has non-trainable weights \\(${stateful.name}/total\\)`,
      ),
    );
    // A frozen Dense (transfer learning) has non-trainable weights too, but they never change: accepted.
    const frozen = classifier();
    frozen.layers[0]!.trainable = false;
    frozen.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    const k0 = Array.from(frozen.layers[0]!.getWeights()[0]!.dataSync());
    const r = await privateFit(frozen, xs, ys, { l2NormClip: 1, noiseMultiplier: 1, batchSize: 8, insecureSeed: 14 });
    expect(r.accountant.steps).toBe(2);
    expect(Array.from(frozen.layers[0]!.getWeights()[0]!.dataSync())).toEqual(k0);
    tf.dispose([xs, ys]);
  });
});

describe('privateFit nonFinite policy (issue 25: NaN data gave all-NaN weights silently)', () => {
  /** The issue's repro: 32 examples, one NaN feature (row 5). */
  function withNaN() {
    const { xs, ys } = blobs(32);
    const x = xs.arraySync() as number[][];
    x[5]![1] = NaN;
    xs.dispose();
    return { xs: tf.tensor2d(x), ys };
  }
  const allFinite = (m: tfl.LayersModel) =>
    m.getWeights().every((w) => Array.from(w.dataSync()).every(Number.isFinite));

  for (const method of ['ghost', 'microbatch'] as const) {
    it(`'error' (default) stops before the update and names the step and the row (${method})`, async () => {
      const { xs, ys } = withNaN();
      const m = classifier();
      const w = m.getWeights().map((t) => Array.from(t.dataSync()));
      const before = tf.memory().numTensors;
      await expect(
        privateFit(m, xs, ys, { l2NormClip: 1, noiseMultiplier: 1, batchSize: 32, method, insecureSeed: 15 }),
      ).rejects.toThrow(
        /privateFit: step 1 of the model \(epoch 0, batch 0\): the gradient of 1 example\(s\) is not finite \(NaN or ±Infinity\), xs rows 5; nothing of this step was applied/,
      );
      expect(tf.memory().numTensors).toBe(before);
      m.getWeights().forEach((t, k) => expect(Array.from(t.dataSync())).toEqual(w[k]));
      expect(accountantOf(m)).toBeNull(); // no step was applied, none is charged
      tf.dispose([xs, ys]);
    });
  }

  it("'skip' leaves the example out, still adds noise and charges every step", async () => {
    const { xs, ys } = withNaN();
    const m = classifier(tf.train.sgd(0.5));
    const skipped: number[] = [];
    const before = tf.memory().numTensors;
    const r = await privateFit(m, xs, ys, {
      l2NormClip: 1,
      noiseMultiplier: 1,
      batchSize: 32,
      epochs: 3,
      nonFinite: 'skip',
      insecureSeed: 16,
      callbacks: { onBatchEnd: (_, l) => void skipped.push(l.skippedExamples) },
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(allFinite(m)).toBe(true);
    expect(skipped).toEqual([1, 1, 1]); // q = 1: row 5 is in every batch
    expect(r.accountant.history).toEqual([{ noiseMultiplier: 1, sampleRate: 1, steps: 3 }]);
    expect(accountantOf(m)!.steps).toBe(3);
    tf.dispose([xs, ys]);
  });

  it("'skip' without noise is the clean examples' sum divided by the expected batch size", async () => {
    // σ = 0, C huge, q = 1: update = lr · Σ_{i≠5} ∇ℓᵢ / 32, which is one step of model.fit on the
    // 31 clean rows (mean over 31) with learning rate lr · 31/32.
    const { xs, ys } = withNaN();
    const a = classifier(tf.train.sgd(0.32));
    const b = classifier(tf.train.sgd(0.31));
    await privateFit(a, xs, ys, { l2NormClip: 1e9, noiseMultiplier: 0, batchSize: 32, nonFinite: 'skip' });
    const keep = tf.tensor1d(
      Array.from({ length: 32 }, (_, i) => i).filter((i) => i !== 5),
      'int32',
    );
    const [cx, cy] = [tf.gather(xs, keep), tf.gather(ys, keep)];
    await b.fit(cx, cy, { batchSize: 31, epochs: 1, shuffle: false, verbose: 0 });
    const wb = b.getWeights().map((w) => Array.from(w.dataSync()));
    a.getWeights().forEach((w, k) => Array.from(w.dataSync()).forEach((v, j) => expect(v).toBeCloseTo(wb[k]![j]!, 5)));
    tf.dispose([xs, ys, keep, cx, cy]);
  });

  it('refuses an unknown policy by name', async () => {
    const { xs, ys } = blobs(8);
    await expect(
      privateFit(classifier(), xs, ys, { l2NormClip: 1, noiseMultiplier: 1, nonFinite: 'zero' as 'skip' }),
    ).rejects.toThrow(/nonFinite must be one of 'error', 'skip', got .zero./);
    tf.dispose([xs, ys]);
  });
});

describe('privateFit cross-checks the saved record against the optimizer (issue 25)', () => {
  async function saveToMemory(m: tfl.LayersModel, includeOptimizer: boolean): Promise<tf.io.ModelArtifacts> {
    let saved: tf.io.ModelArtifacts | undefined;
    await m.save(
      tf.io.withSaveHandler(
        async (a) => ((saved = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }),
      ),
      { includeOptimizer },
    );
    return saved!;
  }
  const opts = { l2NormClip: 1, noiseMultiplier: 1, batchSize: 5 } as const;

  it('a loaded model whose optimizer made more updates than its record covers is refused unless allowed', async () => {
    const { xs, ys } = blobs(40);
    const m = classifier();
    await privateFit(m, xs, ys, { ...opts, insecureSeed: 17 });
    expect(m.optimizer.iterations).toBe(8);
    const artifacts = await saveToMemory(m, true);
    // Intact: iterations 8, record 8 — continues.
    const intact = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
    expect(intact.optimizer.iterations).toBe(8);
    expect((await privateFit(intact, xs, ys, { ...opts, insecureSeed: 18 })).accountant.steps).toBe(16);

    // The record removed from the saved metadata (N4's edit): refused, saying why.
    const { gradclipPrivacy, ...rest } = artifacts.userDefinedMetadata as Record<string, unknown>;
    expect(gradclipPrivacy).toBeDefined();
    const removed = await tfl.loadLayersModel(tf.io.fromMemory({ ...artifacts, userDefinedMetadata: rest }));
    await expect(privateFit(removed, xs, ys, opts)).rejects.toThrow(
      /the model's optimizer has made 8 updates but its privacy record covers 0 steps: 8 updates are unaccounted .* pass allowUnaccountedSteps: true/,
    );
    // Shortened to 3 steps: refused too.
    const short = {
      kind: 'rdp',
      version: 1,
      orders: [2, 4, 8],
      history: [{ noiseMultiplier: 1, sampleRate: 0.125, steps: 3 }],
    };
    const shortened = await tfl.loadLayersModel(
      tf.io.fromMemory({ ...artifacts, userDefinedMetadata: { ...rest, gradclipPrivacy: short } }),
    );
    await expect(privateFit(shortened, xs, ys, opts)).rejects.toThrow(
      /made 8 updates but its privacy record covers 3 steps: 5 updates/,
    );
    expect(accountantOf(shortened)!.steps).toBe(3);

    // Allowed explicitly (public pre-training): continues, and the acknowledgement is saved with the record.
    const r = await privateFit(removed, xs, ys, { ...opts, insecureSeed: 19, allowUnaccountedSteps: true });
    expect(r.accountant.steps).toBe(8);
    const again = await tfl.loadLayersModel(tf.io.fromMemory(await saveToMemory(removed, true)));
    expect(again.optimizer.iterations).toBe(16);
    expect((await privateFit(again, xs, ys, { ...opts, insecureSeed: 20 })).accountant.steps).toBe(16);
    tf.dispose([xs, ys]);
  });

  it('model.fit before privateFit counts as unaccounted updates', async () => {
    const { xs, ys } = blobs(20);
    const m = classifier();
    await m.fit(xs, ys, { batchSize: 10, epochs: 1, verbose: 0 });
    await expect(privateFit(m, xs, ys, opts)).rejects.toThrow(/made 2 updates but its privacy record covers 0 steps/);
    await expect(privateFit(m, xs, ys, { ...opts, allowUnaccountedSteps: 1 as unknown as boolean })).rejects.toThrow(
      /allowUnaccountedSteps must be a boolean, got 1/,
    );
    const r = await privateFit(m, xs, ys, { ...opts, allowUnaccountedSteps: true, insecureSeed: 21 });
    expect(r.accountant.steps).toBe(4);
    await m.fit(xs, ys, { batchSize: 20, epochs: 1, verbose: 0 }); // one more update outside privateFit
    await expect(privateFit(m, xs, ys, opts)).rejects.toThrow(
      /made 7 updates but its privacy record covers 4 steps \(and 2 acknowledged as not private\): 1 updates/,
    );
    tf.dispose([xs, ys]);
  });
});

describe('privateFit warns once about trained weights without a record (issue 24, N4)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('weights loaded from a saved model whose record was deleted: one clear warning, once per model', async () => {
    const { xs, ys } = blobs(20);
    const m = classifier();
    await privateFit(m, xs, ys, { l2NormClip: 1, noiseMultiplier: 1, batchSize: 5, insecureSeed: 22 });
    let saved: tf.io.ModelArtifacts | undefined;
    await m.save(
      tf.io.withSaveHandler(
        async (a) => ((saved = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }),
      ),
    );
    // The N4 edit: the whole userDefinedMetadata deleted from model.json (no optimizer state saved).
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory({ ...saved!, userDefinedMetadata: undefined }));
    loaded.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    await privateFit(loaded, xs, ys, { l2NormClip: 1, noiseMultiplier: 1, batchSize: 5, insecureSeed: 23 });
    await privateFit(loaded, xs, ys, { l2NormClip: 1, noiseMultiplier: 1, batchSize: 5, insecureSeed: 24 });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toMatch(
      /has weights loaded from a saved model but no privacy record \(gradclipPrivacy\)\. If those weights were trained on private data, that privacy loss is NOT in the ε reported/,
    );
    tf.dispose([xs, ys]);
  });

  it('metadata without a record warns; a fresh model, or an explicit new accountant, does not', async () => {
    const { xs, ys } = blobs(10);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const opts = { l2NormClip: 1, noiseMultiplier: 1, batchSize: 5, insecureSeed: 25 } as const;
    await privateFit(classifier(), xs, ys, opts);
    expect(warn).not.toHaveBeenCalled();
    const edited = classifier();
    edited.setUserDefinedMetadata({ note: 'record removed' });
    await privateFit(edited, xs, ys, { ...opts, accountant: new RDPAccountant() });
    expect(warn).not.toHaveBeenCalled();
    const other = classifier();
    other.setUserDefinedMetadata({ note: 'record removed' });
    await privateFit(other, xs, ys, opts);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toMatch(/carries saved metadata but no privacy record/);
    tf.dispose([xs, ys]);
  });
});

describe('privateFit like model.fit (issue 23)', () => {
  it('returns a tf.History look-alike with the compiled metrics — the numbers model.fit gives when nothing is private', async () => {
    // σ = 0, C huge, q = 1, fixed batches: privateFit's steps are model.fit's, so loss and accuracy
    // per epoch must be model.fit's too (both measured on the batch before its update).
    const { xs, ys } = blobs(16);
    const a = classifier(tf.train.sgd(0.1));
    const b = classifier(tf.train.sgd(0.1));
    const before = tf.memory().numTensors;
    const r = await privateFit(a, xs, ys, {
      l2NormClip: 1e9,
      noiseMultiplier: 0,
      batchSize: 16,
      epochs: 3,
      sampling: 'shuffle',
      insecureSeed: 26,
    });
    expect(tf.memory().numTensors).toBe(before);
    const h = await b.fit(xs, ys, { batchSize: 16, epochs: 3, shuffle: false, verbose: 0 });
    expect(r.epoch).toEqual(h.epoch);
    expect(r.history.acc).toEqual(h.history.acc);
    r.history.loss!.forEach((l, i) => expect(l).toBeCloseTo(h.history.loss![i] as number, 5));
    expect(r.history.epsilon).toEqual([Infinity, Infinity, Infinity]);
    expect(r.params).toMatchObject({
      epochs: 3,
      steps: 1,
      samples: 16,
      batchSize: 16,
      metrics: ['loss', 'acc', 'epsilon'],
    });
    tf.dispose([xs, ys]);
  });

  it("logs each batch's real size and the metrics; the epoch logs the mean and the last batch size", async () => {
    const { xs, ys } = blobs(100);
    const sizes: number[] = [];
    const accs: number[] = [];
    const epochLogs: PrivateFitLogs[] = [];
    const model = classifier(tf.train.sgd(0.5));
    const before = tf.memory().numTensors;
    const r = await privateFit(model, xs, ys, {
      l2NormClip: 1,
      noiseMultiplier: 1,
      batchSize: 20,
      epochs: 2,
      insecureSeed: 27,
      callbacks: {
        onBatchEnd: (_, l) => void (sizes.push(l.batchSize), accs.push(l.acc!)),
        onEpochEnd: (_, l) => void epochLogs.push(l),
      },
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(sizes).toHaveLength(10);
    expect(new Set(sizes).size).toBeGreaterThan(1); // Poisson: sizes vary around 20
    const mean = (v: number[]) => v.reduce((x, y) => x + y, 0) / v.length;
    expect(r.history.batchSize).toEqual([mean(sizes.slice(0, 5)), mean(sizes.slice(5))]);
    expect(r.history.lastBatchSize).toEqual([sizes[4], sizes[9]]);
    expect(epochLogs.map((l) => l.batchSize)).toEqual(r.history.batchSize);
    for (const acc of accs) expect(acc >= 0 && acc <= 1).toBe(true);
    // The epoch's accuracy is the example-weighted mean of its batches'.
    const weighted = (lo: number, hi: number) =>
      accs.slice(lo, hi).reduce((t, acc, i) => t + acc * sizes[lo + i]!, 0) /
      sizes.slice(lo, hi).reduce((t, x) => t + x, 0);
    expect(r.history.acc![0]).toBeCloseTo(weighted(0, 5), 12);
    expect(r.history.acc![1]).toBeCloseTo(weighted(5, 10), 12);
    tf.dispose([xs, ys]);
  });
});

describe("privateFit clipping: 'per_layer' (issue 21 item 4)", () => {
  it("one noiseless full-batch step is SGD on the core's clipPerExampleByLayer sum; the step is accounted as usual", async () => {
    const { xs, ys } = blobs(8);
    const m = classifier(tf.train.sgd(0.1));
    const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
    const w0 = vars.map((v) => Array.from(v.dataSync()));
    // Reference: per-example gradients read back, clipped per layer by the core (C = 0.5, uniform: 0.25 each).
    const per = vars.map((v) => new Float64Array(8 * v.size));
    for (let i = 0; i < 8; i++) {
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tfl.metrics.categoricalCrossentropy(tf.slice(ys, i, 1), m.apply(tf.slice(xs, i, 1)) as tf.Tensor)),
        vars,
      );
      vars.forEach((v, k) => per[k]!.set(grads[v.name]!.dataSync(), i * v.size));
      tf.dispose([value, ...Object.values(grads)]);
    }
    const ref = clipPerExampleByLayer(
      vars.map((v, k) => ({ values: per[k]!, shape: [8, ...v.shape] })),
      0.5,
    );
    const anyClipped = Array.from({ length: 8 }, (_, i) => ref.norms.some((n) => n[i]! > 0.5 / 2)).filter(
      Boolean,
    ).length;
    expect(ref.clipped.some((n) => n > 0) && ref.clipped.some((n) => n < 8)).toBe(true); // some layers clipped, some not
    const fractions: number[] = [];
    const before = tf.memory().numTensors;
    const r = await privateFit(m, xs, ys, {
      l2NormClip: 0.5,
      noiseMultiplier: 0,
      batchSize: 8,
      clipping: 'per_layer',
      callbacks: { onBatchEnd: (_, l) => void fractions.push(l.clippedFraction) },
    });
    expect(tf.memory().numTensors).toBe(before);
    vars.forEach((v, k) =>
      Array.from(v.dataSync()).forEach((x, j) =>
        expect(x).toBeCloseTo(w0[k]![j]! - (0.1 * ref.sum[k]!.values[j]!) / 8, 6),
      ),
    );
    expect(fractions).toEqual([anyClipped / 8]);
    expect(r.accountant.history).toEqual([{ noiseMultiplier: 0, sampleRate: 1, steps: 1 }]);
    tf.dispose([xs, ys]);
  });

  it('refuses adaptive clipping with per-layer clipping and a bad clipping name', async () => {
    const { xs, ys } = blobs(8);
    await expect(
      privateFit(classifier(), xs, ys, {
        adaptiveClipping: { initialClip: 1 },
        noiseMultiplier: 1,
        clipping: 'per_layer',
      }),
    ).rejects.toThrow(/adaptiveClipping works with clipping: 'flat' only/);
    await expect(
      privateFit(classifier(), xs, ys, { l2NormClip: 1, noiseMultiplier: 1, clipping: 'layer' as 'flat' }),
    ).rejects.toThrow(/clipping must be one of 'flat', 'per_layer'/);
    tf.dispose([xs, ys]);
  });
});

describe('privateFit on a functional model with ghost clipping (issue 21 item 5)', () => {
  /** Two branches, a Dense layer shared by both (its gradient sums over the two calls), an add merge. */
  function functionalClassifier(optimizer: tf.Optimizer) {
    const input = tfl.input({ shape: [2] });
    const seed = (s: number) => tfl.initializers.glorotUniform({ seed: s });
    const a = tfl.layers.dense({ units: 6, activation: 'tanh', kernelInitializer: seed(1) }).apply(input);
    const b = tfl.layers.dense({ units: 6, activation: 'relu', kernelInitializer: seed(2) }).apply(input);
    const shared = tfl.layers.dense({ units: 4, activation: 'tanh', kernelInitializer: seed(3) });
    const sum = tfl.layers
      .add()
      .apply([shared.apply(a) as tfl.SymbolicTensor, shared.apply(b) as tfl.SymbolicTensor]) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: seed(4) }).apply(sum);
    const m = tfl.model({ inputs: input, outputs: out as tfl.SymbolicTensor });
    m.compile({ optimizer, loss: 'categoricalCrossentropy' });
    return m;
  }

  it("method 'ghost' trains it (no fallback: 'ghost' throws when it cannot run), leaks no tensor", async () => {
    const { xs, ys } = blobs(400);
    const model = functionalClassifier(tf.train.sgd(0.5));
    const before = tf.memory().numTensors;
    const r = await privateFit(model, xs, ys, {
      l2NormClip: 1,
      noiseMultiplier: 1.1,
      epochs: 3,
      batchSize: 40,
      method: 'ghost',
      insecureSeed: 4,
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.accountant.history).toEqual([{ noiseMultiplier: 1.1, sampleRate: 0.1, steps: 30 }]);
    expect(accuracy(model, xs, ys)).toBeGreaterThan(0.9);
    tf.dispose([xs, ys]);
  });

  it("one noiseless step with 'ghost' gives the weights 'microbatch' gives (C small: every example clipped)", async () => {
    const { xs, ys } = blobs(24);
    const ghost = functionalClassifier(tf.train.sgd(0.3));
    const micro = functionalClassifier(tf.train.sgd(0.3));
    const opts = { l2NormClip: 0.05, noiseMultiplier: 0, batchSize: 24, epochs: 1, insecureSeed: 5 } as const;
    const probe = clippedGradients(ghost, xs, ys, opts.l2NormClip);
    expect(probe.method).toBe('ghost');
    expect(Math.min(...probe.norms.dataSync())).toBeGreaterThan(opts.l2NormClip);
    tf.dispose([probe.norms, probe.lossSum, ...Object.values(probe.grads)]);
    await privateFit(ghost, xs, ys, { ...opts, method: 'ghost' });
    await privateFit(micro, xs, ys, { ...opts, method: 'microbatch' });
    const wm = micro.getWeights().map((w) => Array.from(w.dataSync()));
    ghost.getWeights().forEach((w, k) => w.dataSync().forEach((v, j) => expect(v).toBeCloseTo(wm[k]![j]!, 6)));
    tf.dispose([xs, ys]);
  });
});
