/**
 * Issue 4's "done when", as a user would write it: withClipping(tf.train.sgd(lr), …) in
 * model.compile, model.fit on data that makes large gradients, and every weight update checked
 * against the clipper's bound — for global-norm clipping and for each adaptive clipper — with
 * zero clipping-caused host reads and no leaked tensors.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { autoClip, globalNormRule, zClip, type Clipper } from '../index.js';
import {
  adaGCTensorClipper,
  agcTensorClipper,
  autoClipTensorClipper,
  perGroupTensorClipper,
  withClipping,
  zClipTensorClipper,
  type ClipRecord,
  type TensorClipper,
} from './index.js';
import { BACKENDS, useBackend } from './test_backends.js';

const lr = 0.05;

function model(): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(
    tfl.layers.dense({
      units: 8,
      inputShape: [4],
      activation: 'tanh',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 21 }),
    }),
  );
  m.add(tfl.layers.dense({ units: 1, kernelInitializer: tfl.initializers.glorotUniform({ seed: 22 }) }));
  return m;
}

/** Targets of ±1000 with every 5th batch 30× larger: huge, spiky gradients. */
function data(n: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const x = tf.tensor2d(
    Array.from({ length: n * 4 }, (_, i) => Math.sin(i * 1.3)),
    [n, 4],
  );
  const y = tf.tensor2d(
    Array.from({ length: n }, (_, i) => 1000 * Math.cos(i * 0.7) * (Math.floor(i / 8) % 5 === 4 ? 30 : 1)),
    [n, 1],
  );
  return { x, y };
}

type Weights = { name: string; shape: number[]; values: number[] }[];
const snapshot = (m: tfl.LayersModel): Weights =>
  m.trainableWeights.map((w) => ({
    name: w.originalName,
    shape: w.shape as number[],
    values: Array.from(w.read().dataSync()),
  }));
const norm = (xs: number[]) => Math.sqrt(xs.reduce((s, x) => s + x * x, 0));
const delta = (a: Weights, b: Weights) => a.map((w, i) => w.values.map((v, j) => b[i]!.values[j]! - v));

/** Trains with `clipper` and returns the weights before/after every batch and the monitor records. */
async function train(clipper: TensorClipper | { globalClipnorm: number } | null) {
  const m = model();
  const opt = clipper === null ? null : withClipping(tf.train.sgd(lr), clipper, { monitor: true });
  m.compile({ optimizer: opt ?? tf.train.sgd(lr), loss: 'meanSquaredError' });
  const { x, y } = data(80);
  const snaps: Weights[] = [snapshot(m)];
  const be = tf.backend() as unknown as Record<'readSync' | 'read', (...a: unknown[]) => unknown>;
  const spies = [vi.spyOn(be, 'readSync'), vi.spyOn(be, 'read')];
  let ownReads = 0;
  // Stateful clippers create their state variables on first sight of a tensor (AdaGC's γ_i):
  // those are state, not leaks.
  const count = (x: unknown): number =>
    x instanceof tf.Tensor
      ? 1
      : typeof x === 'object' && x !== null
        ? Object.values(x).reduce((a: number, v) => a + count(v), 0)
        : 0;
  const stateCount = () => (opt === null ? 0 : count(opt.clipper.state));
  const before = tf.memory().numTensors - stateCount();
  await m.fit(x, y, {
    epochs: 2,
    batchSize: 8,
    shuffle: false,
    verbose: 0,
    callbacks: {
      onBatchEnd: async () => {
        const r0 = spies[0]!.mock.calls.length + spies[1]!.mock.calls.length;
        snaps.push(snapshot(m));
        ownReads += spies[0]!.mock.calls.length + spies[1]!.mock.calls.length - r0;
      },
    },
  });
  const fitReads = spies[0]!.mock.calls.length + spies[1]!.mock.calls.length - ownReads;
  spies.forEach((s) => s.mockRestore());
  const records = opt === null ? [] : await opt.monitor!.read();
  opt?.monitor!.clear();
  const leaked = tf.memory().numTensors - stateCount() - before;
  tf.dispose([x, y]);
  m.dispose();
  return { snaps, records, fitReads, leaked };
}

/** fit's own reads (loss logs for the callbacks) with the plain optimizer, same callbacks. */
async function baselineReads(): Promise<number> {
  return (await train(null)).fitReads;
}

/** Replays a global-scaling typed clipper on the recorded norms: the scale each step should have. */
function replayScales(c: Clipper, records: ClipRecord[]): number[] {
  return records.map((r) => c.clip(Float32Array.of(r.norm)).scale);
}

