import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { batchTensors, disposeRnn, hiddenStateGradientNorms, initRnn, lossAndGradients, rnnLoss } from './rnn.js';
import { addingProblem, Rng } from '@gradclip/experiments/tasks';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('vanilla RNN', () => {
  it('∂L/∂h_T matches the hand-derived (2/B)(ŷ − y)·Wyᵀ of the MSE loss', () => {
    const p = initRnn(new Rng(1), { features: 2, hidden: 6, outputs: 1 });
    const { x, y } = batchTensors(addingProblem.batch(new Rng(2), 4, 10));
    const norms = hiddenStateGradientNorms(p, addingProblem, x, y);
    // L = mean_i (ŷ_i − y_i)² with ŷ = h_T·Wy + c, so ∂L/∂h_T = (2/B)(ŷ − y)·Wyᵀ.
    const expected = tf.tidy(() => {
      const xs = tf.unstack(x, 1);
      let h: tf.Tensor = tf.zeros([4, 6]);
      for (const xt of xs) h = tf.tanh(tf.add(tf.add(tf.matMul(xt, p.wx), tf.matMul(h, p.wh)), p.b));
      const out = tf.add(tf.matMul(h, p.wy), p.c);
      return tf.norm(tf.matMul(tf.mul(tf.sub(out, y), 2 / 4), p.wy, false, true)).dataSync()[0]!;
    });
    expect(norms.length).toBe(10);
    expect(norms[9]!).toBeCloseTo(expected, 5);
    tf.dispose([x, y]);
    disposeRnn(p);
  });

  it('a small recurrent matrix makes ‖∂L/∂h_t‖ shrink towards early t (vanishing)', () => {
    const p = initRnn(new Rng(1), { features: 2, hidden: 16, outputs: 1, recurrentScale: 0.5 });
    const { x, y } = batchTensors(addingProblem.batch(new Rng(2), 8, 30));
    const norms = hiddenStateGradientNorms(p, addingProblem, x, y);
    // ρ(Wh) ≈ 0.5 and |tanh'| ≤ 1: each step back multiplies by at most ≈ 0.5
    expect(norms[0]! / norms[29]!).toBeLessThan(1e-4);
    tf.dispose([x, y]);
    disposeRnn(p);
  });

  it('is reproducible from the seed and frees what it allocates', () => {
    const before = tf.memory().numTensors;
    const losses = [1, 1, 2].map((seed) => {
      const p = initRnn(new Rng(seed), { features: 2, hidden: 8, outputs: 1 });
      const { x, y } = batchTensors(addingProblem.batch(new Rng(5), 4, 12));
      const l = rnnLoss(p, addingProblem, x, y);
      const g = lossAndGradients(p, addingProblem, x, y);
      const v = l.dataSync()[0]!;
      expect(g.loss.dataSync()[0]).toBeCloseTo(v, 6);
      tf.dispose([x, y, l, g.loss, ...Object.values(g.grads)]);
      disposeRnn(p);
      return v;
    });
    expect(losses[0]).toBe(losses[1]);
    expect(losses[2]).not.toBe(losses[0]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
