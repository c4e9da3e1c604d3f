// Issue 24, "Left from the earlier attack": F7, F15, F28, F35 — one regression test each, with
// the attack's repro, each failing on the code before the fix.
import { afterEach, describe, expect, it } from 'vitest';
import {
  adaGC,
  agc,
  autoClip,
  clipByGlobalNorm,
  clipByNorm,
  clipByValue,
  globalNorm,
  globalNormClipper,
  jsKernels,
  normStatistics,
  useKernels,
  zClip,
} from './index.js';

describe('issue 24, F7: clipByValue with a kernel that throws part-way says what it changed', () => {
  const clamp = jsKernels.clamp;
  afterEach(() => {
    jsKernels.clamp = clamp;
    useKernels('auto');
  });

  it('70,000 values, the plain-JS clamp fails on its second piece: the error names what was clamped', () => {
    useKernels('js');
    let calls = 0;
    jsKernels.clamp = (x, c) => {
      if (++calls === 2) throw new RangeError('out of memory (injected)');
      clamp(x, c);
    };
    const a = new Float64Array(70_000).fill(5);
    const b = new Float64Array(10).fill(5);
    let error: Error | undefined;
    try {
      clipByValue([a, b], 1);
    } catch (e) {
      error = e as Error;
    }
    expect(error).toBeInstanceOf(Error);
    // pieces of 32,768 values: the first was clamped, the second failed, the third and b untouched
    expect(error!.message).toBe(
      'clipByValue stopped part-way: arrays before 0 and [0, 32768) of array 0 (of 2) are clamped, ' +
        'the rest may not be; clipping again completes it',
    );
    expect((error!.cause as Error).message).toBe('out of memory (injected)');
    expect(a.subarray(0, 32_768).every((x) => x === 1)).toBe(true);
    expect(a.subarray(32_768).every((x) => x === 5)).toBe(true);
    expect(b.every((x) => x === 5)).toBe(true);
    // as the message says, clipping again completes it
    jsKernels.clamp = clamp;
    clipByValue([a, b], 1);
    expect(a.every((x) => x === 1) && b.every((x) => x === 1)).toBe(true);
  });
});

/** A resizable ArrayBuffer (ES2024; the project's TypeScript lib is ES2022). */
const resizable = (bytes: number, maxByteLength: number) =>
  new (
    ArrayBuffer as unknown as new (
      n: number,
      o: { maxByteLength: number },
    ) => ArrayBuffer & {
      resize(n: number): void;
    }
  )(bytes, { maxByteLength });

describe('issue 24, F15: an out-of-bounds view of a shrunk resizable ArrayBuffer is refused', () => {
  it('a Float32Array(rab, 8, 2) after rab.resize(4) reads as empty: refused, not norm 0', () => {
    const rab = resizable(16, 64);
    const v = new Float32Array(rab, 8, 2);
    v.set([3, 4]);
    rab.resize(4);
    expect(v.length).toBe(0); // what made it read as empty
    expect(() => globalNorm(v)).toThrow(RangeError);
    expect(() => globalNorm(v)).toThrow(/^grads is out of bounds of its resizable ArrayBuffer \(shrunk\)$/);
    expect(() => clipByGlobalNorm({ w: v }, 1)).toThrow(/grads\["w"\] is out of bounds/);
    expect(() => clipByValue([new Float32Array(2), v], 1)).toThrow(/grads\["1"\] is out of bounds/);
    // grown back (the shrink lost its values; growing adds zeros), the view is readable again
    rab.resize(16);
    expect(v.length).toBe(2);
    v.set([3, 4]);
    expect(clipByGlobalNorm(v, 1).norm).toBe(5);
  });

  it('a genuinely empty view of a resizable buffer, and a length-tracking view, are still fine', () => {
    const rab = resizable(16, 64);
    expect(globalNorm(new Float32Array(rab, 0, 0))).toBe(0);
    const tracking = new Float32Array(rab);
    tracking.set([3, 4]);
    rab.resize(8);
    expect(globalNorm(tracking)).toBe(5);
  });
});

describe('issue 24, F28: a Proxy-wrapped typed array gets a message that says what is wrong', () => {
  const proxied = () => new Proxy(new Float32Array([3, 4]), {});
  it('refused with a TypeError naming the argument, not the engine\'s "incompatible receiver"', () => {
    for (const call of [
      () => clipByGlobalNorm(proxied(), 1),
      () => clipByNorm([new Float32Array(1), proxied()], 1),
      () => clipByValue({ w: { values: proxied(), shape: [2] } }, 1),
      () => globalNorm({ b: proxied() }),
    ]) {
      expect(call).toThrow(TypeError);
      expect(call).toThrow(/is a Proxy or imitation of a typed array, not one: pass the array itself/);
      expect(call).not.toThrow(/incompatible receiver/);
    }
    expect(() => clipByNorm([new Float32Array(1), proxied()], 1)).toThrow(/^grads\[1\] is a Proxy or imitation/);
    expect(() => clipByValue({ w: { values: proxied(), shape: [2] } }, 1)).toThrow(/^grads\["w"\]\.values is a Proxy/);
    expect(() => globalNorm(Object.create(Float64Array.prototype) as Float64Array)).toThrow(
      /^grads is a Proxy or imitation of a typed array/,
    );
  });
});

