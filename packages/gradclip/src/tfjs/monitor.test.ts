import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { NeverClippedWarning, TinyScaleWarning } from '../index.js';
import { ClipMonitor, withClipping } from './index.js';
import { BACKENDS, useBackend } from './test_backends.js';

/**
 * Synchronous host reads (`readSync`, the ones that stall training) and asynchronous ones (`read`)
 * while `f` runs.
 */
function countReads(f: () => void): { sync: number; async: number } {
  const b = tf.backend() as unknown as { readSync: (...a: unknown[]) => unknown; read: (...a: unknown[]) => unknown };
  const s1 = vi.spyOn(b, 'readSync');
  const s2 = vi.spyOn(b, 'read');
  try {
    f();
    return { sync: s1.mock.calls.length, async: s2.mock.calls.length };
  } finally {
    s1.mockRestore();
    s2.mockRestore();
  }
}

for (const backend of BACKENDS) {
  describe(`ClipMonitor warnings on ${backend}`, () => {
    beforeAll(() => useBackend(backend));

    it('never clipped: a clip that only ever sees a constant gradient warns once, after training, no read inside a step', async () => {
      // f = 0.5 · Σ w: the gradient is [0.5, 0.5] every step (norm √0.5), never above maxNorm 1.
      const w = tf.variable(tf.tensor([1, 2]), true);
      const seen: NeverClippedWarning[] = [];
      const opt = withClipping(
        tf.train.sgd(0.1),
        { globalClipnorm: 1 },
        { monitor: { chunkSize: 4, neverClippedSteps: 6, onNeverClipped: (x) => seen.push(x) } },
      );
      const reads = countReads(() => {
        for (let i = 0; i < 10; i++) opt.minimize(() => tf.mul(0.5, tf.sum(w)) as tf.Scalar);
      });
      // Two packed chunks of 4 steps, each read back asynchronously (the only reads).
      expect(reads.async).toBe(2);
      // cpu / wasm implement `read` with one `readSync` of the same chunk: no read beyond those.
      expect(reads.sync).toBeLessThanOrEqual(reads.async);
      await opt.monitor!.read();
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ kind: 'neverClipped', firstStep: 0, steps: 6 });
      expect(seen[0]!.norm).toBeCloseTo(Math.SQRT1_2, 6);
      opt.dispose();
      w.dispose();
    });

    it('tiny scale: a factor below the floor warns once with its step; a normal run warns nothing', async () => {
      const seen: TinyScaleWarning[] = [];
      const monitor = new ClipMonitor({ chunkSize: 2, onTinyScale: (x) => seen.push(x), onNeverClipped: () => {} });
      const rec = (norm: number, scale: number, clipped: boolean) => {
        const t = [tf.scalar(norm), tf.scalar(scale), tf.scalar(clipped, 'bool')] as const;
        monitor.record(t[0], undefined, t[1], t[2]);
        tf.dispose([...t]);
      };
      rec(5, 0.2, true);
      rec(6, 0.1, true);
      rec(1e9, 1e-9, true);
      rec(1e9, 1e-9, true);
      rec(2, 0.5, true);
      await monitor.read();
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ kind: 'tinyScale', step: 2, floor: 1e-6 });
      const calm: TinyScaleWarning[] = [];
      const quiet = new ClipMonitor({ onTinyScale: (x) => calm.push(x), scaleFloor: 1e-12 });
      const t = [tf.scalar(1e9), tf.scalar(1e-9), tf.scalar(true, 'bool')] as const;
      quiet.record(t[0], 1, t[1], t[2]);
      await quiet.read();
      expect(calm).toHaveLength(0);
      tf.dispose([...t]);
      monitor.dispose();
      quiet.dispose();
    });

    it('options are checked by name; a throwing warning callback is reported by read()', async () => {
      expect(() => new ClipMonitor({ neverClippedSteps: 1.5 })).toThrow(/neverClippedSteps must be an integer/);
      expect(() => new ClipMonitor({ chunksize: 3 } as never)).toThrow(/unknown option 'chunksize'.*chunkSize/);
      const monitor = new ClipMonitor({
        chunkSize: 1,
        onTinyScale: () => {
          throw new Error('warned badly');
        },
      });
      const t = [tf.scalar(1), tf.scalar(0), tf.scalar(true, 'bool')] as const;
      monitor.record(t[0], 1, t[1], t[2]);
      await expect(monitor.read()).rejects.toThrow(/warned badly/);
      tf.dispose([...t]);
      monitor.dispose();
    });
  });
}