for (const backend of BACKENDS) {
  describe(`done when (${backend}): model.fit with withClipping(sgd) bounds every update`, () => {
    let plainReads = 0;
    beforeAll(async () => {
      await useBackend(backend);
      plainReads = await baselineReads();
    });

    const common = (r: Awaited<ReturnType<typeof train>>) => {
      expect(r.records).toHaveLength(20);
      expect(r.fitReads).toBe(plainReads); // no host read caused by clipping
      expect(r.leaked).toBe(0);
      expect(r.records.some((x) => x.clipped)).toBe(true);
    };

    it('{ globalClipnorm: c }: ‖Δw‖ ≤ lr·c every step', async () => {
      const c = 2;
      const r = await train({ globalClipnorm: c });
      common(r);
      r.records.forEach((rec, t) => {
        const d = norm(delta(r.snaps[t]!, r.snaps[t + 1]!).flat());
        expect(d).toBeLessThanOrEqual(lr * c * (1 + 1e-4));
        // SGD moves by lr·scale·‖g‖ exactly.
        expect(d / (lr * rec.scale * rec.norm)).toBeCloseTo(1, 3);
      });
    });

    for (const [name, device, typed] of [
      ['autoClip', () => autoClipTensorClipper({ percentile: 10 }), () => autoClip({ percentile: 10 })],
      [
        'zClip',
        () => zClipTensorClipper({ warmupSteps: 4, zThresh: 1.5 }),
        () => zClip({ warmupSteps: 4, zThresh: 1.5 }),
      ],
    ] as const) {
      it(`${name}: ‖Δw_t‖ = lr·‖g_t‖·scale_t with the typed clipper's scale replayed on the same norms`, async () => {
        const r = await train(device());
        common(r);
        const want = replayScales(typed(), r.records);
        r.records.forEach((rec, t) => {
          expect(rec.scale).toBeCloseTo(want[t]!, 4);
          const d = norm(delta(r.snaps[t]!, r.snaps[t + 1]!).flat());
          expect(d / (lr * want[t]! * rec.norm)).toBeCloseTo(1, 3);
        });
      });
    }

    it('agc: every unit moves by at most lr·λ·max(‖W_u‖, eps) (units: columns of kernels, whole biases)', async () => {
      const clipping = 0.02;
      const r = await train(agcTensorClipper({ clipping }));
      common(r);
      for (let t = 0; t < r.records.length; t++) {
        const before = r.snaps[t]!;
        const d = delta(before, r.snaps[t + 1]!);
        before.forEach((w, i) => {
          const cols = w.shape.length === 2 ? w.shape[1]! : 1;
          for (let u = 0; u < cols; u++) {
            const pick = (xs: number[]) => (cols === 1 ? xs : xs.filter((_, j) => j % cols === u));
            const bound = lr * clipping * Math.max(norm(pick(w.values)), 1e-3);
            expect(norm(pick(d[i]!))).toBeLessThanOrEqual(bound * (1 + 1e-3) + 1e-7);
          }
        });
      }
    });

    it('perGroup: kernels and biases each stay within their own group threshold', async () => {
      const r = await train(
        perGroupTensorClipper([{ match: '*kernel', rule: globalNormRule(1) }], globalNormRule(0.1)),
      );
      common(r);
      for (let t = 0; t < r.records.length; t++) {
        const d = delta(r.snaps[t]!, r.snaps[t + 1]!);
        const group = (re: RegExp) => norm(r.snaps[t]!.flatMap((w, i) => (re.test(w.name) ? d[i]! : [])));
        expect(group(/kernel$/)).toBeLessThanOrEqual(lr * 1 * (1 + 1e-4));
        expect(group(/bias$/)).toBeLessThanOrEqual(lr * 0.1 * (1 + 1e-4));
      }
    });

    it('adaGC: never amplifies, clips the spikes, and each tensor moves by lr·h_i·‖g_i‖ ≤ lr·‖g_i‖', async () => {
      const r = await train(adaGCTensorClipper({ warmupSteps: 3 }));
      common(r);
      r.records.forEach((rec, t) => {
        const d = norm(delta(r.snaps[t]!, r.snaps[t + 1]!).flat());
        expect(rec.scale).toBeLessThanOrEqual(1);
        expect(d).toBeLessThanOrEqual(lr * rec.norm * (1 + 1e-4));
      });
      // The ×30 batches come after warm-up and exceed λ_rel·γ: their factor is far below 1.
      expect(Math.min(...r.records.slice(4).map((x) => x.scale))).toBeLessThan(0.2);
    });
  });
}
