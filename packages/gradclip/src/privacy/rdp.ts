import { describe } from '../gradients.js';
import { integerAtLeast, knownOptions } from '../validate.js';
import { logErfc } from './special.js';

/**
 * Rényi-DP orders at which gradclip evaluates privacy, the defaults of Opacus's
 * `RDPAccountant`: 1.1, 1.2, …, 10.9 (99 fractional orders) and 12, 13, …, 63.
 * ε is the minimum over these orders, so a wider list can only lower it (slightly).
 */
export const DEFAULT_ORDERS: readonly number[] = Object.freeze([
  // 1 + x / 10 rounded the way Python computes it (1 + x / 10.0), so orders compare equal.
  ...Array.from({ length: 99 }, (_, k) => 1 + (k + 1) / 10),
  ...Array.from({ length: 52 }, (_, k) => 12 + k),
]);

/** One sampled Gaussian mechanism repeated `steps` times. */
export interface Mechanism {
  /** Probability q ∈ (0, 1] that each example is in a batch (Poisson sampling). */
  readonly sampleRate: number;
  /** σ: noise standard deviation divided by the L2 sensitivity (the clipping norm). ≥ 0. */
  readonly noiseMultiplier: number;
  /** Number of steps (an integer ≥ 0). */
  readonly steps: number;
}

export interface PrivacySpentOptions extends Mechanism {
  /** δ ∈ (0, 1). */
  readonly delta: number;
  /** RDP orders α > 1; default `DEFAULT_ORDERS`. */
  readonly orders?: readonly number[];
}

/** An (ε, δ) guarantee and the RDP order α at which it was found (NaN when ε is 0 or ∞). */
export interface PrivacySpent {
  readonly epsilon: number;
  readonly order: number;
}

/**
 * Privacy spent by DP-SGD: `steps` rounds of the sampled Gaussian mechanism with sampling
 * rate q and noise multiplier σ, as an (ε, δ) guarantee.
 *
 * Rényi DP (Mironov 2017) of one step at order α is ε_α = log(A_α) / (α − 1), with A_α the
 * α-th moment of the privacy-loss ratio of the mixture (1 − q)·N(0, σ²) + q·N(1, σ²)
 * against N(0, σ²) (Mironov, Talwar & Zhang 2019, "Rényi Differential Privacy of the Sampled
 * Gaussian Mechanism", §3.3); RDP composes additively over steps; the conversion to (ε, δ)
 * is Balle et al. 2020 ("Hypothesis Testing Interpretations and Renyi Differential Privacy"),
 * Theorem 21:
 *
 *     ε = min_α  steps·ε_α + log((α − 1)/α) − (log δ + log α)/(α − 1)
 *
 * These are the formulas of Opacus's `RDPAccountant` (and TF Privacy's); gradclip matches
 * Opacus to 1e−6 relative (tests against reference values in test/fixtures/privacy).
 * Two deliberate differences: ε is never negative (a formula value below 0 — tiny RDP with δ
 * near 1 — is reported as 0, which the theorem also guarantees), and zero steps spend ε = 0.
 *
 * @example privacySpent({ sampleRate: 256 / 60000, noiseMultiplier: 1.1, steps: 14070, delta: 1e-5 })
 */
export function privacySpent(options: PrivacySpentOptions): PrivacySpent {
  knownOptions('privacySpent options', options, ['sampleRate', 'noiseMultiplier', 'steps', 'delta', 'orders']);
  if (options === undefined) throw new TypeError('privacySpent needs { sampleRate, noiseMultiplier, steps, delta }');
  const mechanism = checkMechanism('privacySpent', options);
  const delta = checkDelta('delta', options.delta);
  const orders = checkOrders('orders', options.orders ?? DEFAULT_ORDERS);
  return epsilonFromRdp(orders, computeRdp(mechanism, orders), delta);
}

/**
 * RDP ε_α of `steps` rounds of the sampled Gaussian mechanism at each order (steps × the
 * one-step value; Infinity when σ = 0). See `privacySpent` for the math.
 */
