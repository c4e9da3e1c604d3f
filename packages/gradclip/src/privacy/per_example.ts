import { describe, leavesOf, type Leaf } from '../gradients.js';
import { globalNorm } from '../global_norm.js';
import type { FloatArray, Shaped } from '../types.js';

/**
 * Per-example gradients: one `{ values, shape }` (or a list / record of them, `null` for a
 * parameter without gradient) whose first dimension is the batch B, the same in every leaf.
 */
export type PerExampleGradients =
  Shaped | readonly (Shaped | null | undefined)[] | Readonly<Record<string, Shaped | null | undefined>>;

/** The container of `G` with the batch dimension summed away. */
export type SummedGradients<G> = G extends Shaped
  ? Shaped
  : G extends readonly unknown[]
    ? (Shaped | null)[]
    : Record<string, Shaped | null>;

export interface ClipPerExampleResult<G> {
  /** Σᵢ gᵢ · min(1, C/‖gᵢ‖): same container as the input, batch dimension removed, same dtypes. */
  readonly sum: SummedGradients<G>;
  /** ‖gᵢ‖: each example's L2 norm over all leaves, before clipping (float64, length B). */
  readonly norms: Float64Array;
  /** How many examples had ‖gᵢ‖ > C and were scaled down. */
  readonly clipped: number;
}

/**
 * Per-example clipping, the first step of DP-SGD (Abadi et al. 2016): each example's gradient
 * gᵢ — all leaves of example i seen as one vector — is scaled to L2 norm at most C, and the
 * clipped gradients are summed over the batch:
 *
 *     sum = Σᵢ gᵢ / max(1, ‖gᵢ‖₂ / C)          clipped = #{ i : ‖gᵢ‖₂ > C }
 *
 * exactly optax's `per_example_global_norm_clip` (no ε in the divisor: an example at the
 * threshold is untouched). The sum then has L2 sensitivity C to adding or removing one
 * example, which is what the Gaussian noise N(0, σ²C²) of DP-SGD is calibrated to.
 *
 * Norms are the library's overflow-safe float64 `globalNorm` over each example's slices; the
 * sum accumulates in float64 and is stored in each leaf's own dtype. The input is not
 * modified. Non-finite values propagate (a NaN example makes the sum NaN), as in optax.
 *
 * @param grads per-example gradients, batch dimension first (see `PerExampleGradients`).
 * @param l2NormClip C > 0 (Infinity: no clipping, plain sum).
 */
export function clipPerExample<G extends PerExampleGradients>(grads: G, l2NormClip: number): ClipPerExampleResult<G> {
  checkClip('l2NormClip', l2NormClip);
  const { leaves, batch, per } = batchedLeaves(grads);
  const acc = per.map((n) => new Float64Array(n));
  const norms = new Float64Array(batch);
  let clipped = 0;
  const slices: FloatArray[] = new Array<FloatArray>(leaves.length);
  for (let i = 0; i < batch; i++) {
    leaves.forEach((l, k) => (slices[k] = l.values.subarray(i * per[k]!, (i + 1) * per[k]!)));
    const norm = globalNorm(slices);
    norms[i] = norm;
    if (norm > l2NormClip) clipped++;
    // optax divides by max(‖g‖/C, 1); so do we, to the last bit.
    const divisor = Math.max(norm / l2NormClip, 1);
    leaves.forEach((_, k) => addScaled(acc[k]!, slices[k]!, divisor));
  }
  return { sum: rebuild(grads, leaves, acc), norms, clipped };
}

/** Options of `clipPerExampleByLayer`. */
export interface ClipPerExampleByLayerOptions {
  /**
   * `true` (default, optax's default): each of the K layers is clipped to C/√K. `false`: layer i,
   * with Dᵢ of the model's D values per example, is clipped to C·√(Dᵢ/D).
   */
  readonly uniform?: boolean;
}

export interface ClipPerExampleByLayerResult<G> {
  /** Σᵢ of each example's layer-wise clipped gradient: same container as the input, batch dimension removed. */
  readonly sum: SummedGradients<G>;
  /** One entry per layer (the non-null leaves, in container order): ‖gᵢ,ₖ‖ of each example i before clipping. */
  readonly norms: Float64Array[];
  /** One count per layer (same order as `norms`): how many examples had that layer scaled down. */
  readonly clipped: number[];
}

/**
 * Per-layer per-example clipping (McMahan et al. 2017, "Learning Differentially Private Recurrent
 * Language Models"; Opacus `clipping="per_layer"`): every layer k of every example i is clipped on
 * its own to a per-layer threshold Cₖ, and the clipped gradients are summed over the batch:
 *
 *     sumₖ = Σᵢ gᵢ,ₖ / max(1, ‖gᵢ,ₖ‖₂ / Cₖ)        clippedₖ = #{ i : ‖gᵢ,ₖ‖₂ > Cₖ }
 *     uniform (default):   Cₖ = C · √(1/K)                 K layers (non-null leaves)
 *     uniform: false:      Cₖ = C · √(Dₖ / D)               Dₖ values per example in layer k, D = Σ Dₖ
 *
 * exactly optax's `per_example_layer_norm_clip`. Either way Σₖ Cₖ² = C², so each example's whole
 * clipped gradient has L2 norm at most C and the sum has sensitivity C, the same as
 * `clipPerExample`: DP-SGD's noise N(0, σ²C²) is calibrated to C as before. With one layer this
 * is `clipPerExample`.
 *
 * Same input conventions as `clipPerExample` (batch dimension first, the input is untouched,
 * float64 accumulation, each leaf keeps its dtype, non-finite values propagate).
 *
 * @param grads per-example gradients, batch dimension first (see `PerExampleGradients`).
 * @param l2NormClip C > 0, the bound on each example's whole gradient (Infinity: no clipping).
 */
