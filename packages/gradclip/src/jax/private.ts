import { jit, numpy as np, type JsTree } from '@jax-js/jax';
import { describe } from '../gradients.js';
import type { AccountantStep } from '../privacy/accountant.js';
import { gaussianNoise } from '../privacy/gaussian.js';
import type { RandomSource } from '../privacy/random.js';
import { checkNoiseMultiplier, checkSampleRate } from '../privacy/rdp.js';
import { onFloat64Device, TINY } from './ops.js';
import type { GradientTransformation, OptState } from './transform.js';
import { disposeTree, flattenTree, isArrayLike, type ArrayTree } from './tree.js';

/** What `clipPerExample` returns: new arrays the caller owns. */
export interface JaxClipPerExampleResult<G> {
  /** Σᵢ gᵢ · min(1, C/‖gᵢ‖): the same tree, batch dimension removed. */
  readonly sum: G;
  /** ‖gᵢ‖: each example's L2 norm over all leaves, before clipping (float32, shape [B]). */
  readonly norms: np.Array;
  /** int32 scalar: how many examples had ‖gᵢ‖ > C. */
  readonly clipped: np.Array;
}

/**
 * A compiled per-example clip (one program per tree structure and shape) around a way to take
 * each example's L2 norm of the flattened leaves ([B, n] each; borrowed, not consumed): the
 * divisors max(‖gᵢ‖/C, 1) — optax's form — the count above C and the clipped sum.
 */
function perExampleProgram(rowNorms: (flat: np.Array[], batch: number) => np.Array) {
  return jit((x: { g: np.Array[]; c: np.Array }) => {
    const batch = x.g[0]!.shape[0]!;
    const shapes = x.g.map((a) => a.shape.slice(1));
    const flat = x.g.map((a) => a.reshape([batch, -1]));
    const norms = rowNorms(flat, batch);
    const divisor = np.maximum(norms.ref.div(x.c.ref), 1).reshape([batch, 1]);
    const clipped = np.sum(np.greater(norms.ref, x.c).astype(np.int32));
    const sum = flat.map((f, k) => np.sum(f.div(divisor.ref), 0).reshape(shapes[k]!));
    divisor.dispose();
    return { sum, norms, clipped };
  });
}

/**
 * Norms without float64 (webgpu, webgl), overflow-safe: relative to each example's largest |x|.
 * jax-js has no per-row norm op, so it is composed from max, sum and sqrt along axis 1.
 */
const perExampleComposed = perExampleProgram((flat, batch) => {
  const abs = flat.map((f) => np.abs(f.ref));
  // jax-js's max propagates NaN: a NaN example has m = NaN and norm NaN, as optax's.
  const m = abs.map((a) => np.max(a.ref, 1)).reduce((p, q) => np.maximum(p, q));
  const ok = np.logicalAnd(np.isfinite(m.ref), np.greater(m.ref, 0));
  // A subnormal reference is raised to float32's smallest normal: jax-js may divide through the
  // reciprocal, and 1/m of a subnormal m is Infinity (the norm would come out Infinity).
  const safe = np.where(ok.ref, np.maximum(m.ref, TINY), 1).reshape([batch, 1]);
  const s = abs.map((a) => np.sum(np.square(a.div(safe.ref)), 1)).reduce((p, q) => p.add(q));
  return np.where(ok, safe.reshape([batch]).mul(np.sqrt(s)), np.where(np.isfinite(m.ref), 0, m));
});

/**
 * Norms where the device has float64 (cpu, wasm): each example's Σ x² accumulated in float64 in
 * one pass (no float32 overflow or underflow of the squares, so no max pass; see ops.ts), rounded
 * to float32 once. NaN and ±Infinity come out of the sum as they come out of the composed norms.
 */
const perExampleFloat64 = perExampleProgram((flat) =>
  np
    .sqrt(flat.map((f) => np.sum(np.square(f.ref.astype(np.float64)), 1)).reduce((p, q) => p.add(q)))
    .astype(np.float32),
);

/** Both compiled programs of `clipPerExample` (for tests: each device runs one of them). */
export const perExamplePrograms = { composed: perExampleComposed, float64: perExampleFloat64 } as const;

function checkClip(arg: string, c: unknown): number {
  if (typeof c !== 'number') throw new TypeError(`${arg} must be a number > 0, got ${describe(c)}`);
  if (!(c > 0)) throw new RangeError(`${arg} must be > 0, got ${c}`);
  return c;
}

/**
 * Per-example clipping on jax-js, the first step of DP-SGD (Abadi et al. 2016), with optax's
 * `per_example_global_norm_clip` numbers: each example's gradient gᵢ (every leaf's slice i, as
 * one vector) is scaled to L2 norm at most C and the results are summed over the batch,
 *
 *     sum = Σᵢ gᵢ / max(1, ‖gᵢ‖₂ / C)          clipped = #{ i : ‖gᵢ‖₂ > C }
 *
 * `grads` holds per-example gradients with the batch dimension first, as `vmap(grad(loss))`
 * gives them; it is consumed (pass `tree.ref(grads)` to keep it). Nothing is read back to the
 * host: `norms` and `clipped` are arrays.
 */
