import { describe } from '../gradients.js';
import { knownOptions } from '../validate.js';
import {
  DEFAULT_ORDERS,
  MAX_STEPS,
  checkDelta,
  checkNoiseMultiplier,
  checkOrders,
  checkSampleRate,
  checkSteps,
  epsilonFromRdp,
  rdpOneStep,
  type Mechanism,
  type PrivacySpent,
} from './rdp.js';

/**
 * The most distinct (sampleRate, noiseMultiplier) pairs one accountant holds. Each pair costs
 * one RDP series per order (~2.5 ms with the default orders), so the bound keeps a restored
 * accountant — possibly from a file someone else wrote — quick to evaluate: a saved model
 * with 20,000 distinct pairs took 29 s to report its ε. Training at a fixed σ and q uses one
 * pair per run; repeated pairs (anywhere in the history) are counted once.
 */
export const MAX_ACCOUNTANT_MECHANISMS = 1_000;

export interface RDPAccountantOptions {
  /** RDP orders 1 < α ≤ `MAX_ORDER` (at most `MAX_ORDERS`); default `DEFAULT_ORDERS` (Opacus's). */
  readonly orders?: readonly number[];
}

/** One training step (or `steps` equal ones) of the sampled Gaussian mechanism. */
export interface AccountantStep {
  readonly noiseMultiplier: number;
  readonly sampleRate: number;
  /** How many such steps; default 1. The accountant's total may not exceed `MAX_STEPS` (2⁵³ − 1). */
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
  // #private, not TypeScript-private: the history is the privacy record, and a run-time
  // `acc.runs.length = 0` must not be able to reset it (issue 25).
  readonly #ledger = new StepLedger(MAX_ACCOUNTANT_MECHANISMS, 'an accountant');
  /** One-step RDP vector of each (q, σ) pair, filled when first needed. */
  readonly #oneStep = new Map<string, Float64Array>();

  constructor(options: RDPAccountantOptions = {}) {
    knownOptions('RDPAccountant options', options, ['orders']);
    this.orders = Object.freeze([...checkOrders('orders', options.orders ?? DEFAULT_ORDERS)]);
  }

  /**
   * Records one step (or `steps` equal ones) of the sampled Gaussian mechanism. A RangeError,
   * with nothing recorded, when the total would exceed `MAX_STEPS` or the pair would be the
   * accountant's `MAX_ACCOUNTANT_MECHANISMS + 1`-th distinct one.
   */
  step(step: AccountantStep): this {
    this.#ledger.record(step);
    return this;
  }

  /** Total number of steps recorded. */
  get steps(): number {
    return this.#ledger.steps;
  }

  /** The runs of equal steps, oldest first (copies). */
  get history(): Mechanism[] {
    return this.#ledger.runs;
  }

  /** RDP spent so far at each order. */
  rdp(): Float64Array {
    const total = new Float64Array(this.orders.length);
    for (const run of this.#ledger.runs) {
      const one = this.#rdpOf(run.sampleRate, run.noiseMultiplier);
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
   * would under-report the privacy spent. Only own fields count (an inherited one is
   * missing), arrays must be dense, and unknown fields are refused. The limits of `step`
   * apply (`MAX_STEPS` in total, `MAX_ACCOUNTANT_MECHANISMS` distinct pairs, orders up to
   * `MAX_ORDER`). A tiny noise multiplier (1e−300) is accepted: it is a valid record, whose
   * ε is ∞. The document is plain data the user controls; see docs/privacy.md for what a
   * restored ε can and cannot promise.
   */
  static fromJSON(json: unknown): RDPAccountant {
    if (typeof json === 'string') json = JSON.parse(json) as unknown;
    const j = ownRecord('json', json, ['kind', 'version', 'orders', 'history'], 'an RDPAccountant JSON object');
    if (j.kind !== 'rdp') throw new TypeError(`json.kind must be 'rdp', got ${describe(j.kind)}`);
    if (j.version !== 1) throw new RangeError(`json.version must be 1, got ${describe(j.version)}`);
    const acc = new RDPAccountant({ orders: checkOrders('json.orders', j.orders) });
    restoreHistory(j.history, (run) => acc.step(run));
    return acc;
  }

  #rdpOf(q: number, sigma: number): Float64Array {
    const key = pairKey(q, sigma);
    let v = this.#oneStep.get(key);
    if (!v) {
      v = Float64Array.from(this.orders, (a) => rdpOneStep(q, sigma, a));
      this.#oneStep.set(key, v);
    }
    return v;
  }
}

function pairKey(q: number, sigma: number): string {
  return `${q} ${sigma}`;
}

/**
 * The history both accountants keep (held in a `#private` field, so it cannot be emptied at run
 * time): runs of equal steps in order, the total, and the distinct (q, σ) pairs, each checked and
 * bounded (`MAX_STEPS` in total, `maxPairs` pairs — every pair costs the accountant its own work).
 */
export class StepLedger {
  readonly #runs: { noiseMultiplier: number; sampleRate: number; steps: number }[] = [];
  readonly #pairs = new Set<string>();
  #steps = 0;
  readonly #maxPairs: number;
  readonly #holder: string;
  /** `maxPairs`: distinct (q, σ) pairs allowed; `holder`: how errors name the accountant. */
  constructor(maxPairs: number, holder: string) {
    this.#maxPairs = maxPairs;
    this.#holder = holder;
  }

