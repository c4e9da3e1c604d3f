/**
 * PyTorch's own gradient-clipping tests, translated: pytorch/pytorch, test/test_nn.py
 * (TestNNDeviceType), read at commit 74f2fa6: test_clip_grad_value, test_clip_grad_norm
 * (parametrised by norm_type 0.5, 1.5, 2, 4, inf), test_clip_grad_norm_error_if_nonfinite,
 * test_clip_grad_norm_multi_device.
 *
 * Mapping: clip_grad_norm_ → clipByGlobalNorm (PyTorch semantics, eps 1e-6);
 * get_total_norm + clip_grads_with_norm_ → globalNorm + clipByGlobalNorm({ norm });
 * clip_grad_value_ → clipByValue; error_if_nonfinite → nonFinite: 'error' / 'propagate'.
 * `foreach=False / True` picks one of PyTorch's two implementations; gradclip has one, so each
 * upstream test is one case here (its norm_type instances are separate cases, the numbers
 * differ). Where upstream compares against its own op (clip_grad_norm_'s returned norm and
 * gradients), the expected numbers were computed once with PyTorch 1.13 by
 * scripts/gen_peer_fixtures.py (test/fixtures/peers/peers.json). Tolerances: PyTorch's
 * `assertEqual` defaults — float32 rtol 1.3e-6 / atol 1e-5, float64 rtol 1e-7 / atol 1e-7.
 *
 * Differences on purpose (the cases assert gradclip's documented behaviour):
 *   - norm_type ≤ 0 (PyTorch accepts 0, −0.1, −1, −2, −3.5 and computes a "norm") is refused
 *     with a RangeError, gradients untouched: a clipping threshold on a non-norm is meaningless.
 *   - float64 gradients of ±2e200 with norm_type 2 or 3.5: PyTorch's norm overflows to inf
 *     (and error_if_nonfinite raises); gradclip accumulates relative to the largest value, so
 *     the norm is finite (≈ 6.3e200) and the gradients are clipped correctly.
 *   - an exhausted generator as `parameters`: PyTorch warns and clips nothing; gradclip takes
 *     arrays / records, and anything else is a TypeError (the empty set itself is accepted and
 *     left alone, as upstream).
 * Not translatable: the multi-GPU placement of test_clip_grad_norm_multi_device — its
 * counterpart here is the same check over two shards with merged norm statistics.
 */
import { describe, expect, it } from 'vitest';
import {
  clipByGlobalNorm,
  clipByValue,
  globalNorm,
  mergeNormStatistics,
  NonFiniteGradientError,
  normStatistics,
  normFromStatistics,
} from 'gradclip';
import { decode } from '../fixture_utils.js';
import { expectAllClose, f32, peerFixture, TORCH_F32, TORCH_F64 } from './close.js';

const SRC = 'pytorch/pytorch test/test_nn.py TestNNDeviceType';
const fixture = peerFixture();

/** upstream compute_norm: Σ|g|^p)^(1/p) or max |g| over the layer's gradients (test side, float64). */
function computeNorm(grads: Float32Array[], p: number): number {
  if (p === Infinity) return Math.max(...grads.flatMap((g) => Array.from(g, Math.abs)));
  let s = 0;
  for (const g of grads) for (const x of g) s += Math.abs(x) ** p;
  return s ** (1 / p);
}

/** upstream compare_scaling: every element scaled by the same factor; returns it. */
function compareScaling(after: Float32Array[], before: Float32Array[]): number {
  const ratios = after.flatMap((a, k) => Array.from(a, (x, i) => Math.fround(x / before[k]![i]!)));
  const mean = ratios.reduce((s, x) => s + x, 0) / ratios.length;
  const std = Math.sqrt(ratios.reduce((s, x) => s + (x - mean) ** 2, 0) / (ratios.length - 1));
  expectAllClose([std], [0], TORCH_F32, 'std of the per-element scale');
  return ratios[0]!;
}

/** nn.Linear(10, 10)'s gradients in test_clip_grad_norm: arange(1, 101).view(10, 10) and ones(10) / 1000. */
const linearGrads = () => [
  Float32Array.from({ length: 100 }, (_, i) => i + 1),
  new Float32Array(10).fill(Math.fround(1 / 1000)),
];

