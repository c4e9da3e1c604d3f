import { describe } from '../gradients.js';
import { integerAtLeast, knownOptions, oneOf } from '../validate.js';
import { RDPAccountant } from './accountant.js';
import { PLDAccountant, pldEpsilon } from './pld.js';
import { DEFAULT_ACCOUNTING, type Accounting } from './spent.js';
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
  /**
   * The accountant: 'pld' (default, `DEFAULT_ACCOUNTING`) or 'rdp'. With `accountant`, that
   * accountant's kind (naming the other one is a TypeError).
   */
  readonly accounting?: Accounting;
  /**
   * 'bisect' (default): Opacus's `get_noise_multiplier` search, ending once
   * targetEpsilon − ε(σ) ≤ `epsilonTolerance`. 'grid': the smallest σ on the 0.01 grid with
   * ε(σ) ≤ targetEpsilon (gradclip's earlier default).
   */
  readonly search?: 'bisect' | 'grid';
  /** How close below the target ε(σ) must come in the 'bisect' search; default 0.01 (Opacus's). */
  readonly epsilonTolerance?: number;
  /** RDP orders (accounting 'rdp'); default `DEFAULT_ORDERS`. Not with `accountant` (whose own orders are used): both is a TypeError. */
  readonly orders?: readonly number[];
  /**
   * Privacy already spent: the budget then covers the accountant's steps plus the new ones,
   * so a resumed run stays within `targetEpsilon` in total.
   */
  readonly accountant?: RDPAccountant | PLDAccountant;
}

/** σ is searched on the grid k / GRID (k an integer): steps of 0.01 (search 'grid'). */
const GRID = 100;
/** Beyond this σ the RDP is ~0 and only the conversion's own floor remains: give up (search 'grid'). */
const MAX_SIGMA = 10_000;
/** Opacus's `MAX_SIGMA` for the 'bisect' search. */
const MAX_SIGMA_BISECT = 1e6;

/**
 * A noise multiplier σ whose privacy spent after `steps` steps of the sampled Gaussian mechanism
 * is within the budget: ε(σ) ≤ targetEpsilon, with ε from the chosen accountant.
 *
 * search 'bisect' (default) is Opacus's `get_noise_multiplier` step for step
 * (opacus/accountants/utils.py), so it returns the σ Opacus returns for the same accountant:
 * σ_high = 10 is doubled until ε(σ_high) ≤ target (σ_high > 10⁶ is a RangeError), then
 * [σ_low = 0, σ_high] is bisected — the midpoint becomes σ_high when its ε < target, else σ_low —
 * until target − ε(σ_high) ≤ epsilonTolerance; σ_high is returned (ε(σ) ≤ target always).
 * With RDP and ε = 8, δ = 1e−5, q = 0.04: 2,250 steps → 1.416, 2,000 → 1.3562 (Opacus's tests);
 * with PLD 1.3477 and 1.2915 (Opacus's PRV: 1.34765625 and 1.2915).
 *
 * search 'grid' returns the smallest σ on the 0.01 grid with ε(σ) ≤ target < ε(σ − 0.01):
 * σ doubles from 0.01 until the budget holds, then the grid σ = k/100 is bisected.
 *
 * ε is decreasing in σ. With RDP even σ → ∞ cannot bring ε below
 * min_α [log((α−1)/α) − (log δ + log α)/(α − 1)] (≈ 0.10 for δ = 1e−5 with the default orders):
 * a target under that is a RangeError. PLD has no such floor.
 */
