import { describe, expect, it } from 'vitest';
import { chainRule } from './chain.js';
import { globalNormRule, makeClipper, perTensorNormRule, valueRule } from './clipper.js';
import { autoClipRule } from './adaptive/auto_clip.js';
import { perGroup, perGroupRule } from './adaptive/groups.js';
import { zClipRule } from './adaptive/z_clip.js';
import { NonFiniteGradientError } from './rule.js';
import { clipByGlobalNorm, clipByNorm } from './index.js';

const f32 = (xs: number[]) => Float32Array.from(xs);

describe('chainRule', () => {
  it('optax chain(clip(2), clip_by_global_norm(1)): value clip, then global norm (hand-worked)', () => {
    // g = [3, -0.5], [4].  Value clip to ±2: [2, -0.5], [2].
    // ‖g₁‖ = √(4 + 0.25 + 4) = √8.25 = 2.872281;  eps 0: factor 1 / 2.872281 = 0.348155
    // → [0.696311, -0.174078], [0.696311].  Report: norm = ‖g‖ = √25.25 = 5.024938,
    // scale = 1 · 0.348155, clipped, finite; steps = [value: norm 5.0249 scale 1, globalNorm: norm 2.8723].
    const clipper = makeClipper(chainRule(valueRule(2), globalNormRule(1, { eps: 0 })));
    const a = f32([3, -0.5]);
    const b = f32([4]);
    const r = clipper.clip([a, b]);
    expect(Array.from(a)).toEqual([expect.closeTo(0.696311, 5), expect.closeTo(-0.174078, 5)]);
    expect(b[0]).toBeCloseTo(0.696311, 5);
    expect(r.norm).toBeCloseTo(5.024938, 5);
    expect(r.scale).toBeCloseTo(0.348155, 5);
    expect(r.clipped).toBe(true);
    expect(r.finite).toBe(true);
    expect(r.steps).toHaveLength(2);
    expect(r.steps![0]).toMatchObject({ scale: 1, clipped: true, finite: true });
    expect(r.steps![0]!.norm).toBeCloseTo(5.024938, 5);
    expect(r.steps![1]!.norm).toBeCloseTo(2.872281, 5);
    expect(r.steps![1]!.scale).toBeCloseTo(0.348155, 5);
    // The same as the two functions in turn.
    const c = f32([3, -0.5]);
    const d = f32([4]);
    makeClipper(valueRule(2)).clip([c, d]);
    clipByGlobalNorm([c, d], 1, { eps: 0 });
    expect(Array.from(a)).toEqual(Array.from(c));
  });

  it('order matters: global norm first, then value clip', () => {
    // [3, 4] → global norm 1 (eps 0): [0.6, 0.8] → value clip 0.7: [0.6, 0.7].
    const g = f32([3, 4]);
    const r = makeClipper(chainRule(globalNormRule(1, { eps: 0 }), valueRule(0.7))).clip(g);
    expect(Array.from(g)).toEqual([expect.closeTo(0.6, 6), expect.closeTo(0.7, 6)]);
    expect(r.norm).toBeCloseTo(5, 6);
    expect(r.steps![1]!.norm).toBeCloseTo(1, 6);
  });

  it("keeps each rule's state, restores it exactly, and checks it by rule", () => {
    const rule = chainRule(valueRule(100), autoClipRule({ percentile: 50 }), perTensorNormRule(10));
    const clipper = makeClipper(rule);
    expect(clipper.state).toEqual([{}, { history: [], next: 0 }, {}]);
    clipper.clip(f32([3, 4]));
    clipper.clip(f32([6, 8]));
    // AutoClip saw the norms 5 and 10 (after the value clip, which changed nothing).
    expect(clipper.state).toMatchObject([{}, { history: [5, 10] }, {}]);
    const copy = makeClipper(rule, clipper.state);
    const g1 = f32([30, 40]);
    const g2 = f32([30, 40]);
    const r1 = clipper.clip(g1);
    const r2 = copy.clip(g2);
    // History [5, 10, 50]: median 10 → [6, 8]; AutoClip reports its threshold, the chain passes it on.
    expect(Array.from(g1)).toEqual(Array.from(g2));
    expect(g1[0]).toBeCloseTo(6, 4);
    expect(r1.threshold).toBeUndefined(); // the last rule (per-tensor norm) reports no moving threshold
    expect(r1.steps![1]!.threshold).toBe(10);
    expect(r2).toEqual(r1);
    expect(() => makeClipper(rule, [{}, { history: [], next: 0 }] as never)).toThrow(
      /options\.state must be an array of 3 rule states/,
    );
    expect(() => makeClipper(rule, [{}, { history: [-1], next: 0 }, {}] as never)).toThrow(/options\.state\[1\]/);
  });

  it('a chain is saveable when each rule is, and takes the policies as documented', () => {
    const rule = chainRule(valueRule(1), globalNormRule(2, { nonFinite: 'skip' }));
    expect(rule.config).toEqual({
      kind: 'chain',
      args: [
        { kind: 'value', args: [1] },
        { kind: 'globalNorm', args: [2, { nonFinite: 'skip' }] },
      ],
    });
    expect(rule.nonFinite).toBe('skip');
    expect(rule.fixedThreshold).toBe(2);
    expect(chainRule(globalNormRule(1), perTensorNormRule(1)).nonFinite).toBe('propagate');
    expect(chainRule(globalNormRule(1, { nonFinite: 'zero' })).nonFinite).toBe('zero');
    expect(chainRule(perGroupRule([{ match: '*', rule: null }])).config).toBeUndefined();
    expect(chainRule(zClipRule(), globalNormRule(1)).name).toBe('chain(zClip, globalNorm)');
  });

  it('refuses no rules and things that are not rules, by position', () => {
    expect(() => chainRule()).toThrow(RangeError);
    expect(() => chainRule(valueRule(1), 3 as never)).toThrow(/rules\[1\] must be a ClipRule.*got 3/);
    expect(() => chainRule(makeClipper(valueRule(1)) as never)).toThrow(/rules\[0\] must be a ClipRule/);
  });

  it('works as a group rule in perGroup', () => {
    // Biases ('*/bias') are left alone; the kernels get value clip 2 then global norm 1 (eps 0).
    const clipper = perGroup([{ match: '*/bias', rule: null }], chainRule(valueRule(2), globalNormRule(1, { eps: 0 })));
    const g = { 'dense_Dense1/kernel': f32([3, -0.5]), 'dense_Dense2/kernel': f32([4]), 'dense_Dense1/bias': f32([9]) };
    clipper.clip(g);
    expect(Array.from(g['dense_Dense1/kernel'])).toEqual([expect.closeTo(0.696311, 5), expect.closeTo(-0.174078, 5)]);
    expect(g['dense_Dense2/kernel'][0]).toBeCloseTo(0.696311, 5);
    expect(g['dense_Dense1/bias'][0]).toBe(9);
    expect(clipper.reports[1]!.result.steps).toHaveLength(2);
  });
});