/** A small seeded generator for upstream's torch.rand (the assertions do not depend on the draws). */
function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  });
}

describe(`PyTorch peer suite (${SRC})`, () => {
  it(`${SRC}.test_clip_grad_value (foreach False and True: one implementation)`, () => {
    const clipValue = 2.5;
    const gradW = () => Float32Array.from({ length: 100 }, (_, i) => Math.fround((i - 50) / 5));
    const gradB = () => new Float32Array(10).fill(2);
    for (const gradList of [
      [gradW(), gradB()],
      [gradW(), null],
    ]) {
      const r = clipByValue(gradList, clipValue);
      expect(r.clipped).toBe(true);
      for (const g of gradList) {
        if (g === null) continue;
        expect(Math.max(...g)).toBeLessThanOrEqual(clipValue);
        expect(Math.min(...g)).toBeGreaterThanOrEqual(-clipValue);
      }
    }
    // Should accept a single tensor as input
    const p1 = gradW();
    const p2 = gradW();
    clipByValue(p1, clipValue);
    clipByValue([p2], clipValue);
    expect(Array.from(p1)).toEqual(Array.from(p2));
  });

  for (const [ci, upstream] of fixture.pytorch_clip_grad_norm.entries()) {
    const p = decode(upstream.normType);
    const maxNorm = upstream.maxNorm;
    it(`${SRC}.test_clip_grad_norm[norm_type=${p === Infinity ? 'inf' : p}] (foreach False and True: one implementation)`, () => {
      // clip_grad_norm_ on the layer
      let grads = linearGrads();
      let normBefore = computeNorm(grads, p);
      const r = clipByGlobalNorm(grads, maxNorm, { normType: p });
      let normAfter = computeNorm(grads, p);
      expectAllClose([r.norm], [normBefore], TORCH_F32, 'norm == norm_before');
      expectAllClose([normAfter], [maxNorm], TORCH_F32, 'norm_after == max_norm');
      expect(normAfter).toBeLessThanOrEqual(normBefore);
      compareScaling(grads, linearGrads());
      // … and what PyTorch 1.13 itself returned for these gradients (fixture)
      expectAllClose([r.norm], [upstream.norm], TORCH_F32, `torch's returned norm (case ${ci})`);
      expectAllClose(grads[0]!, f32(upstream.weight), TORCH_F32, "torch's clipped weight grad");
      expectAllClose(grads[1]!, f32(upstream.bias), TORCH_F32, "torch's clipped bias grad");

      // decomposed APIs: get_total_norm, then clip_grads_with_norm_
      grads = linearGrads();
      normBefore = computeNorm(grads, p);
      const totalNorm = globalNorm(grads, p);
      clipByGlobalNorm(grads, maxNorm, { normType: p, norm: totalNorm });
      normAfter = computeNorm(grads, p);
      expectAllClose([totalNorm], [normBefore], TORCH_F32, 'total_norm == norm_before');
      expectAllClose([normAfter], [maxNorm], TORCH_F32, 'norm_after == max_norm (decomposed)');
      expect(normAfter).toBeLessThanOrEqual(normBefore);
      compareScaling(grads, linearGrads());

      // Small gradients should be left unchanged
      const small = () => [
        Float32Array.from(rand(100, 7 + ci), (x) => x / 10000),
        new Float32Array(10).fill(Math.fround(1 / 500)),
      ];
      grads = small();
      normBefore = computeNorm(grads, p);
      const rs = clipByGlobalNorm(grads, maxNorm, { normType: p });
      normAfter = computeNorm(grads, p);
      expectAllClose([rs.norm], [normBefore], TORCH_F32, 'small: norm == norm_before');
      expectAllClose([normAfter], [normBefore], TORCH_F32, 'small: norm_before == norm_after');
      expect(normAfter).toBeLessThanOrEqual(maxNorm);
      expectAllClose([compareScaling(grads, small())], [1], TORCH_F32, 'small: scale == 1');

      // Should accept a single tensor as input
      const p1 = Float32Array.from({ length: 100 }, (_, i) => i + 1);
      const p2 = p1.slice();
      clipByGlobalNorm(p1, maxNorm, { normType: p });
      clipByGlobalNorm([p2], maxNorm, { normType: p });
      expect(Array.from(p1)).toEqual(Array.from(p2));

      // An exhausted generator: PyTorch warns and clips nothing. gradclip: the empty set is
      // left alone (norm 0), and a generator is not a gradient set (TypeError) — on purpose.
      const empty = clipByGlobalNorm([], maxNorm, { normType: p });
      expect(empty).toMatchObject({ norm: 0, clipped: false, finite: true });
      function* exhausted(): Generator<Float32Array> {}
      expect(() => clipByGlobalNorm(exhausted() as never, maxNorm, { normType: p })).toThrow(TypeError);
    });
  }

  describe(`${SRC}.test_clip_grad_norm_error_if_nonfinite`, () => {
    const inf = Infinity;
    const normsPos = [0.1, 1, 2, 3.5, inf];
    const normsNeg = [-0.1, -1, -2, -3.5];
    const normsExcept0 = [...normsPos, ...normsNeg];
    const normsAll = [...normsExcept0, 0];
    // upstream's table: grad_only_one_elem, prefix_finite_grad_param, scalars, norms that give a
    // non-finite total norm, norms that give a finite one (float64 gradients, max_norm 1)
    const table: [boolean, boolean, number[], number[], number[]][] = [
      [false, false, [inf, -inf], normsExcept0, [0]],
      [false, true, [inf, -inf], normsPos, [...normsNeg, 0]],
      [true, false, [inf, -inf], normsPos, [...normsNeg, 0]],
      [true, true, [inf, -inf], normsPos, [...normsNeg, 0]],
      [false, false, [NaN], normsExcept0, [0]],
      [false, true, [NaN], normsExcept0, [0]],
      [true, false, [NaN], normsExcept0, [0]],
      [true, true, [NaN], normsExcept0, [0]],
      [false, false, [2e22, -2e22], [], normsAll],
      [false, true, [2e22, -2e22], [], normsAll],
      [true, false, [2e22, -2e22], [], normsAll],
      [true, true, [2e22, -2e22], [], normsAll],
      [false, false, [2e200, -2e200], [3.5, 2, -2, -3.5], [inf, 1, 0.1, 0, -1, -0.1]],
      [false, true, [2e200, -2e200], [3.5, 2], [...normsNeg, inf, 1, 0.1, 0]],
      [true, false, [2e200, -2e200], [3.5, 2], [...normsNeg, inf, 1, 0.1, 0]],
      [true, true, [2e200, -2e200], [3.5, 2], [...normsNeg, inf, 1, 0.1, 0]],
    ];
    /** upstream gen_parameters: a ones(10) parameter whose grad is scalar (everywhere, or at index 1 only), maybe after a [1] one. */
    function genParameters(scalar: number, onlyOneElem: boolean, prefix: boolean): Float64Array[] {
      const g = new Float64Array(10);
      if (onlyOneElem) g[1] = scalar;
      else g.fill(scalar);
      return prefix ? [new Float64Array([1]), g] : [g];
    }
    type Run = { p: number; error: boolean; scalar: number; one: boolean; prefix: boolean; nonFinite: boolean };
    const runs: Run[] = [];
    for (const [one, prefix, scalars, nonFiniteNorms, finiteNorms] of table) {
      for (const error of [false, true]) {
        for (const p of nonFiniteNorms)
          for (const scalar of scalars) runs.push({ p, error, scalar, one, prefix, nonFinite: true });
        for (const p of finiteNorms)
          for (const scalar of scalars) runs.push({ p, error, scalar, one, prefix, nonFinite: false });
      }
    }
    const label = (r: Run) =>
      `norm_type ${r.p}, error_if_nonfinite ${r.error}, scalar ${r.scalar}, grad_only_one_elem ${r.one}, prefix ${r.prefix}`;
    const overflowOnly = (r: Run) => Math.abs(r.scalar) === 2e200 && r.nonFinite;

    it('agrees where norm_type > 0 and the data hold NaN / ±inf or stay in range: error iff non-finite, grads untouched', () => {
      let checked = 0;
      for (const r of runs.filter((r) => r.p > 0 && !overflowOnly(r))) {
        const params = genParameters(r.scalar, r.one, r.prefix);
        const before = params.map((g) => g.slice());
        const call = () => clipByGlobalNorm(params, 1, { normType: r.p, nonFinite: r.error ? 'error' : 'propagate' });
        if (r.nonFinite && r.error) {
          expect(call, label(r)).toThrow(NonFiniteGradientError);
          params.forEach((g, k) => expect(Array.from(g), label(r)).toEqual(Array.from(before[k]!)));
        } else {
          const res = call();
          expect(res.finite, label(r)).toBe(!r.nonFinite);
          expect(Number.isFinite(res.norm), label(r)).toBe(!r.nonFinite);
        }
        checked++;
      }
      expect(checked).toBe(248); // of upstream's 560 runs: 248 + 280 + 32
    });

    it('differs on purpose: norm_type ≤ 0 (0, −0.1, −1, −2, −3.5) is refused with a RangeError whatever the flag, grads untouched', () => {
      let checked = 0;
      for (const r of runs.filter((r) => r.p <= 0)) {
        const params = genParameters(r.scalar, r.one, r.prefix);
        const before = params.map((g) => g.slice());
        let thrown: unknown;
        try {
          clipByGlobalNorm(params, 1, { normType: r.p, nonFinite: r.error ? 'error' : 'propagate' });
        } catch (e) {
          thrown = e;
        }
        expect(thrown, label(r)).toBeInstanceOf(RangeError);
        expect(thrown, label(r)).not.toBeInstanceOf(NonFiniteGradientError);
        expect((thrown as Error).message, label(r)).toMatch(/normType/);
        params.forEach((g, k) => expect(Array.from(g), label(r)).toEqual(Array.from(before[k]!)));
        checked++;
      }
      expect(checked).toBe(280);
    });

    it("differs on purpose: ±2e200 with norm_type 2 / 3.5 overflows to inf in PyTorch; gradclip's norm is finite and clips correctly", () => {
      let checked = 0;
      for (const r of runs.filter((r) => r.p > 0 && overflowOnly(r))) {
        const params = genParameters(r.scalar, r.one, r.prefix);
        const all = params.flatMap((g) => Array.from(g));
        const m = Math.max(...all.map(Math.abs));
        const exact = m * all.reduce((s, x) => s + Math.abs(x / m) ** r.p, 0) ** (1 / r.p);
        const res = clipByGlobalNorm(params, 1, { normType: r.p, nonFinite: r.error ? 'error' : 'propagate' });
        expect(res.finite, label(r)).toBe(true);
        expectAllClose([res.norm], [exact], TORCH_F64, label(r));
        const after = params.flatMap((g) => Array.from(g));
        expectAllClose(
          after,
          all.map((x) => x / (exact + 1e-6)),
          TORCH_F64,
          label(r),
        );
        checked++;
      }
      expect(checked).toBe(32);
    });
  });

  it(`${SRC}.test_clip_grad_norm_multi_device (two shards with merged norm statistics instead of two GPUs)`, () => {
    // TestModel: two nn.Linear(10, 10); layer1 on one device, layer2 on another, gradients ones_like
    const layer = () => [new Float32Array(100).fill(1), new Float32Array(10).fill(1)];
    for (const p of [2, Infinity]) {
      const shard0 = layer();
      const shard1 = layer();
      const reference = [...layer(), ...layer()];
      const merged = mergeNormStatistics(normStatistics(shard0, p), normStatistics(shard1, p));
      const r0 = clipByGlobalNorm(shard0, 0.5, { normType: p, statistics: merged });
      const r1 = clipByGlobalNorm(shard1, 0.5, { normType: p, statistics: merged });
      const expected = clipByGlobalNorm(reference, 0.5, { normType: p });
      expectAllClose(
        [normFromStatistics(merged), r0.norm, r1.norm],
        [expected.norm, expected.norm, expected.norm],
        TORCH_F32,
        `p=${p} norm`,
      );
      [...shard0, ...shard1].forEach((g, k) => expectAllClose(g, reference[k]!, TORCH_F32, `p=${p} tensor ${k}`));
    }
  });
});
