import * as tf from '@tensorflow/tfjs-core';
import { unitReduceAxes } from '../units.js';
import type { ArrayOps, EachNormStats, NormStats, UnitLayout } from '../ops.js';
import './norm_history.js';
import {
  fusedEachNormStats,
  fusedNormStats,
  fusedScalars,
  fusedScale,
  fusedSetNormStats,
  hasFusedKernels,
  select,
} from './kernels.js';
import { mergeAllNormStats } from '../norm_stats.js';

type T = tf.Tensor;
type S = tf.Scalar;

/**
 * NaN-propagating binary minimum / maximum. tf.minimum / tf.maximum propagate NaN on the cpu,
 * webgl and webgpu backends but not on wasm (C++ std::min / std::max return the other operand)
 * nor, for all we know, on others (TensorFlow's Minimum is x < y ? x : y), and the rules
 * rely on a NaN norm staying NaN (PyTorch's arithmetic), so a NaN operand is forced through:
 * a + b is NaN whenever either is.
 */
function nanSafe(f: (a: S, b: S) => S): (a: S, b: S) => S {
  return (a, b) =>
    NAN_PROPAGATING.has(tf.getBackend())
      ? f(a, b)
      : (where(tf.logicalOr(tf.isNaN(a), tf.isNaN(b)), tf.add(a, b), f(a, b)) as S);
}

/**
 * Backends whose Minimum / Maximum kernels already propagate NaN: cpu (Math.min / Math.max),
 * webgl and webgpu (their shaders test isnan first). On these the guard above would only add
 * five kernels per call — five shader programs on a GPU.
 */
const NAN_PROPAGATING = new Set(['cpu', 'webgl', 'webgpu']);

/**
 * tf.where that broadcasts with elementwise ops. tf.where broadcasts its arguments with Tile,
 * and the cpu backend's Tile reads its input through readSync — a host read on every call.
 * Expanding with `x + 0` (numbers) or `c AND true` (bools) is a plain binary op instead.
 */
function where(c: tf.Tensor, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const same = tf.util.arraysEqual(c.shape, a.shape) && tf.util.arraysEqual(a.shape, b.shape);
  if (same) return tf.where(c, a, b);
  const shape = tf.backend_util.assertAndGetBroadcastShape(
    tf.backend_util.assertAndGetBroadcastShape(c.shape, a.shape),
    b.shape,
  );
  const grow = (x: tf.Tensor) =>
    tf.util.arraysEqual(x.shape, shape)
      ? x
      : x.dtype === 'bool'
        ? tf.logicalAnd(x, tf.ones(shape, 'bool'))
        : tf.add(x, tf.zeros(shape, x.dtype));
  return tf.where(grow(c), grow(a), grow(b));
}

/**
 * L2 norm of each unit (AGC), overflow-safe like `normStats`: relative to the unit's largest
 * finite |x|, so float32 squares cannot overflow (a unit of 1e20s has norm ~1e20, not Inf).
 * The result keeps the reduced dims, so it broadcasts against the tensor.
 */
function unitNorms(t: T, shape: readonly number[], layout: UnitLayout): T {
  const x = shape.length === 0 ? tf.reshape(t, [1]) : tf.reshape(t, [...shape]);
  const axes = unitReduceAxes(x.rank, layout);
  const a = tf.abs(x);
  const zero = tf.scalar(0);
  const af = tf.where(tf.isFinite(a), a, tf.zerosLike(a));
  const ref = tf.max(af, axes, true);
  const safe = tf.where(tf.greater(ref, zero), ref, tf.onesLike(ref));
  const norm = tf.mul(ref, tf.sqrt(tf.sum(tf.square(tf.div(af, safe)), axes, true)));
  const hasNaN = tf.any(tf.isNaN(a), axes, true);
  const hasInf = tf.any(tf.isInf(a), axes, true);
  return tf.where(hasNaN, tf.fill(norm.shape, NaN), tf.where(hasInf, tf.fill(norm.shape, Infinity), norm));
}

/** float32's smallest normal number: references below it are raised to it (a subnormal divisor may be flushed to 0). */
const TINY = 2 ** -126;

