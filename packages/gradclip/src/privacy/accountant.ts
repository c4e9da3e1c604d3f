import { describe } from '../gradients.js';
import { integerAtLeast, knownOptions } from '../validate.js';
import {
  DEFAULT_ORDERS,
  checkDelta,
  checkNoiseMultiplier,
  checkOrders,
  checkSampleRate,
  epsilonFromRdp,
  rdpOneStep,
  type Mechanism,
  type PrivacySpent,
} from './rdp.js';

export interface RDPAccountantOptions {
  /** RDP orders α > 1; default `DEFAULT_ORDERS` (Opacus's). */
  readonly orders?: readonly number[];
}

/** One training step (or `steps` equal ones) of the sampled Gaussian mechanism. */
export interface AccountantStep {
  readonly noiseMultiplier: number;
  readonly sampleRate: number;
  /** How many such steps; default 1. */
  readonly steps?: number;
}

/** `RDPAccountant.toJSON()`: plain data, safe for JSON.stringify and model metadata. */
export interface RDPAccountantJSON {
  readonly kind: 'rdp';
  readonly version: 1;
  readonly orders: number[];
  /** Runs of equal steps in order, as Opacus's `RDPAccountant.steps`. */
  readonly history: Mechanism[];
}

/**
 * Rényi-DP accountant for DP-SGD (Opacus `RDPAccountant`, TF Privacy `RdpAccountant`): records
 * each step's noise multiplier σ and sampling rate q, and reports the (ε, δ) spent so far.
 *
 * RDP adds up over steps, so the spent RDP at order α is Σ_runs steps·ε_α(q, σ); ε is then
 * the Balle et al. 2020 conversion minimised over the orders (see `privacySpent`). Consecutive
 * steps with equal (q, σ) are kept as one run — exactly what a single
 * `privacySpent({ sampleRate, noiseMultiplier, steps })` call with that many steps computes.
 * The one-step RDP vector of every (q, σ) pair is cached, so `privacySpent(delta)` after
 * each step of training costs O(orders · runs).
 *
 * @example
 *   const acc = new RDPAccountant();
 *   for (…) acc.step({ noiseMultiplier: 1.1, sampleRate: 256 / 60000 });
 *   acc.privacySpent(1e-5);   // { epsilon, order }
 */
export class RDPAccountant {
  readonly orders: readonly number[];
  private readonly runs: { noiseMultiplier: number; sampleRate: number; steps: number }[] = [];
  private readonly cache = new Map<string, Float64Array>();

  constructor(options: RDPAccountantOptions = {}) {
    knownOptions('RDPAccountant options', options, ['orders']);
    this.orders = Object.freeze([...checkOrders('orders', options.orders ?? DEFAULT_ORDERS)]);
  }

  /** Records one step (or `steps` equal ones) of the sampled Gaussian mechanism. */
  step(step: AccountantStep): this {
    knownOptions('step', step, ['noiseMultiplier', 'sampleRate', 'steps']);
    if (step === undefined) throw new TypeError('step needs { noiseMultiplier, sampleRate }');
    const noiseMultiplier = checkNoiseMultiplier('noiseMultiplier', step.noiseMultiplier);
    const sampleRate = checkSampleRate('sampleRate', step.sampleRate);
    const steps = integerAtLeast('steps', step.steps ?? 1, 0);
    if (steps === 0) return this;
    const last = this.runs[this.runs.length - 1];
    if (last && last.noiseMultiplier === noiseMultiplier && last.sampleRate === sampleRate) last.steps += steps;
    else this.runs.push({ noiseMultiplier, sampleRate, steps });
    return this;
  }

  /** Total number of steps recorded. */
  get steps(): number {
    return this.runs.reduce((n, r) => n + r.steps, 0);
  }

  /** The runs of equal steps, oldest first (copies). */
  get history(): Mechanism[] {
    return this.runs.map((r) => ({ ...r }));
  }

  /** RDP spent so far at each order. */
  rdp(): Float64Array {
    const total = new Float64Array(this.orders.length);
    for (const run of this.runs) {
      const one = this.oneStep(run.sampleRate, run.noiseMultiplier);
      for (let k = 0; k < total.length; k++) total[k]! += run.steps * one[k]!;
    }
    return total;
  }

  /** (ε, δ) spent so far: ε for the given δ ∈ (0, 1), and the order where it was found. */
  privacySpent(delta: number): PrivacySpent {
    checkDelta('delta', delta);
    return epsilonFromRdp(this.orders, this.rdp(), delta);
  }

  toJSON(): RDPAccountantJSON {
    return { kind: 'rdp', version: 1, orders: [...this.orders], history: this.history };
  }

  /**
   * Restores an accountant from `toJSON()` output (or its JSON.parse). Every field is
   * checked: a wrong type is a TypeError, a value out of range a RangeError, each naming the
   * field (`json.history[3].sampleRate`), because an accountant that silently lost steps
   * would under-report the privacy spent.
   */
  static fromJSON(json: unknown): RDPAccountant {
    if (typeof json === 'string') json = JSON.parse(json) as unknown;
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new TypeError(`json must be an RDPAccountant JSON object, got ${describe(json)}`);
    }
    const j = json as Record<string, unknown>;
    if (j.kind !== 'rdp') throw new TypeError(`json.kind must be 'rdp', got ${describe(j.kind)}`);
    if (j.version !== 1) throw new RangeError(`json.version must be 1, got ${describe(j.version)}`);
    const acc = new RDPAccountant({ orders: checkOrders('json.orders', j.orders) });
    if (!Array.isArray(j.history)) throw new TypeError(`json.history must be an array, got ${describe(j.history)}`);
    j.history.forEach((h: unknown, k) => {
      const at = `json.history[${k}]`;
      if (typeof h !== 'object' || h === null || Array.isArray(h)) {
        throw new TypeError(`${at} must be { noiseMultiplier, sampleRate, steps }, got ${describe(h)}`);
      }
      const r = h as Record<string, unknown>;
      acc.step({
        noiseMultiplier: checkNoiseMultiplier(`${at}.noiseMultiplier`, r.noiseMultiplier),
        sampleRate: checkSampleRate(`${at}.sampleRate`, r.sampleRate),
        steps: integerAtLeast(`${at}.steps`, r.steps, 0),
      });
    });
    return acc;
  }

  private oneStep(q: number, sigma: number): Float64Array {
    const key = `${q} ${sigma}`;
    let v = this.cache.get(key);
    if (!v) {
      v = Float64Array.from(this.orders, (a) => rdpOneStep(q, sigma, a));
      this.cache.set(key, v);
    }
    return v;
  }
}
