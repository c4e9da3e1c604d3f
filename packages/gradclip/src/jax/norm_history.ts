import { numpy as np } from '@jax-js/jax';
import { registerNormHistory, type NormHistory, type NormHistoryFactory } from '../adaptive/norm_history.js';
import type { StateTree } from '../clipper.js';
import { jaxOps, track } from './ops.js';

type A = np.Array;

/*
 * AutoClip's norm history on a jax-js device — the same design as gradclip/tfjs's (reading the
 * norms back to keep a host list would be a host read per step): a float32 vector,
 *   - finite `historySize` N: a ring of N slots, NaN = empty; `next` (a 0-d array) is the slot the
 *     next valid norm overwrites, the oldest once the ring is full (the typed state's convention);
 *   - `historySize` Infinity: grows by one slot per step (NaN for a step whose norm was not
 *     valid), since the host cannot know without reading whether a norm was valid.
 * The percentile sorts on device (jax-js sorts NaN last), counts the valid entries and
 * interpolates linearly between the two neighbouring order statistics (NumPy's default), picking
 * them with one-hot masks. Every array is made through `jaxOps`' scope (see ops.ts).
 */

const s = (x: number) => jaxOps.scalar(x);
const own = track;

function vector(xs: readonly A[]): A {
  return xs.length === 0 ? own(np.zeros([0], { dtype: np.float32 })) : own(np.stack(xs.map((x) => x.ref)));
}

function fromState(state: StateTree<A> | undefined, size: number): { buf: A; next: A } {
  if (state === undefined || state === null) {
    return { buf: own(size === Infinity ? np.zeros([0], { dtype: np.float32 }) : np.full([size], NaN)), next: s(0) };
  }
  const st = state as unknown as Record<string, unknown>;
  if (st['buf'] !== undefined) return { buf: st['buf'] as A, next: st['next'] as A };
  // The typed-array form ({ history, next }) with its numbers as 0-d arrays: oldest first.
  const history = (st['history'] as A[] | undefined) ?? [];
  const k = history.length;
  const values = vector(history);
  if (size === Infinity) return { buf: values, next: s(k) };
  if (k >= size) return { buf: own(values.ref.slice([k - size, k])), next: k === size ? (st['next'] as A) : s(0) };
  return { buf: own(np.concatenate([values.ref, np.full([size - k], NaN)])), next: s(k) };
}

/** NumPy-linear percentile of the non-NaN entries of `buf`; NaN when there are none. */
function percentile(buf: A, q: number): A {
  const len = buf.shape[0]!;
  if (len === 0) return s(NaN);
  const valid = jaxOps.not(own(np.isnan(buf.ref)));
  const n = own(np.sum(valid.ref.astype(np.float32)));
  const sorted = own(np.sort(buf.ref));
  const pos = jaxOps.mul(s(q / 100), jaxOps.sub(n, s(1)));
  const lo = own(np.floor(pos.ref));
  const hi = own(np.ceil(pos.ref));
  const idx = own(np.arange(0, len, 1, { dtype: np.float32 }));
  const at = (i: A) => own(np.sum(np.where(np.equal(idx.ref, i.ref), sorted.ref, 0)));
  const a = at(lo);
  const b = at(hi);
  const value = jaxOps.add(a, jaxOps.mul(jaxOps.sub(pos, lo), jaxOps.sub(b, a)));
  return jaxOps.where(jaxOps.gt(n, s(0)), value, s(NaN));
}

const deviceNormHistory = ((_ops: unknown, state: StateTree<A> | undefined, size: number) => {
  let { buf, next } = fromState(state, size);
  const history: NormHistory<A, A> = {
    push(x, valid) {
      const v = jaxOps.where(valid, x, s(NaN));
      if (size === Infinity) {
        buf = own(np.concatenate([buf.ref, v.ref.reshape([1])]));
        return;
      }
      const slots = own(np.arange(0, size, 1, { dtype: np.float32 }));
      const slot = jaxOps.and(own(np.equal(slots.ref, next.ref)), valid);
      buf = own(np.where(slot.ref, x.ref, buf.ref));
      next = jaxOps.where(valid, own(np.remainder(jaxOps.add(next, s(1)).ref, size)), next);
    },
    percentile: (q) => percentile(buf, q),
    toState: () => ({ buf, next }) as unknown as StateTree<A>,
  };
  return history;
}) as unknown as NormHistoryFactory;

registerNormHistory('jax', deviceNormHistory);
