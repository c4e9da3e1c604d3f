// Issue 12 ("Hardening") on tensors: saved models, restored state, monitoring callbacks and
// throwing steps — one regression test per item.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import fc from 'fast-check';
import { fcGate } from '../../test/fc_gate.js';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ClipMonitor,
  adaGCTensorClipper,
  autoClipTensorClipper,
  globalNormTensorClipper,
  withClipping,
  zClipTensorClipper,
} from './index.js';
import { autoClip } from '../index.js';
import { BACKENDS, useBackend } from './test_backends.js';
import { saveAndLoad } from './test_models.js';

function model(): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ units: 2, inputShape: [3], kernelInitializer: 'ones' }));
  return m;
}

async function trained(clipper: Parameters<typeof withClipping>[1]): Promise<tfl.LayersModel> {
  const m = model();
  m.compile({ optimizer: withClipping(tf.train.sgd(0.01), clipper), loss: 'meanSquaredError' });
  const x = tf.ones([4, 3]);
  const y = tf.ones([4, 2]);
  await m.fit(x, y, { epochs: 1, batchSize: 2, verbose: 0 });
  tf.dispose([x, y]);
  return m;
}

/** Renames the first optimizer weight whose name starts with `from`. */
function renameOptimizerWeight(a: tf.io.ModelArtifacts, from: string, to: string): void {
  const specs = a.weightSpecs!;
  const spec = specs.find((s) => s.name.startsWith(from));
  if (spec === undefined)
    throw new Error(`no saved weight starts with ${from}: ${specs.map((s) => s.name).join(', ')}`);
  spec.name = to;
}

