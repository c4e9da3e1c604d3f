/**
 * gradclip/jax on jax-js's webgpu device in Chromium (SwiftShader's WebGPU adapter): a chain of
 * zClip and clipByGlobalNorm gives the core's numbers with no host read in steady updates (the
 * compiling steps read constants back inside jax-js's jit, see below), and so does
 * clipByGlobalNorm traced inside the caller's own jit.
 */
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { bundle, openPage } from './harness.js';

it('gradclip/jax runs on the webgpu device: numbers and no host reads', { timeout: 300_000 }, async () => {
  const script = await bundle(fileURLToPath(new URL('./jax_page.ts', import.meta.url)));
  const bp = await openPage(script, 'gradclipJax');
  try {
    const r = (await bp.page.evaluate(() => (window as unknown as Record<string, unknown>)['gradclipJax'])) as {
      error?: string;
      device: string;
      values: number[][];
      reads: number;
      whileTracing: number;
      where?: string;
      jitDevice: string;
      jitValues: number[][];
    };
    expect(r.error).toBeUndefined();
    expect(r.device).toBe('webgpu');
    // Steady steps read nothing back. While jax-js's jit traces a rule (the first step of each tree
    // structure) it reads the rule's constants back to inline them (JaxprBuilder._inlineLiterals
    // calls dataSync): a GPU read-back per constant at compile time, on webgpu only.
    expect(r.reads).toBe(0);
    if (r.whileTracing > 0) expect(r.where).toMatch(/_inlineLiterals/);
    // [3, 4], [12] has norm 13: after zClip's warm-up clip to maxGradNorm 1, the global clip to 1
    // leaves it at norm 1, i.e. [3, 4, 12] / 13.
    const flat = r.values.flat();
    [3 / 13, 4 / 13, 12 / 13].forEach((v, i) => expect(Math.abs(flat[i]! - v)).toBeLessThan(1e-5));
    // clipByGlobalNorm inside the caller's jit on webgpu: the same numbers, on the device.
    expect(r.jitDevice).toBe('webgpu');
    const jitFlat = r.jitValues.flat();
    [3 / 13, 4 / 13, 12 / 13].forEach((v, i) => expect(Math.abs(jitFlat[i]! - v)).toBeLessThan(1e-5));
  } finally {
    await bp.close();
  }
});
