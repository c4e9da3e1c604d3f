/**
 * The small set of array operations every clipping rule is written against.
 *
 * A rule is written once, as a function of an `ArrayOps<T, S, B>`:
 *   T — a tensor (a Float32Array / Float64Array here, a tf.Tensor in `gradclip/tfjs`),
 *   S — a scalar (a JS number here, a tf.Scalar on device),
 *   B — a boolean (a JS boolean here, a bool tf.Scalar on device).
 * Because data-dependent decisions go through `where` / `choose` instead of `if`, the
 * tfjs backend runs every rule without reading anything back to the host.
 *
 * Typed-array `T` operations work in place and return their argument; tensor backends
 * return new tensors. Rules always use the returned value, so both behave the same.
 */
export interface ScalarOps<S, B> {
  scalar(x: number): S;
  add(a: S, b: S): S;
  sub(a: S, b: S): S;
  mul(a: S, b: S): S;
  div(a: S, b: S): S;
  /** NaN-propagating minimum / maximum (like Math.min / Math.max, torch.minimum). */
  min(a: S, b: S): S;
  max(a: S, b: S): S;
  pow(a: S, e: number): S;
  sqrt(a: S): S;
  gt(a: S, b: S): B;
  ge(a: S, b: S): B;
  eq(a: S, b: S): B;
  and(a: B, b: B): B;
  or(a: B, b: B): B;
  not(a: B): B;
  bool(x: boolean): B;
  isFinite(a: S): B;
  isNaN(a: S): B;
  where(c: B, a: S, b: S): S;
}

/**
 * Mergeable norm statistics of some values (a tensor, a shard, a whole set):
 * ‖x‖_p^p = ref^p · sum over the finite entries, ref = max finite |x|.
 * Keeping the sum relative to the largest value makes it lie in [1, n] (or be 0), so it can
 * neither overflow nor underflow however large or small the values are, and statistics of
 * shards can be merged by rescaling to the larger ref. Plain numbers in the typed-array
 * core, so a shard's statistics can be sent over any transport (JSON, MPI, WebSocket).
 */
export interface NormStats<S> {
  /** The p of the p-norm these statistics belong to. */
  readonly p: number;
  /** Largest finite |x| (0 when there is none). */
  readonly ref: S;
  /** Σ (|x| / ref)^p over the finite entries (0 when ref is 0; unused for p = Infinity). */
  readonly sum: S;
  /** Number of NaN entries. */
  readonly nan: S;
  /** Number of ±Infinity entries. */
  readonly inf: S;
}

/** Named scalars of a fused block: numbers in `s`, booleans in `b`. */
export interface Scalars<S, B, N extends string, F extends string> {
  readonly s: { readonly [k in N]: S };
  readonly b: { readonly [k in F]: B };
}

/**
 * A pure computation on scalars, written once with whatever scalar operations it is given:
 * the backend's own (numbers, tf.Scalars), or symbolic ones that compile it into one GPU program
 * (gradclip/tfjs on webgl / webgpu). It must not read values on the host nor keep its arguments.
 */
export type ScalarBlock<I extends string, J extends string, O extends string, P extends string> = <S2, B2>(
  ops: ScalarOps<S2, B2>,
  x: Scalars<S2, B2, I, J>,
) => Scalars<S2, B2, O, P>;

/** What `ArrayOps.normStatsEach` returns: per-tensor statistics and how to take them apart. */
export interface EachNormStats<S> {
  /** Every tensor's statistics, one entry per tensor in each field. */
  readonly each: NormStats<S>;
  /** The statistics of the whole set (what merging every tensor's gives). */
  readonly all: NormStats<S>;
  /** A per-tensor value computed from `each`, as one scalar per tensor. */
  split(v: S): S[];
  /** One scalar per tensor (in order) as a per-tensor value, the inverse of `split`. */
  join(xs: readonly S[]): S;
  /** The smallest entry of a per-tensor value (NaN if any entry is NaN). */
  min(v: S): S;
}

