import type { Leaf } from '../gradients.js';
import type { ArrayOps, UnitLayout } from '../ops.js';
import { withNonFinitePolicy } from '../rule.js';
import {
  jsonOptions,
  makeClipper,
  restoreStateless,
  splitState,
  type Clipper,
  type ClipRule,
  type StateTree,
  ruleKind,
} from '../clipper.js';
import type { NonFinitePolicy } from '../types.js';
import { finiteNonNegative, knownOptions, nonFinitePolicy, oneOf, orDefault, positive } from '../validate.js';
import { totalNorm } from './common.js';
import { unitReduceAxes } from '../units.js';

export interface AgcOptions {
  /** λ: the largest allowed ratio ‖G_u‖ / ‖W_u‖ per unit. Default 0.01 (optax, timm). */
  clipping?: number;
  /** Floor for the weight norm, so that zero-initialised units can still move. Default 1e-3. */
  eps?: number;
  /** How tensors split into units: 'tf' (TF.js, Keras, JAX: [in, out], HWIO) or 'torch' ([out, in], OIHW). Default 'tf'. */
  layout?: UnitLayout;
  /** What to do with NaN / ±Infinity gradients. Default 'propagate'. */
  nonFinite?: NonFinitePolicy;
}

/** Below this a gradient norm is not divided by (optax and timm use the same guard). */
const GRAD_NORM_FLOOR = 1e-6;

type Stateless = Readonly<Record<string, never>>;

/**
 * Pairs every gradient with its parameter (by record key or list position) and checks
 * shapes and layouts, before anything is computed or written.
 */
export function matchParams<T>(
  grads: readonly Leaf<T>[],
  params: readonly Leaf<T>[] | undefined,
  who: string,
): Leaf<T>[] {
  if (params === undefined) throw new TypeError(`${who} needs the parameters: call clip(grads, params)`);
  const byName = new Map(params.map((p) => [p.name, p]));
  return grads.map((g) => {
    const p = byName.get(g.name);
    const label = g.name === '' ? 'the gradient' : `gradient '${g.name}'`;
    if (p === undefined) {
      throw new TypeError(
        `${who}: params has no entry for ${label} (params are matched to grads by record key or list position)`,
      );
    }
    const same = p.shape.length === g.shape.length && p.shape.every((d, i) => d === g.shape[i]);
    if (!same) {
      throw new RangeError(
        `${who}: ${label} has shape [${g.shape.join(', ')}] but its parameter has shape [${p.shape.join(', ')}]`,
      );
    }
    return p;
  });
}

/**
 * Adaptive gradient clipping (Brock, De, Smith & Simonyan 2021, "High-Performance
 * Large-Scale Image Recognition Without Normalization"; optax `adaptive_grad_clip`, timm
 * `adaptive_clip_grad`). Per unit u (an output neuron or filter, see `UnitLayout`):
 *
 *     maxNorm_u = clipping · max(‖W_u‖, eps)
 *     G_u ← G_u · maxNorm_u / max(‖G_u‖, 1e-6)   if ‖G_u‖ ≥ maxNorm_u, else unchanged
 *
 * The limit scales with the weights, so it needs no tuning per layer; it was designed to
 * replace batch normalisation's stabilising effect. The report's `scale` is the smallest
 * unit factor and `norm` the global L2 norm before clipping.
 */
export const agcRule = /* @__PURE__ */ ruleKind('agc', function agcRule(options: AgcOptions = {}): ClipRule<Stateless> {
  knownOptions('options', options, ['clipping', 'eps', 'layout', 'nonFinite']);
  const clipping = finiteNonNegative('options.clipping', options.clipping ?? 0.01);
  const eps = positive('options.eps', orDefault(options.eps, 1e-3));
  const layout = oneOf('options.layout', options.layout ?? 'tf', ['tf', 'torch'] as const);
  const policy = nonFinitePolicy('options.nonFinite', orDefault(options.nonFinite, 'propagate'));
  return {
    name: 'agc',
    needsParams: true,
    restore: restoreStateless('agc'),
    nonFinite: policy,
    config: { kind: 'agc', args: [jsonOptions(options)] },
    init: () => ({}),
    apply<T, S, B>(
      ops: ArrayOps<T, S, B>,
      grads: readonly Leaf<T>[],
      params: readonly Leaf<T>[] | undefined,
      state: StateTree<S>,
    ) {
      const ps = matchParams(grads, params, 'agc');
      for (const g of grads) unitReduceAxes(g.shape.length, layout); // rank check before any work
      const values = grads.map((g) => g.values);
      const { norm, finite } = totalNorm(ops, values);
      const one = ops.scalar(1);
      const floor = ops.scalar(GRAD_NORM_FLOOR);
      const factors = grads.map((g, i) =>
        ops.mapUnits(
          ops.unitNorms(g.values, g.shape, layout),
          ops.unitNorms(ps[i]!.values, g.shape, layout),
          (gn, pn) => {
            const maxNorm = ops.mul(ops.max(pn, ops.scalar(eps)), ops.scalar(clipping));
            return ops.where(ops.ge(gn, maxNorm), ops.div(maxNorm, ops.max(gn, floor)), one);
          },
        ),
      );
      const r = withNonFinitePolicy(ops, policy, finite, values, () => {
        const scale = factors.reduce((a, f) => ops.min(a, ops.minOf(f)), one);
        return {
          grads: grads.map((g, i) => ops.scaleUnits(g.values, g.shape, layout, factors[i]!)),
          scale,
          clipped: ops.not(ops.ge(scale, one)),
        };
      });
      return { out: { ...r, norm, finite }, state };
    },
  };
});

/**
 * Unit-wise adaptive gradient clipping (AGC). `clip(grads, params)` needs the parameters, with
 * the same keys (or list positions) and shapes as the gradients; pass `{ values, shape }`
 * entries so that matrices and convolution kernels are split into units.
 *
 * @example
 * const clipper = agc({ clipping: 0.01 });
 * clipper.clip({ w: { values: gw, shape: [784, 128] } }, { w: { values: w, shape: [784, 128] } });
 */
export function agc(options: AgcOptions & { state?: Stateless } = {}): Clipper<Stateless> {
  const { state, rest } = splitState(options);
  return makeClipper(agcRule(rest), state as never);
}
