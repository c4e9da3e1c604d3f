import { describe, expect, it } from 'vitest';
import { RDPAccountant } from './accountant.js';
import { noiseMultiplierFor } from './calibrate.js';
import { privacySpent } from './rdp.js';

describe('noiseMultiplierFor', () => {
  it.each([
    { targetEpsilon: 1, delta: 1e-5, sampleRate: 256 / 60000, steps: 2344 },
    { targetEpsilon: 3, delta: 1e-5, sampleRate: 0.01, steps: 1000 },
    { targetEpsilon: 8, delta: 1e-6, sampleRate: 0.1, steps: 300 },
  ])('returns the smallest σ on the 0.01 grid within the budget: %o', (o) => {
    const sigma = noiseMultiplierFor(o);
    expect(sigma).toBe(Math.round(sigma * 100) / 100);
    const at = (s: number) =>
      privacySpent({ sampleRate: o.sampleRate, noiseMultiplier: s, steps: o.steps, delta: o.delta }).epsilon;
    expect(at(sigma)).toBeLessThanOrEqual(o.targetEpsilon);
    expect(at(Math.round(sigma * 100 - 1) / 100)).toBeGreaterThan(o.targetEpsilon);
  });

  it('MNIST-like setting lands near the σ the DP-SGD tutorials use (≈ 1.1 for ε ≈ 3 over 60 epochs)', () => {
    // q = 256/60000, 60 epochs = 14,062 steps: Opacus's tables give ε ≈ 3 at δ 1e-5 for σ ≈ 1.1.
    const sigma = noiseMultiplierFor({ targetEpsilon: 3, delta: 1e-5, sampleRate: 256 / 60000, steps: 14062 });
    expect(sigma).toBeGreaterThan(0.9);
    expect(sigma).toBeLessThan(1.3);
  });

  it('with an accountant, the budget covers the steps already spent plus the new ones', () => {
    const acc = new RDPAccountant().step({ noiseMultiplier: 1.5, sampleRate: 0.01, steps: 500 });
    const before = acc.privacySpent(1e-5).epsilon; // ≈ 0.6: part of the budget of 2 is gone
    const alone = noiseMultiplierFor({ targetEpsilon: 2, delta: 1e-5, sampleRate: 0.01, steps: 1000 });
    const sigma = noiseMultiplierFor({ targetEpsilon: 2, delta: 1e-5, sampleRate: 0.01, steps: 1000, accountant: acc });
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
    expect(() => noiseMultiplierFor({ targetEpsilon: 0.05, delta: 1e-5, sampleRate: 0.01, steps: 10 })).toThrow(
      RangeError,
    );
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
    expect(() => noiseMultiplierFor({ ...o, orders: [1e12] })).toThrow(/MAX_ORDER/); // N6 here too
  });
});
