import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { adaGC, agc, autoClip, perGroup, zClip, globalNormRule, type Clipper } from '../index.js';
import {
  adaGCTensorClipper,
  agcTensorClipper,
  autoClipTensorClipper,
  devicePercentile,
  perGroupTensorClipper,
  tensorClipper,
  withClipping,
  zClipTensorClipper,
  type TensorClipper,
} from './index.js';
import { BACKENDS, useBackend } from './test_backends.js';

const read = (t: tf.Tensor) => Array.from(t.dataSync());

/** A deterministic sequence of gradient sets with occasional spikes (×50) and one NaN step. */
function steps(n: number, withNaN: boolean): { w: Float32Array; b: Float32Array }[] {
  const out: { w: Float32Array; b: Float32Array }[] = [];
  for (let t = 0; t < n; t++) {
    const spike = t % 7 === 5 ? 50 : 1;
    const w = Float32Array.from({ length: 6 }, (_, i) => spike * Math.sin(1 + t * 0.37 + i * 1.3));
    const b = Float32Array.from({ length: 3 }, (_, i) => spike * 0.5 * Math.cos(t * 0.21 + i));
    if (withNaN && t === 9) w[2] = NaN;
    out.push({ w, b });
  }
  return out;
}

const params = { w: Float32Array.from([0.5, -1, 2, 0.1, 0, 3]), b: Float32Array.from([0.2, 0, -0.4]) };
const shapes = { w: [3, 2], b: [3] };

/** Typed-array clipper and its tensor twin, built from the same options. */
const cases: [string, () => Clipper, () => TensorClipper, boolean][] = [
  ['autoClip (unbounded)', () => autoClip({ percentile: 25 }), () => autoClipTensorClipper({ percentile: 25 }), false],
  [
    'autoClip (historySize 4)',
    () => autoClip({ percentile: 50, historySize: 4 }),
    () => autoClipTensorClipper({ percentile: 50, historySize: 4 }),
    false,
  ],
  [
    'zClip zscore',
    () => zClip({ warmupSteps: 4, zThresh: 1.5 }),
    () => zClipTensorClipper({ warmupSteps: 4, zThresh: 1.5 }),
    false,
  ],
  [
    'zClip percentile, mean, skipUpdateOnSpike',
    () => zClip({ warmupSteps: 3, mode: 'percentile', maxGradNorm: 20, skipUpdateOnSpike: true }),
    () => zClipTensorClipper({ warmupSteps: 3, mode: 'percentile', maxGradNorm: 20, skipUpdateOnSpike: true }),
    false,
  ],
  ['adaGC', () => adaGC({ warmupSteps: 4 }), () => adaGCTensorClipper({ warmupSteps: 4 }), false],
  ['agc', () => agc({ clipping: 0.05 }), () => agcTensorClipper({ clipping: 0.05 }), true],
  [
    'perGroup',
    () => perGroup([{ match: 'w', rule: globalNormRule(1) }], globalNormRule(0.1)),
    () => perGroupTensorClipper([{ match: 'w', rule: globalNormRule(1) }], globalNormRule(0.1)),
    false,
  ],
];

