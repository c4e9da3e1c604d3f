import { describe, expect, it } from 'vitest';
import { RDPAccountant } from './accountant.js';
import { noiseMultiplierFor } from './calibrate.js';
import { PLDAccountant } from './pld.js';
import { privacySpent } from './rdp.js';
import { privacySpent as spent } from './spent.js';
import { loadFixture } from '../../test/fixture_utils.js';

interface Fixture {
  opacusNoiseMultiplier: {
    targetEpsilon: number;
    delta: number;
    sampleRate: number;
    cases: { accounting: 'rdp' | 'prv'; steps: number; noiseMultiplier: number }[];
  };
}
// Opacus's own test constants (opacus/tests/accountants_test.py), named in the fixture.
const fx = loadFixture<Fixture>('privacy/upstream_pld.json').opacusNoiseMultiplier;

describe('noiseMultiplierFor', () => {
  it.each([
    { targetEpsilon: 1, delta: 1e-5, sampleRate: 256 / 60000, steps: 2344 },
    { targetEpsilon: 3, delta: 1e-5, sampleRate: 0.01, steps: 1000 },
    { targetEpsilon: 8, delta: 1e-6, sampleRate: 0.1, steps: 300 },
  ])('returns the smallest σ on the 0.01 grid within the budget: %o', (o) => {
    const sigma = noiseMultiplierFor({ ...o, accounting: 'rdp', search: 'grid' });
    expect(sigma).toBe(Math.round(sigma * 100) / 100);
    const at = (s: number) =>
      privacySpent({ sampleRate: o.sampleRate, noiseMultiplier: s, steps: o.steps, delta: o.delta }).epsilon;
    expect(at(sigma)).toBeLessThanOrEqual(o.targetEpsilon);
    expect(at(Math.round(sigma * 100 - 1) / 100)).toBeGreaterThan(o.targetEpsilon);
  });

  it('MNIST-like setting lands near the σ the DP-SGD tutorials use (≈ 1.1 for ε ≈ 3 over 60 epochs)', () => {
    // q = 256/60000, 60 epochs = 14,062 steps: Opacus's tables give ε ≈ 3 at δ 1e-5 for σ ≈ 1.1.
    const sigma = noiseMultiplierFor({
      targetEpsilon: 3,
      delta: 1e-5,
      sampleRate: 256 / 60000,
      steps: 14062,
      accounting: 'rdp',
    });
    expect(sigma).toBeGreaterThan(0.9);
    expect(sigma).toBeLessThan(1.3);
  });

  it('with an accountant, the budget covers the steps already spent plus the new ones', () => {
    const acc = new RDPAccountant().step({ noiseMultiplier: 1.5, sampleRate: 0.01, steps: 500 });
    const before = acc.privacySpent(1e-5).epsilon; // ≈ 0.6: part of the budget of 2 is gone
    const alone = noiseMultiplierFor({
      targetEpsilon: 2,
      delta: 1e-5,
      sampleRate: 0.01,
      steps: 1000,
      accounting: 'rdp',
      search: 'grid',
    });
    const sigma = noiseMultiplierFor({
      targetEpsilon: 2,
      delta: 1e-5,
      sampleRate: 0.01,
      steps: 1000,
      accountant: acc,
      search: 'grid',
    });
    expect(sigma).toBeGreaterThan(alone); // less budget left: more noise
    const total = (s: number) =>
      RDPAccountant.fromJSON(acc.toJSON())
        .step({ noiseMultiplier: s, sampleRate: 0.01, steps: 1000 })
        .privacySpent(1e-5).epsilon;
    expect(total(sigma)).toBeLessThanOrEqual(2);
    expect(total(Math.round(sigma * 100 - 1) / 100)).toBeGreaterThan(2);
    expect(acc.privacySpent(1e-5).epsilon).toBe(before); // the accountant is not changed
    expect(() =>
      noiseMultiplierFor({ targetEpsilon: before / 2, delta: 1e-5, sampleRate: 0.01, steps: 10, accountant: acc }),
    ).toThrow(/already spent: the accountant reports ε = /);
  });

  it('an unreachable target or bad input is an error naming the argument', () => {
    // With δ = 1e-5 even infinite noise leaves ε ≈ 0.10 from the conversion.
    expect(() =>
      noiseMultiplierFor({ targetEpsilon: 0.05, delta: 1e-5, sampleRate: 0.01, steps: 10, accounting: 'rdp' }),
    ).toThrow(RangeError);
    expect(() => noiseMultiplierFor({ targetEpsilon: 0, delta: 1e-5, sampleRate: 0.01, steps: 10 })).toThrow(
      /targetEpsilon must be > 0, got 0/,
    );
    expect(() => noiseMultiplierFor({ targetEpsilon: 1, delta: 1e-5, sampleRate: 0.01, steps: 0 })).toThrow(
      /steps must be an integer ≥ 1/,
    );
    expect(() => noiseMultiplierFor({ targetEpsilon: 1, delta: 1e-5, sampleRate: -1, steps: 5 })).toThrow(/sampleRate/);
  });

  it('issue 25: refuses { accountant, orders } together instead of ignoring orders', () => {
    const accountant = new RDPAccountant({ orders: [2, 4, 8] }).step({ noiseMultiplier: 1, sampleRate: 0.01 });
    const o = { targetEpsilon: 3, delta: 1e-5, sampleRate: 0.01, steps: 100 };
    expect(() => noiseMultiplierFor({ ...o, accountant, orders: [2, 4, 8] })).toThrow(
      /takes orders or accountant, not both/,
    );
    expect(noiseMultiplierFor({ ...o, accountant })).toBeGreaterThan(0);
    expect(() => noiseMultiplierFor({ ...o, orders: [1e12], accounting: 'rdp' })).toThrow(/MAX_ORDER/); // N6 here too
  });

  describe("Opacus's get_noise_multiplier (opacus/tests/accountants_test.py): ε = 8, δ = 1e-5, q = 0.04", () => {
    it.each(fx.cases.filter((c) => c.accounting === 'rdp'))(
      'RDP, $steps steps → $noiseMultiplier (Opacus asserts 4 places; the search is the same, so we do)',
      (c) => {
        const sigma = noiseMultiplierFor({
          targetEpsilon: fx.targetEpsilon,
          delta: fx.delta,
          sampleRate: fx.sampleRate,
          steps: c.steps,
          accounting: 'rdp',
        });
        expect(Math.abs(sigma - c.noiseMultiplier)).toBeLessThan(5e-5);
        const eps = privacySpent({
          sampleRate: fx.sampleRate,
          noiseMultiplier: sigma,
          steps: c.steps,
          delta: fx.delta,
        });
        expect(eps.epsilon).toBeLessThanOrEqual(fx.targetEpsilon);
        expect(eps.epsilon).toBeGreaterThanOrEqual(fx.targetEpsilon - 0.01);
      },
    );

    it.each(fx.cases.filter((c) => c.accounting === 'prv'))(
      "PLD (the default), $steps steps → Opacus PRV's $noiseMultiplier within 0.01",
      (c) => {
        const o = { targetEpsilon: fx.targetEpsilon, delta: fx.delta, sampleRate: fx.sampleRate, steps: c.steps };
        const sigma = noiseMultiplierFor(o);
        expect(Math.abs(sigma - c.noiseMultiplier)).toBeLessThan(0.01);
        const eps = spent({ sampleRate: fx.sampleRate, noiseMultiplier: sigma, steps: c.steps, delta: fx.delta });
        expect(eps.accounting).toBe('pld');
        expect(eps.epsilon).toBeLessThanOrEqual(fx.targetEpsilon);
        expect(eps.epsilon).toBeGreaterThanOrEqual(fx.targetEpsilon - 0.01);
      },
      120_000,
    );
  });

  it('a PLD accountant: the budget covers its steps too; tolerance and search are checked', () => {
    const acc = new PLDAccountant().step({ noiseMultiplier: 1.5, sampleRate: 0.01, steps: 500 });
    const o = { targetEpsilon: 2, delta: 1e-5, sampleRate: 0.01, steps: 1000 };
    const alone = noiseMultiplierFor({ ...o, epsilonTolerance: 0.05 });
    const sigma = noiseMultiplierFor({ ...o, accountant: acc, epsilonTolerance: 0.05 });
    expect(sigma).toBeGreaterThan(alone);
    const total = PLDAccountant.fromJSON(acc.toJSON()).step({ noiseMultiplier: sigma, sampleRate: 0.01, steps: 1000 });
    expect(total.privacySpent(1e-5).epsilon).toBeLessThanOrEqual(2);
    expect(() => noiseMultiplierFor({ ...o, accountant: acc, accounting: 'rdp' })).toThrow(
      /accounting is 'rdp' but accountant is a PLDAccountant/,
    );
    expect(() => noiseMultiplierFor({ ...o, epsilonTolerance: 0 })).toThrow(
      /epsilonTolerance must be a finite number > 0, got 0/,
    );
    expect(() => noiseMultiplierFor({ ...o, search: 'linear' as 'grid' })).toThrow(/search must be one of/);
    expect(() => noiseMultiplierFor({ ...o, orders: [2, 3] })).toThrow(/need accounting: 'rdp'/);
  }, 120_000);
});
