import fc from 'fast-check';
import { fcGate } from '../../gradclip/test/fc_gate.js';
import { describe, expect, it } from 'vitest';
import { STRINGS } from '../src/i18n.js';
import {
  BACKENDS,
  DEFAULTS,
  LANGS,
  METHODS,
  RANGES,
  settingsFromQuery,
  settingsToQuery,
  type Settings,
} from '../src/settings.js';

const numeric = (key: keyof typeof RANGES) => {
  const r = RANGES[key];
  return r.integer === true
    ? fc.integer({ min: r.min, max: Math.min(r.max, 2 ** 31 - 1) })
    : fc.double({ min: r.min, max: r.max, noNaN: true, noDefaultInfinity: true });
};

const settingsArb: fc.Arbitrary<Settings> = fc.record({
  method: fc.constantFrom(...METHODS),
  lang: fc.constantFrom(...LANGS),
  backend: fc.constantFrom(...BACKENDS),
  ...(Object.fromEntries(Object.keys(RANGES).map((k) => [k, numeric(k as keyof typeof RANGES)])) as {
    [K in keyof typeof RANGES]: fc.Arbitrary<number>;
  }),
});

describe('settings in the URL', () => {
  it('an empty query gives the defaults, and the defaults give an empty query', () => {
    expect(settingsFromQuery('')).toEqual(DEFAULTS);
    expect(settingsToQuery(DEFAULTS)).toBe('');
  });

  it('writes only what differs from the defaults, with short names', () => {
    // τ = 0.5 and method "value" differ from the defaults (globalNorm, τ = 1); the rest do not.
    expect(settingsToQuery({ ...DEFAULTS, method: 'value', threshold: 0.5 })).toBe('?method=value&tau=0.5');
    expect(settingsToQuery({ ...DEFAULTS, seqLen: 80, lang: 'ko' })).toBe('?T=80&lang=ko');
  });

  it('round-trips every valid configuration exactly', () => {
    fc.assert(
      fc.property(settingsArb, (s) => {
        // -0 prints as "0" in a URL; the page never produces it, and 0 means the same.
        const norm = Object.fromEntries(
          Object.entries(s).map(([k, v]) => [k, Object.is(v, -0) ? 0 : v]),
        ) as unknown as Settings;
        expect(settingsFromQuery(settingsToQuery(norm))).toEqual(norm);
      }),
      fcGate({ seed: 2224, numRuns: 300 }),
    );
  });

  it('replaces malformed or out-of-range values by their defaults, keeping the valid ones', () => {
    const s = settingsFromQuery('?method=bogus&tau=-1&T=2.5&lr=NaN&seed=abc&steps=0&lang=fr&backend=gpu&z=3&pct=100');
    expect(s).toEqual({ ...DEFAULTS, zThresh: 3, percentile: 100 });
    expect(settingsFromQuery('?tau=&scale=1e400&ema=1').threshold).toBe(DEFAULTS.threshold);
    expect(settingsFromQuery('?scale=1e400').weightScale).toBe(DEFAULTS.weightScale);
    expect(settingsFromQuery('?ema=1').ema).toBe(DEFAULTS.ema); // α = 1 would freeze the EMA: not allowed
  });
});

describe('texts', () => {
  const keysOf = (o: unknown, prefix = ''): string[] =>
    typeof o === 'object' && o !== null
      ? Object.entries(o).flatMap(([k, v]) => keysOf(v, `${prefix}${k}.`))
      : [prefix.slice(0, -1)];

  it('Korean has exactly the English keys, none empty', () => {
    expect(keysOf(STRINGS.ko).sort()).toEqual(keysOf(STRINGS.en).sort());
    const leaves = (o: unknown): string[] => (typeof o === 'string' ? [o] : Object.values(o as object).flatMap(leaves));
    for (const lang of LANGS) for (const text of leaves(STRINGS[lang])) expect(text.trim()).not.toBe('');
  });

  it('explains every method in both languages and states the article formula', () => {
    for (const lang of LANGS) {
      for (const m of METHODS) expect(STRINGS[lang].explain[m].length).toBeGreaterThan(40);
      expect(STRINGS[lang].formula).toBe('g ← g · min(1, τ / ‖g‖)');
    }
    expect(STRINGS.ko.explain.globalNorm).toMatch(/[가-힣]/);
  });
});
