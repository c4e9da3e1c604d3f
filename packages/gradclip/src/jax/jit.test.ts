/**
 * gradclip/jax inside the caller's own `jit`, as optax transformations are used in a compiled
 * training step (`jit((params, state, x, y) => …update…)`): the same numbers as the update called
 * on its own, no device buffer left behind after many compiled steps, and a clear error for what
 * cannot be compiled (a host read; DP-SGD's host-drawn noise, which jit would freeze into the
 * program).
 */
import { blockUntilReady, jit, numpy as np, type JsTree } from '@jax-js/jax';
import { describe, expect, it } from 'vitest';
import {
  adaGC,
  agc,
  applyIfFinite,
  chain,
  clipByGlobalNorm,
  clipByNorm,
  clipByValue,
  dpSgdAggregate,
  perGroup,
  zClip,
  type GradientTransformation,
  type OptState,
} from './index.js';
import { refTree } from './transform.js';
import { arraysOf, disposeTree } from './tree.js';
import { arr, hostReadSpy, slotCounter, values } from './test_utils.js';

type Tree = { w: np.Array; b: np.Array };

/** Step k's updates: varied magnitudes, a NaN at k = 4 (k % 9 === 4). */
function updates(k: number): Tree {
  const s = k % 3 === 0 ? 30 : 0.5;
  const w = [0, 1, 2, 3, 4, 5].map((i) => Math.sin(k * 0.7 + i) * s);
  if (k % 9 === 4) w[2] = NaN;
  return { w: arr(w, [3, 2]), b: arr([Math.cos(k) * s, 0.25]) };
}
const params = (): Tree => ({ w: arr([1, -2, 0.5, 3, -1, 2], [3, 2]), b: arr([0.1, -0.3]) });

const CASES: [string, () => GradientTransformation][] = [
  ['clipByGlobalNorm', () => clipByGlobalNorm(1)],
  ['clipByGlobalNorm skip', () => clipByGlobalNorm(1, { nonFinite: 'skip' })],
  ['clipByNorm', () => clipByNorm(0.5)],
  ['clipByValue', () => clipByValue(0.3)],
  ['agc', () => agc(0.05)],
  ['zClip', () => zClip({ warmupSteps: 2 })],
  ['adaGC', () => adaGC({ warmupSteps: 2 })],
  ['perGroup', () => perGroup([{ match: 'b', clip: clipByValue(0.2) }], clipByGlobalNorm(1))],
  ['applyIfFinite(clipByGlobalNorm)', () => applyIfFinite(clipByGlobalNorm(1))],
  ['chain(clipByValue, zClip)', () => chain(clipByValue(2), zClip({ warmupSteps: 2 }))],
];

/** A compiled step: the transformation's update inside the caller's jit. */
function compiledUpdate(t: GradientTransformation) {
  return jit((u: Tree, s: OptState, p: Tree) => t.update(u, s, p) as [Tree, JsTree<np.Array>]);
}

describe('gradclip/jax inside the caller’s jit', () => {
  it.each(CASES)('%s: the same numbers as the update on its own, step by step', async (_name, make) => {
    const eager = make();
    const compiled = make();
    const step = compiledUpdate(compiled);
    const p = params();
    let se = eager.init(refTree(p));
    let sc = compiled.init(refTree(p));
    for (let k = 1; k <= 12; k++) {
      const [oe, ne] = eager.update(updates(k), se, refTree(p));
      const [oc, nc] = step(updates(k), sc, refTree(p));
      se = ne;
      sc = nc as OptState;
      await blockUntilReady([oe, oc]);
      for (const leaf of ['w', 'b'] as const) {
        const a = values(oe[leaf].ref);
        const b = values(oc[leaf].ref);
        a.forEach((x, i) => {
          const y = b[i]!;
          if (Number.isNaN(x)) expect(y, `step ${k} ${leaf}[${i}]`).toBeNaN();
          else
            expect(Math.abs(x - y), `step ${k} ${leaf}[${i}]: ${x} vs ${y}`).toBeLessThanOrEqual(
              1e-6 * Math.max(1, Math.abs(x)),
            );
        });
      }
      disposeTree([oe, oc]);
    }
    disposeTree([se, sc, p]);
    step.dispose();
    eager.dispose?.();
    compiled.dispose?.();
  });

  it('300 compiled steps with a clip leave only what the caller holds, and read nothing on the host', async () => {
    const slots = await slotCounter();
    const base = slots.live();
    const reads = hostReadSpy();
    const t = chain(clipByGlobalNorm(1), zClip({ warmupSteps: 3 }));
    const train = jit((p: Tree, s: OptState, u: Tree): [Tree, OptState] => {
      const [g, next] = t.update(u, s);
      return [{ w: p.w.sub(g.w.mul(0.1)), b: p.b.sub(g.b.mul(0.1)) }, next];
    });
    let p = params();
    let s = t.init(refTree(p));
    for (let k = 1; k <= 300; k++) {
      [p, s] = train(p, s, updates(k));
      await blockUntilReady(p);
    }
    reads.restore();
    expect(reads.count()).toBe(0);
    expect(arraysOf(p).every((a) => a.refCount === 1)).toBe(true);
    disposeTree([p, s]);
    train.dispose();
    t.dispose?.();
    expect(slots.live() - base).toBe(0);
    slots.stop();
  });

  it("nonFinite 'error' inside jit: a TypeError that says why and what to use instead", () => {
    const t = clipByGlobalNorm(1, { nonFinite: 'error' });
    const step = compiledUpdate(t);
    const p = params();
    const s = t.init([]);
    expect(() => step(updates(1), s, refTree(p))).toThrow(/cannot run inside jit.*'skip'/);
    disposeTree([p, s]);
    step.dispose();
    t.dispose?.();
  });

  it('dpSgdAggregate inside jit is refused: jit would freeze one noise draw into every step', () => {
    const t = dpSgdAggregate({ l2NormClip: 1, noiseMultiplier: 1 });
    const step = jit((u: np.Array, s: OptState) => t.update(u, s));
    const s = t.init([]);
    expect(() => step(np.ones([4, 3]), s)).toThrow(/dpSgdAggregate cannot run inside jit/);
    disposeTree(s);
    step.dispose();
  });
});
