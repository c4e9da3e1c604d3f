/**
 * Threaded gradient arenas: large arrays are split between the calling thread and worker
 * threads on a shared WebAssembly memory. The results must not depend on the split: norms
 * agree with the plain-JS kernels to summation-order rounding (REL: two float64 sums of the
 * same ~2.6e5 non-negative terms in different orders; the worst case is n·2^-53 ≈ 3e-11, in
 * practice they differ by a few 1e-14), and scaled / clamped values
 * are bit-identical to the single-threaded arena given the same factor.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { clipByGlobalNorm } from '../clip_by_global_norm.js';
import { clipByNorm } from '../clip_by_norm.js';
import { clipByValue } from '../clip_by_value.js';
import { globalNorm } from '../global_norm.js';
import { gradientArena, type GradientArena } from './arena.js';
import { useKernels } from './index.js';
import { jsKernels } from './js.js';
import { STALL_MS } from './threads.js';
import { arenaPool, HEADER_BYTES, PARALLEL_MIN } from './wasm.js';

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
const jsNorm = (xs: readonly (Float32Array | Float64Array)[]) =>
  Math.sqrt(xs.reduce((s, x) => s + jsKernels.powSumMax(x, 2).sum, 0));

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

/**
 * An ES module bundle (esbuild) of `source`, TypeScript whose imports resolve from this folder:
 * the library's current source, for a child `node --input-type=module -e` to run.
 */