/**
 * Merged norm statistics of a set of tensors from composed tf ops: the path for backends
 * without gradclip's kernels (and with them turned off). Two passes over each tensor — its
 * largest |x|, then the sum of (|x| / that)^p — which is the least composed ops can do safely:
 * eager tfjs evaluates both branches of a `where`, so a cheaper unscaled sum (the naive clip's
 * sum of squares, which overflows for |x| ≳ 1e19 in float32) could not be skipped when it is
 * not needed; it would only add a pass.
 *
 * Per tensor: m = max |x| and s = Σ (|x| / m)^p, so the terms lie in [0, 1] and s in
 * [1, n]: no overflow or underflow. Non-finite values need no pass of their own: with m finite
 * a NaN makes s NaN; with m = ±Infinity (or NaN) the divisor is 1 and s is Infinity (or NaN).
 * All scalar logic then runs once, on the stacked per-tensor results: which tensors held a NaN
 * or an Infinity (counted per tensor here, not per value: the rules only ask whether there
 * were any), the references (the largest finite |x|, raised to TINY as the divisor is;
 * 0 for a tensor that held a non-finite value), and the merge (rescale every sum to the
 * largest reference and add, as mergeNormStats does).
 */
function composedSetNormStats(ts: readonly T[], p: number): NormStats<S> {
  const parts = ts.filter((t) => t.size > 0);
  if (parts.length === 0) return mergeAllNormStats(tfOps, p, []);
  const abs = parts.map((t) => tf.abs(tf.reshape(t, [-1])));
  const m = tf.stack(abs.map((a) => tf.max(a)));
  // The divisors of all tensors at once (one op each, not five per tensor). A division, not a
  // multiplication by 1/m: for m > 2^126 the reciprocal is a float32 subnormal with few
  // significant bits, so |x|·(1/m) could exceed 1 and a norm just under float32's maximum
  // came out Infinity (issue 22: fast-check seed -1706097287, |x| = 3.4028228579130005e38).
  const div = tf.unstack(tf.where(tf.isFinite(m), tf.maximum(m, tf.scalar(TINY)), tf.onesLike(m)));
  const sums = tf.stack(
    abs.map((a, i) => {
      const r = tf.div(a, div[i]!);
      // p = ∞ needs no sum, but the sum of |x|/m is what reveals a NaN that max skipped.
      return tf.sum(p === 1 || p === Infinity ? r : p === 2 ? tf.square(r) : tf.pow(r, tf.scalar(p)));
    }),
  );
  const nanV = tf.logicalOr(tf.isNaN(sums), tf.isNaN(m));
  const infV = tf.logicalAnd(tf.logicalNot(nanV), tf.logicalOr(tf.isInf(sums), tf.isInf(m)));
  const ok = tf.logicalAnd(tf.logicalNot(tf.logicalOr(nanV, infV)), tf.greater(m, tf.scalar(0)));
  const zeros = tf.zerosLike(m);
  // p = ∞: the norm is the reference itself, so it is not raised.
  const refs = tf.where(ok, p === Infinity ? m : tf.maximum(m, tf.scalar(TINY)), zeros);
  return mergeStacked({
    p,
    ref: refs,
    sum: tf.where(ok, sums, zeros),
    nan: tf.cast(nanV, 'float32'),
    inf: tf.cast(infV, 'float32'),
  });
}

/**
 * Merges statistics stacked as vectors (one entry per tensor) into those of the whole set, as
 * mergeNormStats does pairwise: the largest reference, every sum rescaled to it (ref_i / ref ≤ 1:
 * the rescaled sums cannot overflow; a zero ref leaves every sum 0), the counts added.
 */
function mergeStacked(v: NormStats<tf.Tensor>): NormStats<S> {
  const { p } = v;
  const ref = tf.max(v.ref) as S;
  const nan = tf.sum(v.nan) as S;
  const inf = tf.sum(v.inf) as S;
  if (p === Infinity) return { p, ref, sum: tf.scalar(0), nan, inf };
  const rel = tf.div(v.ref, tf.where(tf.greater(ref, tf.scalar(0)), ref, tf.scalar(1)));
  const weights = p === 1 ? rel : p === 2 ? tf.square(rel) : tf.pow(rel, tf.scalar(p));
  return { p, ref, sum: tf.sum(tf.mul(v.sum, weights)) as S, nan, inf };
}

/**
 * Per-tensor statistics as vectors (one entry per tensor) by the fused kernel, with their
 * merge (mergeNormStats over the entries: rescale every sum to the largest reference), the
 * split into per-tensor scalars (shallow slices on webgl) and the smallest entry.
 */
