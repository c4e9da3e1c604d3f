import { describe } from '../gradients.js';
import { inRange, knownOptions, positive, stateRecord } from '../validate.js';
import { fillGaussian } from './gaussian.js';
import { checkRandomSource, type RandomSource } from './random.js';
import { checkNoiseMultiplier } from './rdp.js';

/** Options of adaptive clipping (Andrew et al. 2021); see `AdaptiveClip`. */
export interface AdaptiveClipOptions {
  /** C at the first step. Default 0.1 (the paper's and TF Privacy's starting point is small). */
  readonly initialClip?: number;
  /** γ ∈ [0, 1]: the fraction of per-example norms C should end up above. Default 0.5 (median). */
  readonly targetQuantile?: number;
  /** η of the geometric update C ← C·exp(−η(b̃ − γ)). Default 0.2 (the paper's). */
  readonly learningRate?: number;
  /**
   * σ_b: standard deviation of the noise on the count of unclipped examples. Default: the
   * expected batch size / 20 (the paper's recommendation). Must exceed noiseMultiplier / 2.
   */
  readonly countStddev?: number;
}

/** Snapshot of the clipping norm's state (plain JSON). */
export interface AdaptiveClipState {
  readonly clip: number;
}

/**
 * Adaptive clipping for DP-SGD: "Differentially Private Learning with Adaptive Clipping"
 * (Andrew, Thakkar, McMahan & Ramaswamy, NeurIPS 2021; TF Privacy
 * `QuantileAdaptiveClipSumQuery`). Instead of a hand-tuned C, the clipping norm tracks the
 * γ-quantile of the per-example gradient norms:
 *
 *     bᵢ = 1[‖gᵢ‖ ≤ C]                                   (example i was not clipped)
 *     b̃  = (Σᵢ (bᵢ − ½) + N(0, σ_b²)) / m + ½              (m: expected batch size q·N)
 *     C  ← C · exp(−η (b̃ − γ))                            (geometric update)
 *
 * Centering bᵢ at ½ halves the count's sensitivity to ½, so its noise multiplier is 2σ_b.
 * The count and the gradient sum are released together: two Gaussian queries with noise
 * multipliers σ_Δ and 2σ_b compose to one Gaussian query with z⁻² = σ_Δ⁻² + (2σ_b)⁻²
 * (Andrew et al., Thm 1). So, to spend what a plain run with noise multiplier z spends, the
 * gradient noise uses σ_Δ = (z⁻² − (2σ_b)⁻²)^{−1/2} (`gradientNoiseMultiplier`), and the
 * accountant records z — the privacy cost of the quantile estimate is in the accountant.
 */
export class AdaptiveClip {
  readonly targetQuantile: number;
  readonly learningRate: number;
  readonly countStddev: number;
  readonly expectedBatchSize: number;
  private c: number;

  constructor(expectedBatchSize: number, options: AdaptiveClipOptions = {}, state?: AdaptiveClipState) {
    knownOptions('adaptive clipping options', options, [
      'initialClip',
      'targetQuantile',
      'learningRate',
      'countStddev',
    ]);
    this.expectedBatchSize = positive('expectedBatchSize', expectedBatchSize);
    const saved = state === undefined ? undefined : stateRecord('state', state, 'AdaptiveClip', ['clip']);
    this.c = positive(saved ? 'state.clip' : 'initialClip', saved ? saved.clip : (options.initialClip ?? 0.1));
    this.targetQuantile = inRange('targetQuantile', options.targetQuantile ?? 0.5, 0, 1);
    this.learningRate = positive('learningRate', options.learningRate ?? 0.2);
    this.countStddev = positive('countStddev', options.countStddev ?? expectedBatchSize / 20);
  }

  /** The clipping norm C for the current step. */
  get clip(): number {
    return this.c;
  }

  get state(): AdaptiveClipState {
    return { clip: this.c };
  }

  /**
   * σ_Δ for the gradient noise so that gradient sum and count together spend what noise
   * multiplier z spends alone: (z⁻² − (2σ_b)⁻²)^{−1/2}. A RangeError when 2σ_b ≤ z (the count
   * alone would spend the whole budget); a TypeError / RangeError when noiseMultiplier is not
   * a finite number ≥ 0 (−1 once gave 1.005).
   */
  gradientNoiseMultiplier(noiseMultiplier: number): number {
    checkNoiseMultiplier('noiseMultiplier', noiseMultiplier);
    if (noiseMultiplier === 0) return 0;
    const count = 2 * this.countStddev;
    if (!(count > noiseMultiplier)) {
      throw new RangeError(
        `adaptive clipping needs countStddev > noiseMultiplier / 2: countStddev ${this.countStddev}, noiseMultiplier ${noiseMultiplier}`,
      );
    }
    return 1 / Math.sqrt(noiseMultiplier ** -2 - count ** -2);
  }

  /**
   * One update from this step's per-example norms (before clipping): counts the unclipped
   * examples, adds the count noise and moves C geometrically. Returns the new C.
   * With noiseMultiplier 0 (no privacy) the count is used without noise. Every argument is
   * checked before anything changes — `norms` an array or typed array of numbers ≥ 0 (not
   * NaN), `noiseMultiplier` a finite number ≥ 0, `random` a RandomSource — because a misuse
   * such as a missing or NaN noise multiplier must be an error, never a count released
   * without noise.
   */
  update(norms: ArrayLike<number>, noiseMultiplier: number, random: RandomSource): number {
    if (!Array.isArray(norms) && !(ArrayBuffer.isView(norms) && !(norms instanceof DataView))) {
      throw new TypeError(`norms must be an array or typed array of numbers ≥ 0, got ${describe(norms)}`);
    }
    const list = norms as ArrayLike<unknown>;
    for (let i = 0; i < list.length; i++) {
      const x = list[i];
      if (typeof x !== 'number') throw new TypeError(`norms[${i}] must be a number ≥ 0, got ${describe(x)}`);
      if (!(x >= 0)) throw new RangeError(`norms[${i}] must be a number ≥ 0, got ${x}`);
    }
    checkNoiseMultiplier('noiseMultiplier', noiseMultiplier);
    checkRandomSource('random', random);
    let centred = 0;
    for (let i = 0; i < norms.length; i++) centred += (norms[i]! <= this.c ? 1 : 0) - 0.5;
    if (noiseMultiplier > 0) {
      const n = new Float64Array(1);
      fillGaussian(n, this.countStddev, random);
      centred += n[0]!;
    }
    const unclipped = centred / this.expectedBatchSize + 0.5;
    this.c *= Math.exp(-this.learningRate * (unclipped - this.targetQuantile));
    return this.c;
  }
}
