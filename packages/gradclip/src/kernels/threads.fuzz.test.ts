/**
 * The attack on threaded gradient arenas (issue 12), kept as a property suite: random layouts
 * of arrays (empty, tiny, around the 65,536-value split threshold, several blocks long), both
 * dtypes, 2 or 3 threads, NaN / ±Infinity / huge values sprinkled in, against the plain-JS
 * kernels on one thread; then random lifecycles (dispose twice, use after dispose, a worker
 * killed between calls) and random bad options. Fixed seeds: every run sees the same cases.
 *
 * What "equal" means here (see threads.test.ts): max |x|, clamped and scaled values must be
 * the same bits as the JS kernels give (for the same scale factor); sums of |x|^p may differ by
 * summation order only, at most 4·n·2^-53 relative (both are sums of n non-negative float64
 * terms, each within n·2^-53 of the exact sum). A threaded sum is the group results added in
 * group order, so it must also be the same bits from one call to the next, whichever thread
 * did which group.
 */
import fc from 'fast-check';
import { fcGate } from '../../test/fc_gate.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { clipByGlobalNorm } from '../clip_by_global_norm.js';
import { clipByValue } from '../clip_by_value.js';
import { globalNorm } from '../global_norm.js';
import type { FloatArray } from '../types.js';
import { gradientArena, type GradientArena } from './arena.js';
import { useKernels } from './index.js';
import { jsKernels } from './js.js';
import { arenaPool, PARALLEL_MIN } from './wasm.js';

/** Values per fuzz arena: room for a few arrays of several 65,536-value blocks. */
const CAP = 5 * PARALLEL_MIN;
type Dtype = 'float32' | 'float64';
const DTYPES: readonly Dtype[] = ['float32', 'float64'];
const THREADS = [2, 3] as const;

const shared = new Map<string, GradientArena>();
const arenaFor = (dtype: Dtype, threads: number) => shared.get(`${dtype}/${threads}`)!;

beforeAll(async () => {
  for (const dtype of DTYPES) {
    for (const threads of THREADS) {
      const a = gradientArena([CAP], { dtype, threads });
      shared.set(`${dtype}/${threads}`, a);
      expect(await a.ready).toBe(threads);
    }
  }
});
afterAll(() => shared.forEach((a) => a.dispose()));
beforeEach(() => {
  // The threads run the WASM kernels; the JS-kernels suite (npm run test:js-kernels) also runs this file.
  useKernels('wasm');
});

// ---------------------------------------------------------------- arbitraries

/** Array lengths that hit every path: empty, tiny, below / at / above the split, several blocks. */
const length = fc.oneof(
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 40 }) },
  { weight: 2, arbitrary: fc.integer({ min: 1000, max: 6000 }) },
  { weight: 3, arbitrary: fc.integer({ min: PARALLEL_MIN - 20, max: PARALLEL_MIN + 20 }) },
  { weight: 2, arbitrary: fc.integer({ min: PARALLEL_MIN, max: 3 * PARALLEL_MIN + 37 }) },
);
const special = fc.constantFrom(NaN, Infinity, -Infinity, 0, -0, 1e30, -3e38, 1e-40, 1e200, -1e300);

interface Layout {
  dtype: Dtype;
  threads: number;
  /** Gaps and lengths of the arrays, laid one after the other in the arena (never overlapping). */
  gaps: number[];
  lengths: number[];
  seed: number;
  /** (array, position as a fraction of its length, value) */
  specials: [number, number, number][];
}
const layout: fc.Arbitrary<Layout> = fc.record({
  dtype: fc.constantFrom(...DTYPES),
  threads: fc.constantFrom(...THREADS),
  gaps: fc.array(fc.integer({ min: 0, max: 17 }), { minLength: 6, maxLength: 6 }),
  lengths: fc.array(length, { minLength: 1, maxLength: 6 }),
  seed: fc.integer({ min: 0, max: 1e6 }),
  specials: fc.array(fc.tuple(fc.nat(5), fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), special), {
    maxLength: 3,
  }),
});

/**
 * The arrays of a layout: views of one shared arena (so the set kernels dispatch them to the
 * threads together), filled from the seed. Lengths that do not fit in CAP are shortened.
 */
function views(l: Layout, withSpecials: boolean): FloatArray[] {
  const big = arenaFor(l.dtype, l.threads).arrays[0]!;
  const xs: FloatArray[] = [];
  let at = 0;
  l.lengths.forEach((n, i) => {
    at += l.gaps[i]!;
    const len = Math.max(0, Math.min(n, CAP - at));
    const x = big.subarray(at, at + len);
    at += len;
    for (let j = 0; j < x.length; j++) x[j] = Math.sin(j * 0.731 + i * 3.1 + l.seed) * (1 + ((j + l.seed) % 13));
    xs.push(x);
  });
  if (withSpecials) {
    for (const [i, where, v] of l.specials) {
      const x = xs[i % xs.length]!;
      if (x.length > 0) x[Math.floor(where * x.length)] = v;
    }
  }
  return xs;
}

// ---------------------------------------------------------------- comparisons