export function noiseMultiplierFor(options: NoiseMultiplierForOptions): number {
  knownOptions('noiseMultiplierFor options', options, [
    'targetEpsilon',
    'delta',
    'sampleRate',
    'steps',
    'accounting',
    'search',
    'epsilonTolerance',
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
  const search = oneOf('search', options.search ?? 'bisect', ['bisect', 'grid'] as const);
  const tolerance = options.epsilonTolerance ?? 0.01;
  if (typeof tolerance !== 'number') {
    throw new TypeError(`epsilonTolerance must be a number > 0, got ${describe(tolerance)}`);
  }
  if (!(tolerance > 0) || !Number.isFinite(tolerance)) {
    throw new RangeError(`epsilonTolerance must be a finite number > 0, got ${tolerance}`);
  }
  const prior = options.accountant;
  if (prior !== undefined && !(prior instanceof RDPAccountant) && !(prior instanceof PLDAccountant)) {
    throw new TypeError(`accountant must be an RDPAccountant or a PLDAccountant, got ${describe(prior)}`);
  }
  const kind: Accounting =
    prior instanceof RDPAccountant ? 'rdp' : prior instanceof PLDAccountant ? 'pld' : DEFAULT_ACCOUNTING;
  const accounting = oneOf('accounting', options.accounting ?? kind, ['rdp', 'pld'] as const);
  if (prior !== undefined && accounting !== kind) {
    throw new TypeError(
      `accounting is '${accounting}' but accountant is a ${kind === 'rdp' ? 'RDP' : 'PLD'}Accountant`,
    );
  }
  if (prior !== undefined && options.orders !== undefined) {
    throw new TypeError(
      "noiseMultiplierFor takes orders or accountant, not both: the accountant's own orders are the ones used",
    );
  }
  if (accounting === 'pld' && options.orders !== undefined) {
    throw new TypeError("orders are RDP orders: they need accounting: 'rdp'");
  }
  if (targetEpsilon === Infinity) return 0;

  let epsAt: (sigma: number) => number;
  let spentBefore: number;
  if (accounting === 'rdp') {
    const orders =
      prior instanceof RDPAccountant ? prior.orders : checkOrders('orders', options.orders ?? DEFAULT_ORDERS);
    const spent = prior instanceof RDPAccountant ? prior.rdp() : new Float64Array(orders.length);
    spentBefore = epsilonFromRdp(orders, spent, delta).epsilon;
    epsAt = (sigma) => {
      const rdp = computeRdp({ sampleRate, noiseMultiplier: sigma, steps }, orders);
      for (let i = 0; i < rdp.length; i++) rdp[i]! += spent[i]!;
      return epsilonFromRdp(orders, rdp, delta).epsilon;
    };
  } else {
    const history = prior instanceof PLDAccountant ? prior.history : [];
    spentBefore = prior instanceof PLDAccountant ? prior.privacySpent(delta).epsilon : 0;
    epsAt = (sigma) => pldEpsilon([...history, { sampleRate, noiseMultiplier: sigma, steps }], delta);
  }
  if (spentBefore > targetEpsilon) {
    throw new RangeError(
      `targetEpsilon ${targetEpsilon} is already spent: the accountant reports ε = ${spentBefore} at delta ${delta}`,
    );
  }
  return search === 'bisect' ? bisect(epsAt, targetEpsilon, tolerance, delta) : onGrid(epsAt, targetEpsilon, delta);
}

/** Opacus's get_noise_multiplier search (opacus/accountants/utils.py), with a guard against a flat ε. */
function bisect(epsAt: (sigma: number) => number, target: number, tolerance: number, delta: number): number {
  let epsHigh = Infinity;
  let sigmaLow = 0;
  let sigmaHigh = 10;
  while (epsHigh > target) {
    sigmaHigh = 2 * sigmaHigh;
    epsHigh = epsAt(sigmaHigh);
    if (sigmaHigh > MAX_SIGMA_BISECT) {
      throw new RangeError(
        `targetEpsilon ${target} cannot be reached at delta ${delta}: even noiseMultiplier ${MAX_SIGMA_BISECT} spends more`,
      );
    }
  }
  // The interval halves each time; once it is below the doubles' resolution ε can no longer move.
  while (target - epsHigh > tolerance && sigmaHigh - sigmaLow > sigmaHigh * 1e-15) {
    const sigma = (sigmaLow + sigmaHigh) / 2;
    const eps = epsAt(sigma);
    if (eps < target) {
      sigmaHigh = sigma;
      epsHigh = eps;
    } else {
      sigmaLow = sigma;
    }
  }
  return sigmaHigh;
}

/** The smallest σ = k/100 with ε(σ) ≤ target. */
function onGrid(epsAt: (sigma: number) => number, targetEpsilon: number, delta: number): number {
  // Invariant of the bisection: ε(lo) > target ≥ ε(hi), on the grid. σ = 0 spends ε = ∞.
  let lo = 0;
  let hi = 1;
  while (epsAt(hi / GRID) > targetEpsilon) {
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
    if (epsAt(mid / GRID) > targetEpsilon) lo = mid;
    else hi = mid;
  }
  // k / 100 (not k · 0.01, which can print as 1.1300000000000001).
  return hi / GRID;
}
