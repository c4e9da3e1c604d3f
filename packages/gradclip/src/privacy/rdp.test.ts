import { describe, expect, it } from 'vitest';
import { decode, loadFixture, type Num } from '../../test/fixture_utils.js';
import {
  DEFAULT_ORDERS,
  MAX_ORDER,
  MAX_ORDERS,
  MAX_STEPS,
  computeRdp,
  epsilonFromRdp,
  privacySpent,
  rdpOneStep,
} from './rdp.js';
import { logErfc } from './special.js';
import { cpuMs } from '../../test/cpu_time.js';

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
    expect(() => computeRdp({ sampleRate: 0.1, noiseMultiplier: 1, steps: 1, sigma: 1 } as never)).toThrow(
      /unknown option 'sigma'/,
    );
  });
});

describe('the ledger never under-reports (issue 24)', () => {
  const timed = <T>(f: () => T): { value: T; ms: number } => {
    const t0 = process.cpuUsage();
    const value = f();
    return { value, ms: cpuMs(t0) };
  };

  it('N1: a tiny noise multiplier never gives ε = 0', () => {
    // The repro: 2σ² underflowed to 0, the series went NaN, logSub turned NaN into −∞ and ε became 0 (3.5 s).
    const { value, ms } = timed(() =>
      privacySpent({ sampleRate: 0.01, noiseMultiplier: 1e-300, steps: 1000, delta: 1e-5, orders: [1.5] }),
    );
    expect(value.epsilon).toBe(Infinity);
    expect(ms).toBeLessThan(200); // closed form: α/(2σ²) overflows, so the RDP is ∞ at once
    for (const sigma of [Number.MIN_VALUE, 1e-300, 1e-200, 1e-160, 1e-155]) {
      expect(
        privacySpent({ sampleRate: 1e-6, noiseMultiplier: sigma, steps: 1, delta: 1e-5 }).epsilon,
        `σ=${sigma}`,
      ).toBe(Infinity);
    }
    // σ = 1e−154: α/(2σ²) = 5.5e307 at α = 1.1 is still a double; ε is that large, not 0.
    expect(privacySpent({ sampleRate: 1e-6, noiseMultiplier: 1e-154, steps: 1, delta: 1e-5 }).epsilon).toBeGreaterThan(
      5e307,
    );
    // Where the series is finite but loses every digit, the closed-form lower bound
    // ε_α ≥ α/(2σ²) + α·log q/(α − 1) (A_α ≥ q^α e^{α(α−1)/(2σ²)}) still holds it up.
    for (const sigma of [1e-100, 1e-50, 1e-10, 1e-3]) {
      for (const a of [1.5, 2, 2.5, 8]) {
        const lower = a / (2 * sigma * sigma) + (a * Math.log(0.01)) / (a - 1);
        expect(rdpOneStep(0.01, sigma, a), `σ=${sigma} α=${a}`).toBeGreaterThanOrEqual(lower);
      }
    }
    // An unknown (NaN) RDP is +∞, never the minimum; a negative one is refused.
    expect(epsilonFromRdp([2, 3], [NaN, NaN], 1e-5).epsilon).toBe(Infinity);
    expect(epsilonFromRdp([2, 3], [NaN, 1], 1e-5)).toEqual(epsilonFromRdp([2, 3], [Infinity, 1], 1e-5));
    expect(() => epsilonFromRdp([2, 3], [-1e-3, 1], 1e-5)).toThrow(/rdp\[0\] must be ≥ 0 .* got -0.001/);
  });

  it('N5: one-step RDP is never negative, so more steps never lower ε', () => {
    // q ≤ 1e-6: rounding gave one-step values down to −4.9e−16; 1e15 such steps lowered ε 2.101365 → 2.098144.
    for (const a of DEFAULT_ORDERS) expect(rdpOneStep(1e-8, 50, a), `α=${a}`).toBeGreaterThan(0);
    const orders = DEFAULT_ORDERS;
    const base = computeRdp({ sampleRate: 0.01, noiseMultiplier: 1, steps: 1000 }, orders);
    const tiny = computeRdp({ sampleRate: 1e-8, noiseMultiplier: 50, steps: 1e15 }, orders);
    const alone = epsilonFromRdp(orders, base, 1e-5).epsilon;
    expect(alone).toBeCloseTo(2.101365, 5);
    expect(
      epsilonFromRdp(
        orders,
        base.map((r, k) => r + tiny[k]!),
        1e-5,
      ).epsilon,
    ).toBeGreaterThanOrEqual(alone);
    // Only zero steps spend nothing: ε > 0 for any finite σ, even one whose RDP underflows.
    expect(privacySpent({ sampleRate: 1e-8, noiseMultiplier: 50, steps: 1, delta: 1e-5 }).epsilon).toBeGreaterThan(0);
  });

  it('N5: a fractional order is never below the integer order under it (q 0.3, σ 20, α 256.5 gave −0.358)', () => {
    // The fractional series cancels catastrophically for large α, σ and q; Rényi divergence is
    // non-decreasing in α, so RDP(⌊α⌋) ≤ RDP(α) ≤ RDP(⌈α⌉), the integer series having only positive terms.
    for (const [q, s, a] of [
      [0.3, 20, 256.5],
      [0.5, 20, 63.5],
      [0.1, 50, 1000.5],
      [0.7, 50, 100.5],
    ] as const) {
      const got = rdpOneStep(q, s, a);
      expect(got, `q=${q} σ=${s} α=${a}`).toBeGreaterThanOrEqual(rdpOneStep(q, s, Math.floor(a)));
      expect(got).toBeLessThanOrEqual(rdpOneStep(q, s, Math.ceil(a)));
    }
    expect(rdpOneStep(0.3, 20, 256.5)).toBeCloseTo(0.0336, 4);
  });

  it('N6: orders above MAX_ORDER (or more than MAX_ORDERS of them) are refused, not looped over', () => {
    const ok = { sampleRate: 0.01, noiseMultiplier: 1, steps: 10, delta: 1e-5 };
    // orders: [1e12] looped for (i = 0; i <= α; i++) forever.
    expect(() => privacySpent({ ...ok, orders: [1e12] })).toThrow(
      /orders\[0\] must be ≤ MAX_ORDER \(10000\), got 1000000000000/,
    );
    expect(() => privacySpent({ ...ok, orders: [2, MAX_ORDER + 0.5] })).toThrow(/orders\[1\] must be ≤ MAX_ORDER/);
    expect(() => privacySpent({ ...ok, orders: [MAX_ORDER + 1] })).toThrow(RangeError);
    expect(() => computeRdp({ sampleRate: 0.01, noiseMultiplier: 1, steps: 10 }, [1e12])).toThrow(/MAX_ORDER/);
    expect(() => epsilonFromRdp([1e12], [1], 1e-5)).toThrow(/MAX_ORDER/);
    const many = Array.from({ length: MAX_ORDERS + 1 }, (_, k) => 2 + k);
    expect(() => privacySpent({ ...ok, orders: many })).toThrow(/has 1001 orders; at most 1000/);
    // The bound itself is accepted, integer and fractional, and finishes.
    expect(MAX_ORDER).toBe(10_000);
    expect(privacySpent({ ...ok, orders: [MAX_ORDER, MAX_ORDER - 0.5] }).epsilon).toBeGreaterThan(0);
  });

  it('N7: σ = Number.MAX_VALUE is fast (its RDP underflows in closed form) and still ε > 0', () => {
    // σ² = ∞ made every term NaN: 1e6 series terms per order, 22 s.
    const { value, ms } = timed(() =>
      privacySpent({ sampleRate: 0.01, noiseMultiplier: Number.MAX_VALUE, steps: 1000, delta: 1e-5 }),
    );
    expect(ms).toBeLessThan(200);
    expect(value.epsilon).toBeGreaterThan(0);
    // Monotone in σ: no more than a merely large σ spends.
    const large = privacySpent({ sampleRate: 0.01, noiseMultiplier: 1e10, steps: 1000, delta: 1e-5 }).epsilon;
    expect(value.epsilon).toBeLessThanOrEqual(large);
    for (const a of [1.5, 2, 63]) expect(rdpOneStep(0.5, 1e200, a)).toBe(Number.MIN_VALUE);
  });

  it('N9: sparse orders are refused (a hole once gave ε = 0)', () => {
    const ok = { sampleRate: 0.01, noiseMultiplier: 1.1, steps: 1000, delta: 1e-5 };
    const holes = Object.assign([], { length: 3 }) as number[];
    expect(() => privacySpent({ ...ok, orders: holes })).toThrow(/orders is a sparse array: orders\[0\] is a hole/);
    // eslint-disable-next-line no-sparse-arrays
    expect(() => privacySpent({ ...ok, orders: [, 2] as number[] })).toThrow(TypeError);
    // eslint-disable-next-line no-sparse-arrays
    expect(() => epsilonFromRdp([2, , 3] as number[], [1, 1, 1], 1e-5)).toThrow(/orders\[1\] is a hole/);
  });

  it('step counts above Number.MAX_SAFE_INTEGER are refused (2^53 + 1 would silently be 2^53)', () => {
    const ok = { sampleRate: 0.01, noiseMultiplier: 1, delta: 1e-5 };
    expect(MAX_STEPS).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => privacySpent({ ...ok, steps: 2 ** 53 })).toThrow(/steps must be ≤ Number.MAX_SAFE_INTEGER/);
    expect(() => privacySpent({ ...ok, steps: 1e308 })).toThrow(RangeError);
    expect(privacySpent({ ...ok, steps: MAX_STEPS }).epsilon).toBeGreaterThan(0);
  });
});