export function computeRdp(mechanism: Mechanism, orders: readonly number[] = DEFAULT_ORDERS): Float64Array {
  const { sampleRate: q, noiseMultiplier: sigma, steps } = checkMechanism('computeRdp', mechanism);
  const out = new Float64Array(checkOrders('orders', orders).length);
  if (steps === 0) return out;
  orders.forEach((alpha, k) => (out[k] = steps * rdpOneStep(q, sigma, alpha)));
  return out;
}

/**
 * (ε, δ) from RDP values at the given orders (Balle et al. 2020, Thm 21), minimised over the
 * orders. NaN entries are ignored (as Opacus's `nanargmin`); all-zero RDP (nothing spent)
 * gives ε = 0.
 */
export function epsilonFromRdp(orders: readonly number[], rdp: ArrayLike<number>, delta: number): PrivacySpent {
  checkOrders('orders', orders);
  checkDelta('delta', delta);
  if (rdp.length !== orders.length) {
    throw new RangeError(`rdp has ${rdp.length} values but orders has ${orders.length}`);
  }
  let best = NaN;
  let bestOrder = NaN;
  let allZero = true;
  const logDelta = Math.log(delta);
  for (let k = 0; k < orders.length; k++) {
    const a = orders[k]!;
    const r = rdp[k]!;
    if (r !== 0) allZero = false;
    const eps = r - (logDelta + Math.log(a)) / (a - 1) + Math.log((a - 1) / a);
    if (eps < best || (Number.isNaN(best) && !Number.isNaN(eps))) {
      best = eps;
      bestOrder = a;
    }
  }
  if (allZero) return { epsilon: 0, order: NaN };
  if (Number.isNaN(best) || best === Infinity) return { epsilon: Infinity, order: NaN };
  return best > 0 ? { epsilon: best, order: bestOrder } : { epsilon: 0, order: bestOrder };
}

/** RDP at order α of one step. */
export function rdpOneStep(q: number, sigma: number, alpha: number): number {
  if (sigma === 0) return Infinity;
  if (q === 1) return alpha / (2 * sigma * sigma); // the plain Gaussian mechanism
  return (Number.isInteger(alpha) ? logAInteger(q, sigma, alpha) : logAFractional(q, sigma, alpha)) / (alpha - 1);
}

/**
 * log A_α for integer α (MTZ 2019 §3.3, binomial expansion of the mixture's α-th power):
 *   A_α = Σ_{i=0..α} C(α, i) qⁱ (1 − q)^{α−i} exp((i² − i) / (2σ²)).
 * Every term is positive, so the sum is accumulated with log-add; log C(α, i) by the running
 * product C(α, i+1) = C(α, i)(α − i)/(i + 1) in logs (no overflow for any α).
 */
function logAInteger(q: number, sigma: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const twoVar = 2 * sigma * sigma;
  let logCoef = 0;
  let acc = -Infinity;
  for (let i = 0; i <= alpha; i++) {
    acc = logAdd(acc, logCoef + i * logQ + (alpha - i) * log1mQ + (i * i - i) / twoVar);
    logCoef += Math.log(alpha - i) - Math.log(i + 1);
  }
  return acc;
}

/**
 * log A_α for fractional α (MTZ 2019 §3.3): A_α = A₀ + A₁, the integral split at
 * z₀ = σ² log(1/q − 1) + ½ where the mixture ratio crosses 1, each half a series over the
 * generalised binomial coefficients C(α, i) (which alternate in sign once i > α) with Gaussian
 * tails ½·erfc(·/(√2σ)):
 *   A₀ += C(α,i) qⁱ (1−q)^{α−i} e^{(i²−i)/(2σ²)} ½ erfc((i − z₀)/(√2σ))
 *   A₁ += C(α,i) q^{α−i} (1−q)ⁱ e^{(j²−j)/(2σ²)} ½ erfc((z₀ − j)/(√2σ)),  j = α − i.
 * Signed terms are added or subtracted in log space; the series stops at the first i whose
 * two terms are both below e^{−30} — Opacus's rule, kept so that the two agree to the last
 * digits rather than just to the truncation error.
 */
