/**
 * Threaded gradient arenas: large arrays are split between the calling thread and worker
 * threads on a shared WebAssembly memory. The results must not depend on the split: norms
 * agree with the plain-JS kernels to summation-order rounding (REL: two float64 sums of the
 * same ~2.6e5 non-negative terms in different orders; the worst case is n·2^-53 ≈ 3e-11, in
 * practice they differ by a few 1e-14), and scaled / clamped values
 * are bit-identical to the single-threaded arena given the same factor.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { clipByGlobalNorm } from '../clip_by_global_norm.js';
import { clipByNorm } from '../clip_by_norm.js';
import { clipByValue } from '../clip_by_value.js';
import { globalNorm } from '../global_norm.js';
import { gradientArena, type GradientArena } from './arena.js';
import { useKernels } from './index.js';
import { jsKernels } from './js.js';
import { HEADER_BYTES, PARALLEL_MIN } from './wasm.js';

// Two arrays long enough to be split (one with a length that is not a multiple of 16) and a
// short one that is not.
const SIZES = [2 * PARALLEL_MIN + 5, 100, PARALLEL_MIN + 1];

function fill(arrays: readonly (Float32Array | Float64Array)[], seed: number): void {
  arrays.forEach((a, t) => {
    for (let i = 0; i < a.length; i++) a[i] = Math.sin(i * 0.37 + t * 11 + seed) * (1 + (i % 7));
  });
}
const REL = 1e-12;
const copies = (arena: GradientArena) => arena.arrays.map((a) => a.slice());
/** ‖x‖₂ with the JS kernels (float64, left to right). */
const jsNorm = (xs: readonly (Float32Array | Float64Array)[]) => Math.sqrt(xs.reduce((s, x) => s + jsKernels.powSumMax(x, 2).sum, 0));

/**
 * clipByGlobalNorm(maxNorm 1) on the threaded arena: the norm agrees with the JS kernels, and
 * the clipped values are the bits the JS kernels give for the same norm on one thread.
 */
function expectClipLikeOneThread(a: GradientArena): void {
  const before = copies(a);
  const want = jsNorm(before);
  const r = clipByGlobalNorm(a.arrays, 1);
  expect(Math.abs(r.norm - want)).toBeLessThanOrEqual(REL * want);
  useKernels('js');
  clipByGlobalNorm(before, 1, { norm: r.norm });
  a.arrays.forEach((x, i) => expect(Array.from(x)).toEqual(Array.from(before[i]!)));
}

const open: GradientArena[] = [];
function arena(dtype: 'float32' | 'float64' = 'float32'): GradientArena {
  const a = gradientArena(SIZES, { dtype, threads: 2 });
  open.push(a);
  return a;
}
afterAll(() => open.forEach((a) => a.dispose()));

beforeEach(() => {
  // The threads run the WASM kernels; the JS-kernels suite also runs this file.
  useKernels('wasm');
});

