/**
 * The shared conformance suite: invariants every clipper promises, run over every clipper in
 * the library (the stateless clipper forms included). A new clipper joins by adding an entry
 * to CLIPPERS.
 */
import fc from 'fast-check';
import { fcGate } from '../test/fc_gate.js';
import { describe, expect, it } from 'vitest';
import { adaGC, type AdaGCState } from './adaptive/ada_gc.js';
import { agc } from './adaptive/agc.js';
import { autoClip, type AutoClipState } from './adaptive/auto_clip.js';
import { perGroup, type GroupSpec, type PerGroupState } from './adaptive/groups.js';
import { zClip, type ZClipState } from './adaptive/z_clip.js';
import { globalNormClipper, perTensorNormClipper, valueClipper, type Clipper, type StateTree } from './clipper.js';
import { globalNorm } from './global_norm.js';
import type { NonFinitePolicy, Shaped } from './types.js';

type AnyClipper = Clipper<StateTree<number>>;

interface Entry {
  name: string;
  /** A fresh clipper, or one restored from a state. */
  make(state?: unknown): AnyClipper;
  /** The same clipper under a non-finite policy, when it has that option. */
  withPolicy?: (policy: NonFinitePolicy) => AnyClipper;
  /** Whether the rule promises to leave small, steady gradients untouched. */
  identityWhenSmall: boolean;
  /** p of the norm in the report (default 2). */
  reportP?: number;
  /** Whether gradients whose norm overflows float64 are scaled rather than zeroed. */
  scalesOverflowedNorms?: boolean;
}

const groupSpecs = (): GroupSpec[] => [
  { match: '*.bias', rule: null },
  { match: 'emb*', clipper: zClip({ warmupSteps: 3, maxGradNorm: null }) },
];

const CLIPPERS: Entry[] = [
  {
    name: 'globalNormClipper',
    scalesOverflowedNorms: true,
    make: () => globalNormClipper(1),
    withPolicy: (p) => globalNormClipper(1, { nonFinite: p }),
    identityWhenSmall: true,
  },
  {
    name: 'globalNormClipper eps 0 p=1',
    make: () => globalNormClipper(0.5, { eps: 0, normType: 1 }),
    identityWhenSmall: true,
    reportP: 1,
  },
  {
    name: 'perTensorNormClipper',
    make: () => perTensorNormClipper(0.3),
    withPolicy: (p) => perTensorNormClipper(0.3, { nonFinite: p }),
    identityWhenSmall: true,
  },
  { name: 'valueClipper', make: () => valueClipper(0.2), identityWhenSmall: true },
  { name: 'agc tf', make: () => agc(), withPolicy: (p) => agc({ nonFinite: p }), identityWhenSmall: true },
  { name: 'agc torch', make: () => agc({ layout: 'torch', clipping: 0.1 }), identityWhenSmall: true },
  {
    name: 'autoClip',
    scalesOverflowedNorms: true,
    make: (s) => autoClip(s === undefined ? {} : { state: s as AutoClipState }),
    withPolicy: (p) => autoClip({ nonFinite: p }),
    identityWhenSmall: false,
  },
  {
    name: 'autoClip bounded',
    make: (s) =>
      autoClip({ percentile: 50, historySize: 7, ...(s === undefined ? {} : { state: s as AutoClipState }) }),
    identityWhenSmall: false,
  },
  {
    name: 'zClip',
    scalesOverflowedNorms: true,
    make: (s) => zClip({ warmupSteps: 5, ...(s === undefined ? {} : { state: s as ZClipState }) }),
    withPolicy: (p) => zClip({ warmupSteps: 5, nonFinite: p }),
    identityWhenSmall: true,
  },
  {
    name: 'zClip percentile, no cap, skip on spike',
    make: (s) =>
      zClip({
        warmupSteps: 4,
        maxGradNorm: null,
        mode: 'percentile',
        skipUpdateOnSpike: true,
        ...(s === undefined ? {} : { state: s as ZClipState }),
      }),
    identityWhenSmall: true,
  },
  {
    name: 'adaGC',
    scalesOverflowedNorms: true,
    make: (s) => adaGC({ warmupSteps: 4, ...(s === undefined ? {} : { state: s as AdaGCState }) }),
    withPolicy: (p) => adaGC({ warmupSteps: 4, nonFinite: p }),
    identityWhenSmall: true,
  },
  {
    name: 'perGroup (none / zClip / autoClip)',
    make: (s) => perGroup(groupSpecs(), autoClip(), s === undefined ? {} : { state: s as PerGroupState }),
    identityWhenSmall: false,
  },
  {
    name: 'perGroup (adaGC / agc default)',
    make: (s) =>
      perGroup(
        [{ match: 'emb', rule: adaGC({ warmupSteps: 3 }).rule }],
        agc(),
        s === undefined ? {} : { state: s as PerGroupState },
      ),
    identityWhenSmall: true,
  },
];