function logAFractional(q: number, sigma: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const twoVar = 2 * sigma * sigma;
  const sqrt2Sigma = Math.SQRT2 * sigma;
  const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
  let a0 = -Infinity;
  let a1 = -Infinity;
  let logCoef = 0; // log |C(α, i)|
  let positive = true; // sign of C(α, i)
  for (let i = 0; i < MAX_TERMS; i++) {
    const j = alpha - i;
    const s0 = logCoef + i * logQ + j * log1mQ + (i * i - i) / twoVar + LOG_HALF + logErfc((i - z0) / sqrt2Sigma);
    const s1 = logCoef + j * logQ + i * log1mQ + (j * j - j) / twoVar + LOG_HALF + logErfc((z0 - j) / sqrt2Sigma);
    if (positive) {
      a0 = logAdd(a0, s0);
      a1 = logAdd(a1, s1);
    } else {
      a0 = logSub(a0, s0);
      a1 = logSub(a1, s1);
    }
    if (Math.max(s0, s1) < -30) break;
    // C(α, i+1) = C(α, i)·(α − i)/(i + 1); the factor is negative once i > α.
    logCoef += Math.log(Math.abs(alpha - i)) - Math.log(i + 1);
    if (alpha - i < 0) positive = !positive;
  }
  return logAdd(a0, a1);
}

const LOG_HALF = Math.log(0.5);
/** A guard only: the series ends after a few hundred terms for any σ ≥ 0.1. */
const MAX_TERMS = 1_000_000;

/** log(eˣ + eʸ) without overflow. */
function logAdd(x: number, y: number): number {
  const hi = Math.max(x, y);
  const lo = Math.min(x, y);
  if (lo === -Infinity) return hi;
  return hi + Math.log1p(Math.exp(lo - hi));
}

/** log(eˣ − eʸ) for x ≥ y; −∞ when the difference vanishes (or rounding made it negative). */
function logSub(x: number, y: number): number {
  if (y === -Infinity) return x;
  if (!(x > y)) return -Infinity;
  return x + Math.log1p(-Math.exp(y - x));
}

// ------------------------------------------------------------------ validation

/** sampleRate ∈ (0, 1], noiseMultiplier ≥ 0 (finite), steps an integer ≥ 0. */
export function checkMechanism(fn: string, m: unknown): Mechanism {
  if (typeof m !== 'object' || m === null)
    throw new TypeError(`${fn} needs { sampleRate, noiseMultiplier, steps }, got ${describe(m)}`);
  const { sampleRate, noiseMultiplier, steps } = m as Record<string, unknown>;
  return {
    sampleRate: checkSampleRate('sampleRate', sampleRate),
    noiseMultiplier: checkNoiseMultiplier('noiseMultiplier', noiseMultiplier),
    steps: integerAtLeast('steps', steps, 0),
  };
}

export function checkSampleRate(arg: string, q: unknown): number {
  if (typeof q !== 'number') throw new TypeError(`${arg} must be a number in (0, 1], got ${describe(q)}`);
  if (!(q > 0 && q <= 1)) throw new RangeError(`${arg} must be in (0, 1], got ${q}`);
  return q;
}

export function checkNoiseMultiplier(arg: string, s: unknown): number {
  if (typeof s !== 'number') throw new TypeError(`${arg} must be a number ≥ 0, got ${describe(s)}`);
  if (!(s >= 0) || !Number.isFinite(s)) throw new RangeError(`${arg} must be a finite number ≥ 0, got ${s}`);
  return s;
}

export function checkDelta(arg: string, d: unknown): number {
  if (typeof d !== 'number') throw new TypeError(`${arg} must be a number in (0, 1), got ${describe(d)}`);
  if (!(d > 0 && d < 1)) throw new RangeError(`${arg} must be in (0, 1), got ${d}`);
  return d;
}

export function checkOrders(arg: string, orders: unknown): readonly number[] {
  if (!Array.isArray(orders) || orders.length === 0) {
    throw new TypeError(`${arg} must be a non-empty array of numbers > 1, got ${describe(orders)}`);
  }
  orders.forEach((a: unknown, k) => {
    if (typeof a !== 'number') throw new TypeError(`${arg}[${k}] must be a number > 1, got ${describe(a)}`);
    if (!(a > 1) || !Number.isFinite(a)) throw new RangeError(`${arg}[${k}] must be a finite number > 1, got ${a}`);
  });
  return orders as readonly number[];
}
