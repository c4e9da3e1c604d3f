import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { autoClipRule, chainRule, globalNormRule, valueRule } from '../index.js';
import {
  adaGCTensorClipper,
  agcTensorClipper,
  autoClipTensorClipper,
  globalNormTensorClipper,
  perGroupTensorClipper,
  tensorClipper,
  withClipping,
  zClipTensorClipper,
  ClippedOptimizer,
  type ClipRecord,
} from './index.js';
import { BACKENDS, useBackend } from './test_backends.js';
import { saveAndLoad } from './test_models.js';

const read = (t: tf.Tensor) => Array.from(t.dataSync());

/** A small dense model; big targets make big gradients. */
function model(seed = 1): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(
    tfl.layers.dense({
      units: 8,
      inputShape: [4],
      activation: 'tanh',
      kernelInitializer: tfl.initializers.glorotUniform({ seed }),
    }),
  );
  m.add(tfl.layers.dense({ units: 1, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }));
  return m;
}

function data(n: number, scale = 1000): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const x = tf.tensor2d(
    Array.from({ length: n * 4 }, (_, i) => Math.sin(i * 1.7)),
    [n, 4],
  );
  const y = tf.tensor2d(
    Array.from({ length: n }, (_, i) => scale * Math.cos(i * 0.3)),
    [n, 1],
  );
  return { x, y };
}

/** All trainable weights of the model, flattened into one array (test-side read). */
function flatWeights(m: tfl.LayersModel): number[] {
  return m.trainableWeights.flatMap((w) => read(w.read()));
}

const l2 = (a: number[], b: number[]) => Math.sqrt(a.reduce((s, x, i) => s + (x - b[i]!) ** 2, 0));

/** Counts the backend's host reads (readSync / read) while `f` runs. */
async function countReads(f: () => unknown): Promise<number> {
  const b = tf.backend() as unknown as { readSync: (...a: unknown[]) => unknown; read: (...a: unknown[]) => unknown };
  const s1 = vi.spyOn(b, 'readSync');
  const s2 = vi.spyOn(b, 'read');
  try {
    await f();
    return s1.mock.calls.length + s2.mock.calls.length;
  } finally {
    s1.mockRestore();
    s2.mockRestore();
  }
}

