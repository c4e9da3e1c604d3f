import { describe } from '../gradients.js';
import { integerAtLeast, knownOptions } from '../validate.js';
import { logAdd, logErfc } from './special.js';

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

/**
 * The largest RDP order α gradclip evaluates. The series of a fractional order takes ~α
 * terms, so a bound keeps every accepted input (a saved accountant included) fast; orders
 * this high matter only for ε below ~0.002, and leaving an order out can only raise ε.
 */
export const MAX_ORDER = 10_000;

/** The most RDP orders one list may hold (the default list has 151). */
export const MAX_ORDERS = 1_000;

/**
 * The largest step count gradclip accepts, in one call and in an accountant's total:
 * `Number.MAX_SAFE_INTEGER` (2⁵³ − 1). Above it integers are no longer exact, so 2⁵³ + 1
 * steps would silently count as 2⁵³ (and a sum could reach ∞).
 */
export const MAX_STEPS = Number.MAX_SAFE_INTEGER;

/** One sampled Gaussian mechanism repeated `steps` times. */
export interface Mechanism {
  /** Probability q ∈ (0, 1] that each example is in a batch (Poisson sampling). */
  readonly sampleRate: number;
  /** σ: noise standard deviation divided by the L2 sensitivity (the clipping norm). ≥ 0. */
  readonly noiseMultiplier: number;
  /** Number of steps (an integer in [0, `MAX_STEPS`]). */
  readonly steps: number;
}

export interface PrivacySpentOptions extends Mechanism {
  /** δ ∈ (0, 1). */
  readonly delta: number;
  /** RDP orders 1 < α ≤ `MAX_ORDER` (a dense array of at most `MAX_ORDERS`); default `DEFAULT_ORDERS`. */
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
 * The ledger never under-reports: a one-step RDP that cannot be computed (NaN, a series that
 * does not converge) counts as +∞, never as −∞ or 0; one-step values are floored at the
 * closed-form lower bound α/(2σ²) + α·log q/(α − 1) (so σ → 0 gives ε = ∞ at once) and
 * clamped at the smallest positive double (RDP of q > 0 and finite σ is positive; rounding
 * can give −5e−16), so only zero steps spend ε = 0; σ so large that even the unsampled
 * Gaussian's α/(2σ²) underflows takes that smallest value at once.
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
  knownOptions('computeRdp mechanism', mechanism, ['sampleRate', 'noiseMultiplier', 'steps']);
  const { sampleRate: q, noiseMultiplier: sigma, steps } = checkMechanism('computeRdp', mechanism);
  const out = new Float64Array(checkOrders('orders', orders).length);
  if (steps === 0) return out;
  for (let k = 0; k < orders.length; k++) out[k] = steps * rdpOneStep(q, sigma, orders[k]!);
  return out;
}

/**
 * (ε, δ) from RDP values at the given orders (Balle et al. 2020, Thm 21), minimised over the
 * orders. A NaN entry is an unknown RDP and counts as +∞ (so it is never the minimum, as in
 * Opacus's `nanargmin`); a negative entry is a RangeError (RDP is ≥ 0); all-zero RDP
 * (nothing spent) gives ε = 0.
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
    let r = rdp[k]!;
    if (typeof r !== 'number') throw new TypeError(`rdp[${k}] must be a number ≥ 0, got ${describe(r)}`);
    if (Number.isNaN(r)) r = Infinity;
    if (r < 0) throw new RangeError(`rdp[${k}] must be ≥ 0 (RDP is never negative), got ${r}`);
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

/**
 * RDP at order α of one step. Never NaN and never ≤ 0 (at least `Number.MIN_VALUE`): a value
 * the series cannot give (NaN, no convergence) is +∞; a fractional order's value outside the
 * bracket of its integer neighbours (cancellation, rounding noise) is replaced by the integer
 * order above it. Three closed-form bounds frame the series:
 *   upper: the unsampled Gaussian mechanism, α/(2σ²) — when it underflows, the RDP is below every double;
 *   upper: convexity of the mixture, ε_α ≤ log(1 + q(e^{α(α−1)/(2σ²)} − 1))/(α − 1) — the value is capped by it;
 *   lower: the mixture's density is ≥ q·N(1, σ²), so A_α ≥ q^α e^{α(α−1)/(2σ²)} and
 *          ε_α ≥ α/(2σ²) + α·log q/(α − 1) — when α/(2σ²) overflows, the RDP is ∞.
 */
