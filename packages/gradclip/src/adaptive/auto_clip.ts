import {
  jsonOptions,
  makeClipper,
  splitState,
  type Clipper,
  type ClipRule,
  type StateTree,
  ruleKind,
} from '../clipper.js';
import { describe } from '../gradients.js';
import { setNormStats } from '../global_norm.js';
import { statsScalars } from '../norm_stats.js';
import { runScalars, type ArrayOps } from '../ops.js';
import type { NonFinitePolicy } from '../types.js';
import {
  inRange,
  integerAtLeast,
  knownOptions,
  nonFinitePolicy,
  stateInteger,
  stateNumber,
  orDefault,
  stateRecord,
} from '../validate.js';
import { applyFactor, factorScalars, ratioToNorm } from '../rule.js';
import { normOfStats, TORCH_EPS, valuesOf } from './common.js';
import { historyFor, type NormHistory, type NormHistoryFactory } from './norm_history.js';
import { SortedBlocks } from './order_statistics.js';

export interface AutoClipOptions {
  /** p: the clipping threshold is the p-th percentile of the norms seen so far. Default 10. */
  percentile?: number;
  /** Keep only the most recent N norms. Default Infinity (the whole history, as in the paper). */
  historySize?: number;
  /** What to do with NaN / ±Infinity gradients. Default 'propagate'. */
  nonFinite?: NonFinitePolicy;
}

/**
 * AutoClip's state on typed arrays: the finite norms seen so far — a ring of at most
 * `historySize` values whose oldest entry sits at `next` (with an unbounded history, or
 * before the ring is full, `next` is 0 and `history` is simply in insertion order).
 *
 * `clipper.state` hands out a copy (the clipper keeps appending to its own array), so a
 * snapshot can be sorted or edited without touching the clipper.
 */
export type AutoClipState = {
  readonly history: number[];
  readonly next: number;
};

export { registerNormHistory, type NormHistory, type NormHistoryFactory } from './norm_history.js';

interface Cached {
  sorted: SortedBlocks;
  next: number;
  length: number;
}

/**
 * The sorted view of each live history array. A state restored from JSON is a new array,
 * so it is rebuilt once (O(n log n)); after that every step is an insert (and, once the ring
 * is full, a delete) in the blocked sorted list.
 */
const sortedViews = new WeakMap<number[], Cached>();

/**
 * Checks a restored typed state and returns its norms oldest first (the ring read from its
 * oldest entry at `next`).
 */
function checkedHistory(state: unknown, historySize: number, arg = 'options.state'): number[] {
  if (typeof state === 'object' && state !== null && 'buf' in state)
    return checkedDeviceHistory(state, historySize, arg);
  const o = stateRecord(arg, state, 'autoClip', ['history', 'next']);
  const history = o['history'];
  if (!Array.isArray(history))
    throw new TypeError(`${arg}.history must be an array of norms, got ${describe(history)}`);
  // Plain loop: a sparse array's holes must be reported, not skipped as forEach would.
  for (let i = 0; i < history.length; i++) stateNumber(`${arg}.history[${i}]`, history[i]);
  const next = stateInteger(`${arg}.next`, o['next'], 0, Math.max(0, history.length - 1));
  const norms = history as number[];
  return [...norms.slice(next), ...norms.slice(0, next)];
}

/**
 * The tfjs device history as read back (`readState`, saved-model weights): `buf` a ring of
 * slots (NaN = empty) whose oldest entry sits at `next` once full, or, for an unbounded
 * history, every step in order (NaN for a step whose norm was not kept).
 */
function checkedDeviceHistory(state: object, historySize: number, arg: string): number[] {
  const o = stateRecord(arg, state, 'autoClip', ['buf', 'next']);
  const buf = o['buf'];
  if (!Array.isArray(buf)) throw new TypeError(`${arg}.buf must be an array of norms, got ${describe(buf)}`);
  if (historySize !== Infinity && buf.length !== historySize) {
    throw new RangeError(`${arg}.buf must hold historySize = ${historySize} slots, got ${buf.length}`);
  }
  for (let i = 0; i < buf.length; i++) {
    if (!Number.isNaN(buf[i])) stateNumber(`${arg}.buf[${i}]`, buf[i]);
  }
  const slots = buf as number[];
  const keep = (xs: number[]) => xs.filter((x) => !Number.isNaN(x));
  if (historySize === Infinity) return keep(slots);
  const next = stateInteger(`${arg}.next`, o['next'], 0, historySize - 1);
  return keep([...slots.slice(next), ...slots.slice(0, next)]);
}