async function bundle(source: string): Promise<string> {
  const { build } = await import('esbuild');
  const here = fileURLToPath(new URL('.', import.meta.url));
  const out = await build({
    stdin: { contents: source, loader: 'ts', resolveDir: here },
    bundle: true,
    format: 'esm',
    platform: 'node',
    write: false,
    logLevel: 'silent',
  });
  return out.outputFiles[0]!.text;
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

  it('calls of several rounds (more than 8,192 jobs) on three threads, many times over, give the one-thread bits', async () => {
    // 9,000 arrays of 7 values and 3 that are split: 9,000 + 2 + 3 + 1 jobs, so each call is
    // published in two rounds; 30 calls alternate norms and scales, with the workers spinning
    // between them, which is where a round could be mixed up with the next.
    const sizes = [2 * PARALLEL_MIN + 1, ...Array.from({ length: 9000 }, () => 7), 3 * PARALLEL_MIN - 5];
    const a = gradientArena(sizes, { dtype: 'float64', threads: 3 });
    open.push(a);
    expect(await a.ready).toBe(3);
    for (let call = 0; call < 30; call++) {
      fill(a.arrays, 10 + call);
      const before = copies(a);
      const r = clipByGlobalNorm(a.arrays, 1);
      const want = oneThreadClip(before, r.norm);
      expect(Math.abs(r.norm - want.norm)).toBeLessThanOrEqual(REL * want.norm);
      a.arrays.forEach((x, i) => {
        for (let j = 0; j < x.length; j++)
          if (!Object.is(x[j], want.values[i]![j]))
            throw new Error(`call ${call}: arrays[${i}][${j}] = ${x[j]}, want ${want.values[i]![j]}`);
      });
    }
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

  it('does not keep Node running when never disposed', async () => {
    // On a bundle of this source (not dist/, which may be stale or half-built while tests run).
    const script = `${await bundle("export { gradientArena } from './arena.ts'; export { clipByGlobalNorm } from '../clip_by_global_norm.ts';")}
      const a = gradientArena([1 << 18], { threads: 2 });
      console.log('threads', await a.ready);
      a.arrays[0].fill(1);
      console.log('norm', clipByGlobalNorm(a.arrays, 1).norm);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.error).toBeUndefined();
    expect(r.stderr).toBe('');
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
      expect(() => gradientArena([4], { threads: 2 })).toThrow(
        /threads = 2 is not possible here: threads need Node.js ≥ 20.16/,
      );
      // One thread needs nothing of the kind.
      expect(gradientArena([4], { threads: 1 }).threads).toBe(1);
    } finally {
      proc.getBuiltinModule = saved;
    }
  });
});

/** Sleeps the calling thread without running the event loop (as a blocked caller would). */
function blockFor(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * What clipByGlobalNorm(maxNorm 1) gives on the JS kernels for copies `before` of the arrays,
 * given the norm the threaded call found (norms differ in the last bits by summation order, and
 * so would the factor), and the JS kernels' own norm to compare that norm with.
 */
function oneThreadClip(
  before: readonly (Float32Array | Float64Array)[],
  norm: number,
): { norm: number; values: (Float32Array | Float64Array)[] } {
  const copy = before.map((x) => x.slice());
  useKernels('js');
  clipByGlobalNorm(copy, 1, { norm });
  useKernels('wasm');
  return { norm: jsNorm(before), values: copy };
}

describe('threaded gradient arena: memory and lost workers (issue 12)', () => {
  /**
   * Item 12: the FinalizationRegistry held the thread pool, whose closures held the memory, so
   * no threaded arena's memory was ever freed (~260 MB of RSS per 256 MiB arena, disposed or
   * not). Checked in a fresh `node --expose-gc` child (RSS says nothing in a test process that
   * has run other tests) on an esbuild bundle of this source: four 64 MiB arenas, filled and
   * clipped, each dropped (disposed, or not) before the next; each must be collected, and RSS
   * must not grow by their sum. Before the fix: none collected, RSS +75, +139, +203, +267 MB.
   */
  async function leakCheck(dispose: boolean): Promise<{ collected: boolean[]; rssGrowthMB: number }> {
    const script = await bundle(
      readFileSync(fileURLToPath(new URL('./leak_check.fixture.ts', import.meta.url)), 'utf8'),
    );
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script, String(dispose)], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return JSON.parse(r.stdout) as { collected: boolean[]; rssGrowthMB: number };
  }

  it('frees the memory of a disposed arena once it is no longer referenced', async () => {
    const r = await leakCheck(true);
    expect(r.collected).toEqual([true, true, true, true]);
    expect(r.rssGrowthMB).toBeLessThan(128); // 4 × 64 MiB would stay with the leak
  });

  it('frees the memory of an arena nobody disposed (and its workers stop then)', async () => {
    const r = await leakCheck(false);
    expect(r.collected).toEqual([true, true, true, true]);
    expect(r.rssGrowthMB).toBeLessThan(128);
  });

  /**
   * Item 15: a worker that died while idle was waited for 30 s on every call (its 'exit' event
   * cannot arrive while the caller blocks), then the call threw "the arena cannot be used any
   * more". Now the calling thread does the groups nobody takes, so the call just succeeds.
   */
  it('a worker that died unnoticed costs nothing: the call returns at once with the right numbers', async () => {
    const a = gradientArena([3 * PARALLEL_MIN + 7, 100], { threads: 2 });
    open.push(a);
    expect(await a.ready).toBe(2);
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const [worker] = arenaPool(a.arrays[0]!)!.testHooks.workers;
      const exited = new Promise((resolve) => worker!.on('exit', resolve));
      void worker!.terminate();
      blockFor(200); // the thread dies; its 'exit' event waits for the event loop
      for (let call = 0; call < 3; call++) {
        fill(a.arrays, call);
        const before = copies(a);
        const t0 = performance.now();
        const r = clipByGlobalNorm(a.arrays, 1);
        expect(performance.now() - t0).toBeLessThan(10_000); // 30,000 ms per call before
        const want = oneThreadClip(before, r.norm);
        expect(Math.abs(r.norm - want.norm)).toBeLessThanOrEqual(REL * want.norm);
        a.arrays.forEach((x, i) => expect(Array.from(x)).toEqual(Array.from(want.values[i]!)));
      }
      await exited;
      await new Promise((r) => setTimeout(r, 0));
      expect(arenaPool(a.arrays[0]!)!.running()).toBe(0);
      expect(warnings.join('\n')).toMatch(
        /worker thread 1 of a threaded gradient arena exited \(code 1\); the arena goes on with the threads left/,
      );
    } finally {
      process.off('warning', onWarning);
    }
  });

  /**
   * A worker that took a group and died before finishing it (simulated: the hook takes a group
   * as that worker would, and never does it). The caller waits STALL_MS, stops the workers and
   * redoes the group: a norm is read-only, so the call still returns the right numbers.
   */
  it('a worker lost in the middle of a norm: the call redoes its part and is right, within seconds', async () => {
    // 9,000 small arrays after the large one: more than 8,192 jobs, so the call has a second
    // round, which must run on the calling thread once the workers are given up.
    const a = gradientArena([4 * PARALLEL_MIN + 3, ...Array.from({ length: 9000 }, () => 5)], { threads: 2 });
    open.push(a);
    expect(await a.ready).toBe(2);
    const pool = arenaPool(a.arrays[0]!)!;
    const taken: number[] = [];
    pool.testHooks.afterPublish = (kernel, take) => {
      if (kernel.startsWith('pow') && taken.length === 0) taken.push(take());
    };
    const onWarning = vi.fn();
    process.on('warning', onWarning);
    try {
      fill(a.arrays, 7);
      const before = copies(a);
      expect(pool.running()).toBe(1);
      const t0 = performance.now();
      const r = clipByGlobalNorm(a.arrays, 1);
      const ms = performance.now() - t0;
      const want = oneThreadClip(before, r.norm);
      expect(taken).toHaveLength(1);
      expect(taken[0]).toBeGreaterThanOrEqual(0);
      expect(ms).toBeGreaterThanOrEqual(STALL_MS * 0.9); // it did wait for the lost group …
      expect(ms).toBeLessThan(10_000); // … but not 30 s
      expect(Math.abs(r.norm - want.norm)).toBeLessThanOrEqual(REL * want.norm);
      a.arrays.forEach((x, i) => expect(Array.from(x)).toEqual(Array.from(want.values[i]!)));
      expect(pool.running()).toBe(0); // the workers are stopped; the arena runs here now
      await new Promise((r) => setTimeout(r, 0));
      expect(String(onWarning.mock.calls[0]?.[0])).toMatch(
        /stopped answering .* runs on the calling thread from now on/,
      );
    } finally {
      process.off('warning', onWarning);
      pool.testHooks.afterPublish = undefined;
    }
  });

  it('a worker lost in the middle of a scale: the rest is scaled, and the Error names the values it may have left half-done', async () => {
    const n = 3 * PARALLEL_MIN;
    const a = gradientArena([n, 5, n + 9], { threads: 2 });
    open.push(a);
    expect(await a.ready).toBe(2);
    const pool = arenaPool(a.arrays[0]!)!;
    pool.testHooks.afterPublish = (kernel, take) => {
      if (kernel.startsWith('scale')) take();
    };
    const onWarning = vi.fn();
    process.on('warning', onWarning);
    try {
      fill(a.arrays, 8);
      const before = copies(a);
      // A threaded norm is the same bits on every call (group results are added in group
      // order), so this is the norm the clip below finds before its scale is lost.
      const want = oneThreadClip(before, globalNorm(a.arrays));
      let message = '';
      const t0 = performance.now();
      try {
        clipByGlobalNorm(a.arrays, 1);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(performance.now() - t0).toBeLessThan(10_000);
      expect(message).toMatch(
        /a worker thread of a threaded gradient arena stopped while scaling .*may be partly scaled/,
      );
      // The values the error names were never touched (the simulated worker did nothing);
      // every other value is scaled exactly as on one thread.
      const named = [...message.matchAll(/arrays\[(\d+)\]\[(\d+), (\d+)\)/g)].map(
        (m) => m.slice(1).map(Number) as [number, number, number],
      );
      expect(named.length).toBeGreaterThan(0);
      a.arrays.forEach((x, i) => {
        const inNamed = (j: number) => named.some(([k, from, to]) => k === i && j >= from && j < to);
        for (let j = 0; j < x.length; j++) {
          const expected = inNamed(j) ? before[i]![j] : want.values[i]![j];
          if (x[j] !== expected) throw new Error(`arrays[${i}][${j}] = ${x[j]}, expected ${expected}`);
        }
      });
      // The arena is still usable, on the calling thread.
      fill(a.arrays, 9);
      const again = jsNorm(copies(a));
      expect(Math.abs(clipByGlobalNorm(a.arrays, 1).norm - again)).toBeLessThanOrEqual(REL * again);
      expect(pool.running()).toBe(0);
    } finally {
      process.off('warning', onWarning);
      pool.testHooks.afterPublish = undefined;
    }
  });
});

describe('gradient arena: a refused WebAssembly memory (issue 12, item 17)', () => {
  it('says how many arenas are alive and what to do, instead of V8\'s "could not allocate memory"', () => {
    // V8 refuses the ~13,000th live WebAssembly memory (each reserves ~10 GiB of address
    // space) with this RangeError; the stub refuses every new one the same way.
    const real = globalThis.WebAssembly;
    vi.stubGlobal('WebAssembly', {
      ...real,
      Memory: function Memory() {
        throw new RangeError('WebAssembly.Memory(): could not allocate memory');
      },
    });
    try {
      expect(() => gradientArena([1024])).toThrow(RangeError);
      expect(() => gradientArena([1024])).toThrow(
        /gradientArena: the engine refused a WebAssembly memory of 0\.06 MiB \(RangeError: WebAssembly\.Memory\(\): could not allocate memory\)\. \d+ gradient arenas are alive.*dispose\(\)/,
      );
    } finally {
      vi.unstubAllGlobals();
    }
    expect(gradientArena([1024]).wasm).toBe(true); // nothing stays broken
  });
});
