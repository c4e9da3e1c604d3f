/**
 * The WASM SIMD kernels against the plain-JS reference kernels, kernel by kernel.
 *
 * "Agree to rounding": max |x|, NaN / ±Inf counts, scale and clamp must give identical bits
 * (they involve no summation). Sums differ only in order (JS adds left to right, WASM in 8 or 16
 * float64 lanes): both are sums of n non-negative terms, each within n·2^-53 relative of the
 * exact sum, so they agree to 2·n·2^-53 relative; we allow 4·n·2^-53 + 2^-52.
 */
import fc from 'fast-check';
import { fcGate } from '../../test/fc_gate.js';
import { describe, expect, it } from 'vitest';
import type { FloatArray } from '../types.js';
import { gradientArena } from './arena.js';
import { jsKernels } from './js.js';
import type { Kernels } from './kernels.js';
import { CHUNK_BYTES, loadWasmKernels } from './wasm.js';

const wasm = loadWasmKernels() as Kernels;

function sumTol(n: number): number {
  return 4 * n * 2 ** -53 + 2 ** -52;
}
function expectSumClose(got: number, want: number, n: number): void {
  if (!Number.isFinite(want)) {
    expect(got).toBe(want); // toBe treats NaN as equal to NaN
    return;
  }
  expect(Math.abs(got - want)).toBeLessThanOrEqual(sumTol(n) * Math.abs(want));
}
function bits(x: FloatArray): Uint8Array {
  return new Uint8Array(x.buffer, x.byteOffset, x.byteLength).slice();
}
/** Index of the first element whose bits differ, or -1 (fast enough for long arrays). */
function firstBitDifference(x: FloatArray, y: FloatArray): number {
  const a = bits(x);
  const b = bits(y);
  const w = x instanceof Float32Array ? 4 : 8;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return Math.floor(i / w);
  return a.length === b.length ? -1 : a.length / w;
}

