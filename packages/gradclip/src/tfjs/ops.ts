import * as tf from '@tensorflow/tfjs-core';
import { unitReduceAxes } from '../units.js';
import type { ArrayOps, NormStats, UnitLayout } from '../ops.js';
import './norm_history.js';
import { fusedNormStats, fusedScale, fusedSetNormStats, hasFusedKernels, select } from './kernels.js';
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
    NAN_PROPAGATING.has(tf.getBackend()) ? f(a, b) : (where(tf.logicalOr(tf.isNaN(a), tf.isNaN(b)), tf.add(a, b), f(a, b)) as S);
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
  const shape = tf.backend_util.assertAndGetBroadcastShape(tf.backend_util.assertAndGetBroadcastShape(c.shape, a.shape), b.shape);
  const grow = (x: tf.Tensor) =>
    tf.util.arraysEqual(x.shape, shape) ? x : x.dtype === 'bool' ? tf.logicalAnd(x, tf.ones(shape, 'bool')) : tf.add(x, tf.zeros(shape, x.dtype));
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

/**
 * Norm statistics of one tensor from composed tf ops (the fallback where no fused kernel is
 * registered, e.g. webgl). Several passes: |x|, finite mask, max, the scaled power sum and
 * the NaN / Infinity counts. float32 throughout, but the sum is relative to the largest
 * finite |x|, so its terms lie in [0, 1] and it cannot overflow or underflow.
 */
function composedNormStats(t: T, p: number): NormStats<S> {
  if (t.size === 0) {
    const z = tf.scalar(0);
    return { p, ref: z, sum: z, nan: z, inf: z };
  }
  const a = tf.abs(tf.reshape(t, [-1]));
  const finite = tf.isFinite(a);
  const zero = tf.scalar(0);
  const af = tf.where(finite, a, tf.zerosLike(a));
  const ref = tf.max(af) as S;
  const nan = tf.sum(tf.cast(tf.isNaN(a), 'float32')) as S;
  const inf = tf.sum(tf.cast(tf.isInf(a), 'float32')) as S;
  if (p === Infinity) return { p, ref, sum: zero, nan, inf };
  const positive = tf.greater(ref, zero);
  const rel = tf.div(af, tf.where(positive, ref, tf.scalar(1)));
  const powered = p === 1 ? rel : p === 2 ? tf.square(rel) : tf.pow(rel, tf.scalar(p));
  return { p, ref, sum: tf.sum(powered) as S, nan, inf };
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

  normStats(t, p) {
    const composed = () => composedNormStats(t, p);
    return hasFusedKernels() ? fusedNormStats(t, p, composed) : composed();
  },
  normStatsOfSet(ts, p) {
    const composed = () => mergeAllNormStats(tfOps, p, ts.map((t) => composedNormStats(t, p)));
    return ts.length > 0 && hasFusedKernels() ? fusedSetNormStats(ts, p, composed) : composed();
  },
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
