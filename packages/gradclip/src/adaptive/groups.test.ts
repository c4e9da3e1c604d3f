import fc from 'fast-check';
import { fcGate } from '../../test/fc_gate.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { globalNormClipper, valueClipper } from '../clipper.js';
import { agc } from './agc.js';
import { globMatch, perGroup } from './groups.js';
import { zClip } from './z_clip.js';
import { cpuMs } from '../../test/cpu_time.js';

describe('globMatch', () => {
  it('matches * and ? and nothing else specially', () => {
    const bias = (n: string) => globMatch('*.bias', n);
    expect(bias('dense.bias')).toBe(true);
    expect(bias('a.b.bias')).toBe(true);
    expect(bias('bias')).toBe(false);
    expect(bias('dense_bias')).toBe(false); // '.' is literal
    expect(globMatch('layer?', 'layer1')).toBe(true);
    expect(globMatch('layer?', 'layer12')).toBe(false);
    expect(globMatch('a+b[0]', 'a+b[0]')).toBe(true);
    expect(globMatch('a+b[0]', 'aab0')).toBe(false);
    expect(globMatch('*', '')).toBe(true);
    expect(globMatch('a*b*c', 'aXbYbZc')).toBe(true);
    expect(globMatch('a*b*c', 'aXbYbZ')).toBe(false);
    expect(globMatch('?', '😀')).toBe(true); // one character, not one UTF-16 unit
  });

  it('agrees with a regular-expression reference on random patterns and names (property)', () => {
    const toRe = (p: string) =>
      new RegExp(
        `^${[...p].map((c) => (c === '*' ? '[\\s\\S]*' : c === '?' ? '[\\s\\S]' : c.replace(/[.+^${}()|[\]\\/-]/g, '\\$&'))).join('')}$`,
        'u',
      );
    fc.assert(
      fc.property(
        fc.stringMatching(/^[ab*?.]{0,8}$/),
        fc.stringMatching(/^[ab.]{0,10}$/),
        (p, n) => globMatch(p, n) === toRe(p).test(n),
      ),
      fcGate({ seed: 11, numRuns: 2000 }),
    );
  });

  it("'*a' × 12 + 'b' against a 40-character name returns at once (issue 12, item 13: the regex took ~190 s)", () => {
    const t0 = process.cpuUsage();
    expect(globMatch(`${'*a'.repeat(12)}b`, 'a'.repeat(40))).toBe(false);
    // A generous bound: the point is seconds against minutes, not speed.
    expect(cpuMs(t0)).toBeLessThan(1000);
  });
});