export function clipPerExample<G extends ArrayTree>(grads: G, l2NormClip: number): JaxClipPerExampleResult<G> {
  const c = checkClip('l2NormClip', l2NormClip);
  const g = flattenTree(grads, 'grads');
  if (g.leaves.length === 0) throw new TypeError('grads must hold at least one array');
  const batch = g.leaves[0]!.shape[0];
  for (const l of g.leaves) {
    const at = l.name === '' ? 'grads' : `grads.${l.name.split('/').join('.')}`;
    if (l.shape.length === 0) throw new TypeError(`${at} must have the batch dimension first, got a 0-d array`);
    if (l.shape[0] !== batch)
      throw new RangeError(
        `${at}.shape[0] is ${l.shape[0]} but the first array's is ${batch}: every leaf needs the same batch dimension`,
      );
  }
  const program = onFloat64Device(g.leaves.map((l) => l.values)) ? perExampleFloat64 : perExampleComposed;
  const r = program({ g: g.leaves.map((l) => l.values), c: np.array(c, { dtype: np.float32 }) });
  return { sum: g.rebuild(r.sum) as G, norms: r.norms, clipped: r.clipped };
}

/** Options of `dpSgdAggregate`. */
export interface DpSgdAggregateOptions {
  /** C: each example's gradient is clipped to this L2 norm. */
  readonly l2NormClip: number;
  /** σ: the noise's standard deviation is σ·C. */
  readonly noiseMultiplier: number;
  /**
   * Where the noise comes from. Default: the platform's cryptographically secure generator
   * (`secureRandom()`); `insecureSeededRandom(seed)` for tests only (it gives no privacy).
   */
  readonly random?: RandomSource;
  /** An accountant (`RDPAccountant`, `PLDAccountant`) that records every step; needs `sampleRate`. */
  readonly accountant?: { step(step: AccountantStep): unknown };
  /** q: the probability with which each example is in a batch (for the accountant). */
  readonly sampleRate?: number;
}

/**
 * DP-SGD's aggregation as a transformation (optax `differentially_private_aggregate`): takes
 * per-example gradients (batch first, e.g. from `vmap(grad(loss))`), clips each example to L2
 * norm C (`clipPerExample`), adds Gaussian noise N(0, σ²C²) to the sum and divides by the batch
 * size. Put it first in a chain. The noise is drawn on the host from gradclip's secure sampler
 * (`gaussianNoise`) and uploaded — no value of the gradients is read back. With an `accountant`,
 * each update records one step of the sampled Gaussian mechanism (σ, q).
 */
export function dpSgdAggregate(options: DpSgdAggregateOptions): GradientTransformation {
  if (typeof options !== 'object' || options === null)
    throw new TypeError(`dpSgdAggregate needs { l2NormClip, noiseMultiplier }, got ${describe(options)}`);
  const c = checkClip('options.l2NormClip', options.l2NormClip);
  if (!Number.isFinite(c)) throw new RangeError(`options.l2NormClip must be finite, got ${c}`);
  const sigma = checkNoiseMultiplier('options.noiseMultiplier', options.noiseMultiplier);
  const { random, accountant } = options;
  const q = accountant === undefined ? undefined : checkSampleRate('options.sampleRate', options.sampleRate);
  return {
    init(params) {
      disposeTree(params);
      return { count: np.array(0, { dtype: np.int32 }) };
    },
    update<P extends JsTree<np.Array>>(updates: P, state: OptState, params?: P): [P, OptState] {
      const count = (state as { count?: unknown } | null)?.count;
      const leaves = flattenTree(updates, 'updates').leaves;
      // Under jit the host-drawn noise would be traced once and frozen into the program: every
      // step would add the same noise, and the accountant's ε would be a lie.
      if ([count, ...leaves.map((l) => l.values)].some((a) => isArrayLike(a) && !(a instanceof np.Array)))
        throw new TypeError(
          'dpSgdAggregate cannot run inside jit: its noise is drawn on the host each step, and jit would freeze one draw into the compiled program (call it outside jit; clipPerExample can be used inside)',
        );
      if (!(count instanceof np.Array))
        throw new TypeError(`dpSgdAggregate: state must be what init returned, got ${describe(state)}`);
      const batch = leaves[0]?.shape[0];
      const { sum } = (() => {
        const r = clipPerExample(updates, c);
        r.norms.dispose();
        r.clipped.dispose();
        return r;
      })();
      const s = flattenTree(sum, 'sum');
      const out = s.leaves.map((l) => {
        const noise = gaussianNoise(l.values.size, sigma * c, random === undefined ? {} : { random });
        return l.values.add(np.array(Float32Array.from(noise)).reshape([...l.shape])).div(batch!);
      });
      disposeTree(params);
      const next = { count: count.add(1) };
      if (accountant !== undefined) accountant.step({ noiseMultiplier: sigma, sampleRate: q! });
      return [s.rebuild(out) as P, next];
    },
  };
}
