// Privacy properties (issue 24, "done when"): fast-check invariants of the RDP ledger. `npm test`
// runs them with fixed seeds; `npm run fuzz` with fresh ones (fcGate). A counterexample found
// by fuzzing becomes a named regression case below the properties.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fcGate } from '../../test/fc_gate.js';
import { RDPAccountant } from './accountant.js';
import { noiseMultiplierFor } from './calibrate.js';
import { MAX_STEPS, privacySpent, rdpOneStep } from './rdp.js';
import { logErfc } from './special.js';
import { privacySpent as spent } from './spent.js';

/** Orders to choose from: fractional and integer, small and large (each property picks a subset). */
const ORDER_POOL = [1.1, 1.5, 1.75, 2, 2.5, 3, 4.5, 8, 12, 16.5, 32, 63, 128, 256];

const log10Uniform = (min: number, max: number) =>
  fc.double({ min, max, noNaN: true }).map((e) => Math.min(Number.MAX_VALUE, 10 ** e));
/** q ∈ (0, 1]: log-uniform down to 1e−12, and the edges. */
const sampleRate = fc.oneof(log10Uniform(-12, 0), fc.constantFrom(1, 0.5, 1e-8, Number.MIN_VALUE));
/** σ > 0 finite: log-uniform over most of the doubles, and the edges. */
const noiseMultiplier = fc.oneof(
  log10Uniform(-3, 3),
  log10Uniform(-320, 308),
  fc.constantFrom(Number.MIN_VALUE, 1e-300, 1e-160, 0.05, 1, 1e154, Number.MAX_VALUE),
);
const steps = fc.oneof(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 1, max: MAX_STEPS }));
const delta = fc.oneof(log10Uniform(-12, -0.01), fc.constantFrom(1e-5, 0.5));
const orders = fc.subarray(ORDER_POOL, { minLength: 1, maxLength: 5 });

/** ε(b) ≤ ε(a) up to the series' rounding (1e−9 relative). */
const atMost = (a: number, b: number) => a <= b || a - b <= 1e-9 * Math.abs(b);