describe('issue 24, F35: null options, inherited options and { norm, statistics } are refused', () => {
  const g = () => Float64Array.from([3, 4]);

  it('normType: null, eps: null and nonFinite: null are refused, not taken for the defaults', () => {
    expect(() => clipByGlobalNorm(g(), 1, { normType: null as never })).toThrow(
      /options\.normType must be a number > 0 or Infinity, got null/,
    );
    expect(() => clipByGlobalNorm(g(), 1, { eps: null as never })).toThrow(/options\.eps must be a number, got null/);
    expect(() => clipByGlobalNorm(g(), 1, { nonFinite: null as never })).toThrow(/options\.nonFinite .* got null/);
    expect(() => clipByNorm(g(), 1, { nonFinite: null as never })).toThrow(/options\.nonFinite .* got null/);
    expect(() => globalNormClipper(1, { eps: null as never })).toThrow(/options\.eps must be a number, got null/);
    expect(() => agc({ eps: null as never })).toThrow(/options\.eps/);
    expect(() => agc({ nonFinite: null as never })).toThrow(/options\.nonFinite/);
    expect(() => zClip({ eps: null as never })).toThrow(/options\.eps/);
    expect(() => autoClip({ nonFinite: null as never })).toThrow(/options\.nonFinite/);
    expect(() => adaGC({ eps: null as never })).toThrow(/options\.eps/);
    // zClip's maxGradNorm: null ("no cap") is documented and still works
    expect(() => zClip({ maxGradNorm: null })).not.toThrow();
  });

  it('an option the options object only inherits is refused (a prototype, or a polluted Object.prototype)', () => {
    const inherited = Object.create({ eps: 5 }) as { eps?: number };
    const a = g();
    expect(() => clipByGlobalNorm(a, 1, inherited)).toThrow(/options\.eps is inherited, not an own property/);
    expect(Array.from(a)).toEqual([3, 4]);
    class Opts {
      get nonFinite() {
        return 'zero' as const;
      }
    }
    expect(() => clipByNorm(g(), 1, new Opts())).toThrow(/options\.nonFinite is inherited/);
    const proto = Object.prototype as { normType?: number };
    proto.normType = 1;
    try {
      expect(() => clipByGlobalNorm(g(), 1, {})).toThrow(/options\.normType is inherited/);
    } finally {
      delete proto.normType;
    }
    // own properties, and a null-prototype object, are fine
    expect(clipByGlobalNorm(g(), 1, { eps: 0 }).scale).toBe(0.2);
    expect(clipByGlobalNorm(g(), 1, Object.assign(Object.create(null) as object, { eps: 0 })).scale).toBe(0.2);
  });

  it('{ norm, statistics } together are refused (statistics was silently ignored)', () => {
    const a = g();
    expect(() => clipByGlobalNorm(a, 1, { norm: 5, statistics: normStatistics([a]) })).toThrow(
      /options\.norm and options\.statistics: pass one, not both/,
    );
    expect(Array.from(a)).toEqual([3, 4]);
    expect(clipByGlobalNorm(a, 1, { statistics: normStatistics([a]) }).norm).toBe(5);
  });
});

describe('issue 25: aliasing through two SharedArrayBuffer objects over the same memory', () => {
  it('new Float64Array(structuredClone(sab)) beside a view of sab is refused, and the memory is left as it was', () => {
    const sab = new SharedArrayBuffer(32);
    const a = new Float64Array(sab);
    a.set([3, 4, 0, 0]);
    const b = new Float64Array(structuredClone(sab)); // another SharedArrayBuffer object, same memory
    expect(b.buffer).not.toBe(sab);
    b[2] = 1;
    expect(a[2]).toBe(1); // the same memory
    b[2] = 0;
    expect(() => clipByGlobalNorm([a, b], 1)).toThrow(/grads\["0"\] and grads\["1"\] are the same array/);
    // overlapping views through the two objects
    expect(() => clipByGlobalNorm({ x: a.subarray(0, 2), y: new Float64Array(b.buffer, 8, 2) }, 1)).toThrow(
      /grads\["x"\] and grads\["y"\] overlap in memory/,
    );
    // the probe flipped a byte and flipped it back: nothing changed, and nothing was clipped
    expect(Array.from(a)).toEqual([3, 4, 0, 0]);
    // disjoint views through the two objects are fine, as are two distinct SharedArrayBuffers
    expect(clipByGlobalNorm([a.subarray(0, 2), new Float64Array(b.buffer, 16, 2)], 1).norm).toBe(5);
    const other = new Float64Array(new SharedArrayBuffer(16));
    other.set([0, 0]);
    // (a's first two values were just clipped from norm 5 to 5 / (5 + 1e-6), PyTorch's eps)
    expect(clipByGlobalNorm([new Float64Array(sab, 0, 2), other], 10).norm).toBeCloseTo(5 / (5 + 1e-6), 12);
  });
});

describe('issue 25: clipByGlobalNorm of a 10^6-entry list', () => {
  it('a million one-value arrays are clipped together (the aliasing check allocates per shared buffer only)', () => {
    // ‖g‖ = sqrt(10^6 · 0.5²) = 500; clipped to 1: every value 0.5 / 500 = 0.001.
    const list = Array.from({ length: 1_000_000 }, () => new Float32Array([0.5]));
    const r = clipByGlobalNorm(list, 1);
    expect(r.norm).toBeCloseTo(500, 6);
    expect(list.every((a) => Math.abs(a[0]! - 0.001) <= 1e-9)).toBe(true);
    // one array twice among them is still found
    const twice = [...list.slice(0, 1000), list[5]!];
    expect(() => clipByGlobalNorm(twice, 1)).toThrow(/grads\["5"\] and grads\["1000"\] are the same array/);
  });
});
