// Issue 12 ("Hardening"): regression tests for what an attack on the public functions broke,
// one per item, each failing on the code before the fix.
import fc from 'fast-check';
import { fcGate } from '../test/fc_gate.js';
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
  mergeNormStatistics,
  normStatistics,
  perGroup,
  setKernels,
  useKernels,
  zClip,
  type Kernels,
} from './index.js';

const f64 = (xs: number[]) => Float64Array.from(xs);

describe('issue 12, item 3: AdaGC with gradients named like Object.prototype members', () => {
  for (const name of ['toString', 'valueOf', 'hasOwnProperty', '__proto__', 'constructor']) {
    it(`a gradient named '${name}' is clipped like any other, and its state round-trips through JSON`, () => {
      const c = adaGC({ warmupSteps: 2 });
      const grads = () => JSON.parse(`{"${name}": null}`) as Record<string, Float64Array | null>;
      for (let t = 0; t < 4; t++) {
        const g = grads();
        Object.defineProperty(g, name, { value: f64([3, 4]), enumerable: true });
        const r = c.clip(g);
        expect(Number.isFinite(r.norm) && Number.isFinite(r.scale)).toBe(true);
        expect(Array.from(g[name]!).every(Number.isFinite)).toBe(true);
      }
      const saved = JSON.parse(JSON.stringify(c.state)) as { gamma: Record<string, number> };
      expect(Object.hasOwn(saved.gamma, name)).toBe(true);
      expect(() => adaGC({ warmupSteps: 2, state: saved as never })).not.toThrow();
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    });
  }
});

describe('issue 12, item 6: clipByValue never leaves data half-changed when a kernel fails part-way', () => {
  afterEach(() => useKernels('auto'));

  it('a clamp kernel that throws on its second piece: every value still ends clamped, the norm is right', () => {
    let calls = 0;
    const flaky: Kernels = {
      ...jsKernels,
      clamp(x: Float32Array | Float64Array, c: number) {
        if (++calls === 2) throw new RangeError('WebAssembly.Memory.grow(): out of memory (injected)');
        return jsKernels.clamp(x, c);
      },
    };
    setKernels(flaky);
    const g = new Float64Array(100_000).map((_, i) => (i % 7) - 3); // values −3 … 3
    const norm = Math.sqrt(g.reduce((s, x) => s + x * x, 0));
    const r = clipByValue(g, 1);
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(g.every((x) => x >= -1 && x <= 1)).toBe(true);
    expect(r.norm).toBeCloseTo(norm, 9);
  });
});

describe('issue 12, item 8: corrupt state is refused on restore, naming the field', () => {
  it("zClip({ state: { count: 3, mean: -50, … } }) is refused (it flipped the gradient's sign and grew it 14×)", () => {
    expect(() => zClip({ state: { count: 3, mean: -50, m2: 0, variance: 1 } })).toThrow(RangeError);
    expect(() => zClip({ state: { count: 3, mean: -50, m2: 0, variance: 1 } })).toThrow(/options\.state\.mean/);
  });

  it("a negative variance (spike detection off), a count past the warm-up, NaN, strings and another rule's state are refused", () => {
    expect(() => zClip({ state: { count: 25, mean: 1, m2: 0, variance: -1 } })).toThrow(/options\.state\.variance/);
    expect(() => zClip({ state: { count: 26, mean: 1, m2: 0, variance: 1 } })).toThrow(/options\.state\.count/);
    expect(() => zClip({ state: { count: 1.5, mean: 1, m2: 0, variance: 0 } })).toThrow(/options\.state\.count/);
    expect(() => zClip({ state: { count: 1, mean: NaN, m2: 0, variance: 0 } })).toThrow(/options\.state\.mean/);
    expect(() => zClip({ state: { count: '1', mean: 1, m2: 0, variance: 0 } as never })).toThrow(TypeError);
    expect(() => zClip({ state: { history: [1], next: 0 } as never })).toThrow(/not a zClip state/);
    expect(() => adaGC({ state: { step: 1, gamma: { w: -3 } } })).toThrow(/options\.state\.gamma\["w"\]/);
    expect(() => adaGC({ state: { step: -1, gamma: {} } })).toThrow(/options\.state\.step/);
    expect(() => agc({ state: { anything: 1 } as never })).toThrow(/must be \{\} for agc/);
  });

  it('perGroup checks every group state with its own rule', () => {
    const groups = [{ match: 'b*', clipper: zClip() }];
    expect(() =>
      perGroup(groups, autoClip(), {
        state: { groups: [{ count: 0, mean: -1, m2: 0, variance: 0 }], default: { history: [], next: 0 } },
      }),
    ).toThrow(/options\.state\.groups\[0\]\.mean/);
    expect(() =>
      perGroup(groups, autoClip(), {
        state: { groups: [{ count: 0, mean: 0, m2: 0, variance: 0 }], default: { history: [-1], next: 0 } },
      }),
    ).toThrow(/options\.state\.default\.history\[0\]/);
  });

  it('restoring valid state still works and is checked at once, not at the first clip', () => {
    const a = zClip({ warmupSteps: 2 });
    for (const x of [1, 2, 3]) a.clip(f64([x]));
    const b = zClip({ warmupSteps: 2, state: JSON.parse(JSON.stringify(a.state)) as never });
    expect(b.state).toEqual(a.state);
  });
});