export function clipPerExampleByLayer<G extends PerExampleGradients>(
  grads: G,
  l2NormClip: number,
  options: ClipPerExampleByLayerOptions = {},
): ClipPerExampleByLayerResult<G> {
  checkClip('l2NormClip', l2NormClip);
  if (typeof options !== 'object' || options === null)
    throw new TypeError(`options must be an object, got ${describe(options)}`);
  for (const key of Object.keys(options)) {
    if (key !== 'uniform') throw new TypeError(`options.${key} is not an option of clipPerExampleByLayer`);
  }
  const uniform = options.uniform ?? true;
  if (typeof uniform !== 'boolean') throw new TypeError(`options.uniform must be a boolean, got ${describe(uniform)}`);
  const { leaves, batch, per } = batchedLeaves(grads);
  const total = per.reduce((a, b) => a + b, 0);
  // optax's arithmetic: C · (1/K)^0.5 or C · (Dₖ/D)^0.5 (an empty model clips nothing).
  const limits = per.map((d) =>
    uniform ? l2NormClip * (1 / leaves.length) ** 0.5 : total === 0 ? l2NormClip : l2NormClip * (d / total) ** 0.5,
  );
  const acc = per.map((n) => new Float64Array(n));
  const norms = per.map(() => new Float64Array(batch));
  const clipped = per.map(() => 0);
  leaves.forEach((l, k) => {
    const n = per[k]!;
    const limit = limits[k]!;
    for (let i = 0; i < batch; i++) {
      const slice = l.values.subarray(i * n, (i + 1) * n);
      const norm = globalNorm(slice);
      norms[k]![i] = norm;
      if (norm > limit) clipped[k]!++;
      addScaled(acc[k]!, slice, Math.max(norm / limit, 1));
    }
  });
  return { sum: rebuild(grads, leaves, acc), norms, clipped };
}

function checkClip(name: string, c: unknown): void {
  if (typeof c !== 'number') throw new TypeError(`${name} must be a number > 0, got ${describe(c)}`);
  if (!(c > 0)) throw new RangeError(`${name} must be > 0, got ${c}`);
}

function addScaled(acc: Float64Array, s: FloatArray, divisor: number): void {
  for (let j = 0; j < s.length; j++) acc[j]! += s[j]! / divisor;
}

/** The leaves, checked to share one batch dimension, and each leaf's values per example. */
function batchedLeaves(grads: PerExampleGradients): { leaves: Leaf[]; batch: number; per: number[] } {
  const leaves = leavesOf(grads, 'grads');
  const path = (name: string) =>
    name === '' ? 'grads' : Array.isArray(grads) ? `grads[${name}]` : `grads[${JSON.stringify(name)}]`;
  let batch = -1;
  let first = '';
  for (const l of leaves) {
    if (l.values === (grads as unknown) || l.shape.length === 0) {
      throw new TypeError(
        `${path(l.name)} must be { values, shape } with the batch dimension first, got ${describe(l.values)}`,
      );
    }
    const b = l.shape[0]!;
    if (batch < 0) {
      batch = b;
      first = l.name;
    } else if (b !== batch) {
      throw new RangeError(
        `${path(l.name)}.shape[0] is ${b} but ${path(first)}.shape[0] is ${batch}: every leaf needs the same batch dimension`,
      );
    }
  }
  if (batch < 0) batch = 0;
  // Values per example: the product of the non-batch dimensions (also right when B = 0).
  const per = leaves.map((l) => l.shape.slice(1).reduce((a, b) => a * b, 1));
  return { leaves, batch, per };
}

/** The summed leaves back in the input's container, each in its own dtype. */
function rebuild<G extends PerExampleGradients>(grads: G, leaves: Leaf[], acc: Float64Array[]): SummedGradients<G> {
  const summed = new Map<string, Shaped>();
  leaves.forEach((l, k) => {
    const values = l.values instanceof Float32Array ? Float32Array.from(acc[k]!) : acc[k]!;
    summed.set(l.name, { values, shape: l.shape.slice(1) });
  });
  let sum: unknown;
  if (isShaped(grads)) sum = summed.get('')!;
  else if (Array.isArray(grads)) sum = grads.map((_, i) => summed.get(String(i)) ?? null);
  else sum = Object.fromEntries(Object.keys(grads).map((key) => [key, summed.get(key) ?? null]));
  return sum as SummedGradients<G>;
}

function isShaped(x: unknown): x is Shaped {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && 'values' in x && 'shape' in x;
}