const typedNormHistory = ((
  _ops: ArrayOps<unknown, number, boolean>,
  state: StateTree<number> | undefined,
  historySize: number,
) => {
  let arr: number[];
  let cached: Cached | undefined;
  const s = state as AutoClipState | undefined;
  if (s === undefined) {
    arr = [];
  } else {
    arr = s.history;
    cached = sortedViews.get(arr);
    if (cached === undefined || cached.next !== s.next || cached.length !== arr.length || arr.length > historySize) {
      // Restored (or edited) state: a copy of the ring as it was, or, when it holds more than
      // historySize norms, the most recent historySize of them, oldest first.
      const ordered = checkedHistory(s, historySize);
      // A ring that is not full must have its oldest entry first, or appends would land mid-order.
      const fits = arr.length === historySize || (arr.length < historySize && s.next === 0);
      arr = fits ? [...s.history] : ordered.slice(-historySize);
      cached = { sorted: SortedBlocks.from(arr), next: fits ? s.next : 0, length: arr.length };
    }
  }
  const view: Cached = cached ?? { sorted: SortedBlocks.from(arr), next: 0, length: arr.length };
  sortedViews.set(arr, view);
  const history: NormHistory<number, boolean> = {
    push(x, valid) {
      if (!valid) return;
      if (arr.length < historySize) {
        arr.push(x);
      } else {
        view.sorted.delete(arr[view.next]!);
        arr[view.next] = x;
        view.next = (view.next + 1) % historySize;
      }
      view.sorted.insert(x);
      view.length = arr.length;
    },
    percentile: (q) => view.sorted.percentile(q),
    toState: () => ({ history: arr, next: view.next }),
  };
  return history;
}) as unknown as NormHistoryFactory;

/** The norm history for a backend: the typed one here, others as registered (registerNormHistory). */
function historyOf<T, S, B>(ops: ArrayOps<T, S, B>): NormHistoryFactory {
  return ops.name === 'typed' ? typedNormHistory : historyFor(ops);
}

/**
 * AutoClip (Seetharaman, Wichern, Pardo & Le Roux 2020, "AutoClip: Adaptive Gradient
 * Clipping for Source Separation Networks"). Each step:
 *
 *     g = ‖∇‖₂;  history ← history ∪ {g};  τ = percentile(history, p)
 *     ∇ ← ∇ · min(1, τ / (g + 1e-6))                  (clip_grad_norm_ as in the paper's code)
 *
 * The norm is appended before the percentile is taken, so the first step is never clipped
 * (τ = g). Non-finite norms are not appended. The threshold follows the training's own
 * scale, which removes the hand-tuned threshold; p = 10 was the paper's choice.
 */
export const autoClipRule = /* @__PURE__ */ ruleKind(
  'autoClip',
  function autoClipRule(options: AutoClipOptions = {}): ClipRule<AutoClipState> {
    knownOptions('options', options, ['percentile', 'historySize', 'nonFinite']);
    const q = inRange('options.percentile', options.percentile ?? 10, 0, 100);
    const historySize = integerAtLeast('options.historySize', options.historySize ?? Infinity, 1, true);
    const policy = nonFinitePolicy('options.nonFinite', orDefault(options.nonFinite, 'propagate'));
    return {
      name: 'autoClip',
      needsParams: false,
      // Canonical form: oldest first, at most historySize norms (the most recent ones), next = 0.
      // The tfjs device history reads the same form, so both keep the same norms.
      restore: (state: unknown, arg?: string): AutoClipState => ({
        history: checkedHistory(state, historySize, arg).slice(-historySize),
        next: 0,
      }),
      nonFinite: policy,
      config: { kind: 'autoClip', args: [jsonOptions(options)] },
      init: (ops) => historyOf(ops)(ops, undefined, historySize).toState(),
      apply(ops, grads, _params, state) {
        const values = valuesOf(grads);
        // Two scalar blocks around the history's percentile (a tensor operation on the device).
        const stats = statsScalars(setNormStats(ops, values, 2));
        const n = runScalars(ops, { s: stats, b: {} }, (o, x) => {
          const { norm, finite, valid } = normOfStats(o, { p: 2, ...x.s });
          return { s: { norm }, b: { finite, valid } };
        });
        const history = historyOf(ops)(ops, state, historySize);
        history.push(n.s.norm, n.b.valid);
        const threshold = history.percentile(q);
        const r = runScalars(ops, { s: { ...stats, norm: n.s.norm, threshold }, b: { finite: n.b.finite } }, (o, x) => {
          const { norm, threshold: t, ...st } = x.s;
          const one = o.scalar(1);
          // An empty history (only after non-finite steps) has no threshold: no clipping.
          const factor = o.where(o.isNaN(t), one, o.min(one, ratioToNorm(o, t, norm, TORCH_EPS, { p: 2, ...st })));
          return factorScalars(o, policy, norm, x.b.finite, factor);
        });
        return { out: { ...applyFactor(ops, values, r, policy), threshold }, state: history.toState() };
      },
    };
  },
);

/**
 * AutoClip: clips to a percentile of the gradient norms seen so far.
 *
 * @example
 * const clipper = autoClip({ percentile: 10 });
 * for (const grads of batches) clipper.clip(grads);
 * localStorage.setItem('autoclip', JSON.stringify(clipper.state)); // resume with autoClip({ state })
 */
export function autoClip(options: AutoClipOptions & { state?: AutoClipState } = {}): Clipper<AutoClipState> {
  const { state, rest } = splitState(options);
  return makeClipper(autoClipRule(rest), state as never);
}
