import {
  jsonOptions,
  makeClipper,
  splitState,
  type Clipper,
  type ClipRule,
  type StateTree,
  ruleKind,
} from '../clipper.js';
import type { Leaf } from '../gradients.js';
import { runScalars, type ArrayOps, type Scalars, type ScalarOps } from '../ops.js';
import type { NonFinitePolicy } from '../types.js';
import {
  finiteNonNegative,
  flag,
  inRange,
  integerAtLeast,
  knownOptions,
  nonFinitePolicy,
  nonNegative,
  oneOf,
  positive,
  stateInteger,
  stateNumber,
  orDefault,
  stateRecord,
} from '../validate.js';
import { setNormStats } from '../global_norm.js';
import { statsScalars } from '../norm_stats.js';
import { applyFactor, factorScalars, ratioToNorm } from '../rule.js';
import { MAX_STAT, normOfStats, TORCH_EPS, valuesOf } from './common.js';

export interface ZClipOptions {
  /** EMA smoothing factor for the mean and variance of the norm. Default 0.97. */
  alpha?: number;
  /** z-score above which a norm is a spike. Default 2.5. */
  zThresh?: number;
  /** A fixed cap on the norm, applied always (and alone during warm-up); `null` for none. Default 1.0. */
  maxGradNorm?: number | null;
  /** Added to σ in the z-score. Default 1e-6. */
  eps?: number;
  /** Number of (finite) norms collected before the EMA starts. Default 25. */
  warmupSteps?: number;
  /** 'zscore' (default) or 'percentile' (threshold mean + zThresh·σ). */
  mode?: 'zscore' | 'percentile';
  /** In 'zscore' mode: clip a spike to a z-scaled threshold ('adaptive_scaling', default) or to the mean ('mean'). */
  clipOption?: 'adaptive_scaling' | 'mean';
  /** Multiplies the adaptive threshold (0.5–0.9 clips more aggressively). Default 1.0. */
  clipFactor?: number;
  /** Leave the statistics untouched on a spike. Default false. */
  skipUpdateOnSpike?: boolean;
  /** What to do with NaN / ±Infinity gradients. Default 'propagate'. */
  nonFinite?: NonFinitePolicy;
}

/**
 * ZClip's state. `count` is the number of finite norms seen, up to `warmupSteps`. During
 * warm-up `mean` and `m2` are Welford's running mean and sum of squared deviations (the
 * reference keeps the norms in a buffer; Welford gives the same mean and population variance
 * with O(1) state, which a device backend can hold in a few scalars). When the warm-up ends,
 * `variance` = m2 / warmupSteps and both then follow the EMA.
 */
export type ZClipState = {
  readonly count: number;
  readonly mean: number;
  readonly m2: number;
  readonly variance: number;
};

type ZState<S> = { count: S; mean: S; m2: S; variance: S };

/**
 * ZClip (Kumar, Owen, Roy Chowdhury & Güra 2025, "ZClip: Adaptive Spike Mitigation for LLM
 * Pre-Training"; reference code bluorion-com/ZClip). With g the total L2 norm:
 *
 *   warm-up (first `warmupSteps` finite norms): collect g; clip by `maxGradNorm` if set
 *     (PyTorch form, factor min(1, maxGradNorm / (g + 1e-6))); at the end mean = average,
 *     var = population variance.
 *   after: σ = √var, z = (g − mean) / (σ + eps);
 *     'zscore':     spike when z > zThresh; τ = (mean + zThresh·σ / (z / zThresh))·clipFactor
 *                   ('adaptive_scaling') or τ = mean ('mean');
 *     'percentile': spike when g > mean + zThresh·σ; τ = mean + zThresh·σ;
 *     effective = min(spike ? τ : g, maxGradNorm ?? ∞); factor = effective / (g + 1e-6) when
 *     g > effective, else 1;
 *     unless skipUpdateOnSpike and a spike, with x = spike ? τ : g:
 *       mean ← α·mean + (1 − α)·x;  var ← α·var + (1 − α)·(x − mean_new)².
 *
 * Feeding the clipped value x back into the EMA keeps one spike from inflating the statistics.
 */