describe('perGroup', () => {
  it('gives each group its own rule and report; the combined report covers every gradient', () => {
    // dense.bias (3, 4): no clipping. embedding (6, 8) norm 10 → its own limit 0.1: ×0.1/(10+1e-6).
    // dense.kernel (0, 0.5): default globalNorm(1), norm 0.5 → untouched.
    // Combined: norm √(25 + 100 + 0.25) = √125.25; scale = the embedding's; clipped.
    const grads = {
      'dense.kernel': new Float64Array([0, 0.5]),
      'dense.bias': new Float64Array([3, 4]),
      embedding: new Float64Array([6, 8]),
    };
    const clipper = perGroup(
      [
        { match: ['*.bias', 'bias*'], rule: null },
        { match: 'embedding*', clipper: globalNormClipper(0.1), name: 'embeddings' },
      ],
      globalNormClipper(1),
    );
    const r = clipper.clip(grads);
    const f = 0.1 / (10 + 1e-6);
    expect([...grads['dense.bias']]).toEqual([3, 4]);
    expect([...grads.embedding]).toEqual([6 * f, 8 * f]);
    expect([...grads['dense.kernel']]).toEqual([0, 0.5]);
    expect(r).toEqual({ norm: Math.sqrt(125.25), scale: f, clipped: true, finite: true });
    expect(clipper.reports.map((x) => [x.name, x.leaves, x.result.clipped])).toEqual([
      ['*.bias,bias*', ['dense.bias'], false],
      ['embeddings', ['embedding'], true],
      ['default', ['dense.kernel'], false],
    ]);
    expect(clipper.reports[0]!.result.norm).toBe(5);
    expect(clipper.reports[1]!.result.norm).toBe(10);
  });

  it('sends a leaf to the first matching group; list positions are names too', () => {
    const grads = [new Float64Array([5]), new Float64Array([5]), new Float64Array([5])];
    const clipper = perGroup(
      [
        { match: '1', rule: valueClipper(1).rule },
        { match: '?', rule: valueClipper(2).rule },
      ],
      null,
    );
    clipper.clip(grads);
    expect(grads.map((g) => g[0])).toEqual([2, 1, 2]);
  });

  it('does not run a stateful group on a step where it has no gradients', () => {
    const clipper = perGroup([{ match: 'emb', rule: zClip({ warmupSteps: 3 }).rule }], null);
    clipper.clip({ other: new Float64Array([1]) });
    clipper.clip({ other: new Float64Array([1]), emb: null });
    expect(clipper.state.groups[0]).toEqual({ count: 0, mean: 0, m2: 0, variance: 0 });
    clipper.clip({ emb: new Float64Array([2]) });
    expect((clipper.state.groups[0] as { count: number }).count).toBe(1);
  });

  it('decides finiteness group by group: a NaN in one group does not stop the others', () => {
    const clipper = perGroup(
      [{ match: 'a', rule: zClip({ warmupSteps: 5, nonFinite: 'skip' }).rule }],
      zClip({ warmupSteps: 5, nonFinite: 'skip' }),
    );
    const r = clipper.clip({ a: new Float64Array([NaN]), b: new Float64Array([0.5]) });
    expect(r.finite).toBe(false);
    expect((clipper.state.groups[0] as { count: number }).count).toBe(0);
    expect((clipper.state.default as { count: number }).count).toBe(1);
  });

  it('passes each group the parameters of its own leaves (AGC)', () => {
    // w: ‖G‖ = 1 against ‖W‖ = 1, clipping 0.01 → ×0.01/1. b: no clipping.
    const grads = { w: new Float64Array([1]), b: new Float64Array([1]) };
    const clipper = perGroup([{ match: 'b', rule: null }], agc());
    expect(() => clipper.clip(grads)).toThrow(/needs the parameters/);
    clipper.clip(grads, { w: new Float64Array([1]), b: new Float64Array([0]) });
    expect(grads.w[0]).toBeCloseTo(0.01, 15);
    expect(grads.b[0]).toBe(1);
  });

  it('rejects malformed groups and states', () => {
    expect(() => perGroup('*' as never)).toThrow(/groups must be an array/);
    expect(() => perGroup([{ match: 3 } as never])).toThrow(/groups\[0\].match/);
    expect(() => perGroup([{ match: 'a', rule: null, clipper: null }])).toThrow(/groups\[0\] has both/);
    expect(() => perGroup([{ match: 'a' }])).toThrow(/groups\[0\] needs a rule or a clipper/);
    expect(() => perGroup([{ match: 'a', rule: 5 as never }])).toThrow(/groups\[0\].rule must be a ClipRule/);
    expect(() => perGroup([{ match: 'a', rule: null, limit: 1 } as never])).toThrow(/unknown option 'limit'/);
    expect(() => perGroup([{ match: 'a', rule: null }], null, { state: { groups: [], default: null } })).toThrow(
      /options.state/,
    );
  });
});

describe('a group that matches no gradient on the first call (issue 22)', () => {
  afterEach(() => vi.restoreAllMocks());
  const f32 = (xs: number[]) => Float32Array.from(xs);
  const tfjsNames = () => ({
    'dense_Dense1/kernel': f32([3, 4]),
    'dense_Dense1/bias': f32([1]),
    'dense_Dense2/kernel': f32([0.5]),
  });

  it("warns once, naming the group and the gradients' names, for Keras-Python-style patterns on tfjs names", () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const clipper = perGroup([{ match: '*.bias', rule: null }], globalNormClipper(1));
    clipper.clip(tfjsNames());
    clipper.clip(tfjsNames());
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toMatch(
      /group 0 \('\*\.bias'\) matched none of the 3 gradients on the first call \(names like 'dense_Dense1\/kernel', 'dense_Dense1\/bias', 'dense_Dense2\/kernel'\)\. tfjs variables are named like 'dense_Dense1\/bias': match them with '\*\/bias'/,
    );
  });

  it("real tfjs patterns ('*/bias') match and say nothing; optional groups and the default never warn", () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const g = tfjsNames();
    const clipper = perGroup([{ match: '*/bias', rule: null }], globalNormClipper(1));
    clipper.clip(g);
    expect(g['dense_Dense1/bias'][0]).toBe(1); // not clipped
    expect(
      Math.hypot(g['dense_Dense1/kernel'][0]!, g['dense_Dense1/kernel'][1]!, g['dense_Dense2/kernel'][0]!),
    ).toBeCloseTo(1, 5);
    perGroup([
      { match: 'embedding*', rule: null, optional: true },
      { match: '*', rule: null },
    ]).clip(tfjsNames());
    expect(warn).not.toHaveBeenCalled();
    expect(() => perGroup([{ match: 'x', rule: null, optional: 'yes' as never }])).toThrow(
      /groups\[0\]\.optional must be a boolean/,
    );
  });

  it('a first call without gradients does not count as the first call', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const clipper = perGroup([{ match: 'w', rule: null }]);
    clipper.clip([]);
    expect(warn).not.toHaveBeenCalled();
    clipper.clip({ v: f32([1]) });
    expect(warn).toHaveBeenCalledTimes(1);
  });
});
