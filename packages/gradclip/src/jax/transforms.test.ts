/**
 * gradclip/jax transformations on upstream test cases: optax's own (translated from
 * optax/transforms/_clipping_test.py and optax/transforms/_conditionality_test.py) and jax-js's
 * optax port's (packages/optax/test/clipByGlobalNorm.test.ts, combine.test.ts), plus the
 * adapter's contract: bad input refused before anything is consumed, the 'error' policy.
 */
import { numpy as np, type JsTree } from '@jax-js/jax';
import { describe, expect, it } from 'vitest';
import { NonFiniteGradientError } from '../rule.js';
import {
  agc,
  applyIfFinite,
  chain,
  clipByGlobalNorm,
  clipByValue,
  type GradientTransformation,
  type OptState,
} from './index.js';
import { refTree } from './transform.js';
import { arr, values } from './test_utils.js';

/** optax `scale(step)` in jax-js's optax's shape (a test double for sgd's last step). */
function scale(step: number): GradientTransformation {
  return {
    init: (params) => {
      refTree(params);
      for (const a of leaves(params)) a.dispose();
      return [];
    },
    update<P extends JsTree<np.Array>>(updates: P, state: OptState, params?: P): [P, OptState] {
      for (const a of leaves(params)) a.dispose();
      const out = Array.isArray(updates)
        ? updates.map((u) => (u as np.Array).mul(step))
        : (updates as np.Array).mul(step);
      return [out as P, state];
    },
  };
}

/** A transformation with state: counts its steps (optax's _build_stateful_sgd adds one). */
function counter(): GradientTransformation {
  return {
    init: (params) => {
      for (const a of leaves(params)) a.dispose();
      return { count: np.array(0, { dtype: np.int32 }) };
    },
    update<P extends JsTree<np.Array>>(updates: P, state: OptState, params?: P): [P, OptState] {
      for (const a of leaves(params)) a.dispose();
      return [updates, { count: (state as { count: np.Array }).count.add(1) }];
    },
  };
}

function leaves(t: unknown): np.Array[] {
  if (t instanceof np.Array) return [t];
  if (Array.isArray(t)) return t.flatMap(leaves);
  if (t !== null && typeof t === 'object') return Object.values(t).flatMap(leaves);
  return [];
}

const l2 = (xs: np.Array[]) => Math.hypot(...xs.flatMap((x) => values(x.ref)));

describe('optax/transforms/_clipping_test.py', () => {
  // setUp: init_params = ([1, 2], [3, 4]); per_step_updates = ([500, 5], [300, 3]).
  const perStep = () => [arr([500, 5]), arr([300, 3])];
  const initParams = () => [arr([1, 2]), arr([3, 4])];

  it('test_clip: a large delta leaves the updates; delta 1 makes every update 1', () => {
    const big = clipByValue(1e6);
    const [same] = big.update(perStep(), big.init(initParams()));
    expect(same.map((x) => values(x))).toEqual([
      [500, 5],
      [300, 3],
    ]);
    const one = clipByValue(1);
    const [ones] = one.update(perStep(), one.init(initParams()));
    expect(ones.map((x) => values(x))).toEqual([
      [1, 1],
      [1, 1],
    ]);
  });

  it('test_clip_by_global_norm: the norm after clipping is max_norm, repeated clipping is stable', () => {
    let updates = perStep();
    for (let i = 1; i <= 50; i++) {
      const clipper = clipByGlobalNorm(1 / i);
      [updates] = clipper.update(updates, clipper.init(initParams()));
      expect(l2(updates)).toBeCloseTo(1 / i, 6);
      const [step] = clipper.update(perStep(), clipper.init(initParams()));
      for (let k = 0; k < 2; k++) {
        const got = values(step[k]!);
        values(updates[k]!.ref).forEach((v, j) => expect(got[j]).toBeCloseTo(v, 6));
      }
      clipper.dispose?.();
    }
  });

  it('test_adaptive_grad_clip: every unit within clipping · ‖param‖, repeated clipping is stable', () => {
    let updates = perStep();
    for (let i = 1; i <= 50; i++) {
      const c = 1 / i;
      const clipper = agc(c);
      const params = initParams();
      [updates] = clipper.update(updates, clipper.init(refTree(params)), refTree(params));
      // rank-1 arrays are one unit each (optax unitwise_norm)
      updates.forEach((u, k) => expect(l2([u]) - c * l2([params[k]!])).toBeLessThan(1e-6));
      const [step] = clipper.update(perStep(), clipper.init(refTree(params)), params);
      for (let k = 0; k < 2; k++) {
        const got = values(step[k]!);
        values(updates[k]!.ref).forEach((v, j) =>
          expect(Math.abs(got[j]! - v)).toBeLessThanOrEqual(1e-6 * Math.abs(v) + 1e-7),
        );
      }
      clipper.dispose?.();
    }
  });

  it('test_adaptive_grad_clip (simple 2-D case): unit norms within clipping · ‖param‖', () => {
    const clipper = agc(1);
    const [out] = clipper.update([arr([1, 2, 3, 4], [2, 2])], clipper.init([np.onesLike(arr([0, 0, 0, 0], [2, 2]))]), [
      np.ones([2, 2]),
    ]);
    const v = values(out[0]!);
    // layout 'tf' on [2, 2]: units are the columns, ‖param column‖ = √2.
    expect(Math.hypot(v[0]!, v[2]!)).toBeLessThanOrEqual(Math.SQRT2 + 1e-6);
    expect(Math.hypot(v[1]!, v[3]!)).toBeLessThanOrEqual(Math.SQRT2 + 1e-6);
  });
});