for (const backend of BACKENDS) {
  describe(`adaptive tensor clippers on ${backend}`, () => {
    beforeAll(() => useBackend(backend));

    for (const [name, typed, tensor, needsParams] of cases) {
      it(`${name}: every step agrees with the core typed-array clipper (non-finite step included)`, () => {
        const tc = typed();
        const dc = tensor();
        for (const [t, g] of steps(20, true).entries()) {
          const gt = {
            w: { values: Float32Array.from(g.w), shape: shapes.w },
            b: { values: Float32Array.from(g.b), shape: shapes.b },
          };
          const pt = { w: { values: params.w, shape: shapes.w }, b: { values: params.b, shape: shapes.b } };
          const ref = needsParams ? tc.clip(gt, pt) : tc.clip(gt);
          const gd = { w: tf.tensor(g.w, shapes.w), b: tf.tensor(g.b, shapes.b) };
          const pd = { w: tf.tensor(params.w, shapes.w), b: tf.tensor(params.b, shapes.b) };
          const r = needsParams ? dc.clip(gd, pd) : dc.clip(gd);
          const norm = read(r.norm)[0]!;
          if (Number.isNaN(ref.norm)) expect(norm, `step ${t}`).toBeNaN();
          else expect(norm / ref.norm, `step ${t} norm`).toBeCloseTo(1, 4);
          expect(r.clipped.dataSync()[0] !== 0, `step ${t} clipped`).toBe(ref.clipped);
          if (ref.finite) {
            for (const k of ['w', 'b'] as const) {
              const got = read(r.grads[k]!);
              gt[k].values.forEach((v, i) => expect(got[i]! - v, `step ${t} ${k}[${i}]`).toBeCloseTo(0, 3));
            }
          }
          tf.dispose([gd.w, gd.b, pd.w, pd.b, r.norm, r.scale, r.clipped, r.finite, ...Object.values(r.grads)]);
        }
        dc.dispose();
      });
    }

    it('ZClip and AdaGC device state equals the typed state; a typed state resumes on device', async () => {
      for (const [typed, tensor] of [
        [
          () => zClip({ warmupSteps: 3 }),
          (s?: object) => zClipTensorClipper({ warmupSteps: 3, ...(s ? { state: s as never } : {}) }),
        ],
        [
          () => adaGC({ warmupSteps: 3 }),
          (s?: object) => adaGCTensorClipper({ warmupSteps: 3, ...(s ? { state: s as never } : {}) }),
        ],
      ] as const) {
        const tc = typed();
        const dc = tensor();
        const seq = steps(12, false);
        for (const g of seq.slice(0, 8)) {
          tc.clip({ w: Float32Array.from(g.w), b: Float32Array.from(g.b) });
          tf.dispose(Object.values(dc.clip({ w: tf.tensor(g.w), b: tf.tensor(g.b) }).grads));
        }
        const dev = (await dc.readState()) as Record<string, unknown>;
        const host = JSON.parse(JSON.stringify(tc.state)) as Record<string, unknown>;
        const flat = (x: unknown): number[] =>
          typeof x === 'number'
            ? [x]
            : Object.keys(x as object)
                .sort()
                .flatMap((k) => flat((x as Record<string, unknown>)[k]));
        flat(dev).forEach((v, i) => expect(v / (flat(host)[i]! || 1)).toBeCloseTo(flat(host)[i]! === 0 ? 0 : 1, 4));
        // Resume on device from the typed snapshot: the next steps agree.
        const resumed = tensor(host);
        for (const g of seq.slice(8)) {
          const ref = tc.clip({ w: Float32Array.from(g.w), b: Float32Array.from(g.b) });
          const r = resumed.clip({ w: tf.tensor(g.w), b: tf.tensor(g.b) });
          expect(read(r.scale)[0]).toBeCloseTo(ref.scale, 4);
        }
        dc.dispose();
        resumed.dispose();
      }
    });

    it('device percentile = NumPy linear percentile (hand-worked), NaN slots ignored', () => {
      // sorted [1, 2, 4, 8]: p25 → pos 0.75 → 1 + 0.75·(2 − 1) = 1.75; p50 → pos 1.5 → 3; p100 → 8.
      const buf = tf.tensor1d([8, NaN, 1, 4, 2, NaN]);
      expect(read(devicePercentile(buf, 25))[0]).toBeCloseTo(1.75, 6);
      expect(read(devicePercentile(buf, 50))[0]).toBeCloseTo(3, 6);
      expect(read(devicePercentile(buf, 100))[0]).toBe(8);
      expect(read(devicePercentile(tf.tensor1d([NaN, NaN]), 10))[0]).toBeNaN();
    });

    const adaptive: [string, () => TensorClipper][] = [
      ['agc', () => agcTensorClipper({ clipping: 0.01 })],
      ['autoClip', () => autoClipTensorClipper({ percentile: 10, historySize: 50 })],
      ['autoClip unbounded', () => autoClipTensorClipper({ percentile: 10 })],
      ['zClip', () => zClipTensorClipper({ warmupSteps: 5 })],
      ['adaGC', () => adaGCTensorClipper({ warmupSteps: 5 })],
      ['perGroup', () => perGroupTensorClipper([{ match: '*kernel*', rule: globalNormRule(1) }], globalNormRule(0.5))],
    ];

    it('no host reads and no leaks over 1000 minimize steps, every adaptive clipper', async () => {
      const w = tf.variable(tf.randomNormal([5, 4], 0, 1, 'float32', 7), true, `ad_kernel_${backend}`);
      const b = tf.variable(tf.zeros([4]), true, `ad_bias_${backend}`);
      const x = tf.randomNormal([8, 5], 0, 10, 'float32', 8);
      const loss = () => tf.sum(tf.square(tf.add(tf.matMul(x, w), b))) as tf.Scalar;
      const be = tf.backend() as unknown as Record<'readSync' | 'read', (...a: unknown[]) => unknown>;
      for (const [name, make] of adaptive) {
        const opt = withClipping(tf.train.adam(0.01), make());
        for (let i = 0; i < 10; i++) opt.minimize(loss, false, [w, b]);
        const n10 = tf.memory().numTensors;
        const s1 = vi.spyOn(be, 'readSync');
        const s2 = vi.spyOn(be, 'read');
        const total = name === 'autoClip unbounded' ? 190 : 990; // the unbounded history sorts O(steps) per step
        for (let i = 0; i < total; i++) opt.minimize(loss, false, [w, b]);
        expect(s1.mock.calls.length + s2.mock.calls.length, `${name} reads`).toBe(0);
        s1.mockRestore();
        s2.mockRestore();
        expect(tf.memory().numTensors, `${name} tensors`).toBe(n10);
        opt.dispose();
      }
      tf.dispose([w, b, x]);
    });
  });
}

describe('adaptive clippers through tensorClipper(rule) and bad input', () => {
  beforeAll(() => useBackend('cpu'));
  it('AGC without params names the problem', () => {
    expect(() => agcTensorClipper().clip([tf.tensor([1])])).toThrow(/needs the parameters/);
  });
  it('a typed clipper passed to tensorClipper resumes from its state', () => {
    const tc = zClip({ warmupSteps: 2 });
    for (const g of steps(4, false)) tc.clip([Float32Array.from(g.w)]);
    const dc = tensorClipper(tc);
    const g = steps(6, false)[5]!.w;
    const ref = tc.clip([Float32Array.from(g)]);
    const r = dc.clip([tf.tensor(g)]);
    expect(read(r.scale)[0]).toBeCloseTo(ref.scale, 4);
    expect(ref.scale).toBeLessThan(1); // step 5 is a spike: the test exercises clipping
  });
});