const SHAPES: Record<string, number[]> = { 'dense.kernel': [3, 2], 'dense.bias': [2], emb: [4] };
type Grads = Record<string, Shaped>;

function gradsFrom(flat: readonly number[], scale: number): Grads {
  let k = 0;
  const out: Grads = {};
  for (const [name, shape] of Object.entries(SHAPES)) {
    const n = shape.reduce((a, b) => a * b, 1);
    out[name] = { values: Float64Array.from(flat.slice(k, k + n), (x) => x * scale), shape };
    k += n;
  }
  return out;
}

const SIZE = 12;
const params = (): Grads =>
  gradsFrom(
    Array.from({ length: SIZE }, (_, i) => (i % 3) - 1 + 0.5),
    2,
  );
const copy = (g: Grads): Grads =>
  Object.fromEntries(Object.entries(g).map(([k, v]) => [k, { values: v.values.slice(), shape: v.shape }]));
const tensorNorm = (x: Float64Array) => Math.hypot(...x);
const same = (a: Grads, b: Grads) =>
  Object.keys(a).every((k) => a[k]!.values.every((x, i) => Object.is(x, b[k]!.values[i]!)));

/** A deterministic training-like sequence: drifting scale, spikes, and (optionally) NaN / Inf steps. */
function sequence(steps: number, withNonFinite: boolean): Grads[] {
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  const out: Grads[] = [];
  for (let t = 0; t < steps; t++) {
    const spike = t % 37 === 20 ? 30 : 1;
    const g = gradsFrom(Array.from({ length: SIZE }, rand), 0.4 * Math.exp(0.5 * Math.sin(t / 7)) * spike);
    // Every tensor gets one: per-group clippers decide finiteness group by group.
    if (withNonFinite && t % 23 === 11) for (const x of Object.values(g)) x.values[1] = t % 2 ? Infinity : NaN;
    out.push(g);
  }
  return out;
}

/** Every number in a state tree is finite (JSON would turn NaN / ±Infinity into null). */
function allFinite(s: unknown): boolean {
  if (typeof s === 'number') return Number.isFinite(s);
  if (Array.isArray(s)) return s.every(allFinite);
  if (typeof s === 'object' && s !== null) return Object.values(s).every(allFinite);
  return true;
}

const roundTrip = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