for (const backend of BACKENDS) {
  describe(`withClipping on ${backend}`, () => {
    beforeAll(() => useBackend(backend));

    it('done-when: compile + fit with { globalClipnorm }, every update ‖Δw‖ ≤ lr·c', async () => {
      const lr = 0.1;
      const c = 0.5;
      const m = model();
      m.compile({ optimizer: withClipping(tf.train.sgd(lr), { globalClipnorm: c }), loss: 'meanSquaredError' });
      const { x, y } = data(64);
      let before = flatWeights(m);
      const steps: number[] = [];
      await m.fit(x, y, {
        epochs: 2,
        batchSize: 8,
        verbose: 0,
        callbacks: {
          onBatchEnd: async () => {
            const after = flatWeights(m);
            steps.push(l2(after, before));
            before = after;
          },
        },
      });
      expect(steps).toHaveLength(16);
      // SGD: Δw = −lr · g_clipped, ‖g_clipped‖ ≤ c; float32 rounding of the weights allows 1e-4 relative.
      for (const s of steps) expect(s).toBeLessThanOrEqual(lr * c * (1 + 1e-4));
      // The data makes gradients far larger than c, so the bound is attained (clipping did act).
      expect(Math.max(...steps)).toBeGreaterThan(lr * c * 0.99);
      tf.dispose([x, y]);
      m.dispose();
    });

    it('clipnorm / clipvalue act per tensor / per element in fit', async () => {
      for (const [opts, check] of [
        [
          { clipnorm: 0.2 },
          (d: number[][]) => d.forEach((t) => expect(Math.hypot(...t)).toBeLessThanOrEqual(0.1 * 0.2 * (1 + 1e-4))),
        ],
        [
          { clipvalue: 0.05 },
          (d: number[][]) => d.flat().forEach((v) => expect(Math.abs(v)).toBeLessThanOrEqual(0.1 * 0.05 * (1 + 1e-4))),
        ],
      ] as const) {
        const m = model(3);
        m.compile({ optimizer: withClipping(tf.train.sgd(0.1), opts), loss: 'meanSquaredError' });
        const { x, y } = data(8);
        const w0 = m.trainableWeights.map((w) => read(w.read()));
        await m.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
        const d = m.trainableWeights.map((w, i) => read(w.read()).map((v, j) => v - w0[i]![j]!));
        check(d);
        tf.dispose([x, y]);
        m.dispose();
      }
    });

    it("Keras 3's only-one rule and bad options give clear errors", () => {
      const sgd = tf.train.sgd(0.1);
      expect(() => withClipping(sgd, { clipnorm: 1, globalClipnorm: 1 })).toThrow(
        /only one of clipnorm, clipvalue and globalClipnorm/,
      );
      expect(() => withClipping(sgd, {})).toThrow(/needs one of/);
      expect(() => withClipping(sgd, { clipNorm: 1 } as never)).toThrow(/unknown option 'clipNorm'/);
      expect(() => withClipping(sgd, { globalClipnorm: -1 })).toThrow(RangeError);
      expect(() => withClipping({} as never, { clipnorm: 1 })).toThrow(/optimizer must be a tf.Optimizer/);
    });

    it('passes order, length and null entries through to the wrapped optimizer', () => {
      const inner = tf.train.sgd(1);
      const seen: { name: string; tensor: tf.Tensor | null }[][] = [];
      const orig = inner.applyGradients.bind(inner);
      inner.applyGradients = (g) => {
        seen.push((g as { name: string; tensor: tf.Tensor | null }[]).map((e) => ({ name: e.name, tensor: e.tensor })));
        orig(g);
      };
      const a = tf.variable(tf.tensor([1, 1]), true, `order_a_${backend}`);
      const b = tf.variable(tf.tensor([2]), true, `order_b_${backend}`);
      const opt = withClipping(inner, { globalClipnorm: 1 });
      tf.tidy(() => {
        opt.applyGradients([
          { name: `order_b_${backend}`, tensor: tf.tensor([3]) },
          { name: `order_a_${backend}`, tensor: null as unknown as tf.Tensor },
        ]);
      });
      expect(seen[0]!.map((e) => e.name)).toEqual([`order_b_${backend}`, `order_a_${backend}`]);
      expect(seen[0]![1]!.tensor).toBeNull();
      // b ← 2 − 1 · 3 · 1/(3 + 1e-6) ≈ 1; a untouched.
      expect(read(b)[0]).toBeCloseTo(1, 5);
      expect(read(a)).toEqual([1, 1]);
      tf.dispose([a, b]);
      opt.dispose();
    });

    for (const name of ['adam', 'momentum'] as const) {
      it(`nonFinite 'skip' leaves weights and ${name} slots unchanged; the next finite step moves them`, async () => {
        const inner = name === 'adam' ? tf.train.adam(0.1) : tf.train.momentum(0.1, 0.9);
        const opt = withClipping(inner, { globalClipnorm: 1, nonFinite: 'skip' });
        const w = tf.variable(tf.tensor([1, 2]), true, `skip_${name}_${backend}`);
        const step = (x: number[]) => opt.minimize(() => tf.sum(tf.mul(w, tf.tensor(x))), false, [w]);
        const snapshot = async () => {
          const ws = await opt.getWeights();
          return { w: read(w), slots: ws.slice(1).map((s) => read(s.tensor)) };
        };
        // The first step is non-finite: slots the optimizer creates now must stay at their initial 0.
        step([NaN, 1]);
        const s0 = await snapshot();
        expect(s0.w).toEqual([1, 2]);
        for (const s of s0.slots) expect(s).toEqual([0, 0]);
        step([1, 1]);
        const s1 = await snapshot();
        expect(s1.w).not.toEqual([1, 2]);
        step([Infinity, 1]);
        const s2 = await snapshot();
        expect(s2).toEqual(s1);
        if (name === 'adam') {
          // Adam's bias-correction powers β^t must not advance on a skipped step either: the next
          // finite step equals what a run without the skipped steps does.
          const ref = tf.train.adam(0.1);
          const w2 = tf.variable(tf.tensor([1, 2]), true, `skip_ref_${backend}`);
          const g = (x: number[]) => ref.minimize(() => tf.sum(tf.mul(w2, tf.tensor(x))), false, [w2]);
          // gradient [1, 1] has norm √2 > 1: clipped to [1, 1]/(√2 + 1e-6), the same for Adam up to eps.
          g([1 / Math.SQRT2, 1 / Math.SQRT2]);
          step([1, 1]);
          g([1 / Math.SQRT2, 1 / Math.SQRT2]);
          read(w).forEach((v, i) => expect(v).toBeCloseTo(read(w2)[i]!, 4));
          tf.dispose([w2]);
          ref.dispose();
        }
        tf.dispose([w]);
        opt.dispose();
      });
    }

    it('forwards iterations, getWeights / setWeights, getConfig', async () => {
      const opt = withClipping(tf.train.adam(0.01), { clipnorm: 2 });
      const w = tf.variable(tf.tensor([1, 2]), true, `fwd_w_${backend}`);
      for (let i = 0; i < 3; i++) opt.minimize(() => tf.sum(tf.square(w)), false, [w]);
      expect(opt.iterations).toBe(3);
      expect(opt.optimizer.iterations).toBe(3);
      const ws = await opt.getWeights();
      expect(ws.map((x) => x.name)).toEqual(['iter', `fwd_w_${backend}/m`, `fwd_w_${backend}/v`]);
      expect(opt.getConfig()).toEqual({
        optimizer: { className: 'Adam', config: tf.train.adam(0.01).getConfig() },
        clipper: { kind: 'keras', args: [{ clipnorm: 2 }] },
      });
      expect(opt.getClassName()).toBe('GradclipClippedOptimizer');
      tf.dispose(w);
      opt.dispose();
    });

    it('a model saved with includeOptimizer and loaded back keeps clipping with its own optimizer (memory IO)', async () => {
      const m = model(5);
      m.compile({ optimizer: withClipping(tf.train.adam(0.05), { globalClipnorm: 0.25 }), loss: 'meanSquaredError' });
      const { x, y } = data(16);
      await m.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
      const loaded = await saveAndLoad(m);
      const opt = loaded.optimizer as unknown as ClippedOptimizer;
      expect(opt).toBeInstanceOf(ClippedOptimizer);
      expect(opt.clipper.rule.config).toEqual({ kind: 'keras', args: [{ globalClipnorm: 0.25 }] });
      expect(opt.optimizer.getClassName()).toBe('Adam');
      expect(opt.iterations).toBe(2);
      const [w0, w1] = [
        await opt.optimizer.getWeights(),
        await (m.optimizer as ClippedOptimizer).optimizer.getWeights(),
      ];
      expect(w0.map((w) => read(w.tensor))).toEqual(w1.map((w) => read(w.tensor)));
      // Training on: the loaded optimizer's clipper runs every batch and its output norm is ≤ c.
      const clip = opt.clipper.clip.bind(opt.clipper);
      const outNorms: number[] = [];
      (opt.clipper as { clip: typeof clip }).clip = (g, p) => {
        const r = clip(g, p);
        const ts = (r.grads as { tensor: tf.Tensor | null }[]).flatMap((e) => (e.tensor ? [e.tensor] : []));
        outNorms.push(tf.tidy(() => tf.sqrt(tf.addN(ts.map((t) => tf.sum(tf.square(t)))))).dataSync()[0]!);
        return r;
      };
      await loaded.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
      expect(outNorms).toHaveLength(2);
      for (const n of outNorms) expect(n).toBeLessThanOrEqual(0.25 * (1 + 1e-5));
      expect(opt.iterations).toBe(4);
      tf.dispose([x, y]);
      m.dispose();
      loaded.dispose();
    });

    for (const [name, make, config] of [
      ['zClip', () => zClipTensorClipper({ warmupSteps: 2 }), { kind: 'zClip', args: [{ warmupSteps: 2 }] }],
      [
        'adaGC (state grows per variable)',
        () => adaGCTensorClipper({ warmupSteps: 2 }),
        { kind: 'adaGC', args: [{ warmupSteps: 2 }] },
      ],
      [
        'autoClip (device buffer)',
        () => autoClipTensorClipper({ historySize: 3 }),
        { kind: 'autoClip', args: [{ historySize: 3 }] },
      ],
      [
        'chainRule (value clip, then AutoClip: each rule keeps its state)',
        () => tensorClipper(chainRule(valueRule(100), autoClipRule({ historySize: 3 }))),
        {
          kind: 'chain',
          args: [
            { kind: 'value', args: [100] },
            { kind: 'autoClip', args: [{ historySize: 3 }] },
          ],
        },
      ],
    ] as const) {
      it(`a stateful clipper's state is saved with the model and restored: ${name}`, async () => {
        const m = model(6);
        const clipper = make();
        m.compile({ optimizer: withClipping(tf.train.sgd(0.01), clipper), loss: 'meanSquaredError' });
        const { x, y } = data(32);
        await m.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
        const state = await clipper.readState();
        const loaded = await saveAndLoad(m);
        const opt = loaded.optimizer as unknown as ClippedOptimizer;
        expect(opt.clipper.rule.config).toEqual(config);
        expect(await opt.clipper.readState()).toEqual(state);
        // The restored clipper continues exactly like the original on the same batch.
        const grads = [
          { name: m.trainableWeights[0]!.originalName, tensor: tf.onesLike(m.trainableWeights[0]!.read()) },
        ];
        const a = clipper.clip(grads);
        const b = opt.clipper.clip(grads);
        expect(read(b.scale)).toEqual(read(a.scale));
        tf.dispose([x, y, grads[0]!.tensor]);
        m.dispose();
        loaded.dispose();
      });
    }

    it('fitDataset and trainOnBatch clip too and leak nothing', async () => {
      const m = model(7);
      m.compile({ optimizer: withClipping(tf.train.sgd(0.1), { globalClipnorm: 0.3 }), loss: 'meanSquaredError' });
      const { x, y } = data(8);
      const before = flatWeights(m);
      await m.trainOnBatch(x, y);
      expect(l2(flatWeights(m), before)).toBeLessThanOrEqual(0.1 * 0.3 * (1 + 1e-4));
      const n0 = tf.memory().numTensors;
      for (let i = 0; i < 20; i++) await m.trainOnBatch(x, y);
      expect(tf.memory().numTensors).toBe(n0);
      const dataset = {
        iterator: async () => {
          let i = 0;
          return {
            next: async () =>
              i++ < 4 ? { value: { xs: x.clone(), ys: y.clone() }, done: false } : { value: undefined, done: true },
          };
        },
        size: 4,
      };
      const w1 = flatWeights(m);
      await m.fitDataset(dataset as never, { epochs: 1, verbose: 0 });
      expect(l2(flatWeights(m), w1)).toBeLessThanOrEqual(4 * 0.1 * 0.3 * (1 + 1e-4));
      expect(l2(flatWeights(m), w1)).toBeGreaterThan(0);
      tf.dispose([x, y]);
      m.dispose();
    });

    it('no host reads caused by clipping: minimize makes none, fit as many as without clipping', async () => {
      const w = tf.variable(tf.randomNormal([50, 20], 0, 1, 'float32', 3), true, `nosync_w_${backend}`);
      const b = tf.variable(tf.zeros([20]), true, `nosync_b_${backend}`);
      const x = tf.randomNormal([16, 50], 0, 10, 'float32', 4);
      const loss = () => tf.sum(tf.square(tf.add(tf.matMul(x, w), b))) as tf.Scalar;
      for (const clip of [
        { globalClipnorm: 1 },
        { clipnorm: 1 },
        { clipvalue: 0.1 },
        { globalClipnorm: 1, nonFinite: 'skip' as const },
      ]) {
        const opt = withClipping(tf.train.adam(0.01), clip);
        for (let i = 0; i < 2; i++) opt.minimize(loss, false, [w, b]); // slot creation
        const reads = await countReads(() => {
          for (let i = 0; i < 50; i++) opt.minimize(loss, false, [w, b]);
        });
        expect(reads).toBe(0);
        opt.dispose();
      }
      const fitReads = async (opt: tf.Optimizer) => {
        const m = model(9);
        m.compile({ optimizer: opt, loss: 'meanSquaredError' });
        const d = data(64);
        await m.fit(d.x, d.y, { epochs: 1, batchSize: 8, verbose: 0 }); // warm-up (first-step slot creation)
        const n = await countReads(() => m.fit(d.x, d.y, { epochs: 2, batchSize: 8, verbose: 0 }));
        tf.dispose([d.x, d.y]);
        m.dispose();
        return n;
      };
      const plain = await fitReads(tf.train.sgd(0.1));
      const clipped = await fitReads(withClipping(tf.train.sgd(0.1), { globalClipnorm: 1 }));
      expect(plain).toBeGreaterThan(0); // fit reads its loss logs; the counter works
      expect(clipped).toBe(plain);
      tf.dispose([w, b, x]);
    });

    it('no leaks: numTensors after 1000 minimize steps equals after 10, every clipper', () => {
      const w = tf.variable(tf.randomNormal([6, 3], 0, 1, 'float32', 5), true, `leak_w_${backend}`);
      const x = tf.randomNormal([4, 6], 0, 10, 'float32', 6);
      const loss = () => tf.sum(tf.square(tf.matMul(x, w))) as tf.Scalar;
      for (const clip of [
        { globalClipnorm: 1 },
        { clipnorm: 1 },
        { clipvalue: 0.1 },
        { globalClipnorm: 1, nonFinite: 'skip' as const },
        globalNormTensorClipper(1, { normType: 3 }),
      ]) {
        const opt = withClipping(tf.train.adam(0.01), clip);
        for (let i = 0; i < 10; i++) opt.minimize(loss, false, [w]);
        const n10 = tf.memory().numTensors;
        for (let i = 0; i < 990; i++) opt.minimize(loss, false, [w]);
        expect(tf.memory().numTensors).toBe(n10);
        opt.dispose();
      }
      tf.dispose([w, x]);
    });

    const fitClippers: [string, () => Parameters<typeof withClipping>[1]][] = [
      ['globalClipnorm', () => ({ globalClipnorm: 1 })],
      ['clipnorm', () => ({ clipnorm: 1 })],
      ['clipvalue', () => ({ clipvalue: 0.1 })],
      ["globalClipnorm, nonFinite 'skip'", () => ({ globalClipnorm: 1, nonFinite: 'skip' })],
      ['agc', () => agcTensorClipper()],
      ['autoClip', () => autoClipTensorClipper({ historySize: 100 })],
      ['zClip', () => zClipTensorClipper()],
      ['adaGC', () => adaGCTensorClipper()],
      ['perGroup', () => perGroupTensorClipper([{ match: '*bias', rule: globalNormRule(0.1) }], globalNormRule(1))],
    ];
    for (const [name, make] of fitClippers) {
      it(`no leaks with fit (${name}): numTensors after 1000 steps equals after 10`, async () => {
        const { x, y } = data(1000);
        const first = [tf.slice(x, 0, 10), tf.slice(y, 0, 10)] as const;
        const m = model(11);
        m.compile({ optimizer: withClipping(tf.train.adam(0.01), make()), loss: 'meanSquaredError' });
        await m.fit(first[0], first[1], { epochs: 1, batchSize: 1, verbose: 0 });
        const n10 = tf.memory().numTensors;
        await m.fit(x, y, { epochs: 1, batchSize: 1, verbose: 0 });
        expect(tf.memory().numTensors).toBe(n10);
        m.dispose();
        tf.dispose([x, y, ...first]);
      });
    }

    it('monitoring records norm, threshold and clipped flag on device, read after training', async () => {
      const chunks: ClipRecord[][] = [];
      const opt = withClipping(
        tf.train.sgd(0.01),
        { globalClipnorm: 2 },
        { monitor: { chunkSize: 4, onRecords: (r) => chunks.push(r) } },
      );
      const w = tf.variable(tf.tensor([0, 0]), true, `mon_w_${backend}`);
      // loss = g·w with g = [3, 4] then [0.3, 0.4]: gradient norm 5 (clipped) then 0.5 (not).
      for (const g of [
        [3, 4],
        [0.3, 0.4],
        [3, 4],
        [0.3, 0.4],
        [3, 4],
      ]) {
        opt.minimize(() => tf.sum(tf.mul(w, tf.tensor(g))), false, [w]);
      }
      const recs = await opt.monitor!.read();
      expect(recs.map((r) => r.clipped)).toEqual([true, false, true, false, true]);
      expect(recs[0]!.norm).toBeCloseTo(5, 5);
      expect(recs[1]!.norm).toBeCloseTo(0.5, 5);
      expect(recs.every((r) => r.threshold === 2)).toBe(true);
      // scale = 2 / (5 + 1e-6) when clipped, 1 when not.
      expect(recs.map((r) => r.scale)).toEqual([0.4, 1, 0.4, 1, 0.4].map((x) => expect.closeTo(x, 6)));
      // Steps 0–3 were packed into a chunk at step 4, step 4 when read() packed the rest; each
      // chunk reached onRecords after an async read.
      await new Promise((r) => setTimeout(r, 0));
      expect(chunks.map((c) => c.map((r) => r.step))).toEqual([[0, 1, 2, 3], [4]]);
      expect(await opt.monitor!.ratioClipped()).toBeCloseTo(3 / 5, 10);
      expect(withClipping(tf.train.sgd(0.1), { clipnorm: 1 }).monitor).toBeUndefined();
      tf.dispose(w);
      opt.dispose();
    });
  });
}
