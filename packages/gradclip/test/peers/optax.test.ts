/**
 * optax's own clipping tests, translated: google-deepmind/optax,
 * optax/transforms/_clipping_test.py (ClippingTest), read at commit 2edbcbe (Aug 2026).
 *
 * Mapping: `clip(δ)` → clipByValue(δ); `clip_by_global_norm(c)` → clipByGlobalNorm(c, { eps: 0 })
 * (optax divides by the norm without an eps; eps: 0 is gradclip's documented TF/optax form);
 * `clip_by_block_rms(c)` → clipByNorm(c·√n) per tensor (RMS = ‖t‖/√n, and both blocks here
 * have n = 2, so one threshold serves both); `adaptive_grad_clip(c)` → agc({ clipping: c })
 * with layout 'tf' (optax's default unit axes: rank ≤ 1 the whole tensor, rank 2–3 axis 0,
 * rank 5 axes 0–3). Arrays are float32, as jnp.array makes them. Tolerances are optax's:
 * `assert_trees_all_close` rtol 1e-6 (atol 0), `assertAlmostEqual(…, places=6)`.
 *
 * Not translated (no gradclip counterpart, or someone else's):
 *   - test_per_example_global_norm_clip — per-example clipping is built in gradclip's privacy
 *     layer by another session and has its own tests.
 *   - test_per_example_layer_norm_clip — per-example, per-layer clipping with a split of the
 *     global bound across layers: gradclip has no such rule.
 *   - the custom `axis=` parts of test_adaptive_grad_clip_with_axis and
 *     test_unitwise_norm_with_axis — gradclip's AGC takes a layout ('tf' | 'torch'), not
 *     arbitrary reduction axes; their default-axis parts are translated below.
 */
import { describe, expect, it } from 'vitest';
import { agc, clipByGlobalNorm, clipByNorm, clipByValue, unitReduceAxes } from 'gradclip';
import { expectAllClose, expectAlmostEqual, l2, OPTAX_CLOSE } from './close.js';
import { unitNormsPrefix } from './units.js';

const SRC = 'google-deepmind/optax optax/transforms/_clipping_test.py';
const STEPS = 50;

/** setUp: init_params and per_step_updates, fresh copies (gradclip clips in place). */
const initParams = (): Float32Array[] => [new Float32Array([1, 2]), new Float32Array([3, 4])];
const perStepUpdates = (): Float32Array[] => [new Float32Array([500, 5]), new Float32Array([300, 3])];
const rms = (x: Float32Array) => l2(x) / Math.sqrt(x.length);

const shaped = (values: Float32Array, shape: number[]) => ({ values, shape });
const filled = (shape: number[], v: number) => new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(v);