describe('optax/transforms/_conditionality_test.py test_apply_if_finite', () => {
  // fn(p, x) = p · x, so the gradient is x; sgd(1.0) moves p by −x.
  it.each([
    ['sgd', () => scale(-1)],
    ['stateful_sgd', () => chain(scale(-1), counter())],
  ] as const)('%s', (_name, build) => {
    const opt = applyIfFinite(build(), { maxConsecutiveErrors: 2 });
    let p = 0;
    let state = opt.init(arr([0]));
    const step = (x: number) => {
      const [u, s] = opt.update(arr([x]), state, arr([p]));
      state = s;
      p += values(u)[0]!;
      return s as unknown as { notfinite_count: np.Array; last_finite: np.Array; total_notfinite: np.Array };
    };
    let s = step(1);
    expect(p).toBe(-1);
    expect(s.last_finite.ref.js()).toBe(true);
    for (let k = 0; k < 2; k++) {
      s = step(NaN);
      expect(p).toBe(-1);
      expect(s.last_finite.ref.js()).toBe(false);
      expect(s.notfinite_count.ref.js()).toBe(k + 1);
    }
    s = step(1);
    expect(p).toBe(-2);
    expect(s.last_finite.ref.js()).toBe(true);
    for (let k = 0; k < 2; k++) {
      s = step(NaN);
      expect(p).toBe(-2);
      expect(s.last_finite.ref.js()).toBe(false);
      expect(s.notfinite_count.ref.js()).toBe(k + 1);
    }
    // The third NaN in a row is accepted: max_consecutive_errors = 2 reached.
    s = step(NaN);
    expect(p).toBeNaN();
    expect(s.total_notfinite.ref.js()).toBe(5);
  });

  it('keeps the wrapped state on a rejected step (the stateful inner counts accepted steps only)', () => {
    const opt = applyIfFinite(counter());
    let state = opt.init(arr([0]));
    for (const x of [1, NaN, 2, NaN, NaN, 3]) {
      const [u, s] = opt.update(arr([x]), state);
      u.dispose();
      state = s;
    }
    const st = state as unknown as { inner_state: { count: np.Array }; total_notfinite: np.Array };
    expect(st.inner_state.count.ref.js()).toBe(3);
    expect(st.total_notfinite.ref.js()).toBe(3);
  });
});