export function rdpOneStep(q: number, sigma: number, alpha: number): number {
  if (sigma === 0) return Infinity;
  const gaussian = alpha / (2 * sigma * sigma);
  if (gaussian === 0) return Number.MIN_VALUE; // positive, but below every double
  if (q === 1 || gaussian === Infinity) return gaussian; // the plain Gaussian mechanism, or the lower bound
  let series: number;
  if (Number.isInteger(alpha)) series = logAInteger(q, sigma, alpha) / (alpha - 1);
  else {
    series = logAFractional(q, sigma, alpha) / (alpha - 1);
    // Rényi divergence is non-decreasing in α, so the integer orders around α bracket it:
    // RDP(⌊α⌋) ≤ RDP(α) ≤ RDP(⌈α⌉), the integer ones exact sums of positive terms (order 2 in
    // closed form, log(1 + q²(e^{1/σ²} − 1))). The fractional series cancels catastrophically for
    // large α, σ and q (q 0.3, σ 20, α 256.5 gave −0.358; the bracket is [0.0334, 0.0336]) and is
    // rounding noise where RDP is ~1e−16: outside the bracket, ⌈α⌉'s value is reported.
    const lo = Math.floor(alpha);
    const above = lo === 1 ? rdpOrder2(q, sigma) : logAInteger(q, sigma, lo + 1) / lo;
    const below = lo === 1 ? 0 : logAInteger(q, sigma, lo) / (lo - 1);
    if (!(series >= below && series <= above)) series = above;
  }
  if (Number.isNaN(series)) return Infinity;
  // Convexity: A_α ≤ (1 − q) + q·e^{α(α−1)/(2σ²)}, an upper bound increasing in q (tighter than
  // ⌈α⌉'s value when that replaced the series).
  const x = (alpha * (alpha - 1)) / (2 * sigma * sigma);
  const upper = (x < 700 ? Math.log1p(q * Math.expm1(x)) : logAdd(Math.log1p(-q), Math.log(q) + x)) / (alpha - 1);
  return Math.max(Math.min(series, upper), gaussian + (alpha * Math.log(q)) / (alpha - 1), Number.MIN_VALUE);
}

/**
 * RDP at order 2 in closed form, log(1 + q²(e^{1/σ²} − 1)), in logs where q² or e^{1/σ²} would
 * leave the doubles: t = 2·log q + log(e^{1/σ²} − 1), RDP = log(1 + eᵗ).
 */
function rdpOrder2(q: number, sigma: number): number {
  const y = 1 / (sigma * sigma);
  const logExpm1 = y > 700 ? y + Math.log1p(-Math.exp(-y)) : Math.log(Math.expm1(y));
  const t = 2 * Math.log(q) + logExpm1;
  return t > 700 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t));
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
    if (Number.isNaN(s0) || Number.isNaN(s1)) return NaN;
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
    if (i === MAX_TERMS - 1) return NaN; // not converged: unknown, so +∞ upstream
  }
  return logAdd(a0, a1);
}

const LOG_HALF = Math.log(0.5);
/** A guard only: the series ends after a few hundred terms for any σ ≥ 0.1. */
const MAX_TERMS = 1_000_000;

/**
 * log(eˣ − eʸ) for x ≥ y; −∞ when the difference is exactly 0. x < y (rounding made the
 * difference negative), ∞ − ∞ and NaN give NaN — an unknown value, which `rdpOneStep` turns
 * into +∞: turning it into −∞ (log 0) once made a tiny σ report ε = 0.
 */
function logSub(x: number, y: number): number {
  if (y === -Infinity) return x;
  if (x === y && x !== Infinity) return -Infinity;
  if (!(x > y)) return NaN;
  return x + Math.log1p(-Math.exp(y - x));
}

// ------------------------------------------------------------------ validation

/** sampleRate ∈ (0, 1], noiseMultiplier ≥ 0 (finite), steps an integer in [0, MAX_STEPS]. */
export function checkMechanism(fn: string, m: unknown): Mechanism {
  if (typeof m !== 'object' || m === null)
    throw new TypeError(`${fn} needs { sampleRate, noiseMultiplier, steps }, got ${describe(m)}`);
  const { sampleRate, noiseMultiplier, steps } = m as Record<string, unknown>;
  return {
    sampleRate: checkSampleRate('sampleRate', sampleRate),
    noiseMultiplier: checkNoiseMultiplier('noiseMultiplier', noiseMultiplier),
    steps: checkSteps('steps', steps, 0),
  };
}

/** A step count: an integer in [lo, MAX_STEPS]. */
export function checkSteps(arg: string, x: unknown, lo: number): number {
  const n = integerAtLeast(arg, x, lo);
  if (n > MAX_STEPS) throw new RangeError(`${arg} must be ≤ Number.MAX_SAFE_INTEGER (${MAX_STEPS}), got ${n}`);
  return n;
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

/**
 * A dense, non-empty array of at most MAX_ORDERS orders 1 < α ≤ MAX_ORDER. A hole is refused
 * (forEach would skip it, and an all-holes list once gave ε = 0); so is an inherited index.
 */
export function checkOrders(arg: string, orders: unknown): readonly number[] {
  if (!Array.isArray(orders) || orders.length === 0) {
    throw new TypeError(`${arg} must be a non-empty array of numbers > 1, got ${describe(orders)}`);
  }
  if (orders.length > MAX_ORDERS) {
    throw new RangeError(`${arg} has ${orders.length} orders; at most ${MAX_ORDERS} are allowed`);
  }
  for (let k = 0; k < orders.length; k++) {
    if (!Object.hasOwn(orders, k)) throw new TypeError(`${arg} is a sparse array: ${arg}[${k}] is a hole`);
    const a: unknown = orders[k];
    if (typeof a !== 'number') throw new TypeError(`${arg}[${k}] must be a number > 1, got ${describe(a)}`);
    if (!(a > 1) || !Number.isFinite(a)) throw new RangeError(`${arg}[${k}] must be a finite number > 1, got ${a}`);
    if (a > MAX_ORDER) throw new RangeError(`${arg}[${k}] must be ≤ MAX_ORDER (${MAX_ORDER}), got ${a}`);
  }
  return orders as readonly number[];
}