describe(`optax peer suite (${SRC})`, () => {
  it(`${SRC} ClippingTest.test_clip: a high delta leaves updates unchanged, delta 1 makes them all 1`, () => {
    const updates = perStepUpdates();
    clipByValue(updates, 1e6);
    updates.forEach((u, i) => expectAllClose(u, perStepUpdates()[i]!, OPTAX_CLOSE));

    const clipped = perStepUpdates();
    clipByValue(clipped, 1.0);
    clipped.forEach((u) => expectAllClose(u, [1, 1], OPTAX_CLOSE));
  });

  it(`${SRC} ClippingTest.test_clip_by_block_rms (clipByNorm with threshold·√n per block)`, () => {
    let updates = perStepUpdates();
    for (let i = 1; i <= STEPS; i++) {
      const threshold = 1.0 / i;
      const clip = (g: Float32Array[]): Float32Array[] => {
        clipByNorm(g, threshold * Math.sqrt(2)); // both blocks have 2 elements
        return g;
      };
      updates = clip(updates);
      expectAlmostEqual(rms(updates[0]!), threshold, 6, `step ${i} block 0 rms`);
      expectAlmostEqual(rms(updates[1]!), threshold, 6, `step ${i} block 1 rms`);
      const step = clip(perStepUpdates());
      updates.forEach((u, k) => expectAllClose(u, step[k]!, OPTAX_CLOSE, `step ${i} block ${k}`));
    }
  });

  it(`${SRC} ClippingTest.test_clip_by_global_norm (eps: 0, the optax form)`, () => {
    let updates = perStepUpdates();
    for (let i = 1; i <= STEPS; i++) {
      const maxNorm = 1.0 / i;
      const clip = (g: Float32Array[]): Float32Array[] => {
        clipByGlobalNorm(g, maxNorm, { eps: 0 });
        return g;
      };
      updates = clip(updates);
      expectAlmostEqual(l2(...updates), maxNorm, 6, `step ${i} global norm`);
      const step = clip(perStepUpdates());
      updates.forEach((u, k) => expectAllClose(u, step[k]!, OPTAX_CLOSE, `step ${i} leaf ${k}`));
    }
  });

  it(`${SRC} ClippingTest.test_adaptive_grad_clip`, () => {
    const params = initParams();
    const updates = perStepUpdates();
    for (let i = 1; i <= STEPS; i++) {
      const clipR = 1.0 / i;
      const clipper = agc({ clipping: clipR });
      clipper.clip(updates, params);
      // unit-wise norm of a vector is its whole norm
      updates.forEach((u, k) => expect(l2(u) - clipR * l2(params[k]!), `step ${i} leaf ${k}`).toBeLessThan(1e-6));
      const step = perStepUpdates();
      clipper.clip(step, params);
      updates.forEach((u, k) => expectAllClose(u, step[k]!, OPTAX_CLOSE, `step ${i} leaf ${k}`));
    }

    // The simple 2-D case with the default unit axes (axis 0: one unit per column).
    const g = new Float32Array([1, 2, 3, 4]);
    const p = filled([2, 2], 1);
    agc({ clipping: 1.0 }).clip([shaped(g, [2, 2])], [shaped(p, [2, 2])]);
    const gn = unitNormsPrefix(g, [2, 2], 1);
    const pn = unitNormsPrefix(p, [2, 2], 1);
    gn.forEach((n, u) => expect(n, `unit ${u}`).toBeLessThanOrEqual(1.0 * pn[u]! + 1e-6));
  });

  it(`${SRC} ClippingTest.test_adaptive_grad_clip_with_axis (its default-axis linear half; custom axis has no counterpart)`, () => {
    const shape = [5, 6];
    const linearGrad = filled(shape, 3.0);
    const linearParam = filled(shape, 1.0);
    agc({ clipping: 0.5 }).clip([shaped(linearGrad, shape)], [shaped(linearParam, shape)]);
    expect(linearGrad.length).toBe(30); // shape preserved (values stay in place)
    const gn = unitNormsPrefix(linearGrad, shape, 1);
    const pn = unitNormsPrefix(linearParam, shape, 1);
    expect(gn).toHaveLength(6);
    gn.forEach((n, u) => expect(n, `unit ${u}`).toBeLessThanOrEqual(0.5 * pn[u]! + 1e-6));
  });

  it(`${SRC} ClippingTest.test_adaptive_grad_clip_default_axis_conv3d`, () => {
    const shape = [2, 2, 2, 3, 4];
    const grad = filled(shape, 2.0);
    const param = filled(shape, 1.0);
    agc({ clipping: 0.5 }).clip([shaped(grad, shape)], [shaped(param, shape)]);
    expect(grad.length).toBe(96);
    // the default unit axes of a rank-5 kernel are (0, 1, 2, 3)
    expect(unitReduceAxes(5, 'tf')).toEqual([0, 1, 2, 3]);
    const gn = unitNormsPrefix(grad, shape, 4);
    const pn = unitNormsPrefix(param, shape, 4);
    expect(gn).toHaveLength(4);
    gn.forEach((n, u) => expect(n, `unit ${u}`).toBeLessThanOrEqual(0.5 * pn[u]! + 1e-6));
  });

  it(`${SRC} ClippingTest.test_unitwise_norm_with_axis (default-axis parts; custom axis has no counterpart)`, () => {
    // default for rank 5 equals explicit axes (0, 1, 2, 3); for rank 2 the default is axis 0
    expect(unitReduceAxes(5, 'tf')).toEqual([0, 1, 2, 3]);
    expect(unitReduceAxes(2, 'tf')).toEqual([0]);
    // a rank-6 tensor has no default units: optax raises ValueError, gradclip a RangeError
    expect(() => unitReduceAxes(6, 'tf')).toThrow(RangeError);
    const shape = [2, 2, 2, 2, 2, 2];
    const g = filled(shape, 1);
    expect(() => agc({ clipping: 0.5 }).clip([shaped(g, shape)], [shaped(filled(shape, 1), shape)])).toThrow(
      RangeError,
    );
    expect(Array.from(g)).toEqual(Array.from(filled(shape, 1))); // untouched when it throws
  });
});
