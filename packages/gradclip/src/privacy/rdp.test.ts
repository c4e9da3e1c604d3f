import { describe, expect, it } from 'vitest';
import { decode, loadFixture, type Num } from '../../test/fixture_utils.js';
import { DEFAULT_ORDERS, computeRdp, epsilonFromRdp, privacySpent, rdpOneStep } from './rdp.js';
import { logErfc } from './special.js';

interface Fixture {
  orders: number[];
  grid: { sampleRate: number; noiseMultiplier: number; steps: number; delta: number; epsilon: Num; order: number }[];
  perOrder: { sampleRate: number; noiseMultiplier: number; rdp: Num[] }[];
  opacusExample: { steps: [number, number, number][]; orders: number[]; delta: number; epsilon: number; order: number };
}
// Written by scripts/gen_privacy_fixtures.py (Opacus's RDP formulas in NumPy/SciPy).
const fx = loadFixture<Fixture>('privacy/rdp.json');

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe('privacySpent against the Opacus formulas', () => {
  it('uses Opacus RDPAccountant default orders', () => {
    expect(DEFAULT_ORDERS).toEqual(fx.orders);
    expect(DEFAULT_ORDERS.length).toBe(151);
    expect(DEFAULT_ORDERS[0]).toBe(1.1);
    expect(DEFAULT_ORDERS[98]).toBe(10.9);
    expect(DEFAULT_ORDERS[150]).toBe(63);
  });

  it(`matches every point of the grid (${fx.grid.length}: q × σ × steps × δ) to 1e-6 relative`, () => {
    let worst = 0;
    for (const g of fx.grid) {
      const { sampleRate, noiseMultiplier, steps, delta } = g;
      const got = privacySpent({ sampleRate, noiseMultiplier, steps, delta });
      const want = decode(g.epsilon);
      expect(got.order, JSON.stringify(g)).toBe(g.order);
      worst = Math.max(worst, rel(got.epsilon, want));
    }
    expect(worst).toBeLessThan(1e-6);
  });

  it('matches the per-order RDP of integer and fractional orders', () => {
    for (const p of fx.perOrder) {
      const got = computeRdp({ sampleRate: p.sampleRate, noiseMultiplier: p.noiseMultiplier, steps: 1 });
      p.rdp.forEach((want, k) => expect(rel(got[k]!, decode(want)), `α=${DEFAULT_ORDERS[k]}`).toBeLessThan(1e-6));
    }
  });

  it("reproduces Opacus's documented example: ε ≈ 0.336 at order 23", () => {
    const { steps, orders, delta } = fx.opacusExample;
    const rdp = new Float64Array(orders.length);
    for (const [q, s, n] of steps) {
      computeRdp({ sampleRate: q, noiseMultiplier: s, steps: n }, orders).forEach((r, k) => (rdp[k]! += r));
    }
    const got = epsilonFromRdp(orders, rdp, delta);
    expect(got.order).toBe(23);
    expect(got.epsilon).toBeCloseTo(0.336, 3);
    expect(rel(got.epsilon, fx.opacusExample.epsilon)).toBeLessThan(1e-9);
  });
});

describe('RDP special cases worked by hand', () => {
  it('q = 1 is the Gaussian mechanism: α / (2σ²)', () => {
    // σ = 2, α = 3: 3 / 8.
    expect(rdpOneStep(1, 2, 3)).toBe(0.375);
  });
  it('integer α = 2 has the closed form log(1 + q²(e^{1/σ²} − 1))', () => {
    // A₂ = (1−q)² + 2q(1−q) + q²e^{1/σ²} = 1 + q²(e^{1/σ²} − 1); RDP = log A₂ / (2 − 1).
    const q = 0.1;
    const s = 1.5;
    expect(rel(rdpOneStep(q, s, 2), Math.log1p(q * q * Math.expm1(1 / (s * s))))).toBeLessThan(1e-14);
  });
  it('fractional orders sit between their integer neighbours (RDP increases with α)', () => {
    const at = (a: number) => rdpOneStep(0.02, 0.9, a);
    expect(at(2)).toBeLessThan(at(2.5));
    expect(at(2.5)).toBeLessThan(at(3));
  });
  it('σ = 0 gives no privacy (ε = ∞) and zero steps spend nothing', () => {
    expect(privacySpent({ sampleRate: 0.1, noiseMultiplier: 0, steps: 5, delta: 1e-5 }).epsilon).toBe(Infinity);
    expect(privacySpent({ sampleRate: 0.1, noiseMultiplier: 1, steps: 0, delta: 1e-5 })).toEqual({
      epsilon: 0,
      order: NaN,
    });
  });
  it('a larger δ or fewer steps or more noise never spends more', () => {
    const base = { sampleRate: 0.01, noiseMultiplier: 1, steps: 1000, delta: 1e-5 };
    const e = privacySpent(base).epsilon;
    expect(privacySpent({ ...base, delta: 1e-3 }).epsilon).toBeLessThan(e);
    expect(privacySpent({ ...base, steps: 500 }).epsilon).toBeLessThan(e);
    expect(privacySpent({ ...base, noiseMultiplier: 1.2 }).epsilon).toBeLessThan(e);
  });
});

describe('logErfc', () => {
  it('matches erfc at hand-checked points, and the asymptote far in the tail', () => {
    expect(logErfc(0) === 0).toBe(true); // erfc(0) = 1
    expect(rel(Math.exp(logErfc(1)), 0.157299207050285)).toBeLessThan(1e-14);
    expect(rel(Math.exp(logErfc(-1)), 1.842700792949715)).toBeLessThan(1e-14);
    expect(rel(Math.exp(logErfc(3.5)), 7.430983723414128e-7)).toBeLessThan(1e-13);
    // erfc(x) ~ e^{−x²}/(x√π)(1 − 1/(2x²)) for large x: at x = 100, log ≈ −10000 − log(100√π) − 5e−5.
    expect(rel(logErfc(100), -10000 - Math.log(100 * Math.sqrt(Math.PI)) - 1 / 20000)).toBeLessThan(1e-12);
  });
});

describe('bad input', () => {
  const ok = { sampleRate: 0.01, noiseMultiplier: 1, steps: 10, delta: 1e-5 };
  it('names the argument and the value', () => {
    expect(() => privacySpent({ ...ok, sampleRate: 0 })).toThrow(/sampleRate must be in \(0, 1\], got 0/);
    expect(() => privacySpent({ ...ok, sampleRate: 1.5 })).toThrow(RangeError);
    expect(() => privacySpent({ ...ok, noiseMultiplier: -1 })).toThrow(/noiseMultiplier .* got -1/);
    expect(() => privacySpent({ ...ok, delta: 1 })).toThrow(/delta must be in \(0, 1\), got 1/);
    expect(() => privacySpent({ ...ok, delta: 0 })).toThrow(RangeError);
    expect(() => privacySpent({ ...ok, steps: 2.5 })).toThrow(/steps must be an integer ≥ 0, got 2.5/);
    expect(() => privacySpent({ ...ok, steps: -1 })).toThrow(RangeError);
    expect(() => privacySpent({ ...ok, orders: [2, 1] })).toThrow(/orders\[1\] must be a finite number > 1, got 1/);
    expect(() => privacySpent({ ...ok, sampleRate: '0.1' as unknown as number })).toThrow(TypeError);
    expect(() => privacySpent({ ...ok, sigma: 1 } as unknown as typeof ok)).toThrow(/unknown option 'sigma'/);
  });
});