  /** Checks and records a step; false when it adds nothing (zero steps). Nothing recorded on error. */
  record(step: AccountantStep): boolean {
    knownOptions('step', step, ['noiseMultiplier', 'sampleRate', 'steps']);
    if (step === undefined) throw new TypeError('step needs { noiseMultiplier, sampleRate }');
    const noiseMultiplier = checkNoiseMultiplier('noiseMultiplier', step.noiseMultiplier);
    const sampleRate = checkSampleRate('sampleRate', step.sampleRate);
    const steps = checkSteps('steps', step.steps ?? 1, 0);
    if (steps === 0) return false;
    if (steps > MAX_STEPS - this.#steps) {
      throw new RangeError(
        `steps ${steps} would bring the accountant's total (${this.#steps}) above Number.MAX_SAFE_INTEGER (${MAX_STEPS})`,
      );
    }
    const key = pairKey(sampleRate, noiseMultiplier);
    if (!this.#pairs.has(key)) {
      if (this.#pairs.size >= this.#maxPairs) {
        throw new RangeError(
          `${this.#holder} holds at most ${this.#maxPairs} distinct (sampleRate, noiseMultiplier) pairs; ` +
            `this step (${sampleRate}, ${noiseMultiplier}) would be one more`,
        );
      }
      this.#pairs.add(key);
    }
    this.#steps += steps;
    const last = this.#runs[this.#runs.length - 1];
    if (last && last.noiseMultiplier === noiseMultiplier && last.sampleRate === sampleRate) last.steps += steps;
    else this.#runs.push({ noiseMultiplier, sampleRate, steps });
    return true;
  }

  /** Total number of steps recorded. */
  get steps(): number {
    return this.#steps;
  }

  /** The runs of equal steps, oldest first (copies). */
  get runs(): Mechanism[] {
    return this.#runs.map((r) => ({ ...r }));
  }
}

/**
 * Replays a restored document's `history` (a dense array of own `{ noiseMultiplier, sampleRate,
 * steps }` records, each field checked and named on error) into `step`, in order: the one reader
 * of saved histories for every accountant, so a document that would lose steps is refused the
 * same way everywhere. A RangeError from `step` (a limit) names the entry.
 */
export function restoreHistory(history: unknown, step: (run: AccountantStep) => unknown): void {
  if (!Array.isArray(history)) throw new TypeError(`json.history must be an array, got ${describe(history)}`);
  for (let k = 0; k < history.length; k++) {
    const at = `json.history[${k}]`;
    if (!Object.hasOwn(history, k)) throw new TypeError(`json.history is a sparse array: ${at} is a hole`);
    const r = ownRecord(
      at,
      history[k],
      ['noiseMultiplier', 'sampleRate', 'steps'],
      '{ noiseMultiplier, sampleRate, steps }',
    );
    const noiseMultiplier = checkNoiseMultiplier(`${at}.noiseMultiplier`, r.noiseMultiplier);
    const sampleRate = checkSampleRate(`${at}.sampleRate`, r.sampleRate);
    const steps = checkSteps(`${at}.steps`, r.steps, 0);
    try {
      step({ noiseMultiplier, sampleRate, steps });
    } catch (e) {
      if (e instanceof RangeError) throw new RangeError(`${at}: ${e.message}`);
      throw e;
    }
  }
}

/**
 * An object from a restored document: every field read must be its own (an inherited
 * `steps` from a prototype is not a record), and no other field may be present.
 */
export function ownRecord(arg: string, x: unknown, keys: readonly string[], what: string): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) {
    throw new TypeError(`${arg} must be ${what}, got ${describe(x)}`);
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    if (!Object.hasOwn(x, k)) throw new TypeError(`${arg} has no own field '${k}' (it must be ${what})`);
    out[k] = (x as Record<string, unknown>)[k];
  }
  for (const k of Object.keys(x)) {
    if (!keys.includes(k)) throw new TypeError(`${arg} has an unknown field '${k}' (known: ${keys.join(', ')})`);
  }
  return out;
}
