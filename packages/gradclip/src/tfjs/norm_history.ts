import * as tf from '@tensorflow/tfjs-core';
import { registerNormHistory, type NormHistory, type NormHistoryFactory } from '../adaptive/norm_history.js';
import type { StateTree } from '../clipper.js';

/**
 * AutoClip's norm history on device.
 *
 * The typed-array history is a host array with a blocked sorted list beside it; on a device
 * that would mean reading every norm back to the host each step (a sync per step), so this
 * one must differ. It is a 1-D float32 tensor held in a tf.Variable:
 *   - finite `historySize` N: a ring of N slots, NaN = empty; `next` (a device scalar) is the
 *     slot the next valid norm overwrites, i.e. the oldest one once the ring is full (the
 *     same convention as the typed state);
 *   - `historySize` Infinity: the buffer grows by one slot per step (NaN for a step whose norm
 *     was not valid), since the host cannot know, without reading, whether a norm was valid.
 * The percentile sorts the buffer on device (top-k of the negated values; on webgl, whose topk
 * reads back to the CPU, ranks by counting), counts the valid
 * entries, and interpolates linearly between the two neighbouring order statistics (NumPy's
 * default), picking them with one-hot masks instead of a gather (the cpu backend's gather
 * reads its indices through readSync).
 *
 * An unbounded history costs O(steps) memory and an O(steps log steps) sort per step on
 * device; prefer a finite historySize for long runs.
 */
export interface DeviceHistoryState {
  buf: tf.Tensor1D;
  next: tf.Scalar;
}

function fromState(state: StateTree<tf.Scalar> | undefined, size: number): DeviceHistoryState {
  if (state === undefined || state === null) {
    return {
      buf: size === Infinity ? tf.tensor1d([]) : (tf.fill([size], NaN) as tf.Tensor1D),
      next: tf.scalar(0),
    };
  }
  const s = state as unknown as Record<string, unknown>;
  if (s['buf'] instanceof tf.Tensor) return { buf: s['buf'] as tf.Tensor1D, next: s['next'] as tf.Scalar };
  // A typed-array state ({ history: number[], next }) whose numbers became scalars: oldest
  // first until the ring is full (next = 0), then the oldest at `next`.
  const history = (s['history'] as tf.Scalar[] | undefined) ?? [];
  const k = history.length;
  const values = k === 0 ? tf.tensor1d([]) : (tf.stack(history) as tf.Tensor1D);
  if (size === Infinity) return { buf: values, next: tf.scalar(k) };
  if (k >= size)
    return { buf: tf.slice(values, k - size, size), next: k === size ? (s['next'] as tf.Scalar) : tf.scalar(0) };
  return { buf: tf.concat([values, tf.fill([size - k], NaN) as tf.Tensor1D]), next: tf.scalar(k) };
}

/** NumPy-linear percentile of the non-NaN entries of `buf`; NaN when there are none. */
export function devicePercentile(buf: tf.Tensor1D, q: number): tf.Scalar {
  const len = buf.shape[0];
  if (len === 0) return tf.scalar(NaN);
  const valid = tf.logicalNot(tf.isNaN(buf));
  const n = tf.sum(tf.cast(valid, 'float32'));
  const vals = tf.where(valid, buf, tf.fill([len], Infinity));
  const pos = tf.mul(tf.scalar(q / 100), tf.sub(n, tf.scalar(1)));
  const lo = tf.floor(pos);
  const hi = tf.ceil(pos);
  const idx = tf.range(0, len, 1, 'float32');
  const zeros = tf.zerosLike(vals);
  let at: (i: tf.Tensor) => tf.Tensor;
  if (tf.getBackend() === 'webgl') {
    // tfjs-backend-webgl hands tf.topk of fewer than 100,000 values (or k > 128) to the CPU
    // through readSync. Rank by counting instead: rank_i = #{j : v_j < v_i} + #{j < i : v_j =
    // v_i} (ties broken by position, so the ranks are 0..len−1), from comparisons of the
    // [len, 1] and [1, len] views, which the GPU broadcasts without a Tile. O(len²) work in
    // one pass on the GPU; the order statistic k is the value whose rank is k.
    const col = tf.reshape(vals, [len, 1]);
    const row = tf.reshape(vals, [1, len]);
    const before = tf.less(tf.reshape(idx, [1, len]), tf.reshape(idx, [len, 1]));
    const below = tf.logicalOr(tf.less(row, col), tf.logicalAnd(tf.equal(row, col), before));
    const rank = tf.sum(tf.cast(below, 'float32'), 1);
    at = (i) => tf.sum(tf.where(tf.equal(rank, i), vals, zeros));
  } else {
    const sorted = tf.neg(tf.topk(tf.neg(vals), len).values);
    at = (i) => tf.sum(tf.where(tf.equal(idx, i), sorted, zeros));
  }
  const a = at(lo);
  const b = at(hi);
  const value = tf.add(a, tf.mul(tf.sub(pos, lo), tf.sub(b, a)));
  return tf.where(tf.greater(n, tf.scalar(0)), value, tf.scalar(NaN)) as tf.Scalar;
}

const deviceNormHistory = ((_ops: unknown, state: StateTree<tf.Scalar> | undefined, size: number) => {
  let { buf, next } = fromState(state, size);
  const history: NormHistory<tf.Scalar, tf.Scalar> = {
    push(x, valid) {
      if (size === Infinity) {
        buf = tf.concat([buf, tf.reshape(tf.where(valid, x, tf.scalar(NaN)), [1])]) as tf.Tensor1D;
        return;
      }
      const slot = tf.logicalAnd(tf.equal(tf.range(0, size, 1, 'float32'), next), valid);
      buf = tf.where(slot, tf.add(tf.zerosLike(buf), x), buf) as tf.Tensor1D;
      next = tf.where(valid, tf.mod(tf.add(next, tf.scalar(1)), tf.scalar(size)), next) as tf.Scalar;
    },
    percentile: (q) => devicePercentile(buf, q),
    toState: () => ({ buf, next }) as unknown as StateTree<tf.Scalar>,
  };
  return history;
}) as unknown as NormHistoryFactory;

registerNormHistory('tfjs', deviceNormHistory);