describe.each(CLIPPERS.map((e) => [e.name, e] as const))('conformance: %s', (_name, entry) => {
  it('never enlarges the total norm or any tensor, reports the pre-clip L2 norm, changes nothing when it says it did not clip (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            flat: fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: SIZE, maxLength: SIZE }),
            logScale: fc.double({ min: -4, max: 4, noNaN: true }),
          }),
          { minLength: 1, maxLength: 8 },
        ),
        (steps) => {
          const clipper = entry.make();
          const p = params();
          for (const { flat, logScale } of steps) {
            const g = gradsFrom(flat, 10 ** logScale);
            const before = copy(g);
            const r = clipper.clip(g, p);
            const pre = globalNorm(before);
            const reported = globalNorm(before, entry.reportP ?? 2);
            expect(r.norm).toBeCloseTo(reported, 12 - Math.max(0, Math.ceil(Math.log10(reported + 1e-300))));
            expect(r.finite).toBe(true);
            expect(r.scale).toBeLessThanOrEqual(1);
            expect(r.scale).toBeGreaterThanOrEqual(0);
            expect(globalNorm(g)).toBeLessThanOrEqual(pre * (1 + 1e-12));
            for (const k of Object.keys(g)) {
              expect(tensorNorm(g[k]!.values as Float64Array)).toBeLessThanOrEqual(
                tensorNorm(before[k]!.values as Float64Array) * (1 + 1e-12),
              );
            }
            if (!r.clipped) expect(same(g, before)).toBe(true);
            if (r.clipped && pre > 0) expect(same(g, before)).toBe(false);
          }
          expect(same(p, params())).toBe(true); // params are read, never written
          expect(allFinite(clipper.state)).toBe(true);
        },
      ),
      fcGate({ seed: 2203, numRuns: 25 }),
    );
  });

  it('continues bit-identically after a JSON save / restore in the middle of 200 steps', () => {
    const seq = sequence(200, true);
    const straight = entry.make();
    const outA = seq.map((g) => {
      const c = copy(g);
      return { r: straight.clip(c, params()), g: c };
    });
    let first = entry.make();
    const outB = seq.map((g, t) => {
      if (t === 100) {
        const saved = JSON.stringify(first.state);
        expect(allFinite(first.state)).toBe(true);
        expect(JSON.parse(saved)).toEqual(roundTrip(first.state));
        first = entry.make(JSON.parse(saved));
      }
      const c = copy(g);
      return { r: first.clip(c, params()), g: c };
    });
    outA.forEach((a, t) => {
      const b = outB[t]!;
      expect(b.r).toEqual(a.r);
      expect(same(a.g, b.g), `step ${t}`).toBe(true);
    });
    expect(roundTrip(first.state)).toEqual(roundTrip(straight.state));
  });

  it('keeps NaN / ±Infinity steps out of its state: a run with them ends where the run without them does', () => {
    const withBad = sequence(120, true);
    const clean = sequence(120, false);
    const a = entry.make();
    const b = entry.make();
    let badSteps = 0;
    withBad.forEach((g, t) => {
      const r = a.clip(g, params());
      const isBad = !Object.values(g).every((x) => x.values.every(Number.isFinite)) || !r.finite;
      if (!r.finite) badSteps++;
      if (isBad) {
        expect(r.finite).toBe(false);
        return;
      }
      const c = clean[t]!;
      const rb = b.clip(c, params());
      expect(r).toEqual(rb);
      expect(same(g, c)).toBe(true);
    });
    expect(badSteps).toBeGreaterThan(3);
    expect(allFinite(a.state)).toBe(true);
    expect(roundTrip(a.state)).toEqual(roundTrip(b.state));
  });

  // Only rules that promise it (AutoClip clips to a percentile of what it has seen).
  if (entry.identityWhenSmall)
    it('leaves small, steady gradients untouched', () => {
      const clipper = entry.make();
      const base = Array.from({ length: SIZE }, (_, i) => ((i % 4) - 1.5) * 1e-3);
      for (let t = 0; t < 40; t++) {
        const g = gradsFrom(
          base.map((x, i) => ((t + i) % 3 === 0 ? -x : x)),
          1,
        );
        const before = copy(g);
        const r = clipper.clip(g, params());
        expect(r.clipped, `step ${t}`).toBe(false);
        expect(r.scale).toBe(1);
        expect(same(g, before)).toBe(true);
      }
    });

  it('never makes NaN or ±Infinity from finite input, even when the norm overflows float64', () => {
    const clipper = entry.make();
    for (const g of sequence(8, false)) clipper.clip(g, params());
    const state = JSON.stringify(clipper.state);
    // Twelve values up to 1e308: every value is finite, their L2 norm is not.
    const g = gradsFrom(
      Array.from({ length: SIZE }, (_, i) => (i % 2 ? -1 : 1) * (0.5 + i / 24)),
      1e308,
    );
    const r = clipper.clip(g, params());
    expect(r.finite).toBe(true);
    expect(Object.values(g).every((x) => x.values.every(Number.isFinite))).toBe(true);
    if (entry.scalesOverflowedNorms) expect(Object.values(g).some((x) => x.values.some((v) => v !== 0))).toBe(true);
    // Statistics only take finite norms: this step leaves them as they were.
    if (entry.name.startsWith('zClip') || entry.name.startsWith('autoClip'))
      expect(JSON.stringify(clipper.state)).toBe(state);
  });

  it('throws on bad input and leaves every gradient and its state as they were', () => {
    const clipper = entry.make();
    for (const g of sequence(6, false)) clipper.clip(g, params());
    const state = JSON.stringify(clipper.state);
    const g = sequence(7, false)[6]!;
    const before = copy(g);
    const bad = { ...g, zz: new Int32Array(3) } as unknown as Grads;
    expect(() => clipper.clip(bad, params())).toThrow(TypeError);
    expect(() => clipper.clip([g['dense.kernel']!.values, [1, 2]] as never, params())).toThrow(/grads\[1\]/);
    expect(same(g, before)).toBe(true);
    expect(JSON.stringify(clipper.state)).toBe(state);
  });

  const withPolicy = entry.withPolicy;
  if (withPolicy !== undefined)
    it('follows the nonFinite policy', () => {
      const make = withPolicy;
      const nan = () => {
        const g = sequence(1, false)[0]!;
        g.emb!.values[2] = NaN;
        return g;
      };
      const e = make('error');
      const g1 = nan();
      const b1 = copy(g1);
      expect(() => e.clip(g1, params())).toThrow(/nonFinite: 'error'/);
      expect(same(g1, b1)).toBe(true);
      const g2 = nan();
      const b2 = copy(g2);
      const r2 = make('skip').clip(g2, params());
      expect(r2).toMatchObject({ finite: false, clipped: false, scale: 1 });
      expect(same(g2, b2)).toBe(true);
      const g3 = nan();
      const r3 = make('zero').clip(g3, params());
      expect(r3).toMatchObject({ finite: false, clipped: true, scale: 0 });
      expect(Object.values(g3).every((x) => x.values.every((v) => v === 0))).toBe(true);
    });
});