const copies = (xs: readonly FloatArray[]) => xs.map((x) => x.slice());
/**
 * Index of the first element whose bits differ, or -1. Two NaNs count as the same: IEEE 754
 * leaves a NaN result's sign and payload to the implementation, and they differ here — for a
 * NaN times a NaN factor the JS kernels give 0xffc00000 on x64 and WASM 0x7fc00000 (fuzz seed
 * -786405789, the named case below). JavaScript cannot tell them apart but through the bits.
 */
function firstDifference(x: FloatArray, y: FloatArray): number {
  if (x.length !== y.length) return Math.min(x.length, y.length);
  const a = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  const b = new Uint8Array(y.buffer, y.byteOffset, y.byteLength);
  const w = x.BYTES_PER_ELEMENT;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    const j = Math.floor(i / w);
    if (Number.isNaN(x[j]!) && Number.isNaN(y[j]!)) {
      i = (j + 1) * w - 1;
      continue;
    }
    return j;
  }
  return -1;
}
function expectSameBits(got: readonly FloatArray[], want: readonly FloatArray[]): void {
  got.forEach((x, i) => {
    const j = firstDifference(x, want[i]!);
    if (j >= 0) throw new Error(`arrays[${i}][${j}]: got ${x[j]}, want ${want[i]![j]} (length ${x.length})`);
  });
}
function expectSumClose(got: number, want: number, n: number): void {
  if (!Number.isFinite(want)) {
    expect(got).toBe(want); // NaN equals NaN for toBe
    return;
  }
  expect(Math.abs(got - want)).toBeLessThanOrEqual((4 * n * 2 ** -53 + 2 ** -52) * Math.abs(want));
}
const total = (xs: readonly FloatArray[]) => xs.reduce((s, x) => s + x.length, 0);
/** Σ|x|^p and max |x| of a set on the JS kernels. */
function jsPowSum(xs: readonly FloatArray[], p: number): { sum: number; max: number } {
  let sum = 0;
  let max = 0;
  for (const x of xs) {
    const r = jsKernels.powSumMax(x, p);
    sum += r.sum;
    if (r.max > max) max = r.max;
  }
  return { sum, max };
}

const SEED = 20_261_129;

describe('threaded arenas against the one-thread JS kernels (fuzz, fixed seeds)', () => {
  it('norms (p = 1, 2, ∞) agree, and a threaded norm is the same bits on every call', () => {
    fc.assert(
      fc.property(layout, fc.constantFrom(1, 2, Infinity), (l, p) => {
        const xs = views(l, true);
        const want = jsPowSum(xs, p);
        const got = globalNorm(xs, p);
        expect(Object.is(globalNorm(xs, p), got)).toBe(true);
        // max |x| takes no sums: exact; else compare Σ|x|^p (the root adds one rounding).
        if (p === Infinity) expect(got).toBe(want.sum !== want.sum ? NaN : want.max);
        else expectSumClose(p === 2 ? got * got : got, want.sum, total(xs) + 2);
      }),
      fcGate({ seed: SEED, numRuns: 60 }),
    );
  });

  it('global-norm clipping gives the bits the JS kernels give for the same norm', () => {
    fc.assert(
      fc.property(layout, fc.double({ min: 1e-3, max: 1e4, noNaN: true }), fc.boolean(), (l, maxNorm, withSpecials) => {
        const xs = views(l, withSpecials);
        const before = copies(xs);
        const r = clipByGlobalNorm(xs, maxNorm);
        expectSumClose(r.norm * r.norm, jsPowSum(before, 2).sum, total(xs) + 2);
        useKernels('js');
        const want = clipByGlobalNorm(before, maxNorm, { norm: r.norm });
        useKernels('wasm');
        expect(r.scale).toBe(want.scale);
        expect(r.clipped).toBe(want.clipped);
        expect(r.finite).toBe(want.finite);
        expectSameBits(xs, before);
      }),
      fcGate({ seed: SEED + 1, numRuns: 40 }),
    );
  });

  it('named case (fuzz seed -786405789): one float32 NaN, maxNorm 0.001 — NaN stays NaN (its bits may differ)', () => {
    const l: Layout = {
      dtype: 'float32',
      threads: 2,
      gaps: [0, 0, 0, 0, 0, 0],
      lengths: [1],
      seed: 0,
      specials: [[0, 0, NaN]],
    };
    const xs = views(l, true);
    const before = copies(xs);
    const r = clipByGlobalNorm(xs, 0.001);
    useKernels('js');
    const want = clipByGlobalNorm(before, 0.001, { norm: r.norm });
    useKernels('wasm');
    expect(r.norm).toBeNaN();
    expect([r.scale, want.scale, r.finite, want.finite]).toEqual([NaN, NaN, false, false]);
    expect(xs[0]![0]).toBeNaN();
    expect(before[0]![0]).toBeNaN();
    expectSameBits(xs, before);
    // A real difference is still one: 1 against NaN.
    expect(() => expectSameBits([Float32Array.of(1)], [Float32Array.of(NaN)])).toThrow(/arrays\[0\]\[0\]/);
  });

  it('value clipping gives the bits the JS kernels give', () => {
    fc.assert(
      fc.property(layout, fc.double({ min: 0, max: 20, noNaN: true }), (l, c) => {
        const xs = views(l, true);
        const before = copies(xs);
        const r = clipByValue(xs, c);
        useKernels('js');
        const want = clipByValue(before, c);
        useKernels('wasm');
        expect(r.clipped).toBe(want.clipped);
        expect(r.finite).toBe(want.finite);
        expectSameBits(xs, before);
      }),
      fcGate({ seed: SEED + 2, numRuns: 40 }),
    );
  });
});

