// Issue 11, "One rule, one truth": what a rule knows is asked of the rule, and options are
// validated in one place for the functions and the clipper factories alike.
import { describe, expect, it } from 'vitest';
import {
  adaGC,
  agc,
  autoClip,
  clipByGlobalNorm,
  clipByNorm,
  globalNormClipper,
  perGroup,
  perTensorNormClipper,
  valueClipper,
  zClip,
  globalNorm,
} from './index.js';

const show = (o: object) =>
  `{ ${Object.entries(o)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? `'${v}'` : String(v)}`)
    .join(', ')} }`;

/** Both calls throw the same error (class and message), or both succeed. */
function sameVerdict(a: () => unknown, b: () => unknown): void {
  const outcome = (f: () => unknown) => {
    try {
      f();
      return 'ok';
    } catch (e) {
      // The list of known options differs (the function also takes norm / statistics).
      return `${(e as Error).name}: ${(e as Error).message.replace(/ \(known: .*\)$/, '')}`;
    }
  };
  expect(outcome(b)).toBe(outcome(a));
}

describe('one validation for the function and its clipper forms (issue 11, item 2)', () => {
  it('globalNormClipper(1, { eps: Infinity }) is refused like clipByGlobalNorm (it used to zero every gradient)', () => {
    const g = new Float32Array([3, 4]);
    expect(() => globalNormClipper(1, { eps: Infinity })).toThrow(RangeError);
    expect(() => globalNormClipper(1, { eps: Infinity })).toThrow(/options\.eps must be finite, got Infinity/);
    expect(g).toEqual(new Float32Array([3, 4]));
  });

  const badGlobal: [number, object][] = [
    [1, { eps: Infinity }],
    [1, { eps: -1 }],
    [1, { eps: NaN }],
    [-1, {}],
    [NaN, {}],
    [1, { normType: 0 }],
    [1, { normType: -Infinity }],
    [1, { nonFinite: 'ignore' }],
    [1, { typo: 1 }],
    [1, { eps: 0 }],
    [Infinity, {}],
  ];
  for (const [maxNorm, options] of badGlobal) {
    it(`clipByGlobalNorm and globalNormClipper agree on maxNorm ${maxNorm}, ${show(options)}`, () => {
      sameVerdict(
        () => clipByGlobalNorm(new Float32Array([3, 4]), maxNorm, options),
        () => globalNormClipper(maxNorm, options).clip(new Float32Array([3, 4])),
      );
    });
  }

  for (const [maxNorm, options] of [
    [-2, {}],
    [2, { nonFinite: 'nope' }],
    [2, { eps: 0 }],
    [NaN, {}],
  ] as [number, object][]) {
    it(`clipByNorm and perTensorNormClipper agree on maxNorm ${maxNorm}, ${show(options)}`, () => {
      sameVerdict(
        () => clipByNorm(new Float32Array([3, 4]), maxNorm, options),
        () => perTensorNormClipper(maxNorm, options).clip(new Float32Array([3, 4])),
      );
    });
  }
});

describe('the non-finite policy, saved-model description and fixed threshold are properties of the rule (issue 11, item 1)', () => {
  it('every factory puts its nonFinite option on its rule', () => {
    for (const nonFinite of ['propagate', 'error', 'skip', 'zero'] as const) {
      expect(globalNormClipper(1, { nonFinite }).rule.nonFinite).toBe(nonFinite);
      expect(perTensorNormClipper(1, { nonFinite }).rule.nonFinite).toBe(nonFinite);
      expect(agc({ nonFinite }).rule.nonFinite).toBe(nonFinite);
      expect(autoClip({ nonFinite }).rule.nonFinite).toBe(nonFinite);
      expect(zClip({ nonFinite }).rule.nonFinite).toBe(nonFinite);
      expect(adaGC({ nonFinite }).rule.nonFinite).toBe(nonFinite);
    }
    expect(valueClipper(1).rule.nonFinite).toBe('propagate');
  });

  it('a per-group rule asks for a skipped update when any group skips', () => {
    const skip = perGroup([{ match: 'b*', clipper: zClip({ nonFinite: 'skip' }) }], globalNormClipper(1));
    expect(skip.rule.nonFinite).toBe('skip');
    const same = perGroup(
      [{ match: 'b*', clipper: globalNormClipper(1, { nonFinite: 'zero' }) }],
      globalNormClipper(1, { nonFinite: 'zero' }),
    );
    expect(same.rule.nonFinite).toBe('zero');
  });

  it('rules describe themselves for saved models, and fixed-threshold rules report their threshold', () => {
    expect(globalNormClipper(2, { normType: Infinity }).rule.config).toEqual({
      kind: 'globalNorm',
      args: [2, { normType: 'Infinity' }],
    });
    expect(zClip({ warmupSteps: 3 }).rule.config).toEqual({ kind: 'zClip', args: [{ warmupSteps: 3 }] });
    expect(globalNormClipper(2).rule.fixedThreshold).toBe(2);
    expect(valueClipper(0.5).rule.fixedThreshold).toBe(0.5);
    expect(zClip().rule.fixedThreshold).toBeUndefined();
  });
});

describe('bad entries get a TypeError that names the argument and what it got (issue 11, item 5)', () => {
  class Gradient {
    values = new Float32Array(1);
  }
  const anonymous: unknown = new (class {})();
  function* generator() {
    yield new Float32Array(1);
  }
  const cases: [string, unknown, RegExp][] = [
    ['a null-prototype object', [Object.create(null)], /^grads\[0\] must be .* got a null-prototype object$/],
    ['a generator', [generator()], /^grads\[0\] must be .* got a Generator$/],
    ['a generator as the whole set', generator(), /^grads must be .* got a Generator$/],
    ['a class instance', { w: new Gradient() }, /^grads\["w"\] must be .* got a Gradient$/],
    ['an anonymous class instance', [anonymous], /^grads\[0\] must be .* got an instance of an anonymous class$/],
    ['a Map', new Map([['w', new Float32Array(1)]]), /^grads must be .* got a Map$/],
    ['a function', [() => 1], /^grads\[0\] must be .* got a function$/],
    ['a symbol', [Symbol('g')], /^grads\[0\] must be .* got Symbol\(g\)$/],
    ['a bigint', [3n], /^grads\[0\] must be .* got 3n$/],
  ];
  for (const [what, grads, message] of cases) {
    it(`${what}`, () => {
      const keep = new Float32Array([3, 4]);
      const set = Array.isArray(grads) ? [keep, ...grads] : grads;
      const fixMessage = Array.isArray(grads)
        ? new RegExp(message.source.replace('grads\\[0\\]', 'grads\\[1\\]'))
        : message;
      let err: unknown;
      try {
        clipByGlobalNorm(set as never, 1);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TypeError);
      expect((err as Error).message).toMatch(fixMessage);
      expect(keep).toEqual(new Float32Array([3, 4]));
    });
  }

  it('a null-prototype record is a record of gradients like a plain object', () => {
    const grads = Object.assign(Object.create(null) as Record<string, Float32Array>, { w: new Float32Array([3, 4]) });
    expect(clipByGlobalNorm(grads, 1).norm).toBe(5);
    expect(Array.from(grads['w']!)).toEqual([Math.fround(0.6), Math.fround(0.8)].map((x) => expect.closeTo(x, 6)));
  });

  it('a record whose gradients are named `values` and `shape` is a record, not one { values, shape } entry', () => {
    // ‖[3, 4, 12]‖ = 13: both arrays count.
    expect(globalNorm({ values: new Float64Array([3, 4]), shape: new Float64Array([12]) })).toBe(13);
  });
});

describe('maxNorm = Infinity means no clipping, never NaN', () => {
  it('clipByNorm(x, Infinity) leaves [3, 4] as it is (it used to give [NaN, NaN])', () => {
    const g = new Float32Array([3, 4]);
    const r = clipByNorm(g, Infinity);
    expect(Array.from(g)).toEqual([3, 4]);
    expect(r).toMatchObject({ norm: 5, scale: 1, clipped: false, finite: true });
  });

  it('clipByGlobalNorm(x, Infinity) leaves the gradients as they are, also with an infinite entry', () => {
    const g = new Float64Array([3, 4]);
    expect(clipByGlobalNorm(g, Infinity)).toMatchObject({ norm: 5, scale: 1, clipped: false });
    expect(Array.from(g)).toEqual([3, 4]);
  });
});
