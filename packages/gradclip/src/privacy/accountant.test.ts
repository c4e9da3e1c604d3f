import { describe, expect, it } from 'vitest';
import { MAX_ACCOUNTANT_MECHANISMS, RDPAccountant } from './accountant.js';
import { DEFAULT_ORDERS, MAX_STEPS, computeRdp, epsilonFromRdp, privacySpent } from './rdp.js';
import { cpuMs } from '../../test/cpu_time.js';

describe('RDPAccountant', () => {
  it('n equal steps compose exactly like one privacySpent call with n steps', () => {
    const acc = new RDPAccountant();
    for (let i = 0; i < 250; i++) acc.step({ noiseMultiplier: 1.1, sampleRate: 0.01 });
    expect(acc.steps).toBe(250);
    expect(acc.history).toEqual([{ noiseMultiplier: 1.1, sampleRate: 0.01, steps: 250 }]);
    expect(acc.privacySpent(1e-5)).toEqual(
      privacySpent({ sampleRate: 0.01, noiseMultiplier: 1.1, steps: 250, delta: 1e-5 }),
    );
  });

  it('different steps add their RDP (Opacus example: ε ≈ 0.336 at order 23)', () => {
    const orders = Array.from({ length: 31 }, (_, k) => k + 2);
    const acc = new RDPAccountant({ orders });
    acc.step({ noiseMultiplier: 1.0, sampleRate: 1e-5, steps: 10 });
    acc.step({ noiseMultiplier: 3.0, sampleRate: 1e-4, steps: 4 });
    const spent = acc.privacySpent(1e-5);
    expect(spent.order).toBe(23);
    expect(spent.epsilon).toBeCloseTo(0.336, 3);
    // Same as summing the two RDP curves by hand.
    const a = computeRdp({ sampleRate: 1e-5, noiseMultiplier: 1, steps: 10 }, orders);
    const b = computeRdp({ sampleRate: 1e-4, noiseMultiplier: 3, steps: 4 }, orders);
    expect(spent).toEqual(
      epsilonFromRdp(
        orders,
        a.map((x, k) => x + b[k]!),
        1e-5,
      ),
    );
  });

  it('ε grows with every step and an empty accountant has spent nothing', () => {
    const acc = new RDPAccountant();
    expect(acc.privacySpent(1e-5).epsilon).toBe(0);
    let last = 0;
    for (let i = 0; i < 5; i++) {
      acc.step({ noiseMultiplier: 0.8, sampleRate: 0.05 });
      const e = acc.privacySpent(1e-5).epsilon;
      expect(e).toBeGreaterThan(last);
      last = e;
    }
  });

  it('round-trips through JSON (and JSON.stringify) with the same ε', () => {
    const acc = new RDPAccountant({ orders: [1.5, 2, 4, 8, 16, 32] });
    acc.step({ noiseMultiplier: 1.3, sampleRate: 0.004, steps: 100 });
    acc.step({ noiseMultiplier: 0.9, sampleRate: 0.004 });
    const copy = RDPAccountant.fromJSON(JSON.parse(JSON.stringify(acc)));
    expect(copy.toJSON()).toEqual(acc.toJSON());
    expect(copy.privacySpent(1e-6)).toEqual(acc.privacySpent(1e-6));
    expect(RDPAccountant.fromJSON(JSON.stringify(acc)).steps).toBe(101);
    // Continuing after a restore merges into the last run, as before.
    copy.step({ noiseMultiplier: 0.9, sampleRate: 0.004 });
    expect(copy.history.at(-1)).toEqual({ noiseMultiplier: 0.9, sampleRate: 0.004, steps: 2 });
  });

  it('rejects restored JSON that is wrong, naming the field', () => {
    const good = new RDPAccountant().step({ noiseMultiplier: 1, sampleRate: 0.1 }).toJSON();
    const bad = (patch: object) => () => RDPAccountant.fromJSON({ ...good, ...patch });
    expect(() => RDPAccountant.fromJSON(null)).toThrow(TypeError);
    expect(bad({ kind: 'gdp' })).toThrow(/json.kind must be 'rdp'/);
    expect(bad({ version: 2 })).toThrow(RangeError);
    expect(bad({ orders: [0.5] })).toThrow(/json.orders\[0\] must be a finite number > 1, got 0.5/);
    expect(bad({ history: 'x' })).toThrow(/json.history must be an array/);
    expect(bad({ history: [{ noiseMultiplier: 1, sampleRate: 2, steps: 1 }] })).toThrow(
      /json.history\[0\].sampleRate must be in \(0, 1\], got 2/,
    );
    expect(bad({ history: [{ noiseMultiplier: 1, sampleRate: 0.1, steps: 1.5 }] })).toThrow(/json.history\[0\].steps/);
    expect(bad({ history: [{ noiseMultiplier: 'a', sampleRate: 0.1, steps: 1 }] })).toThrow(TypeError);
  });

  it('rejects bad steps and δ', () => {
    const acc = new RDPAccountant();
    expect(() => acc.step({ noiseMultiplier: -0.1, sampleRate: 0.1 })).toThrow(/noiseMultiplier .* got -0.1/);
    expect(() => acc.step({ noiseMultiplier: 1, sampleRate: 0 })).toThrow(/sampleRate must be in \(0, 1\], got 0/);
    expect(() => acc.privacySpent(2)).toThrow(/delta must be in \(0, 1\), got 2/);
    expect(acc.steps).toBe(0);
  });
});