// ---------------------------------------------------------------- lifecycles

type Step = 'clip' | 'dispose' | 'kill-worker' | 'await-ready';
const step = fc.constantFrom<Step>('clip', 'clip', 'dispose', 'kill-worker', 'await-ready');

describe('threaded arena lifecycles (fuzz, fixed seeds)', () => {
  it('any order of clip, dispose (once or more), killing a worker and awaiting ready: every clip is right and prompt', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...DTYPES),
        fc.constantFrom(...THREADS),
        fc.array(step, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 1000 }),
        async (dtype, threads, steps, seed) => {
          const a = gradientArena([PARALLEL_MIN + 3, 17, 2 * PARALLEL_MIN], { dtype, threads });
          const workers = arenaPool(a.arrays[0]!)!.testHooks.workers;
          let killed = 0;
          try {
            for (const [k, s] of steps.entries()) {
              if (s === 'dispose') a.dispose();
              else if (s === 'kill-worker') {
                // Its 'exit' event may not have arrived when the next clip runs: that call
                // must not wait for it (it waited 30 s per call before).
                if (killed < workers.length) void workers[killed++]!.terminate();
              } else if (s === 'await-ready') {
                const n = await a.ready;
                expect(Number.isInteger(n) && n >= 1 && n <= threads).toBe(true);
              } else {
                const xs = a.arrays;
                xs.forEach((x, i) => {
                  for (let j = 0; j < x.length; j++) x[j] = Math.cos(j * 0.37 + i + seed + k) * (1 + (j % 5));
                });
                const before = copies(xs);
                const t0 = performance.now();
                const r = clipByGlobalNorm(xs, 1);
                expect(performance.now() - t0).toBeLessThan(10_000);
                expectSumClose(r.norm * r.norm, jsPowSum(before, 2).sum, total(xs) + 2);
                useKernels('js');
                clipByGlobalNorm(before, 1, { norm: r.norm });
                useKernels('wasm');
                expectSameBits(xs, before);
              }
            }
          } finally {
            a.dispose();
            a.dispose(); // always safe, also after an earlier dispose
          }
          // Disposed: no worker runs any more, and the arrays stay usable on the calling thread.
          expect(arenaPool(a.arrays[0]!)!.running()).toBe(0);
          a.arrays[0]!.fill(2);
          a.arrays[1]!.fill(0);
          a.arrays[2]!.fill(0);
          expect(globalNorm(a.arrays)).toBe(2 * Math.sqrt(PARALLEL_MIN + 3));
        },
      ),
      fcGate({ seed: SEED + 3, numRuns: 8 }),
    );
  });
});

// ---------------------------------------------------------------- bad options

describe('gradientArena options (fuzz, fixed seeds)', () => {
  it('a bad thread count is refused with an error that names threads and the value', () => {
    const bad = fc.oneof(
      fc.integer({ min: -1000, max: 0 }),
      fc.integer({ min: 257, max: 1e9 }),
      fc.double({ noNaN: false }).filter((x) => !Number.isInteger(x) || x < 1 || x > 256),
      fc.string(),
      fc.constantFrom(null, true, [2], { n: 2 }, 2n),
    );
    fc.assert(
      fc.property(bad, fc.constantFrom(...DTYPES), (threads, dtype) => {
        let error: unknown;
        try {
          gradientArena([8], { dtype, threads: threads as number });
        } catch (e) {
          error = e;
        }
        expect(error instanceof TypeError || error instanceof RangeError).toBe(true);
        expect((error as Error).message).toMatch(/^threads must be/);
      }),
      fcGate({ seed: SEED + 4, numRuns: 200 }),
    );
  });

  it('bad sizes are refused with an error that names the entry', () => {
    const badSize = fc.oneof(
      fc.integer({ min: -1e6, max: -1 }),
      fc.double().filter((x) => !Number.isInteger(x)),
      fc.string(),
      fc.constantFrom(null, undefined, 1n),
    );
    fc.assert(
      fc.property(fc.array(fc.nat(100), { maxLength: 3 }), badSize, fc.nat(3), (good, b, where) => {
        const sizes: unknown[] = [...good];
        const i = Math.min(where, sizes.length);
        sizes.splice(i, 0, b);
        expect(() => gradientArena(sizes as number[], { threads: 2 })).toThrow(
          new RegExp(`^sizes\\[${i}\\] must be a non-negative integer`),
        );
      }),
      fcGate({ seed: SEED + 5, numRuns: 200 }),
    );
  });
});