describe('threaded gradient arena', () => {
  it('starts its worker and reports the threads in use', async () => {
    const a = arena();
    expect(a.threads).toBe(2);
    expect(a.wasm).toBe(true);
    expect(await a.ready).toBe(2);
    expect(a.arrays.map((x) => x.length)).toEqual(SIZES);
  });

  it('the worker takes part: its own result header gets written', async () => {
    const a = gradientArena([16 * PARALLEL_MIN], { threads: 2 });
    open.push(a);
    await a.ready;
    const [big] = a.arrays as Float32Array[];
    big!.fill(0.5);
    big![big!.length - 3] = -9;
    const workerHeader = new Float64Array(big!.buffer, HEADER_BYTES, 1);
    workerHeader[0] = -1;
    // Threads take 16 groups from a shared counter, so which ones the worker runs varies; over
    // a few calls it runs some (a worker that never did would leave -1 here).
    for (let call = 0; call < 50 && workerHeader[0] === -1; call++) {
      // Σx² = (n − 1)·0.25 + 81
      expect(globalNorm([big!])).toBeCloseTo(Math.sqrt((big!.length - 1) * 0.25 + 81), 9);
    }
    expect([0.5, 9]).toContain(workerHeader[0]);
  });

  for (const dtype of ['float32', 'float64'] as const) {
    it(`global-norm clipping (${dtype}) agrees with the JS kernels and the one-thread arena`, async () => {
      const a = arena(dtype);
      await a.ready;
      fill(a.arrays, 1);
      expectClipLikeOneThread(a);
    });
  }

  it('many small arrays (and empty ones) are shared out in groups, with the same results', async () => {
    // 300 arrays of 1,000 values: each below PARALLEL_MIN, together above it, so the set
    // kernels hand out groups of arrays; the empty arrays make empty jobs.
    const sizes = [0, ...Array.from({ length: 300 }, () => 1000), 0, PARALLEL_MIN + 3];
    const a = gradientArena(sizes, { threads: 2 });
    open.push(a);
    await a.ready;
    fill(a.arrays, 6);
    expectClipLikeOneThread(a);
  });

  it('p = 1 and p = ∞ norms match the JS kernels', async () => {
    const a = arena();
    await a.ready;
    fill(a.arrays, 2);
    a.arrays[0]![a.arrays[0]!.length - 1] = 1e3; // the largest |x|, in the worker's part
    const xs = copies(a);
    const l1 = xs.reduce((s, x) => s + jsKernels.powSumMax(x, 1).sum, 0);
    expect(Math.abs(globalNorm(a.arrays, 1) - l1)).toBeLessThanOrEqual(REL * l1);
    expect(globalNorm(a.arrays, Infinity)).toBe(1e3);
  });

  it('NaN and ±Infinity in the worker part reach the result', async () => {
    const a = arena();
    await a.ready;
    fill(a.arrays, 3);
    const big = a.arrays[0]!;
    big[big.length - 2] = Infinity;
    expect(globalNorm(a.arrays)).toBe(Infinity);
    big[big.length - 1] = NaN;
    expect(globalNorm(a.arrays)).toBeNaN();
  });

  it('value clipping sees a large value in the worker part and clamps both parts', async () => {
    const a = arena();
    await a.ready;
    a.arrays.forEach((x) => x.fill(0.25));
    const big = a.arrays[0]!;
    big[big.length - 5] = 40;
    big[3] = -7;
    const r = clipByValue(a.arrays, 1);
    expect(r.clipped).toBe(true);
    expect(big[big.length - 5]).toBe(1);
    expect(big[3]).toBe(-1);
    expect(big[4]).toBe(0.25);
  });

  it('per-tensor clipping scales each split tensor by its own factor', async () => {
    const a = arena();
    await a.ready;
    fill(a.arrays, 4);
    const before = copies(a);
    const r = clipByNorm(a.arrays, 0.5);
    useKernels('js');
    const want = clipByNorm(before, 0.5);
    expect(r.norm).toBeCloseTo(want.norm, 9);
    for (const x of a.arrays) expect(jsNorm([x])).toBeLessThanOrEqual(0.5 * (1 + 1e-6));
  });

  it('keeps working on the calling thread after dispose()', async () => {
    const a = arena();
    await a.ready;
    a.dispose();
    a.dispose(); // a second call is a no-op
    fill(a.arrays, 5);
    const want = jsNorm(copies(a));
    expect(Math.abs(clipByGlobalNorm(a.arrays, 1).norm - want)).toBeLessThanOrEqual(REL * want);
  });

  it('does not keep Node running when never disposed', () => {
    const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
    const script = `
      const { gradientArena, clipByGlobalNorm } = await import(${JSON.stringify(dist)});
      const a = gradientArena([1 << 18], { threads: 2 });
      console.log('threads', await a.ready);
      a.arrays[0].fill(1);
      console.log('norm', clipByGlobalNorm(a.arrays, 1).norm);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('threads 2');
    expect(r.stdout).toContain('norm 512'); // √(2^18)
  });

  it('rejects bad options with the argument and value named', () => {
    expect(() => gradientArena([4], { threads: 0 })).toThrow(/threads must be an integer ≥ 1, got 0/);
    expect(() => gradientArena([4], { threads: 1.5 })).toThrow(RangeError);
    expect(() => gradientArena([4], { threads: '2' as unknown as number })).toThrow(TypeError);
    expect(() => gradientArena([4], { threads: 1000 })).toThrow(/threads must be at most 256, got 1000/);
    expect(() => gradientArena([4], { thread: 2 } as never)).toThrow(/unknown option 'thread'/);
    expect(() => gradientArena([4], { dtype: 'int8' as 'float32' })).toThrow(/dtype must be one of/);
  });

  it('says why threads are impossible where node:worker_threads cannot be reached', () => {
    const proc = process as { getBuiltinModule?: unknown };
    const saved = proc.getBuiltinModule;
    proc.getBuiltinModule = undefined;
    try {
      expect(() => gradientArena([4], { threads: 2 })).toThrow(/threads = 2 is not possible here: threads need Node.js ≥ 20.16/);
      // One thread needs nothing of the kind.
      expect(gradientArena([4], { threads: 1 }).threads).toBe(1);
    } finally {
      proc.getBuiltinModule = saved;
    }
  });
});
