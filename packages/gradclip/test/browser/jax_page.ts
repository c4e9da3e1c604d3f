// The page of jax_webgpu.test.ts: gradclip/jax on jax-js's webgpu device (bundled by harness.ts).
import { blockUntilReady, defaultDevice, init, jit, numpy as np } from '@jax-js/jax';
import { chain, clipByGlobalNorm, zClip } from '../../src/jax/index.js';

async function run(): Promise<unknown> {
  const devices = await init('webgpu');
  if (!devices.includes('webgpu')) return { error: `jax-js init('webgpu') gave ${devices.join(', ')}` };
  defaultDevice('webgpu');
  const proto = np.Array.prototype as unknown as Record<string | symbol, (...a: unknown[]) => unknown>;
  let reads = 0;
  const by: Record<string, number> = {};
  const names = ['data', 'dataSync', 'js', 'jsAsync', 'item', Symbol.toPrimitive];
  const saved = names.map((n) => proto[n]);
  names.forEach((n, i) => {
    const f = saved[i]!;
    proto[n] = function (this: unknown, ...a: unknown[]) {
      reads++;
      by[String(n)] = (by[String(n)] ?? 0) + 1;
      if (by[String(n)] === 1) by[`${String(n)} stack`] = new Error().stack as unknown as number;
      return f.apply(this, a);
    };
  });
  const t = chain(zClip({ warmupSteps: 2 }), clipByGlobalNorm(1));
  let state = t.init([]);
  let out: np.Array[] = [];
  let whileTracing = 0;
  for (let step = 0; step < 6; step++) {
    // Steps 0-2 compile the rules (jit traces once per tree structure and shapes); 3-5 are steady.
    if (step === 3) whileTracing = reads;
    [out, state] = t.update([np.array([3, 4]), np.array([12])], state);
    await blockUntilReady(out);
    if (step < 5) out.forEach((a) => a.dispose());
  }
  const during = reads - whileTracing;
  names.forEach((n, i) => (proto[n] = saved[i]!));
  const device = out[0]!.device;
  const values = await Promise.all(out.map(async (a) => Array.from((await a.data()) as Float32Array)));
  // Inside the caller's own jit (a compiled step): the webgpu device has no float64, so the
  // traced rule must take the composed norm path.
  const clip = clipByGlobalNorm(1);
  const step = jit((u: np.Array[], s: unknown) => clip.update(u, s as never));
  const [jitOut, jitState] = step([np.array([3, 4]), np.array([12])], clip.init([]));
  const jitDevice = jitOut[0]!.device;
  const jitValues = await Promise.all(jitOut.map(async (a) => Array.from((await a.data()) as Float32Array)));
  void jitState;
  step.dispose();
  return { device, values, reads: during, whileTracing, where: by['dataSync stack'], jitDevice, jitValues };
}

run().then(
  (r) => ((window as unknown as Record<string, unknown>)['gradclipJax'] = r),
  (e: Error) => ((window as unknown as Record<string, unknown>)['gradclipJax'] = { error: String(e?.stack ?? e) }),
);