describe('issue 12, item 9: invalid norm statistics are refused', () => {
  const base = normStatistics([f64([3, 4])]);
  for (const [what, bad, field] of [
    ['ref: Infinity (it zeroed the gradients)', { ...base, ref: Infinity }, 'ref'],
    ['nan: 0.5 (it made them NaN)', { ...base, nan: 0.5 }, 'nan'],
    ['inf: -1', { ...base, inf: -1 }, 'inf'],
    ['sum < 1 with ref > 0', { ...base, sum: 0.5 }, 'sum'],
    ['sum > 0 with ref = 0', { ...base, ref: 0 }, 'sum'],
    ['sum: NaN', { ...base, sum: NaN }, 'sum'],
  ] as const) {
    it(what, () => {
      const g = f64([3, 4]);
      expect(() => clipByGlobalNorm(g, 1, { statistics: bad })).toThrow(new RegExp(`options\\.statistics\\.${field}`));
      expect(() => mergeNormStatistics(base, bad)).toThrow(new RegExp(`stats\\[1\\]\\.${field}`));
      expect(Array.from(g)).toEqual([3, 4]);
    });
  }

  it('statistics made by normStatistics and merged always pass the check (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.double({ min: -1e300, max: 1e300, noNaN: true }), { maxLength: 8 }), {
          minLength: 1,
          maxLength: 4,
        }),
        (shards) => {
          const stats = shards.map((s) => normStatistics([f64(s)]));
          const merged = mergeNormStatistics(...stats);
          expect(() => clipByGlobalNorm(f64([1]), 1, { statistics: merged })).not.toThrow();
        },
      ),
      fcGate({ seed: 12, numRuns: 200 }),
    );
  });
});

describe('issue 12, item 10: the same memory twice is refused', () => {
  it('clipByGlobalNorm([a, a], 1) is a RangeError naming both entries (it scaled a twice: ‖a‖ ended at 0.1)', () => {
    const a = f64([3, 4]);
    expect(() => clipByGlobalNorm([a, a], 1)).toThrow(/grads\["0"\] and grads\["1"\] are the same array/);
    expect(Array.from(a)).toEqual([3, 4]);
  });

  it('overlapping views are refused; disjoint views of one buffer are fine', () => {
    const buf = new Float64Array(6);
    buf.set([3, 4, 0, 0, 12, 0]);
    expect(() => globalNorm({ w: buf.subarray(0, 3), b: buf.subarray(2, 6) })).toThrow(
      /grads\["w"\] and grads\["b"\] overlap in memory/,
    );
    expect(globalNorm({ w: buf.subarray(0, 2), b: buf.subarray(2, 6) })).toBe(13);
  });
});

describe('issue 12, item 11: state copies, huge float64 tensors, detached buffers, tiny p', () => {
  it("sorting the exposed state.history does not corrupt AutoClip's window", () => {
    const a = autoClip({ historySize: 4 });
    const b = autoClip({ historySize: 4 });
    for (const x of [5, 1, 4, 2, 3]) {
      a.clip(f64([x]));
      b.clip(f64([x]));
    }
    a.state.history.sort((x, y) => x - y);
    a.state.history.push(1000);
    const ga = f64([10]);
    const gb = f64([10]);
    a.clip(ga);
    b.clip(gb);
    expect(ga[0]).toBe(gb[0]);
    expect(a.state).toEqual(b.state);
  });

  it('per-tensor clipping scales a float64 tensor of 1e308 values instead of zeroing it', () => {
    const g = new Float64Array(4).fill(1e308); // ‖g‖ = 2e308 overflows float64
    const r = clipByNorm(g, 1);
    // Each value becomes 1e308 · 1 / 2e308 = 0.5.
    expect(Array.from(g)).toEqual([0.5, 0.5, 0.5, 0.5].map((x) => expect.closeTo(x, 12)));
    expect(r.finite).toBe(true);
  });

  it('a detached buffer is refused, not read as empty', () => {
    const g = new Float32Array([3, 4]);
    structuredClone(g.buffer, { transfer: [g.buffer] });
    expect(() => clipByGlobalNorm({ w: g }, 1)).toThrow(/grads\["w"\] is a typed array whose buffer was detached/);
    // A genuinely empty array is still fine.
    expect(clipByGlobalNorm({ w: new Float32Array(0) }, 1).norm).toBe(0);
  });

  it('normType below ~5.6e-309 (1/p overflows) is refused instead of giving NaN', () => {
    expect(() => globalNorm(f64([1, 2]), 5e-309)).toThrow(/normType is too small/);
    expect(globalNorm(f64([1, 2]), 1e-300)).toBe(Infinity); // (1 + 1)^(1e300) overflows honestly
  });
});

describe('unclear errors (issue 12)', () => {
  it('null options are refused by name, not read as "use the defaults"', () => {
    expect(() => zClip(null as never)).toThrow(/options must be an options object, got null/);
    expect(() => autoClip(null as never)).toThrow(/options must be an options object, got null/);
    expect(() => clipByGlobalNorm(f64([1]), 1, null as never)).toThrow(/options must be an options object, got null/);
    expect(() => globalNormClipper(1, null as never)).toThrow(/options must be an options object, got null/);
  });

  it('a Proxy whose traps throw is a TypeError naming the argument', () => {
    const hostile = new Proxy([f64([1])], {
      ownKeys() {
        throw new Error('trap');
      },
    });
    expect(() => clipByGlobalNorm(hostile, 1)).toThrow(/^grads could not be read: trap$/);
  });

  it('a huge sparse list is refused at once instead of walked hole by hole', () => {
    const sparse: (Float64Array | null)[] = new Array(1e9);
    sparse[5] = f64([1]);
    expect(() => clipByGlobalNorm(sparse, 1)).toThrow(
      /grads is a sparse array \(1 entries in a length of 1000000000\)/,
    );
  });
});
