import {
  jsonOptions,
  makeClipper,
  splitState,
  safeRecord,
  type Clipper,
  type ClipRule,
  type StateTree,
  ruleKind,
} from '../clipper.js';
import { describe, type Leaf } from '../gradients.js';
import { finaliseNorm, mergeAllNormStats, statsFinite } from '../norm_stats.js';
import type { ArrayOps, NormStats } from '../ops.js';
import type { NonFinitePolicy } from '../types.js';
import {
  finiteNonNegative,
  inRange,
  integerAtLeast,
  knownOptions,
  nonFinitePolicy,
  positive,
  stateInteger,
  stateNumber,
  orDefault,
  stateRecord,
} from '../validate.js';
import { ratioToNorm, scaleEach } from '../rule.js';

export interface AdaGCOptions {
  /** EMA factor of the per-tensor thresholds after warm-up. Default 0.98. */
  beta?: number;
  /** Global-norm limit during warm-up. Default 1.0. */
  lambdaAbs?: number;
  /** A tensor may grow to lambdaRel × its threshold before it is clipped. Default 1.05. */
  lambdaRel?: number;
  /** Steps t < warmupSteps (t from 1) use global clipping and a running minimum. Default 100. */
  warmupSteps?: number;
  /** Added to the global norm in the warm-up factor. Default 1e-8. */
  eps?: number;
  /** What to do with NaN / ±Infinity gradients. Default 'propagate'. */
  nonFinite?: NonFinitePolicy;
}

/**
 * AdaGC's state: `step` counts the finite steps (up to `warmupSteps`), `gamma` holds each
 * tensor's threshold γ_i keyed by leaf name (record key or list position). A tensor seen for
 * the first time gets γ_i = −1 ("not set yet"; norms are never negative), so that the keys
 * depend only on which tensors were passed, never on the data.
 */
export type AdaGCState = {
  readonly step: number;
  readonly gamma: Readonly<Record<string, number>>;
};

type AState<S> = { step: S; gamma: Record<string, S> };

/**
 * AdaGC (Wang et al. 2025, "AdaGC: Improving Training Stability for Large Language Model
 * Pretraining"). Per tensor i, with t counting finite steps from 1:
 *
 *   warm-up (t < warmupSteps): h = min(lambdaAbs / (‖g‖ + eps), 1) for the global norm ‖g‖;
 *     ĝ_i = h·g_i;  γ_i = ‖ĝ_i‖ at its first step, else min(γ_i, ‖ĝ_i‖);
 *   after: h_i = min(lambdaRel·γ_i / ‖g_i‖, 1);  ĝ_i = h_i·g_i;
 *     γ_i ← β·γ_i + (1 − β)·‖ĝ_i‖.
 *
 * Each tensor gets its own threshold that tracks its usual norm, so a spike in one layer is
 * clipped without shrinking the others. A tensor that first appears after warm-up starts with
 * the warm-up rule for that step. A zero gradient (‖g_i‖ = 0) is left as it is (h_i = 1).
 */