// Values chosen to hit every branch: NaN, ±Infinity, ±0, float32 / float64 subnormals,
// values whose squares overflow float32 (1e30) or float64 (1e200), and ordinary ones.
const special = [
  NaN,
  Infinity,
  -Infinity,
  0,
  -0,
  1e-45,
  -1.4e-45,
  1e-40,
  5e-324,
  1e-310,
  1e30,
  -3e38,
  3.4e38,
  1e200,
  -1e300,
  1,
  -1,
];
const value = fc.oneof(
  { weight: 6, arbitrary: fc.double({ min: -1e3, max: 1e3, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(...special) },
  { weight: 1, arbitrary: fc.double() },
);

/** An array of the dtype placed at `shift` elements into a larger buffer (misaligned views). */
function place(values: number[], f32: boolean, shift: number): FloatArray {
  if (f32) {
    const a = new Float32Array(values.length + shift + 3);
    const v = a.subarray(shift, shift + values.length);
    v.set(values);
    return v;
  }
  const a = new Float64Array(values.length + shift + 3);
  const v = a.subarray(shift, shift + values.length);
  v.set(values);
  return v;
}

const input = fc.record({
  values: fc.array(value, { maxLength: 70 }),
  f32: fc.boolean(),
  shift: fc.integer({ min: 0, max: 3 }),
});

describe('WASM SIMD kernels vs the JS reference', () => {
  it('load in Node (WebAssembly SIMD is available here)', () => {
    expect(wasm).not.toBeNull();
    expect(wasm.name).toBe('wasm');
  });

  it('powSumMax agrees for p = 1, 2, ∞ and the JS fallback p = 3', () => {
    fc.assert(
      fc.property(input, fc.constantFrom(1, 2, Infinity, 3), ({ values, f32, shift }, p) => {
        const x = place(values, f32, shift);
        const before = bits(x);
        const a = wasm.powSumMax(x, p);
        const b = jsKernels.powSumMax(x, p);
        expect(a.max).toBe(b.max);
        expectSumClose(a.sum, b.sum, x.length);
        expect(bits(x)).toEqual(before); // read-only
      }),
      fcGate({ seed: 2204, numRuns: 400 }),
    );
  });

  it('max |x| ignores NaN in the SIMD body too (pow2_f32 falls back to finite_f32 when a NaN wins its integer max)', () => {
    for (const arena of [false, true]) {
      const make = (vals: number[]) => {
        if (!arena) return new Float32Array(vals);
        const a = gradientArena([vals.length]).arrays[0]!;
        a.set(vals);
        return a;
      };
      // 20 values: 16 in the vector body, 4 in the scalar tail.
      const base = Array.from({ length: 20 }, (_, i) => (i % 5) - 2); // max |x| = 2
      const withNaN = make(base.map((v, i) => (i === 3 ? NaN : i === 11 ? -7 : v)));
      expect(wasm.powSumMax(withNaN, 2).max).toBe(7);
      expect(wasm.powSumMax(withNaN, 2).sum).toBeNaN();
      const withNaNAndInf = make(base.map((v, i) => (i === 3 ? NaN : i === 9 ? -Infinity : v)));
      expect(wasm.powSumMax(withNaNAndInf, 2).max).toBe(Infinity);
      const nanInTail = make(base.map((v, i) => (i === 18 ? NaN : v)));
      expect(wasm.powSumMax(nanInTail, 2).max).toBe(2);
    }
  });

  it('finiteMax gives the same max and counts', () => {
    fc.assert(
      fc.property(input, ({ values, f32, shift }) => {
        const x = place(values, f32, shift);
        expect(wasm.finiteMax(x)).toEqual(jsKernels.finiteMax(x));
      }),
      fcGate({ seed: 2205, numRuns: 400 }),
    );
  });

  it('scaledPowSum agrees for p = 1, 2 (and the fallback p = 0.5), ref = max finite |x|', () => {
    fc.assert(
      fc.property(input, fc.constantFrom(1, 2, 0.5), ({ values, f32, shift }, p) => {
        const x = place(values, f32, shift);
        const ref = jsKernels.finiteMax(x).maxFinite;
        fc.pre(ref > 0);
        expectSumClose(wasm.scaledPowSum(x, p, ref), jsKernels.scaledPowSum(x, p, ref), x.length);
      }),
      fcGate({ seed: 2206, numRuns: 400 }),
    );
  });

  it('scaledPowSum handles a float64 ref so small that 1/ref overflows', () => {
    // 1/1e-310 = Infinity: both kernels must divide instead. Terms: (1e-310/1e-310)² +
    // (5e-311/1e-310)² = 1 + 0.25 (to rounding of the subnormal quotient).
    const x = new Float64Array([1e-310, -5e-311, 0]);
    expect(jsKernels.scaledPowSum(x, 2, 1e-310)).toBeCloseTo(1.25, 3);
    expect(wasm.scaledPowSum(x, 2, 1e-310)).toBe(jsKernels.scaledPowSum(x, 2, 1e-310));
  });

  it('scale gives identical bits, including tiny and huge factors', () => {
    fc.assert(
      fc.property(
        input,
        fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0, 1e-40, 1e-300, 2, 1e39, NaN)),
        ({ values, f32, shift }, s) => {
          const x = place(values, f32, shift);
          const y = place(values, f32, shift);
          wasm.scale(x, s);
          jsKernels.scale(y, s);
          expect(bits(x)).toEqual(bits(y));
        },
      ),
      fcGate({ seed: 2207, numRuns: 400 }),
    );
  });

  it('clamp gives identical bits (NaN stays NaN, ±Infinity becomes ±c)', () => {
    fc.assert(
      fc.property(
        input,
        fc.oneof(fc.double({ min: 0, max: 1e3, noNaN: true }), fc.constantFrom(0, 0.1, 1e39, Infinity)),
        ({ values, f32, shift }, c) => {
          const x = place(values, f32, shift);
          const y = place(values, f32, shift);
          wasm.clamp(x, c);
          jsKernels.clamp(y, c);
          expect(bits(x)).toEqual(bits(y));
        },
      ),
      fcGate({ seed: 2208, numRuns: 400 }),
    );
  });

  it('scale and clamp touch only the view, not its neighbours in the buffer', () => {
    const base = new Float32Array(40).fill(7);
    const view = base.subarray(1, 38); // byteOffset 4: not a multiple of 8 or 16
    wasm.scale(view, 0.5);
    wasm.clamp(view, 1);
    expect(base[0]).toBe(7);
    expect([...base.subarray(38)]).toEqual([7, 7]);
    expect([...view].every((v) => v === 1)).toBe(true); // 7 · 0.5 = 3.5, clamped to 1
  });

  it('streams arrays longer than the scratch buffer in chunks', () => {
    for (const f32 of [true, false]) {
      const chunk = CHUNK_BYTES / (f32 ? 4 : 8);
      const n = Math.floor(chunk * 2.5) + 3;
      const x = f32 ? new Float32Array(n) : new Float64Array(n);
      for (let i = 0; i < n; i++) x[i] = Math.sin(i) * 10;
      x[chunk * 2 + 5] = -1000; // the max lies in the third chunk
      const a = wasm.powSumMax(x, 2);
      const b = jsKernels.powSumMax(x, 2);
      expect(a.max).toBe(1000);
      expectSumClose(a.sum, b.sum, n);
      x[chunk + 1] = NaN; // a NaN in the second chunk
      x[n - 1] = -Infinity; // and -Infinity in the last element of the last chunk
      expect(wasm.finiteMax(x)).toEqual({ maxFinite: 1000, nan: 1, inf: 1 });
      expect(wasm.powSumMax(x, Infinity).sum).toBeNaN();
      const y = x.slice();
      wasm.scale(x, 0.25);
      jsKernels.scale(y, 0.25);
      expect(firstBitDifference(x, y)).toBe(-1);
      expect(x[chunk * 2 + 5]).toBe(-250);
      wasm.clamp(x, 2);
      jsKernels.clamp(y, 2);
      expect(firstBitDifference(x, y)).toBe(-1);
      expect(x[chunk * 2 + 5]).toBe(-2);
      expect(x[chunk + 1]).toBeNaN();
    }
  });
});