export interface ArrayOps<T, S, B> extends ScalarOps<S, B> {
  readonly name: string;
  /**
   * Optional: runs a scalar block as one unit. On a GPU every scalar operation is a program
   * of its own, and a rule's arithmetic between its statistics and its factor is a few dozen
   * of them; gradclip/tfjs compiles the block into one program per output type instead.
   * Without it, `runScalars` calls the block with these ops.
   */
  fuse?<I extends string, J extends string, O extends string, P extends string>(
    x: Scalars<S, B, I, J>,
    block: ScalarBlock<I, J, O, P>,
  ): Scalars<S, B, O, P>;
  /** Norm statistics of one tensor (overflow- and underflow-safe). */
  normStats(t: T, p: number): NormStats<S>;
  /**
   * Optional: the merged statistics of a whole set in one call (what `setNormStats` computes by
   * merging per-tensor statistics). Backends where every scalar op has a fixed cost provide it
   * — gradclip/tfjs does it in one fused kernel instead of ~12 scalar ops per tensor.
   */
  normStatsOfSet?(ts: readonly T[], p: number): NormStats<S>;
  /**
   * Optional: the statistics of every tensor of a set on its own, in one call, as values that
   * hold one entry per tensor (gradclip/tfjs: vectors, on which its scalar operations work
   * elementwise), so that a per-tensor rule does its arithmetic once for all tensors rather
   * than once per tensor. Undefined where it does not apply; the rule then goes tensor by tensor.
   */
  normStatsEach?(ts: readonly T[], p: number): EachNormStats<S> | undefined;
  /** t · s. */
  scale(t: T, s: S): T;
  /**
   * Optional: every tensor of a set times the same s, in one call (results in order). The
   * typed-array ops provide it so that a threaded gradient arena scales the set at once.
   */
  scaleSet?(ts: readonly T[], s: S): T[];
  /** clamp(t, −c, c); NaN stays NaN. */
  clamp(t: T, c: number): T;
  /**
   * Optional: clamps every tensor (as `clamp`) and returns the norm statistics of the values as
   * they were before, in one pass over memory instead of two. The typed-array ops provide it
   * (value clipping then reads and writes each value once, like PyTorch's clamp).
   */
  clampWithStats?(ts: readonly T[], c: number, p: number): { out: T[]; stats: NormStats<S> };
  /** A tensor of zeros shaped like t (typed arrays: t filled with 0). */
  zeros(t: T): T;
  /**
   * Picks one of two computations. Typed arrays evaluate only the chosen branch (the other
   * would mutate the gradients in place); device backends evaluate both and select, so no
   * value is read back to the host.
   */
  choose(c: B, a: () => T[], b: () => T[]): T[];
  /** Reads a boolean on the host. Only the 'error' non-finite policy needs this. */
  readBool(b: B): boolean;
  /**
   * Optional: whether each tensor holds only finite values, read on the host (one read). Only the
   * 'error' policy's error path calls it, to name the offending gradients; it may throw when the
   * flags cannot be read back (the error then names no tensor).
   */
  finiteEach?(ts: readonly T[]): boolean[];

  // Unit-wise operations (AGC). A "unit" is one output neuron / filter: see `UnitLayout`
  // and `unitReduceAxes` in adaptive/units.ts for which axes are reduced.
  /**
   * L2 norm of every unit of t, as a small tensor with one value per unit (typed arrays: a
   * new Float64Array in unit order; tensor backends: keep the reduced dims so it broadcasts
   * against t). Overflow-safe like `normStats`; a unit holding NaN gives NaN, else ±Infinity
   * gives Infinity.
   */
  unitNorms(t: T, shape: readonly number[], layout: UnitLayout): T;
  /**
   * Elementwise f(a, b) over two unit tensors of the same shape. f is written with the
   * scalar operations of this backend: typed arrays call it once per unit with numbers,
   * tensor backends call it once with the whole tensors (their scalar ops broadcast).
   */
  mapUnits(a: T, b: T, f: (x: S, y: S) => S): T;
  /** t with every unit multiplied by its own factor (factors shaped like `unitNorms`' result). */
  scaleUnits(t: T, shape: readonly number[], layout: UnitLayout, factors: T): T;
  /** Smallest element (NaN if any element is NaN; +Infinity for an empty tensor). */
  minOf(t: T): S;
}

/**
 * How a tensor is split into units for unit-wise rules (AGC):
 *   'tf'    (TF.js, Keras, JAX / optax: dense [in, out], conv HWIO) — rank ≤ 1: the whole
 *           tensor; rank 2, 3: reduce axis 0; rank 4: reduce axes 0, 1, 2; rank 5: 0..3;
 *   'torch' (PyTorch: dense [out, in], conv OIHW) — rank ≤ 1: the whole tensor; otherwise
 *           reduce every axis but axis 0.
 */
export type UnitLayout = 'tf' | 'torch';

/** Runs a scalar block with the backend's fused evaluation where it has one, else op by op. */
export function runScalars<T, S, B, I extends string, J extends string, O extends string, P extends string>(
  ops: ArrayOps<T, S, B>,
  x: Scalars<S, B, I, J>,
  block: ScalarBlock<I, J, O, P>,
): Scalars<S, B, O, P> {
  return ops.fuse !== undefined ? ops.fuse(x, block) : block(ops, x);
}
