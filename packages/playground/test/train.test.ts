/**
 * The playground's training step in Node, on the tfjs cpu backend: the same Trainer and
 * clipping step the page runs on WebGL.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { clipByGlobalNorm } from 'gradclip';
import { beforeAll, describe, expect, it } from 'vitest';
import { addingProblem } from '@gradclip/experiments/tasks';
import { tensorClipStep } from '../src/clipping.js';
import { DEFAULTS, METHODS, type Settings } from '../src/settings.js';
import { Trainer, type StepRecord } from '../src/train.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const settings = (over: Partial<Settings>): Settings => ({ ...DEFAULTS, seqLen: 12, ...over });

async function run(s: Settings, steps: number): Promise<{ records: StepRecord[]; trainer: Trainer }> {
  const trainer = new Trainer(s, tensorClipStep(s));
  const records: StepRecord[] = [];
  for (let i = 0; i < steps; i++) records.push(await trainer.step());
  return { records, trainer };
}

describe('Trainer', () => {
  it('global-norm clipping: the applied norm is min(‖g‖, τ) at every step', async () => {
    const tau = 0.5;
    const { records, trainer } = await run(settings({ method: 'globalNorm', threshold: tau }), 20);
    trainer.dispose();
    expect(records.filter((r) => r.preNorm > tau).length).toBeGreaterThan(5);
    for (const r of records) {
      // τ·‖g‖/(‖g‖ + 1e-6) when ‖g‖ > τ, else ‖g‖ unchanged — up to float32 rounding.
      const expected = r.preNorm > tau ? tau : r.preNorm;
      expect(Math.abs(r.postNorm - expected)).toBeLessThan(1e-5 * Math.max(1, expected));
      expect(r.clipped).toBe(r.preNorm > tau / (1 - 1e-6) + 1e-6);
      expect(r.threshold).toBe(tau);
    }
  });

  it('with the page’s defaults plain SGD diverges, and global-norm clipping learns', async () => {
    // What the page shows first (and docs/playground.md states): T = 10, lr 0.3, recurrent
    // weights with spectral radius ≈ 1.5. The adding problem's "learned nothing" level is
    // MSE 1/6 (predicting the mean sum, 1).
    const plain = await run({ ...DEFAULTS, method: 'none' }, 40);
    plain.trainer.dispose();
    expect(plain.records.every((r) => !r.clipped && r.threshold === null)).toBe(true);
    expect(plain.records.some((r) => !Number.isFinite(r.loss))).toBe(true);

    const clipped = await run({ ...DEFAULTS, method: 'globalNorm' }, 300);
    clipped.trainer.dispose();
    const last50 = clipped.records.slice(-50).map((r) => r.loss);
    expect(last50.every(Number.isFinite)).toBe(true);
    expect(last50.reduce((a, b) => a + b, 0) / 50).toBeLessThan(addingProblem.chanceLoss * 0.9);
  });

  it('every method trains with finite losses and never lengthens the gradient', async () => {
    for (const method of METHODS) {
      if (method === 'none') continue;
      const { records, trainer } = await run(settings({ method, warmup: 5 }), 12);
      trainer.dispose();
      for (const r of records) {
        expect(Number.isFinite(r.loss), `${method} step ${r.step}`).toBe(true);
        expect(r.postNorm).toBeLessThanOrEqual(r.preNorm * (1 + 1e-5));
        if (r.threshold !== null) expect(r.postNorm).toBeLessThanOrEqual(r.threshold * (1 + 1e-5));
      }
      // A threshold line is drawn for the rules that bound the total norm: global norm (fixed)
      // and AutoClip / ZClip (moving, reported by the rule each step).
      expect(records.some((r) => r.threshold !== null)).toBe(['globalNorm', 'autoClip', 'zClip'].includes(method));
    }
  });

  it('matches gradclip’s typed-array clipByGlobalNorm on the same gradients', () => {
    const step = tensorClipStep(settings({ method: 'globalNorm', threshold: 0.3 }));
    const a = new Float32Array([0.3, -0.4, 1.2]);
    const b = new Float32Array([2, 0.5]);
    const out = step.apply({ a: tf.tensor(a), b: tf.tensor(b) }, { a: tf.zeros([3]), b: tf.zeros([2]) });
    const ref = [Float32Array.from(a), Float32Array.from(b)];
    const r = clipByGlobalNorm(ref, 0.3);
    expect(out.preNorm.dataSync()[0]).toBeCloseTo(r.norm, 5);
    expect(Array.from(out.grads.a!.dataSync())).toEqual(Array.from(ref[0]!).map((x) => expect.closeTo(x, 6)));
    expect(Array.from(out.grads.b!.dataSync())).toEqual(Array.from(ref[1]!).map((x) => expect.closeTo(x, 6)));
    step.dispose();
  });

  it('is reproducible from the seed', async () => {
    const s = settings({ method: 'globalNorm' });
    const first = await run(s, 5);
    const again = await run(s, 5);
    const other = await run({ ...s, seed: 2 }, 5);
    for (const x of [first, again, other]) x.trainer.dispose();
    expect(again.records).toEqual(first.records);
    expect(other.records.map((r) => r.loss)).not.toEqual(first.records.map((r) => r.loss));
  });

  it('switches method mid-run and leaks no tensors, adaptive clippers included', async () => {
    const before = tf.memory().numTensors;
    const s = settings({ method: 'zClip', warmup: 3 });
    const trainer = new Trainer(s, tensorClipStep(s));
    for (let i = 0; i < 5; i++) await trainer.step();
    const at5 = tf.memory().numTensors;
    for (let i = 0; i < 15; i++) await trainer.step();
    expect(tf.memory().numTensors).toBe(at5);
    trainer.setClip(tensorClipStep({ ...s, method: 'autoClip' }));
    const r = await trainer.step();
    expect(r.step).toBe(21);
    expect(Number.isFinite(r.loss)).toBe(true);
    trainer.setClip(tensorClipStep({ ...s, method: 'agc' }));
    for (let i = 0; i < 3; i++) await trainer.step();
    trainer.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