describe('privacy properties (issue 24)', () => {
  it('ε is never 0 for steps > 0 and q > 0 at any finite σ (and never NaN)', () => {
    // Balle et al.'s conversion at RDP 0: log((α−1)/α) − (log δ + log α)/(α − 1). When it is ≤ 0 at
    // some order (δ near 1 with a large α) the theorem itself allows ε = 0 — the only way to 0.
    const floor = (a: number, d: number) => Math.log((a - 1) / a) - (Math.log(d) + Math.log(a)) / (a - 1);
    fc.assert(
      fc.property(sampleRate, noiseMultiplier, steps, delta, orders, (q, s, n, d, o) => {
        const spent = [
          privacySpent({ sampleRate: q, noiseMultiplier: s, steps: n, delta: d, orders: o }).epsilon,
          new RDPAccountant({ orders: o }).step({ noiseMultiplier: s, sampleRate: q, steps: n }).privacySpent(d)
            .epsilon,
        ];
        for (const epsilon of spent) {
          if (o.every((a) => floor(a, d) > 0)) expect(epsilon).toBeGreaterThan(0);
          else expect(epsilon).toBeGreaterThanOrEqual(0);
        }
      }),
      fcGate({ seed: 2401, numRuns: 150 }),
    );
  });

  it('ε is monotone: non-decreasing in steps and q, non-increasing in σ', () => {
    fc.assert(
      fc.property(
        fc.tuple(sampleRate, sampleRate),
        fc.tuple(noiseMultiplier, noiseMultiplier),
        fc.tuple(steps, steps),
        delta,
        orders,
        ([q1, q2], [s1, s2], [n1, n2], d, o) => {
          const [qa, qb] = q1 <= q2 ? [q1, q2] : [q2, q1];
          const [sa, sb] = s1 <= s2 ? [s1, s2] : [s2, s1];
          const [na, nb] = n1 <= n2 ? [n1, n2] : [n2, n1];
          const eps = (q: number, s: number, n: number) =>
            privacySpent({ sampleRate: q, noiseMultiplier: s, steps: n, delta: d, orders: o }).epsilon;
          const base = eps(qa, sa, na);
          expect(atMost(base, eps(qa, sa, nb)), 'steps').toBe(true);
          expect(atMost(base, eps(qb, sa, na)), 'q').toBe(true);
          expect(atMost(eps(qa, sb, na), base), 'σ').toBe(true);
        },
      ),
      fcGate({ seed: 2402, numRuns: 120 }),
    );
  });

  it('one-step RDP is positive and non-decreasing in the order α', () => {
    fc.assert(
      fc.property(
        sampleRate,
        noiseMultiplier,
        fc.double({ min: 1.01, max: 1200, noNaN: true }),
        fc.double({ min: 0, max: 50, noNaN: true }),
        (q, s, a, gap) => {
          const lo = rdpOneStep(q, s, a);
          const hi = rdpOneStep(q, s, a + gap);
          expect(lo).toBeGreaterThan(0);
          // Up to the series' rounding: 1e−9 relative, or 1e−15 absolute where RDP is at rounding level.
          expect(lo <= hi || lo - hi <= Math.max(1e-9 * hi, 1e-15), `α ${a} → ${a + gap}: ${lo} > ${hi}`).toBe(true);
        },
      ),
      fcGate({ seed: 2405, numRuns: 150 }),
    );
  });

  it('more steps in an accountant never lower ε, whatever the step', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ sampleRate, noiseMultiplier, steps }), { minLength: 1, maxLength: 4 }),
        delta,
        orders,
        (history, d, o) => {
          const acc = new RDPAccountant({ orders: o });
          let last = 0;
          let total = 0;
          for (const h of history) {
            if (h.steps > MAX_STEPS - total) break;
            total += h.steps;
            acc.step(h);
            const e = acc.privacySpent(d).epsilon;
            expect(e).toBeGreaterThanOrEqual(last);
            last = e;
          }
        },
      ),
      fcGate({ seed: 2403, numRuns: 80 }),
    );
  });

  it('a calibrated σ keeps ε within the target, and σ − 0.01 does not', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.3, max: 20, noNaN: true }),
        log10Uniform(-8, -3),
        log10Uniform(-4, -0.3),
        fc.integer({ min: 1, max: 50_000 }),
        orders,
        (target, d, q, n, o) => {
          let sigma: number;
          try {
            sigma = noiseMultiplierFor({
              targetEpsilon: target,
              delta: d,
              sampleRate: q,
              steps: n,
              orders: o,
              accounting: 'rdp',
              search: 'grid',
            });
          } catch (e) {
            // Only an unreachable target may fail (the conversion's floor is above it).
            expect(String(e)).toMatch(/cannot be reached/);
            return;
          }
          const at = (s: number) =>
            privacySpent({ sampleRate: q, noiseMultiplier: s, steps: n, delta: d, orders: o }).epsilon;
          expect(at(sigma)).toBeLessThanOrEqual(target);
          if (sigma > 0.01) expect(at(Math.round(sigma * 100 - 1) / 100)).toBeGreaterThan(target);
        },
      ),
      fcGate({ seed: 2404, numRuns: 40 }),
    );
  });

  it('found by the gate (seed 2401): ε = 0 only where the conversion itself allows it', () => {
    // q = 1, σ = MAX_VALUE, 1 step, δ = 0.977, α = 4.5: RDP is the smallest double and
    // log(3.5/4.5) − (log 0.977 + log 4.5)/3.5 = −0.2513 − 0.4231 < 0, so the theorem gives ε ≤ 0.
    const at = { sampleRate: 1, noiseMultiplier: Number.MAX_VALUE, steps: 1, delta: 0.9772372209558107 };
    expect(privacySpent({ ...at, orders: [4.5] }).epsilon).toBe(0);
    // At δ = 1e-5 the same mechanism spends the conversion's floor, never 0.
    expect(privacySpent({ ...at, delta: 1e-5, orders: [4.5] }).epsilon).toBeCloseTo(
      Math.log(3.5 / 4.5) - (Math.log(1e-5) + Math.log(4.5)) / 3.5,
      12,
    );
  });

  it('found by fuzzing: order-monotone at rounding level, q-monotone against the q = 1 closed form', () => {
    // seed 1989067018: q = 2.06e−12, σ = 1: the series gave 5.6e−15 at α = 1.01 and a negative value
    // (clamped) just above it; RDP(2) = log(1 + q²(e − 1)) ≈ 7.3e−24 now caps both.
    const q = 2.0594637106775413e-12;
    const a = rdpOneStep(q, 1, 1.01);
    const b = rdpOneStep(q, 1, 1.0100000000000018);
    expect(a).toBeLessThanOrEqual(Math.log1p(q * q * Math.expm1(1)));
    expect(Math.abs(a - b)).toBeLessThan(1e-23);
    // seed 2402: ⌈α⌉'s value at q = 5e−324 exceeded the q = 1 value α/(2σ²) at σ = 0.0178, α = 16.5;
    // the convexity bound log(1 + q(e^{α(α−1)/(2σ²)} − 1))/(α − 1) caps it.
    const s = 0.017778317445931804;
    const at = (sampleRate: number) =>
      privacySpent({ sampleRate, noiseMultiplier: s, steps: 1, delta: 0.5, orders: [16.5, 32] }).epsilon;
    expect(at(5e-324)).toBeLessThanOrEqual(at(1));
  });
});

