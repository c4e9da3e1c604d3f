import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseMethod } from './methods.js';
import { DEMO_CONFIG, trainRun, type TrainConfig } from './train.js';

const small: TrainConfig = { ...DEMO_CONFIG, steps: 6, batchSize: 8, hidden: 8, evalSize: 16 };

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('trainRun', () => {
  it('is deterministic for a seed, and different seeds differ', () => {
    const m = parseMethod('global:1');
    const a = trainRun(small, m, 1);
    const b = trainRun(small, m, 1);
    const c = trainRun(small, m, 2);
    expect(b.loss).toEqual(a.loss);
    expect(b.norm).toEqual(a.norm);
    expect(b.evalLoss).toBe(a.evalLoss);
    expect(c.loss).not.toEqual(a.loss);
  });

  it('records one entry per step; a global-norm run reports its threshold and clips when ‖g‖ > τ', () => {
    const r = trainRun(small, parseMethod('global:0.5'), 3);
    expect(r.loss.length).toBe(6);
    for (let i = 0; i < r.loss.length; i++) {
      expect(r.threshold[i]).toBe(0.5);
      // PyTorch form: clipped exactly when τ/(‖g‖ + 1e-6) < 1
      expect(r.clipped[i]).toBe(r.norm[i]! + 1e-6 > 0.5);
      if (r.clipped[i]) expect(r.scale[i]!).toBeCloseTo(0.5 / (r.norm[i]! + 1e-6), 4);
    }
    expect(r.clipFraction).toBe(r.clipped.filter(Boolean).length / 6);
  });

  it('stops at the first exploding step and marks the run diverged, leaking nothing', () => {
    const before = tf.memory().numTensors;
    // lr 50 on an RNN with ρ ≈ 1.5: the first unclipped updates blow the loss up
    const r = trainRun({ ...small, learningRate: 50, steps: 30 }, parseMethod('none'), 1);
    expect(r.diverged).toBe(true);
    expect(r.divergedAt).not.toBeNull();
    expect(r.loss.length).toBe(r.divergedAt! + 1);
    expect(r.evalLoss).toBeNull();
    expect(tf.memory().numTensors).toBe(before);
  });
});
