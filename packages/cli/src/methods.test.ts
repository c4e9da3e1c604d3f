import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { clipByGlobalNorm, clipByValue } from 'gradclip';
import { beforeAll, describe, expect, it } from 'vitest';
import { adaGCWarmup, DEFAULT_METHODS, makeClipStep, parseMethod, parseMethods, ZCLIP_WARMUP } from './methods.js';
import { initRnn, PARAM_NAMES, type RnnParams } from './rnn.js';
import { Rng } from '@gradclip/experiments/tasks';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('parseMethod', () => {
  it('reads kinds with and without a value', () => {
    expect(parseMethod('none')).toMatchObject({ id: 'none', kind: 'none', arg: undefined });
    expect(parseMethod('global:0.5')).toMatchObject({ id: 'global:0.5', kind: 'global', arg: 0.5 });
    expect(parseMethod('ZClip')).toMatchObject({ id: 'zclip:2.5', kind: 'zclip', arg: 2.5 });
    expect(parseMethods('none, value:0.1').map((m) => m.id)).toEqual(['none', 'value:0.1']);
  });
  it('rejects bad specs with a RangeError naming them', () => {
    expect(() => parseMethod('clip')).toThrow(/unknown method 'clip'/);
    expect(() => parseMethod('global:-1')).toThrow(/maxNorm must be a positive number, got '-1'/);
    expect(() => parseMethod('none:3')).toThrow(RangeError);
    expect(() => parseMethods(',')).toThrow(/at least one/);
  });
});

function fakeGrads(seed: number, scale: number): Record<(typeof PARAM_NAMES)[number], tf.Tensor> {
  const rng = new Rng(seed);
  const shapes: Record<string, number[]> = { wx: [2, 4], wh: [4, 4], b: [4], wy: [4, 1], c: [1] };
  return Object.fromEntries(
    PARAM_NAMES.map((k) => {
      const shape = shapes[k]!;
      const n = shape.reduce((a, b) => a * b, 1);
      return [
        k,
        tf.tensor(
          Float32Array.from({ length: n }, () => rng.normal() * scale),
          shape,
        ),
      ];
    }),
  ) as Record<(typeof PARAM_NAMES)[number], tf.Tensor>;
}

describe('makeClipStep (gradclip/tfjs)', () => {
  let params: RnnParams;
  beforeAll(() => {
    params = initRnn(new Rng(1), { features: 2, hidden: 4, outputs: 1 });
  });

  it('global norm: same numbers as the typed-array clipByGlobalNorm, direction kept', () => {
    const g = fakeGrads(3, 2);
    const host = PARAM_NAMES.map((k) => new Float32Array(g[k].dataSync()));
    const ref = clipByGlobalNorm(host, 1);
    const step = makeClipStep(parseMethod('global:1'));
    const { grads, report } = step(g, params);
    expect(report.norm).toBeCloseTo(ref.norm, 4);
    expect(report.clipped).toBe(true);
    expect(report.threshold).toBe(1);
    expect(report.cosine).toBeCloseTo(1, 5);
    PARAM_NAMES.forEach((k, i) =>
      expect(Array.from(grads[k].dataSync())).toEqual(Array.from(host[i]!).map((v) => expect.closeTo(v, 5))),
    );
    tf.dispose(Object.values(grads));
    step.dispose();
  });

  it('value clipping changes the direction (cosine < 1) exactly as clipByValue', () => {
    const g = fakeGrads(4, 1);
    const host = PARAM_NAMES.map((k) => new Float32Array(g[k].dataSync()));
    let dot = 0;
    let a2 = 0;
    let b2 = 0;
    const raw = host.map((h) => Float32Array.from(h));
    clipByValue(host, 0.3);
    raw.forEach((r, i) => r.forEach((v, j) => ((dot += v * host[i]![j]!), (a2 += v * v), (b2 += host[i]![j]! ** 2))));
    const step = makeClipStep(parseMethod('value:0.3'));
    const { grads, report } = step(g, params);
    expect(report.cosine).toBeCloseTo(dot / Math.sqrt(a2 * b2), 4);
    expect(report.cosine).toBeLessThan(0.999);
    PARAM_NAMES.forEach((k, i) => expect(Array.from(grads[k].dataSync())).toEqual(Array.from(host[i]!)));
    tf.dispose(Object.values(grads));
    step.dispose();
  });

  it('every default method runs several steps without leaking tensors', () => {
    for (const spec of DEFAULT_METHODS) {
      const before = tf.memory().numTensors;
      const step = makeClipStep(parseMethod(spec));
      for (let i = 0; i < 3; i++) {
        const g = fakeGrads(10 + i, i === 1 ? 50 : 1);
        const { grads, report } = step(g, params);
        expect(Number.isFinite(report.norm), spec).toBe(true);
        expect(report.scale, spec).toBeLessThanOrEqual(1 + 1e-6);
        tf.dispose(Object.values(grads));
      }
      step.dispose();
      // the clipper's state lives in tf.Variables until dispose(); nothing else may remain
      expect(tf.memory().numTensors, spec).toBe(before);
    }
  });

  it('AdaGC warm-up is a quarter of the run (5 to 100 steps), so it ends within the run', () => {
    expect(adaGCWarmup(100)).toBe(25);
    expect(adaGCWarmup(30)).toBe(8);
    expect(adaGCWarmup(8)).toBe(5);
    expect(adaGCWarmup(1000)).toBe(100);
  });

  it('ZClip runs without a fixed cap: a huge gradient passes unchanged during warm-up', () => {
    const step = makeClipStep(parseMethod('zclip:2.5'));
    for (let i = 0; i < ZCLIP_WARMUP; i++) {
      const g = fakeGrads(20 + i, 50);
      const { grads, report } = step(g, params);
      expect(report.norm).toBeGreaterThan(10);
      expect(report.clipped).toBe(false);
      expect(report.scale).toBe(1);
      tf.dispose(Object.values(grads));
    }
    step.dispose();
  });
});
