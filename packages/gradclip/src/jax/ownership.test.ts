/**
 * jax-js ownership: 1,000 steps of every transformation (and chains of them) leave no device
 * buffer alive beyond what the caller holds — its parameters and the current state — counted
 * by jax-js's own accounting (the backend's slots, see `slotCounter`); `update` consumes the
 * updates and the state and leaves the caller's parameters alone; no host read happens.
 */
import { blockUntilReady, numpy as np } from '@jax-js/jax';
import { describe, expect, it } from 'vitest';
import {
  adaGC,
  agc,
  applyIfFinite,
  autoClip,
  chain,
  clipByGlobalNorm,
  clipByNorm,
  clipByValue,
  perGroup,
  zClip,
  type GradientTransformation,
} from './index.js';
import { refTree } from './transform.js';
import { arraysOf, disposeTree } from './tree.js';
import { hostReadSpy, slotCounter } from './test_utils.js';

const SHAPES = { dense: { kernel: [3, 2], bias: [2] } } as const;

/** Deterministic values; every 7th step has a NaN in it, every 5th is large. */
function valuesFor(step: number, n: number, seed: number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = Math.sin(step * 0.37 + i * 1.3 + seed) * (step % 5 === 0 ? 40 : 1);
  if (step % 7 === 3 && seed === 1) v[0] = NaN;
  return v;
}

function tree(step: number): { dense: { kernel: np.Array; bias: np.Array } } {
  const mk = (shape: readonly number[], seed: number) =>
    np
      .array(
        valuesFor(
          step,
          shape.reduce((a, b) => a * b, 1),
          seed,
        ),
      )
      .reshape([...shape]);
  return {
    dense: { kernel: mk(SHAPES.dense.kernel, 1), bias: mk(SHAPES.dense.bias, 2) },
  };
}

const CASES: [string, () => GradientTransformation, number?][] = [
  ['clipByGlobalNorm', () => clipByGlobalNorm(1)],
  ['clipByGlobalNorm skip p=1', () => clipByGlobalNorm(1, { nonFinite: 'skip', normType: 1 })],
  ['clipByNorm zero', () => clipByNorm(0.5, { nonFinite: 'zero' })],
  ['clipByValue', () => clipByValue(0.3)],
  ['agc', () => agc(0.05)],
  ['autoClip historySize 50', () => autoClip({ historySize: 50 })],
  ['zClip', () => zClip({ warmupSteps: 5 })],
  ['adaGC', () => adaGC({ warmupSteps: 5 })],
  [
    'perGroup',
    () =>
      perGroup(
        [
          { match: '*/bias', clip: null },
          { match: '*/kernel', clip: zClip() },
        ],
        clipByGlobalNorm(1),
      ),
  ],
  ['applyIfFinite(clipByGlobalNorm)', () => applyIfFinite(clipByGlobalNorm(1), { maxConsecutiveErrors: 2 })],
  [
    'chain(clipByValue, adaGC, clipByGlobalNorm)',
    () => chain(clipByValue(2), adaGC({ warmupSteps: 3 }), clipByGlobalNorm(1)),
  ],
  ['applyIfFinite(chain(zClip, autoClip))', () => applyIfFinite(chain(zClip(), autoClip({ historySize: 8 })))],
  // An unbounded AutoClip history grows by one slot a step; its state changes shape every step,
  // so it runs eagerly and compiles new kernels every step (~1 s a step here): 10 steps.
  ['autoClip unbounded', () => autoClip(), 10],
  // 'error' reads one boolean on the host, so it runs eagerly too (the steps here are finite).
  ['clipByGlobalNorm error', () => clipByGlobalNorm(1, { nonFinite: 'error' }), 30],
];

describe('gradclip/jax ownership', () => {
  it.each(CASES)('%s: 1,000 steps leave only what the caller holds', async (_name, make, steps = 1000) => {
    const slots = await slotCounter();
    const base = slots.live();
    const reads = hostReadSpy();
    const t = make();
    const params = tree(0);
    let state = t.init(refTree(params));
    const finiteOnly = _name.includes('error');
    for (let step = 1; step <= steps; step++) {
      const updates = tree(finiteOnly && step % 7 === 3 ? step + 1 : step);
      const [out, next] = t.update(updates, state, refTree(params));
      // update consumed the updates and the old state, and left the parameters to the caller.
      for (const a of arraysOf(updates)) expect(a.refCount).toBe(0);
      for (const a of arraysOf(state)) if (!arraysOf(next).includes(a)) expect(a.refCount).toBe(0);
      for (const a of arraysOf(params)) expect(a.refCount).toBe(1);
      expect(arraysOf(out).map((a) => a.shape)).toEqual([[3, 2], [2]]);
      disposeTree(out);
      state = next;
      // A training loop waits for its step (or reads its loss), which runs what jax-js has
      // queued; without it the queue of pending operations grows with every step.
      await blockUntilReady(state);
    }
    reads.restore();
    expect(reads.count()).toBe(0);
    // Alive: the caller's parameters and state, and the transformation's compiled programs.
    const held = arraysOf(params).length + arraysOf(state).length;
    disposeTree(state);
    disposeTree(params);
    t.dispose?.();
    expect(slots.live() - base).toBe(0);
    // The count above was taken with the caller's arrays and programs still alive:
    expect(held).toBeGreaterThan(0);
    slots.stop();
  });
});
