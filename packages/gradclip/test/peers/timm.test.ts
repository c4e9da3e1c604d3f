/**
 * timm's AGC, translated: huggingface/pytorch-image-models timm/utils/agc.py
 * (`adaptive_clip_grad(parameters, clip_factor=0.01, eps=1e-3, norm_type=2.0)`, HEAD aa4b585,
 * Aug 2026). timm ships no test for it, so these are reference runs: the expected gradients were
 * computed once by scripts/gen_peer_fixtures.py with a re-implementation of timm's rule in
 * PyTorch 1.13 float32 ops (test/fixtures/peers/peers.json): per unit along axis 0 of a PyTorch
 * weight (the whole tensor for rank ≤ 1), limit = clip_factor · max(‖W_u‖, eps), and
 * G_u · limit / max(‖G_u‖, 1e-6) unless ‖G_u‖ < limit.
 *
 * Mapping: adaptive_clip_grad(params, clip_factor, eps) → agc({ clipping: clip_factor, eps,
 * layout: 'torch' }).clip(grads, params). Tolerance: PyTorch computes the unit norms in float32
 * and gradclip in float64, so the clipped values agree to a few float32 ulps (≤ 4 here; a
 * wrong unit axis or a missing clip is off by orders of magnitude).
 *
 * No gradclip counterpart: timm's `norm_type` other than 2 (gradclip's AGC uses the L2 norm, as
 * the paper, optax and timm's default do).
 */
import { describe, expect, it } from 'vitest';
import { agc } from 'gradclip';
import { maxUlps } from '../fixture_utils.js';
import { f32, peerFixture } from './close.js';
import { unitNormsTorch } from './units.js';

const SRC = 'huggingface/pytorch-image-models timm/utils/agc.py adaptive_clip_grad';
const fixture = peerFixture();

describe(`timm AGC peer suite (${SRC}, reference runs from PyTorch ${fixture.torch})`, () => {
  for (const run of fixture.timm_agc) {
    it(`${SRC} reference run: ${run.name}`, () => {
      const params = run.tensors.map((t) => ({ values: f32(t.param), shape: t.shape }));
      const grads = run.tensors.map((t) => ({ values: f32(t.grad), shape: t.shape }));
      const r = agc({ clipping: run.clipFactor, eps: run.eps, layout: 'torch' }).clip(grads, params);
      run.tensors.forEach((t, i) => {
        const expected = f32(t.expected);
        expect(
          maxUlps(grads[i]!.values, expected, 'float32'),
          `tensor ${i} [${t.shape.join(', ')}]`,
        ).toBeLessThanOrEqual(4);
        // the rule's promise, checked on the result: every unit within clip_factor · max(‖W_u‖, eps)
        const gn = unitNormsTorch(grads[i]!.values, t.shape);
        const pn = unitNormsTorch(params[i]!.values, t.shape);
        gn.forEach((n, u) =>
          expect(n, `tensor ${i} unit ${u}`).toBeLessThanOrEqual(
            run.clipFactor * Math.max(pn[u]!, run.eps) * (1 + 1e-6),
          ),
        );
      });
      const changed = run.tensors.some((t) => t.grad.some((g, k) => g !== t.expected[k]));
      expect(r.clipped).toBe(changed);
    });
  }

  it(`${SRC}: a parameter without a gradient (p.grad is None) is skipped`, () => {
    const run = fixture.timm_agc[0]!;
    const t = run.tensors[0]!;
    const params = [
      { values: f32(t.param), shape: t.shape },
      { values: new Float32Array([1, 2, 3]), shape: [3] },
    ];
    const g = { values: f32(t.grad), shape: t.shape };
    agc({ clipping: run.clipFactor, eps: run.eps, layout: 'torch' }).clip([g, null], params);
    expect(maxUlps(g.values, f32(t.expected), 'float32')).toBeLessThanOrEqual(4);
  });
});
