import { describe, expect, it } from 'vitest';
import { RDPAccountant } from './accountant.js';
import { computeRdp, epsilonFromRdp, privacySpent } from './rdp.js';

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