describe('privacy properties of the PLD accountant (issues 21, 24)', () => {
  // Each PLD evaluation composes distributions of ~10⁵ points, so few runs; `npm run fuzz` scales them.
  const pldSigma = fc.oneof(log10Uniform(-2.5, 2), fc.constantFrom(1e-300, 1e-5, 0.01, 0.05, 1, 1e154));
  const pldRate = fc.oneof(log10Uniform(-6, 0), fc.constantFrom(1, 0.5, 512 / 1497));
  const pldSteps = fc.oneof(fc.integer({ min: 1, max: 3000 }), fc.constantFrom(1, 2, 30));

  it('ε is never NaN or a crash; ε = 0 only for a mechanism that really is (0, δ)-private; the δ it reports at that ε is ≤ the δ asked', () => {
    // One step's δ at ε = 0 is the total variation q·(2Φ(1/(2σ)) − 1) = q·erf(1/(2√2·σ)); n steps are at
    // least that far apart. So ε = 0 for δ below it would be an under-report.
    const tv1 = (q: number, s: number) => q * -Math.expm1(logErfc(1 / (2 * Math.SQRT2 * s)));
    fc.assert(
      fc.property(pldRate, pldSigma, pldSteps, (q, s, n) => {
        const { epsilon } = spent({ sampleRate: q, noiseMultiplier: s, steps: n, delta: 1e-5, accounting: 'pld' });
        expect(epsilon >= 0 && !Number.isNaN(epsilon), `ε ${epsilon}`).toBe(true);
        if (epsilon === 0) expect(tv1(q, s)).toBeLessThanOrEqual(1e-5 * (1 + 1e-6));
        if (Number.isFinite(epsilon)) {
          const back = spent({ sampleRate: q, noiseMultiplier: s, steps: n, epsilon, accounting: 'pld' }).delta;
          expect(back).toBeLessThanOrEqual(1e-5 * (1 + 1e-6));
        }
      }),
      fcGate({ seed: 2411, numRuns: 12 }),
    );
  });

  it('found by fuzzing (seed 842318172): q = 1e-5 with almost no noise is (0, 1e-5)-private, so ε = 0 is right', () => {
    // δ(0) = q·erf(1/(2√2σ)) ≈ 1e-5·(1 − e^(−1/(8σ²))) < 1e-5: the exact answer is ε = 0.
    const e = spent({ sampleRate: 1e-5, noiseMultiplier: 1e-5, steps: 1, delta: 1e-5, accounting: 'pld' });
    expect(e.epsilon).toBe(0);
    // Just below that δ the mechanism is no longer (0, δ)-private, and ε is reported > 0 (here ∞).
    expect(
      spent({ sampleRate: 1e-5, noiseMultiplier: 1e-5, steps: 1, delta: 0.99e-5, accounting: 'pld' }).epsilon,
    ).toBeGreaterThan(0);
  });
});