for (const backend of BACKENDS) {
  describe(`hardening on ${backend}`, () => {
    beforeAll(() => useBackend(backend));

    describe('issue 12, item 1: a saved model cannot pollute Object.prototype', () => {
      for (const name of [
        'gradclip/__proto__/isAdmin',
        'gradclip/%5F%5Fproto%5F%5F/isAdmin',
        'gradclip/constructor/prototype/isAdmin',
      ]) {
        it(`an optimizer weight renamed to '${name}' is refused, and {} stays clean`, async () => {
          const m = await trained(zClipTensorClipper({ warmupSteps: 2 }));
          await expect(saveAndLoad(m, (a) => renameOptimizerWeight(a, 'gradclip/mean', name))).rejects.toThrow(
            /not a zClip state|unexpected/,
          );
          expect('isAdmin' in {}).toBe(false);
          expect(({} as Record<string, unknown>)['isAdmin']).toBeUndefined();
          m.dispose();
        });
      }

      it('a malformed weight name (bad URI escape, empty segment) is refused with its name', async () => {
        const m = await trained(zClipTensorClipper({ warmupSteps: 2 }));
        await expect(
          saveAndLoad(m, (a) => renameOptimizerWeight(a, 'gradclip/mean', 'gradclip/%E0%A4%A')),
        ).rejects.toThrow(/'gradclip\/%E0%A4%A' is malformed/);
        await expect(
          saveAndLoad(m, (a) => renameOptimizerWeight(a, 'gradclip/mean', 'gradclip//mean')),
        ).rejects.toThrow(/is malformed \(empty path segment\)/);
        m.dispose();
      });

      it('a hostile optimizer config (unknown or an Object.prototype name for a kind, escape codes, missing fields) is a TypeError quoting it', async () => {
        const m = await trained({ globalClipnorm: 1 });
        const withConfig = (f: (c: Record<string, unknown>) => void) => (a: tf.io.ModelArtifacts) => {
          const tc = a.trainingConfig as unknown as { optimizer_config: { config: Record<string, unknown> } };
          f(tc.optimizer_config.config);
        };
        await expect(
          saveAndLoad(
            m,
            withConfig((c) => (c['clipper'] = { kind: 'constructor', args: [] })),
          ),
        ).rejects.toThrow(/unknown gradclip clipper kind "constructor"/);
        await expect(
          saveAndLoad(
            m,
            withConfig((c) => (c['clipper'] = { kind: 'x\u001b[2J', args: [] })),
          ),
        ).rejects.toThrow(/kind "x\\u001b\[2J"/);
        await expect(
          saveAndLoad(
            m,
            withConfig((c) => (c['clipper'] = null)),
          ),
        ).rejects.toThrow(/must be \{ kind: string, args: \[\] \}, got null/);
        await expect(
          saveAndLoad(
            m,
            withConfig((c) => delete c['optimizer']),
          ),
        ).rejects.toThrow(/must hold optimizer: \{ className, config \}/);
        await expect(
          saveAndLoad(
            m,
            withConfig((c) => (c['optimizer'] = { className: 'constructor', config: {} })),
          ),
        ).rejects.toThrow(/unknown optimizer class "constructor"/);
        expect('isAdmin' in {}).toBe(false);
        m.dispose();
      });

      it('a corrupt saved value (a negative ZClip mean) is refused at load, naming the field', async () => {
        const m = await trained(zClipTensorClipper({ warmupSteps: 2 }));
        await expect(
          saveAndLoad(m, (a) => {
            // Overwrite the saved mean (a float32 scalar) with −50.
            let offset = 0;
            for (const s of a.weightSpecs!) {
              if (s.name === 'gradclip/mean') new Float32Array(a.weightData as ArrayBuffer, offset, 1)[0] = -50;
              offset += 4 * s.shape.reduce((x, y) => x * y, 1);
            }
          }),
        ).rejects.toThrow(/state\.mean must be a finite number in \[0, Infinity\], got -50/);
        m.dispose();
      });
    });

    it('issue 12, item 3: AdaGC on variables named toString / __proto__ gives finite clipped gradients', () => {
      const c = adaGCTensorClipper({ warmupSteps: 2 });
      for (let t = 0; t < 4; t++) {
        const grads = [
          { name: 'toString', tensor: tf.tensor1d([3, 4]) },
          { name: '__proto__', tensor: tf.tensor1d([30, 40]) },
        ];
        const r = c.clip(grads);
        const out = (r.grads as { tensor: tf.Tensor }[]).flatMap((g) => Array.from(g.tensor.dataSync()));
        expect(out.every(Number.isFinite)).toBe(true);
        tf.dispose([
          ...grads.map((g) => g.tensor),
          ...(r.grads as { tensor: tf.Tensor }[]).map((g) => g.tensor),
          r.norm,
          r.scale,
          r.clipped,
          r.finite,
        ]);
      }
      c.dispose();
      expect(({} as Record<string, unknown>)['toString']).toBe(Object.prototype.toString);
    });

    it('issue 12, item 8: setState and tensor factories check the state like the typed factories', () => {
      const c = zClipTensorClipper();
      expect(() => c.setState({ count: 3, mean: -50, m2: 0, variance: 1 })).toThrow(/state\.mean/);
      expect(() => zClipTensorClipper({ state: { count: 3, mean: 1, m2: 0, variance: -1 } })).toThrow(
        /options\.state\.variance/,
      );
      // The old state is kept after a refused setState.
      expect(() => c.setState({ count: 1, mean: 2, m2: 0, variance: 0 })).not.toThrow();
      c.dispose();
    });

    it('issue 12, item 11: typed and tfjs AutoClip keep the same norms when restored into a smaller history', async () => {
      const big = autoClip({ historySize: 5 });
      for (const x of [5, 1, 4, 2, 3, 9, 7]) big.clip(new Float64Array([x]));
      const typed = autoClip({ historySize: 3, state: big.state });
      const device = autoClipTensorClipper({ historySize: 3, state: big.state });
      expect(await device.readState()).toEqual(typed.state);
      expect(typed.state.history).toEqual([3, 9, 7]); // the three most recent
      device.dispose();
    });

    it('issue 12, item 16: an onRecords callback that throws does not kill the process; read() reports it', async () => {
      const monitor = new ClipMonitor({
        chunkSize: 1,
        onRecords: () => {
          throw new Error('callback broke');
        },
      });
      const s = () => tf.scalar(1);
      const [a, b, c, d] = [s(), s(), s(), tf.scalar(true, 'bool')];
      monitor.record(a, b, c, d);
      await new Promise((r) => setTimeout(r, 20));
      await expect(monitor.read()).rejects.toThrow(/ClipMonitor: onRecords threw: callback broke/);
      await expect(monitor.read()).resolves.toHaveLength(1);
      tf.dispose([a, b, c, d]);
      monitor.dispose();
    });

    it("issue 12, item 17: nonFinite 'error' with minimize outside tf.tidy leaks nothing on a throwing step", () => {
      const w = tf.variable(tf.tensor1d([1, 2]), true, `w_leak_${backend}`);
      const opt = withClipping(tf.train.sgd(0.1), globalNormTensorClipper(1, { nonFinite: 'error' }));
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        expect(() => opt.minimize(() => tf.sum(tf.mul(w, tf.scalar(NaN))) as tf.Scalar)).toThrow(/nonFinite: 'error'/);
      }
      expect(tf.memory().numTensors).toBe(before);
      opt.dispose();
      w.dispose();
    });
  });
}

describe('fuzz: saved-model weight names (issue 12)', () => {
  beforeAll(() => useBackend('cpu'));

  it('any renamed gradclip/… weight either loads or is refused with a TypeError / RangeError, and never pollutes Object.prototype', async () => {
    const m = await trained(adaGCTensorClipper({ warmupSteps: 2 }));
    const segment = fc.oneof(
      fc.constantFrom(
        '__proto__',
        '%5F%5Fproto%5F%5F',
        'constructor',
        'prototype',
        'gamma',
        'step',
        'polluted',
        '',
        '%',
        '%E0',
        'toString',
      ),
      fc.string({ maxLength: 6 }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(segment, { minLength: 1, maxLength: 4 }), async (segments) => {
        const name = `gradclip/${segments.join('/')}`;
        try {
          const loaded = await saveAndLoad(m, (a) => renameOptimizerWeight(a, 'gradclip/step', name));
          loaded.dispose();
        } catch (e) {
          expect(e instanceof TypeError || e instanceof RangeError, String(e)).toBe(true);
        }
        expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
        expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
      }),
      fcGate({ seed: 1210, numRuns: 60 }),
    );
    m.dispose();
  });
});