describe('NonFiniteGradientError names the non-finite gradients (typed arrays)', () => {
  it('record keys, in order, the first in the message; nothing changed', () => {
    const g = { w: f32([1, 2]), b: f32([NaN]), out: f32([3, -Infinity]) };
    let err: unknown;
    try {
      clipByGlobalNorm(g, 1, { nonFinite: 'error' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NonFiniteGradientError);
    expect((err as NonFiniteGradientError).tensors).toEqual(['b', 'out']);
    expect((err as Error).message).toBe(
      `gradient "b" (and 1 more) contains NaN or ±Infinity (nonFinite: 'error'); nothing was changed`,
    );
    expect(Array.from(g.w)).toEqual([1, 2]);
  });

  it('list indices (nulls keep their index), a single array, per-tensor rule, clippers, chains, groups', () => {
    const list = [f32([1]), null, f32([Infinity])];
    expect(() => clipByNorm(list, 1, { nonFinite: 'error' })).toThrow(
      expect.objectContaining({ tensors: ['2'] }) as Error,
    );
    expect(() => clipByGlobalNorm(f32([NaN]), 1, { nonFinite: 'error' })).toThrow(
      expect.objectContaining({
        tensors: [''],
        message: expect.stringMatching(/^the gradient contains NaN/) as string,
      }),
    );
    const clipper = makeClipper(globalNormRule(1, { nonFinite: 'error' }));
    expect(() => clipper.clip({ a: f32([NaN]), b: f32([1]) })).toThrow(
      expect.objectContaining({ tensors: ['a'] }) as Error,
    );
    const chained = makeClipper(chainRule(globalNormRule(1, { nonFinite: 'error' }), valueRule(1)));
    expect(() => chained.clip({ a: f32([1]), b: f32([NaN]) })).toThrow(
      expect.objectContaining({ tensors: ['b'] }) as Error,
    );
    const grouped = perGroup([{ match: 'emb*', rule: globalNormRule(1, { nonFinite: 'error' }) }]);
    expect(() => grouped.clip({ w: f32([NaN]), emb1: f32([1]), emb2: f32([Infinity]) })).toThrow(
      expect.objectContaining({ tensors: ['emb2'] }) as Error,
    );
  });
});
