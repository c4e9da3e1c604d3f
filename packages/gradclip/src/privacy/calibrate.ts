import { describe } from '../gradients.js';
import { integerAtLeast, knownOptions } from '../validate.js';
import { RDPAccountant } from './accountant.js';
import { DEFAULT_ORDERS, checkDelta, checkOrders, checkSampleRate, computeRdp, epsilonFromRdp } from './rdp.js';

export interface NoiseMultiplierForOptions {
  /** The privacy budget ε > 0 to stay within after `steps` steps. */
  readonly targetEpsilon: number;
  /** δ ∈ (0, 1). */
  readonly delta: number;
  /** Poisson sampling rate q ∈ (0, 1] (expected batch size / dataset size). */
  readonly sampleRate: number;
  /** Number of training steps (an integer ≥ 1; epochs / q for epochs over the data). */
  readonly steps: number;
  /** RDP orders; default `DEFAULT_ORDERS`. Not with `accountant` (whose own orders are used): both is a TypeError. */
  readonly orders?: readonly number[];
  /**
   * Privacy already spent: the budget then covers the accountant's steps plus the new ones
   * (RDP adds), so a resumed run stays within `targetEpsilon` in total.
   */
  readonly accountant?: RDPAccountant;
}

/** σ is searched on the grid k / GRID (k an integer): steps of 0.01. */
const GRID = 100;
/** Beyond this σ the RDP is ~0 and only the conversion's own floor remains: give up. */
const MAX_SIGMA = 10_000;

/**
 * The smallest noise multiplier σ, to 0.01, whose privacy spent after `steps` steps of the
 * sampled Gaussian mechanism is within the budget: ε(σ) ≤ targetEpsilon.
 *
 * ε is decreasing in σ, so the search doubles σ from 0.01 until the budget holds, then
 * bisects on the grid σ = k/100 (integers k, so no rounding drift): O(log σ) accountant
 * calls. Opacus's `get_noise_multiplier` bisects a real interval to width 0.01 and returns
 * a σ up to 0.01 above the smallest; this returns the smallest grid point, so
 * ε(σ) ≤ target < ε(σ − 0.01).
 *
 * Even σ → ∞ cannot bring ε below min_α [log((α−1)/α) − (log δ + log α)/(α − 1)]
 * (≈ 0.10 for δ = 1e−5 with the default orders): a target under that is a RangeError.
 */
export function noiseMultiplierFor(options: NoiseMultiplierForOptions): number {
  knownOptions('noiseMultiplierFor options', options, [
    'targetEpsilon',
    'delta',
    'sampleRate',
    'steps',
    'orders',
    'accountant',
  ]);
  if (options === undefined)
    throw new TypeError('noiseMultiplierFor needs { targetEpsilon, delta, sampleRate, steps }');
  const { targetEpsilon } = options;
  if (typeof targetEpsilon !== 'number') {
    throw new TypeError(`targetEpsilon must be a number > 0, got ${describe(targetEpsilon)}`);
  }
  if (!(targetEpsilon > 0)) throw new RangeError(`targetEpsilon must be > 0, got ${targetEpsilon}`);
  const delta = checkDelta('delta', options.delta);
  const sampleRate = checkSampleRate('sampleRate', options.sampleRate);
  const steps = integerAtLeast('steps', options.steps, 1);
  const prior = options.accountant;
  if (prior !== undefined && !(prior instanceof RDPAccountant)) {
    throw new TypeError(`accountant must be an RDPAccountant, got ${describe(prior)}`);
  }
  if (prior !== undefined && options.orders !== undefined) {
    throw new TypeError(
      "noiseMultiplierFor takes orders or accountant, not both: the accountant's own orders are the ones used",
    );
  }
  const orders = prior ? prior.orders : checkOrders('orders', options.orders ?? DEFAULT_ORDERS);
  if (targetEpsilon === Infinity) return 0;
  const spent = prior ? prior.rdp() : new Float64Array(orders.length);
  if (prior && epsilonFromRdp(orders, spent, delta).epsilon > targetEpsilon) {
    throw new RangeError(
      `targetEpsilon ${targetEpsilon} is already spent: the accountant reports ε = ${epsilonFromRdp(orders, spent, delta).epsilon} at delta ${delta}`,
    );
  }

  const epsAt = (k: number) => {
    const rdp = computeRdp({ sampleRate, noiseMultiplier: k / GRID, steps }, orders);
    for (let i = 0; i < rdp.length; i++) rdp[i]! += spent[i]!;
    return epsilonFromRdp(orders, rdp, delta).epsilon;
  };
  // Invariant of the bisection: ε(lo) > target ≥ ε(hi), on the grid. σ = 0 spends ε = ∞.
  let lo = 0;
  let hi = 1;
  while (epsAt(hi) > targetEpsilon) {
    lo = hi;
    hi *= 2;
    if (hi / GRID > MAX_SIGMA) {
      throw new RangeError(
        `targetEpsilon ${targetEpsilon} cannot be reached at delta ${delta}: even noiseMultiplier ${MAX_SIGMA} spends more`,
      );
    }
  }
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (epsAt(mid) > targetEpsilon) lo = mid;
    else hi = mid;
  }
  // k / 100 (not k · 0.01, which can print as 1.1300000000000001).
  return hi / GRID;
}