export const zClipRule = /* @__PURE__ */ ruleKind(
  'zClip',
  function zClipRule(options: ZClipOptions = {}): ClipRule<ZClipState> {
    knownOptions('options', options, [
      'alpha',
      'zThresh',
      'maxGradNorm',
      'eps',
      'warmupSteps',
      'mode',
      'clipOption',
      'clipFactor',
      'skipUpdateOnSpike',
      'nonFinite',
    ]);
    const alpha = inRange('options.alpha', options.alpha ?? 0.97, 0, 1);
    const zThresh = positive('options.zThresh', options.zThresh ?? 2.5);
    const maxGradNorm =
      options.maxGradNorm === null ? null : nonNegative('options.maxGradNorm', options.maxGradNorm ?? 1.0);
    const eps = finiteNonNegative('options.eps', orDefault(options.eps, 1e-6));
    const warmupSteps = integerAtLeast('options.warmupSteps', options.warmupSteps ?? 25, 1);
    const mode = oneOf('options.mode', options.mode ?? 'zscore', ['zscore', 'percentile'] as const);
    const clipOption = oneOf('options.clipOption', options.clipOption ?? 'adaptive_scaling', [
      'adaptive_scaling',
      'mean',
    ] as const);
    const clipFactor = positive('options.clipFactor', options.clipFactor ?? 1.0);
    const skipUpdateOnSpike = flag('options.skipUpdateOnSpike', options.skipUpdateOnSpike, false);
    const policy = nonFinitePolicy('options.nonFinite', orDefault(options.nonFinite, 'propagate'));

    /** One step's scalars: the statistics and the state in, the factor, report and new state out. */
    function step<S, B>(
      ops: ScalarOps<S, B>,
      inputs: Scalars<S, B, 'ref' | 'sum' | 'nan' | 'inf' | keyof ZState<S>, never>,
    ) {
      const { ref, sum, nan, inf, ...st } = inputs.s;
      const { norm: g, finite, valid, stats } = normOfStats(ops, { p: 2, ref, sum, nan, inf });
      const s = (x: number) => ops.scalar(x);
      const one = s(1);
      const cap = maxGradNorm === null ? null : s(maxGradNorm);
      const warming = ops.gt(s(warmupSteps), st.count);

      // Warm-up: Welford update, and the fixed cap alone.
      const n1 = ops.add(st.count, one);
      const delta = ops.sub(g, st.mean);
      const warmMean = ops.add(st.mean, ops.div(delta, n1));
      const warmM2 = ops.add(st.m2, ops.mul(delta, ops.sub(g, warmMean)));
      const warmVar = ops.where(ops.eq(n1, s(warmupSteps)), ops.min(ops.div(warmM2, n1), s(MAX_STAT)), st.variance);
      const warmFactor = cap === null ? one : ops.min(one, ratioToNorm(ops, cap, g, TORCH_EPS, stats));

      // After warm-up: z-score test against the EMA statistics.
      const sigma = ops.sqrt(st.variance);
      const band = ops.add(st.mean, ops.mul(s(zThresh), sigma));
      let spike: B;
      let threshold: S;
      if (mode === 'percentile') {
        spike = ops.gt(g, band);
        threshold = band;
      } else {
        const z = ops.div(ops.sub(g, st.mean), ops.add(sigma, s(eps)));
        spike = ops.gt(z, s(zThresh));
        threshold =
          clipOption === 'mean'
            ? st.mean
            : ops.mul(ops.add(st.mean, ops.div(ops.mul(s(zThresh), sigma), ops.div(z, s(zThresh)))), s(clipFactor));
      }
      const x = ops.where(spike, threshold, g);
      const effective = cap === null ? x : ops.min(x, cap);
      const afterFactor = ops.where(ops.gt(g, effective), ratioToNorm(ops, effective, g, TORCH_EPS, stats), one);
      const emaMean = ops.add(ops.mul(s(alpha), st.mean), ops.mul(s(1 - alpha), x));
      const dev = ops.sub(x, emaMean);
      const emaVar = ops.min(
        ops.add(ops.mul(s(alpha), st.variance), ops.mul(s(1 - alpha), ops.mul(dev, dev))),
        s(MAX_STAT),
      );
      const update = skipUpdateOnSpike ? ops.not(spike) : ops.bool(true);

      const pick = (warm: S, after: S, old: S) =>
        ops.where(valid, ops.where(warming, warm, ops.where(update, after, old)), old);
      const next: ZState<S> = {
        count: ops.where(valid, ops.where(warming, n1, st.count), st.count),
        mean: pick(warmMean, emaMean, st.mean),
        m2: pick(warmM2, st.m2, st.m2),
        variance: pick(warmVar, emaVar, st.variance),
      };
      const factor = ops.where(warming, warmFactor, afterFactor);
      // The norm above which this step clips: the cap during warm-up; afterwards the z-score
      // band mean + zThresh·(σ + eps) (or mean + zThresh·σ in percentile mode), under the cap.
      const noCap = s(Infinity);
      const spikeAbove = mode === 'percentile' ? band : ops.add(st.mean, ops.mul(s(zThresh), ops.add(sigma, s(eps))));
      const threshold_ = ops.where(warming, cap ?? noCap, ops.min(spikeAbove, cap ?? noCap));
      const f = factorScalars(ops, policy, g, finite, factor);
      return { s: { ...f.s, threshold: threshold_, ...next }, b: f.b };
    }

    return {
      name: 'zClip',
      needsParams: false,
      nonFinite: policy,
      config: { kind: 'zClip', args: [jsonOptions(options)] },
      init: (ops) => {
        const zero = ops.scalar(0);
        return { count: zero, mean: zero, m2: zero, variance: zero };
      },
      // Norms are ≥ 0, so are their mean, m2 and variance: a negative mean would flip the
      // gradients' sign through the threshold, a negative variance switch spike detection off.
      restore(state: unknown, arg = 'options.state'): ZClipState {
        const o = stateRecord(arg, state, 'zClip', ['count', 'mean', 'm2', 'variance']);
        return {
          count: stateInteger(`${arg}.count`, o['count'], 0, warmupSteps),
          mean: stateNumber(`${arg}.mean`, o['mean']),
          m2: stateNumber(`${arg}.m2`, o['m2']),
          variance: stateNumber(`${arg}.variance`, o['variance']),
        };
      },
      apply<T, S, B>(ops: ArrayOps<T, S, B>, grads: readonly Leaf<T>[], _params: unknown, state: StateTree<S>) {
        const st = state as ZState<S>;
        const values = valuesOf(grads);
        // The statistics, then every scalar of the step (norm, test, factor, new state) as one block.
        const stats = statsScalars(setNormStats(ops, values, 2));
        const r = runScalars(ops, { s: { ...stats, ...st }, b: {} }, step);
        const { threshold, count, mean, m2, variance } = r.s;
        return {
          out: { ...applyFactor(ops, values, r, policy), threshold },
          state: { count, mean, m2, variance },
        };
      },
    } as ClipRule<ZClipState>;
  },
);

/**
 * ZClip: z-score spike clipping with EMA statistics of the gradient norm.
 *
 * @example
 * const clipper = zClip({ alpha: 0.97, zThresh: 2.5 });
 * for (const grads of batches) clipper.clip(grads);
 */
export function zClip(options: ZClipOptions & { state?: ZClipState } = {}): Clipper<ZClipState> {
  const { state, rest } = splitState(options);
  return makeClipper(zClipRule(rest), state as never);
}