function eachNormStats(ts: readonly T[], p: number): EachNormStats<S> | undefined {
  const each = fusedEachNormStats(ts, p);
  if (each === undefined) return undefined;
  return {
    each: each as unknown as NormStats<S>,
    all: mergeStacked(each),
    split: (v) => tf.unstack(v) as S[],
    join: (xs) => tf.stack(xs as S[]) as S,
    min: (v) => tfOps.minOf(v),
  };
}

/**
 * ArrayOps over tf.Tensor: T = tf.Tensor, S = float32 tf.Scalar, B = bool tf.Scalar. Every
 * operation returns a new tensor and nothing is read back to the host (except `readBool`, used
 * only by the 'error' non-finite policy). Callers run the rules inside `tf.tidy`.
 *
 * `normStats` and `scale` use gradclip's fused kernels where they are registered for the
 * active backend (cpu, wasm: one pass over the backend's memory each); elsewhere they fall
 * back to composed ops.
 */
export const tfOps: ArrayOps<T, S, S> = {
  name: 'tfjs',
  scalar: (x) => tf.scalar(x),
  add: (a, b) => tf.add(a, b),
  sub: (a, b) => tf.sub(a, b),
  mul: (a, b) => tf.mul(a, b),
  div: (a, b) => tf.div(a, b),
  min: nanSafe((a, b) => tf.minimum(a, b)),
  max: nanSafe((a, b) => tf.maximum(a, b)),
  pow: (a, e) => (e === 1 ? a : e === 2 ? tf.square(a) : e === 0.5 ? tf.sqrt(a) : tf.pow(a, tf.scalar(e))),
  sqrt: (a) => tf.sqrt(a),
  gt: (a, b) => tf.greater(a, b),
  ge: (a, b) => tf.greaterEqual(a, b),
  eq: (a, b) => tf.equal(a, b),
  and: (a, b) => tf.logicalAnd(a, b),
  or: (a, b) => tf.logicalOr(a, b),
  not: (a) => tf.logicalNot(a),
  bool: (x) => tf.scalar(x, 'bool'),
  isFinite: (a) => tf.isFinite(a),
  isNaN: (a) => tf.isNaN(a),
  where: (c, a, b) => where(c, a, b) as S,

  fuse: (x, block) => fusedScalars(x, block, () => block(tfOps, x)),
  normStats(t, p) {
    const composed = () => composedSetNormStats([t], p);
    return hasFusedKernels() ? fusedNormStats(t, p, composed) : composed();
  },
  normStatsOfSet(ts, p) {
    const composed = () => composedSetNormStats(ts, p);
    return ts.length > 0 && hasFusedKernels() ? fusedSetNormStats(ts, p, composed) : composed();
  },
  normStatsEach: eachNormStats,
  scale: (t, s) => fusedScale(t, s),
  // The wasm backend's clip turns NaN into a bound; PyTorch (and the core) keep NaN.
  clamp: (t, c) => tf.where(tf.isNaN(t), t, tf.clipByValue(t, -c, c)),
  zeros: (t) => tf.zerosLike(t),
  choose(c, a, b) {
    // Both branches are computed and selected element-wise: choosing on the host would need
    // to read `c` back (a sync that stalls the GPU pipeline).
    const x = a();
    const y = b();
    return x.map((xi, i) => select(c, xi, y[i]!));
  },
  readBool: (b) => b.dataSync()[0] !== 0,
  finiteEach(ts) {
    if (ts.length === 0) return [];
    // A leading 1 tells real flags from a read that came back blank (SwiftShader's WebGPU loses
    // the device after the policy's first synchronous read and then reads zeros): then the
    // names are unknown rather than wrong.
    const flags = tf.tidy(() =>
      tf.concat([tf.ones([1]), tf.cast(tf.stack(ts.map((t) => tf.all(tf.isFinite(t)))), 'float32')]),
    );
    try {
      const d = flags.dataSync();
      if (d[0] !== 1) throw new Error('the per-tensor finite flags could not be read back');
      return Array.from(d.subarray(1), (x) => x !== 0);
    } finally {
      flags.dispose();
    }
  },

  unitNorms,
  mapUnits: (a, b, f) => f(a as S, b as S),
  scaleUnits(t, shape, _layout, factors) {
    const x = shape.length === 0 ? tf.reshape(t, [1]) : tf.reshape(t, [...shape]);
    return tf.reshape(tf.mul(x, factors), t.shape);
  },
  minOf(t) {
    if (t.size === 0) return tf.scalar(Infinity);
    return tf.where(tf.any(tf.isNaN(t)), tf.scalar(NaN), tf.min(t)) as S;
  },
};