export const adaGCRule = /* @__PURE__ */ ruleKind(
  'adaGC',
  function adaGCRule(options: AdaGCOptions = {}): ClipRule<AdaGCState> {
    knownOptions('options', options, ['beta', 'lambdaAbs', 'lambdaRel', 'warmupSteps', 'eps', 'nonFinite']);
    const beta = inRange('options.beta', options.beta ?? 0.98, 0, 1);
    const lambdaAbs = finiteNonNegative('options.lambdaAbs', options.lambdaAbs ?? 1.0);
    const lambdaRel = positive('options.lambdaRel', options.lambdaRel ?? 1.05);
    const warmupSteps = integerAtLeast('options.warmupSteps', options.warmupSteps ?? 100, 1);
    const eps = finiteNonNegative('options.eps', orDefault(options.eps, 1e-8));
    const policy = nonFinitePolicy('options.nonFinite', orDefault(options.nonFinite, 'propagate'));

    return {
      name: 'adaGC',
      needsParams: false,
      nonFinite: policy,
      config: { kind: 'adaGC', args: [jsonOptions(options)] },
      init: (ops) => ({ step: ops.scalar(0), gamma: safeRecord() }),
      // γ_i is a clipped norm (≥ 0) or −1 for "not set yet".
      restore(state: unknown, arg = 'options.state'): AdaGCState {
        const o = stateRecord(arg, state, 'adaGC', ['step', 'gamma']);
        const g = o['gamma'];
        if (typeof g !== 'object' || g === null || Array.isArray(g)) {
          throw new TypeError(`${arg}.gamma must be a record of numbers by parameter name, got ${describe(g)}`);
        }
        const gamma = safeRecord(
          Object.entries(g).map(([k, v]) => {
            const at = `${arg}.gamma[${JSON.stringify(k)}]`;
            return [k, v === -1 ? -1 : stateNumber(at, v)] as const;
          }),
        );
        return { step: stateInteger(`${arg}.step`, o['step'], 0, warmupSteps), gamma };
      },
      apply<T, S, B>(ops: ArrayOps<T, S, B>, grads: readonly Leaf<T>[], _params: unknown, state: StateTree<S>) {
        const st = state as AState<S>;
        const s = (x: number) => ops.scalar(x);
        const one = s(1);
        const zero = s(0);
        const values = grads.map((g) => g.values);
        // Every tensor at once where the backend gives per-tensor statistics as vectors (GPU):
        // `tensorStep` then works on vectors with one entry per tensor; else tensor by tensor.
        const batched = ops.normStatsEach?.(values, 2);
        const stats = batched === undefined ? values.map((v) => ops.normStats(v, 2)) : undefined;
        const all = batched?.all ?? mergeAllNormStats(ops, 2, stats!);
        const globalNorm = finaliseNorm(ops, all);
        const finite = statsFinite(ops, all);
        const valid = ops.isFinite(globalNorm);
        const warming = ops.gt(s(warmupSteps), ops.add(st.step, one));
        const h = ops.min(ratioToNorm(ops, s(lambdaAbs), globalNorm, eps, all), one);
        const olds = grads.map((leaf) => (Object.hasOwn(st.gamma, leaf.name) ? st.gamma[leaf.name]! : s(-1)));

        /** One tensor's (or, batched, every tensor's) factor and new γ from its statistics and old γ. */
        const tensorStep = (x: NormStats<S>, old: S) => {
          const n = finaliseNorm(ops, x);
          const unset = ops.gt(zero, old);
          const warmNorm = ops.mul(h, n);
          const warmGamma = ops.where(unset, warmNorm, ops.min(old, warmNorm));
          const hi = ops.where(
            ops.eq(n, zero),
            one,
            ops.min(ratioToNorm(ops, ops.mul(s(lambdaRel), old), n, 0, x), one),
          );
          const afterGamma = ops.add(ops.mul(s(beta), old), ops.mul(s(1 - beta), ops.mul(hi, n)));
          const useWarm = ops.or(warming, unset);
          return {
            gamma: ops.where(valid, ops.where(useWarm, warmGamma, afterGamma), old),
            factor: ops.where(useWarm, h, hi),
          };
        };
        let factors: S[];
        let gammas: S[];
        let smallest: S | undefined;
        if (batched !== undefined) {
          const r = tensorStep(batched.each, batched.join(olds));
          factors = batched.split(r.factor);
          gammas = batched.split(r.gamma);
          smallest = ops.min(one, batched.min(r.factor));
        } else {
          const rs = stats!.map((x, i) => tensorStep(x, olds[i]!));
          factors = rs.map((r) => r.factor);
          gammas = rs.map((r) => r.gamma);
        }
        // Keys are parameter names: a null-prototype record keeps 'toString' or '__proto__' ordinary.
        const gamma = safeRecord(Object.entries(st.gamma));
        grads.forEach((leaf, i) => (gamma[leaf.name] = gammas[i]!));
        const step = ops.where(valid, ops.min(ops.add(st.step, one), s(warmupSteps)), st.step);
        const out = scaleEach(ops, values, factors, globalNorm, finite, policy, smallest);
        return { out, state: { step, gamma } };
      },
    } as ClipRule<AdaGCState>;
  },
);

/**
 * AdaGC: per-tensor adaptive thresholds from an EMA of each tensor's clipped norm.
 *
 * @example
 * const clipper = adaGC({ warmupSteps: 100 });
 * for (const grads of batches) clipper.clip(grads); // grads keyed by parameter name
 */
export function adaGC(options: AdaGCOptions & { state?: AdaGCState } = {}): Clipper<AdaGCState> {
  const { state, rest } = splitState(options);
  return makeClipper(adaGCRule(rest), state as never);
}
