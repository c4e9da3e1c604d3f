/**
 * The report's "what should I use" snippet, run as written against gradclip/tfjs: a probe
 * with a threshold that never fires gives the median early norm, and training at that τ
 * clips the steps above it.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { autoClipTensorClipper, withClipping } from 'gradclip/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { advice } from './report_learning.js';
import type { ReportInput } from './report.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('the advice snippet', () => {
  it('measures τ as the median pre-clip norm of the first 20 steps, then clips at it', async () => {
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [3] })] });
    const xs = tf.randomNormal([640, 3], 0, 1, 'float32', 1);
    const ys = tf.mul(tf.randomNormal([640, 1], 0, 1, 'float32', 2), 10);
    const lr = 0.01;
    const loss = 'meanSquaredError';
    // —— as in the report ——
    const probe = withClipping(tf.train.sgd(lr), { globalClipnorm: 1e30 }, { monitor: true });
    model.compile({ optimizer: probe, loss });
    await model.fit(xs, ys, { epochs: 1, batchSize: 32 }); // ≥ 20 steps
    const records = await probe.monitor!.read();
    const norms = records
      .slice(0, 20)
      .map((r) => r.norm)
      .sort((a, b) => a - b);
    const tau = norms[norms.length >> 1]!;
    const clipped = withClipping(tf.train.sgd(lr), { globalClipnorm: tau }, { monitor: true });
    model.compile({ optimizer: clipped, loss });
    const auto = withClipping(tf.train.sgd(lr), autoClipTensorClipper({ percentile: 10, historySize: 10_000 }));
    // ——
    expect(records).toHaveLength(20);
    expect(records.every((r) => !r.clipped)).toBe(true);
    expect(tau).toBeGreaterThan(0);
    await model.fit(xs, ys, { epochs: 1, batchSize: 32 });
    const after = await clipped.monitor!.read();
    expect(after.some((r) => r.clipped)).toBe(true);
    for (const r of after) expect(r.clipped).toBe(r.norm > tau);
    for (const o of [probe, clipped, auto]) o.dispose();
    model.dispose();
    tf.dispose([xs, ys]);
  });

  it('the snippet in the report is this recipe, with the measured τ filled in', () => {
    const input = {
      learning: {
        task: 'temporal-order',
        chanceLoss: Math.log(4),
        config: { steps: 150 },
        lrs: [0.1],
        methods: ['none'],
        seeds: [1],
        runs: [{ method: 'none', lr: 0.1, seed: 1, finalLoss: 0.1, earlyNorm: 1.234, clipFraction: 0 }],
        curves: [
          {
            method: 'none',
            label: 'no clipping',
            points: [],
            bestLoss: 0.1,
            bestLr: 0.1,
            sensitivity: 0,
            withinTwo: [0.1],
            learns: [0.1],
          },
        ],
        bestLoss: 0.1,
      },
      settings: {},
      seconds: 0,
    } as unknown as ReportInput;
    const a = advice(input)!;
    expect(a.tau).toBe(1.2);
    expect(a.snippet).toContain('withClipping(tf.train.sgd(lr), { globalClipnorm: 1e30 }, { monitor: true })');
    expect(a.snippet).toContain('// here: 1.2');
    expect(a.snippet).toContain('autoClipTensorClipper({ percentile: 10, historySize: 10_000 })');
  });
});
