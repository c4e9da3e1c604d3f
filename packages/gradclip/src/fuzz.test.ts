// Issue 12: the attack on the public functions and on state restore, kept as property tests.
// Any input either works or is refused with a TypeError / RangeError that names an argument —
// never another error, never NaN from finite data, never a change to the caller's data when
// an error is thrown.
import fc from 'fast-check';
import { fcGate } from '../test/fc_gate.js';
import { describe, expect, it } from 'vitest';
import {
  adaGC,
  agc,
  autoClip,
  clipByGlobalNorm,
  clipByNorm,
  clipByValue,
  globalNorm,
  perGroup,
  zClip,
  globalNormClipper,
} from './index.js';

const hostile = fc.oneof(
  fc.constantFrom<unknown>(
    null,
    undefined,
    NaN,
    Infinity,
    -Infinity,
    -0,
    0,
    -1,
    1e308,
    5e-324,
    '',
    '1',
    '__proto__',
    true,
    [],
    {},
    3n,
  ),
  fc.constantFrom<unknown>(
    Object.create(null),
    new Map(),
    new Int32Array(2),
    new Float32Array(0),
    () => 1,
    Symbol('s'),
  ),
  fc.double(),
  fc.integer(),
  fc.string(),
);

/** Gradient sets: finite float32/64 arrays in lists and records, sometimes with a hostile entry. */
const gradSet = fc
  .tuple(
    fc.array(
      fc.tuple(
        fc.constantFrom('a', 'b', 'toString', '__proto__', 'w.kernel'),
        fc.array(fc.double({ noNaN: true, min: -1e30, max: 1e30 }), { maxLength: 6 }),
        fc.boolean(),
      ),
      { maxLength: 4 },
    ),
    fc.boolean(),
    fc.option(hostile, { nil: undefined, freq: 4 }),
  )
  .map(([entries, asRecord, bad]) => {
    const arrays = entries.map(([, xs, f64]) => (f64 ? Float64Array.from(xs) : Float32Array.from(xs)));
    let set: unknown;
    if (asRecord) {
      const r = Object.create(null) as Record<string, unknown>;
      entries.forEach(([k], i) => (r[k] = arrays[i]));
      if (bad !== undefined) r['bad'] = bad;
      set = r;
    } else {
      set = bad === undefined ? arrays : [...arrays, bad];
    }
    return { set, arrays };
  });

const allowed = (e: unknown) => e instanceof TypeError || e instanceof RangeError;
const namesSomething = (e: unknown) =>
  /^(grads|params|maxNorm|clipValue|normType|options|clipping|state)\b/.test((e as Error).message);

function check(
  run: () => { finite: boolean; norm: number } | number,
  arrays: readonly (Float32Array | Float64Array)[],
): void {
  const before = arrays.map((a) => Array.from(a));
  try {
    const r = run();
    const out = arrays.flatMap((a) => Array.from(a));
    // Finite input (all generated data is finite) never turns into NaN.
    if (out.length > 0) expect(out.every((x) => !Number.isNaN(x))).toBe(true);
    if (typeof r !== 'number') expect(Number.isNaN(r.norm)).toBe(false);
  } catch (e) {
    expect(allowed(e), String(e)).toBe(true);
    expect(namesSomething(e), (e as Error).message).toBe(true);
    expect(arrays.map((a) => Array.from(a))).toEqual(before);
  }
}

describe('fuzz: public functions (issue 12)', () => {
  it('clipByGlobalNorm / clipByNorm / clipByValue / globalNorm with hostile sets, thresholds and options', () => {
    fc.assert(
      fc.property(
        gradSet,
        fc.oneof(hostile, fc.double({ min: 0, max: 10 })),
        fc.option(fc.record({ normType: hostile, eps: hostile, nonFinite: hostile }, { requiredKeys: [] }), {
          nil: undefined,
        }),
        ({ set, arrays }, c, options) => {
          check(() => clipByGlobalNorm(set as never, c as never, options as never), arrays);
          check(() => clipByNorm(set as never, c as never), arrays);
          check(() => clipByValue(set as never, c as never), arrays);
          check(() => globalNorm(set as never, (options?.normType ?? 2) as never), arrays);
        },
      ),
      fcGate({ seed: 1207, numRuns: 400 }),
    );
  });

  it('clipper factories with hostile options', () => {
    const factories = [
      (o: unknown) => zClip(o as never),
      (o: unknown) => autoClip(o as never),
      (o: unknown) => adaGC(o as never),
      (o: unknown) => agc(o as never),
      (o: unknown) => globalNormClipper(1, o as never),
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...factories),
        fc.oneof(
          hostile,
          fc.dictionary(
            fc.constantFrom(
              'alpha',
              'zThresh',
              'percentile',
              'historySize',
              'beta',
              'warmupSteps',
              'eps',
              'clipping',
              'nonFinite',
              'typo',
            ),
            hostile,
            { maxKeys: 3 },
          ),
        ),
        (make, o) => {
          try {
            make(o);
          } catch (e) {
            expect(allowed(e), String(e)).toBe(true);
          }
        },
      ),
      fcGate({ seed: 1208, numRuns: 400 }),
    );
  });
});

describe('fuzz: state restore (issue 12)', () => {
  const number = fc.oneof(fc.double(), fc.integer({ min: -3, max: 30 }), hostile);
  const states = fc.oneof(
    fc.record({ count: number, mean: number, m2: number, variance: number }),
    fc.record({ history: fc.oneof(fc.array(number, { maxLength: 6 }), hostile), next: number }),
    fc.record({
      step: number,
      gamma: fc.oneof(fc.dictionary(fc.constantFrom('w', 'b', '__proto__', 'toString'), number), hostile),
    }),
    fc.record({ groups: fc.oneof(fc.array(hostile, { maxLength: 2 }), hostile), default: hostile }),
    hostile,
  );

  it('every restore either refuses with a TypeError / RangeError or gives a clipper that clips finite data to finite data', () => {
    const factories = [
      (state: unknown) => zClip({ warmupSteps: 3, state: state as never }),
      (state: unknown) => autoClip({ historySize: 4, state: state as never }),
      (state: unknown) => adaGC({ warmupSteps: 3, state: state as never }),
      (state: unknown) =>
        perGroup([{ match: 'w', clipper: zClip({ warmupSteps: 3 }) }], autoClip(), { state: state as never }),
    ];
    fc.assert(
      fc.property(fc.constantFrom(...factories), states, (make, state) => {
        let c: ReturnType<typeof make>;
        try {
          c = make(state);
        } catch (e) {
          expect(allowed(e), String(e)).toBe(true);
          expect((e as Error).message).toMatch(/^options/);
          return;
        }
        const g = { w: Float64Array.of(3, 4), b: Float64Array.of(1e3) };
        const r = c.clip(g);
        expect(Number.isFinite(r.norm)).toBe(true);
        expect([...g.w, ...g.b].every(Number.isFinite)).toBe(true);
        // Clipping never grows a gradient.
        expect(Math.hypot(...g.w, ...g.b)).toBeLessThanOrEqual(r.norm * (1 + 1e-12));
        expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      }),
      fcGate({ seed: 1209, numRuns: 600 }),
    );
  });
});
