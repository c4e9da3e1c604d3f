import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { afterAll, describe, expect, it } from 'vitest';
import { clipByGlobalNorm } from '../index.js';
import { activeInternals, internalsOf } from './backend_internals.js';
import { globalNormTensorClipper } from './index.js';
import { hasFusedKernels, SET_NORM_STATS_KERNEL } from './kernels.js';
import { useBackend } from './test_backends.js';

describe('backend internals: one module, checked before use', () => {
  it('recognises the cpu and wasm backends as they are', async () => {
    await useBackend('cpu');
    expect(activeInternals()?.kind).toBe('cpu');
    await useBackend('wasm');
    expect(activeInternals()?.kind).toBe('wasm');
  });

  it('rejects a backend that does not look like the one its name says', async () => {
    await useBackend('cpu');
    const cpu = tf.backend();
    // A cpu backend is no webgl or webgpu backend; plain objects are nothing.
    expect(internalsOf('webgl', cpu)).toBeUndefined();
    expect(internalsOf('webgpu', cpu)).toBeUndefined();
    expect(internalsOf('cpu', {})).toBeUndefined();
    expect(internalsOf('wasm', { typedArrayFromHeap: () => new Float32Array(0) })).toBeUndefined();
    expect(internalsOf('tensorflow', cpu)).toBeUndefined();
    // A webgpu backend whose device allows fewer storage buffers than a dispatch needs.
    const fakeGpu = {
      runWebGPUProgram: (a: 1, b: 2, c: 3, d: 4, e: 5) => [a, b, c, d, e],
      makeTensorInfo() {},
      disposeData() {},
      device: { limits: { maxStorageBuffersPerShaderStage: 1, maxComputeInvocationsPerWorkgroup: 256 } },
    };
    expect(internalsOf('webgpu', fakeGpu)).toBeUndefined();
    const okGpu = {
      ...fakeGpu,
      device: { limits: { maxStorageBuffersPerShaderStage: 10, maxComputeInvocationsPerWorkgroup: 256 } },
    };
    expect(internalsOf('webgpu', okGpu)).toMatchObject({ kind: 'webgpu', maxInputs: 7 });
  });

  describe('a backend registered under a known name with other internals', () => {
    const copied: string[] = [];
    afterAll(() => {
      tf.removeBackend('webgl');
      for (const k of copied) tf.unregisterKernel(k, 'webgl');
    });

    it('gets no gradclip kernels, and the clippers run on composed ops instead of throwing', async () => {
      // A cpu backend posing as webgl: it lacks compileAndRun & co.
      tf.registerBackend('webgl', () => new MathBackendCPU(), 0);
      for (const k of tf.getKernelsForBackend('cpu').filter((k) => !k.kernelName.startsWith('Gradclip'))) {
        tf.registerKernel({ ...k, backendName: 'webgl' });
        copied.push(k.kernelName);
      }
      expect(await tf.setBackend('webgl')).toBe(true);
      expect(hasFusedKernels()).toBe(false);
      expect(tf.getKernel(SET_NORM_STATS_KERNEL, 'webgl')).toBeUndefined();
      const data = [Float32Array.from([3, 4]), Float32Array.from([12, 1e20])];
      const want = data.map((a) => Float32Array.from(a));
      const ref = clipByGlobalNorm(want, 1);
      const c = globalNormTensorClipper(1);
      const r = c.clip(data.map((a) => tf.tensor1d(a)));
      expect(r.norm.dataSync()[0]! / ref.norm).toBeCloseTo(1, 5);
      r.grads.forEach((g, i) =>
        Array.from(g!.dataSync()).forEach((v, k) =>
          expect(v / want[i]![k]! || 0).toBeCloseTo(want[i]![k]! === 0 ? 0 : 1, 5),
        ),
      );
      c.dispose();
    });
  });
});
