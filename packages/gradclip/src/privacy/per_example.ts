import { describe, leavesOf } from '../gradients.js';
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
  if (typeof l2NormClip !== 'number')
    throw new TypeError(`l2NormClip must be a number > 0, got ${describe(l2NormClip)}`);
  if (!(l2NormClip > 0)) throw new RangeError(`l2NormClip must be > 0, got ${l2NormClip}`);
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
    leaves.forEach((_, k) => {
      const s = slices[k]!;
      const a = acc[k]!;
      for (let j = 0; j < s.length; j++) a[j]! += s[j]! / divisor;
    });
  }

  const summed = new Map<string, Shaped>();
  leaves.forEach((l, k) => {
    const values = l.values instanceof Float32Array ? Float32Array.from(acc[k]!) : acc[k]!;
    summed.set(l.name, { values, shape: l.shape.slice(1) });
  });
  let sum: unknown;
  if (isShaped(grads)) sum = summed.get('')!;
  else if (Array.isArray(grads)) sum = grads.map((_, i) => summed.get(String(i)) ?? null);
  else sum = Object.fromEntries(Object.keys(grads).map((key) => [key, summed.get(key) ?? null]));
  return { sum: sum as SummedGradients<G>, norms, clipped };
}

function isShaped(x: unknown): x is Shaped {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && 'values' in x && 'shape' in x;
}