describe('gradientArena', () => {
  it('hands out disjoint 16-byte-aligned arrays that view WebAssembly memory', () => {
    const arena = gradientArena([3, 0, 5, 1000]);
    expect(arena.wasm).toBe(true);
    const [a, b, c, d] = arena.arrays;
    expect([a!.length, b!.length, c!.length, d!.length]).toEqual([3, 0, 5, 1000]);
    for (const x of arena.arrays) {
      expect(x).toBeInstanceOf(Float32Array);
      expect(x.byteOffset % 16).toBe(0);
      expect(x.buffer).toBe(a!.buffer);
    }
    c!.fill(9);
    expect([...a!]).toEqual([0, 0, 0]); // fresh memory is zero; writing c leaves a alone
    expect(d![0]).toBe(0);
    expect(arena.byteLength).toBe(16 + 0 + 32 + 4000);
  });

  it('runs the kernels in place with the same results as on ordinary arrays', () => {
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 70 }), fc.boolean(), (values, f32) => {
        const arena = f32 ? gradientArena([values.length], 'float32') : gradientArena([values.length], 'float64');
        const x = arena.arrays[0]!;
        x.set(values);
        const y = x.slice();
        const a = wasm.powSumMax(x, 2);
        const b = jsKernels.powSumMax(y, 2);
        expect(a.max).toBe(b.max);
        expectSumClose(a.sum, b.sum, x.length);
        expect(wasm.finiteMax(x)).toEqual(jsKernels.finiteMax(y));
        wasm.scale(x, 0.3);
        jsKernels.scale(y, 0.3);
        expect(bits(x)).toEqual(bits(y));
        wasm.clamp(x, 5);
        jsKernels.clamp(y, 5);
        expect(bits(x)).toEqual(bits(y));
      }),
      fcGate({ seed: 2209, numRuns: 200 }),
    );
  });

  it('rejects bad sizes and dtypes with the argument and value named', () => {
    expect(() => gradientArena([3, -1])).toThrow(/sizes\[1\] must be a non-negative integer, got -1/);
    expect(() => gradientArena([2.5])).toThrow(RangeError);
    expect(() => gradientArena('10' as unknown as number[])).toThrow(TypeError);
    expect(() => gradientArena([1], 'int8' as 'float32')).toThrow(
      /dtype must be one of 'float32', 'float64', got "int8"/,
    );
  });
});