describe("jax-js's optax port: packages/optax/test/clipByGlobalNorm.test.ts, combine.test.ts", () => {
  const run = (maxNorm: number, updates: np.Array[]) => {
    const clipper = clipByGlobalNorm(maxNorm);
    const [out] = clipper.update(updates, clipper.init([np.zeros([1]), np.zeros([1])]));
    return out.map((x) => values(x));
  };
  it('no clipping when the norm is below the threshold (norm 5, maxNorm 10)', () => {
    expect(run(10, [arr([3]), arr([4])])).toEqual([[3], [4]]);
  });
  it('clips when the norm exceeds it (norm 5, maxNorm 2.5 → scale 0.5)', () => {
    const [a, b] = run(2.5, [arr([3]), arr([4])]);
    expect(a![0]).toBeCloseTo(1.5, 6);
    expect(b![0]).toBeCloseTo(2, 6);
  });
  it('multi-dimensional (norm √194 ≈ 13.93, maxNorm 5)', () => {
    const [a, b] = run(5, [arr([3, 4], [1, 2]), arr([5, 12], [1, 2])]);
    [1.08, 1.44].forEach((v, i) => expect(Math.abs(a![i]! - v)).toBeLessThan(0.01));
    [1.8, 4.31].forEach((v, i) => expect(Math.abs(b![i]! - v)).toBeLessThan(0.01));
  });
  it('zero gradients stay zero', () => {
    expect(run(1, [arr([0]), arr([0])])).toEqual([[0], [0]]);
  });
  it('chain(scale(2), scale(0.5)) leaves the updates; a clip inside a chain of optax-shaped transforms', () => {
    const params = arr([1, 2, 3]);
    const combined = chain(scale(2), clipByGlobalNorm(0.5), scale(0.5));
    const state = combined.init(params.ref);
    const [u] = combined.update([arr([0.1, 0.2, 0.3])], state, [params]);
    // 2·[0.1, 0.2, 0.3] has norm 0.748 > 0.5: clipped to norm 0.5, then halved: norm 0.25.
    expect(l2(u)).toBeCloseTo(0.25, 6);
  });
});

describe('the adapter contract', () => {
  it('refuses bad arguments by name, before consuming anything', () => {
    expect(() => clipByGlobalNorm(-1)).toThrow(RangeError);
    expect(() => clipByGlobalNorm(-1)).toThrow(/maxNorm/);
    const t = clipByGlobalNorm(1);
    const s = t.init([]);
    const g = arr([1, 2]);
    expect(() => t.update({ w: g, b: 'x' } as never, s)).toThrow(/updates\.b must be a jax-js array/);
    expect(() => t.update({ w: g, i: np.array([1], { dtype: np.int32 }) } as never, s)).toThrow(
      /updates\.i must be a float32/,
    );
    expect(g.refCount).toBe(1);
    const a = agc(0.01);
    expect(() => a.update([g], a.init([]))).toThrow(/needs the parameters/);
    expect(g.refCount).toBe(1);
    g.dispose();
  });

  it("nonFinite 'error' throws NonFiniteGradientError and leaves the caller's arrays alive", () => {
    const t = clipByGlobalNorm(1, { nonFinite: 'error' });
    const g = arr([1, NaN]);
    expect(() => t.update([g], t.init([]))).toThrow(NonFiniteGradientError);
    expect(g.refCount).toBe(1);
    g.dispose();
    const [ok] = t.update([arr([3, 4])], t.init([]));
    values(ok[0]!).forEach((v, i) => expect(v).toBeCloseTo([0.6, 0.8][i]!, 6));
  });

  it("nonFinite 'skip' leaves non-finite updates as they are; 'zero' zeroes them", () => {
    const skip = clipByGlobalNorm(1, { nonFinite: 'skip' });
    const [a] = skip.update([arr([3, Infinity])], skip.init([]));
    expect(values(a[0]!)).toEqual([3, Infinity]);
    const zero = clipByGlobalNorm(1, { nonFinite: 'zero' });
    const [b] = zero.update([arr([3, NaN])], zero.init([]));
    expect(values(b[0]!)).toEqual([0, 0]);
  });
});