describe('RDPAccountant never under-reports (issues 24, 25)', () => {
  const trained = () => {
    const acc = new RDPAccountant({ orders: [1.5, 2.5, 8] });
    acc.step({ noiseMultiplier: 1, sampleRate: 0.01, steps: 1000 });
    return acc;
  };

  it('N1: one step at a tiny noise multiplier makes ε ∞ (it used to wipe the accountant to ε = 0)', () => {
    const acc = trained();
    expect(acc.privacySpent(1e-5).epsilon).toBeCloseTo(2.108, 3); // the 2.108
    acc.step({ noiseMultiplier: 1e-300, sampleRate: 0.01 });
    expect(acc.privacySpent(1e-5).epsilon).toBe(Infinity);
    // fromJSON accepts σ = 1e-300 (a valid record), and its ε is ∞.
    const copy = RDPAccountant.fromJSON(JSON.stringify(acc));
    expect(copy.history.at(-1)).toEqual({ noiseMultiplier: 1e-300, sampleRate: 0.01, steps: 1 });
    expect(copy.privacySpent(1e-5).epsilon).toBe(Infinity);
  });

  it('N5: 1e15 steps at q = 1e-8, σ = 50 never lower ε (they lowered 2.101365 to 2.098144)', () => {
    const acc = new RDPAccountant().step({ noiseMultiplier: 1, sampleRate: 0.01, steps: 1000 });
    const before = acc.privacySpent(1e-5).epsilon;
    expect(before).toBeCloseTo(2.101365, 5);
    acc.step({ noiseMultiplier: 50, sampleRate: 1e-8, steps: 1e15 });
    expect(acc.privacySpent(1e-5).epsilon).toBeGreaterThanOrEqual(before);
  });

  it('N6: orders above MAX_ORDER are refused by the constructor and by fromJSON', () => {
    expect(() => new RDPAccountant({ orders: [1e12] })).toThrow(/orders\[0\] must be ≤ MAX_ORDER \(10000\)/);
    expect(() => new RDPAccountant({ orders: [2, 10000.5] })).toThrow(RangeError);
    const doc = { ...trained().toJSON(), orders: [2, 1e12] };
    expect(() => RDPAccountant.fromJSON(doc)).toThrow(/json.orders\[1\] must be ≤ MAX_ORDER/);
  });

  it('N7: fromJSON with 20,000 distinct runs is refused at once; the 1,001st pair is refused; equal pairs are shared', () => {
    // Each distinct (q, σ) costs one RDP series per order: 20,000 of them took 29 s to report ε.
    const history = Array.from({ length: 20_000 }, (_, i) => ({
      noiseMultiplier: 1 + i * 1e-4,
      sampleRate: 0.01,
      steps: 1,
    }));
    const doc = { kind: 'rdp', version: 1, orders: [...DEFAULT_ORDERS], history };
    const t0 = process.cpuUsage();
    expect(() => RDPAccountant.fromJSON(doc)).toThrow(
      /json.history\[1000\]: an accountant holds at most 1000 distinct \(sampleRate, noiseMultiplier\) pairs/,
    );
    expect(cpuMs(t0)).toBeLessThan(1000);
    expect(MAX_ACCOUNTANT_MECHANISMS).toBe(1000);
    // 20,000 runs alternating between two pairs: two RDP vectors, not 20,000.
    const alternating = history.map((h, i) => ({ ...h, noiseMultiplier: i % 2 ? 1.1 : 1.2 }));
    const t1 = process.cpuUsage();
    const acc = RDPAccountant.fromJSON({ ...doc, history: alternating });
    expect(acc.steps).toBe(20_000);
    expect(acc.privacySpent(1e-5).epsilon).toBeGreaterThan(0);
    expect(cpuMs(t1)).toBeLessThan(2000);
    // The step that would add a 1,001st pair is refused, and nothing is recorded.
    const full = new RDPAccountant({ orders: [2] });
    for (let i = 0; i < MAX_ACCOUNTANT_MECHANISMS; i++) full.step({ noiseMultiplier: 1 + i / 1000, sampleRate: 0.01 });
    expect(() => full.step({ noiseMultiplier: 5, sampleRate: 0.01 })).toThrow(RangeError);
    expect(full.steps).toBe(MAX_ACCOUNTANT_MECHANISMS);
    full.step({ noiseMultiplier: 1, sampleRate: 0.01 }); // a pair it already holds is fine
  });

  it('N9: fromJSON refuses sparse histories and inherited fields', () => {
    const good = trained().toJSON();
    const entry = good.history[0]!;
    // eslint-disable-next-line no-sparse-arrays
    expect(() => RDPAccountant.fromJSON({ ...good, history: [, entry] })).toThrow(
      /json.history is a sparse array: json.history\[0\] is a hole/,
    );
    expect(() => RDPAccountant.fromJSON({ ...good, history: [Object.create(entry) as object] })).toThrow(
      /json.history\[0\] has no own field 'noiseMultiplier'/,
    );
    expect(() => RDPAccountant.fromJSON(Object.create(good) as object)).toThrow(/json has no own field 'kind'/);
    // eslint-disable-next-line no-sparse-arrays
    expect(() => RDPAccountant.fromJSON({ ...good, orders: [2, , 3] })).toThrow(/json.orders\[1\] is a hole/);
    expect(() => RDPAccountant.fromJSON({ ...good, history: [{ ...entry, extra: 1 }] })).toThrow(
      /json.history\[0\] has an unknown field 'extra'/,
    );
    expect(() => RDPAccountant.fromJSON({ ...good, note: 'x' })).toThrow(/json has an unknown field 'note'/);
  });

  it('issue 25: the step total never passes Number.MAX_SAFE_INTEGER (steps: 1e308 twice gave Infinity)', () => {
    const acc = new RDPAccountant();
    expect(() => acc.step({ noiseMultiplier: 1, sampleRate: 0.01, steps: 1e308 })).toThrow(
      /steps must be ≤ Number.MAX_SAFE_INTEGER/,
    );
    acc.step({ noiseMultiplier: 1, sampleRate: 0.01, steps: MAX_STEPS - 1 });
    acc.step({ noiseMultiplier: 1, sampleRate: 0.01 });
    expect(acc.steps).toBe(MAX_STEPS);
    // 2^53 − 1 + 1 = 2^53 is no longer exact (2^53 + 1 would round back to 2^53): refused.
    expect(() => acc.step({ noiseMultiplier: 1, sampleRate: 0.01 })).toThrow(/above Number.MAX_SAFE_INTEGER/);
    expect(acc.steps).toBe(MAX_STEPS);
    const doc = acc.toJSON();
    expect(RDPAccountant.fromJSON(JSON.parse(JSON.stringify(doc))).steps).toBe(MAX_STEPS);
    expect(() =>
      RDPAccountant.fromJSON({ ...doc, history: [...doc.history, { noiseMultiplier: 2, sampleRate: 0.5, steps: 1 }] }),
    ).toThrow(/json.history\[1\]: steps 1 would bring the accountant's total/);
  });

  it('issue 25: the history is #private — emptying a visible field resets nothing', () => {
    const acc = trained();
    const before = acc.privacySpent(1e-5);
    const loose = acc as unknown as Record<string, unknown>;
    expect(loose.runs).toBeUndefined();
    expect(Object.keys(acc)).toEqual(['orders']);
    loose.runs = [];
    (acc.history as unknown[]).length = 0; // a copy
    expect(() => ((acc.orders as number[]).length = 0)).toThrow(TypeError); // frozen
    expect(acc.privacySpent(1e-5)).toEqual(before);
    expect(acc.steps).toBe(1000);
  });
});
