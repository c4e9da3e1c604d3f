import fc from 'fast-check';
import { fcGate } from '../../test/fc_gate.js';
import { describe, expect, it } from 'vitest';
import type { UnitLayout } from '../ops.js';
import { agc } from './agc.js';
import { f64, loadAdaptiveFixture, maxRelDiff, type Num } from './test_fixtures.js';

interface AgcCase {
  layout: UnitLayout;
  shape: number[];
  clipping: number;
  eps: number;
  grad: Num[];
  param: Num[];
  expected: Num[];
}

describe('agc against optax (layout tf, NumPy) and timm (layout torch, PyTorch)', () => {
  const { cases } = loadAdaptiveFixture<{ cases: AgcCase[] }>('agc.json');

  it('covers ranks 0–5 in both layouts', () => {
    expect(new Set(cases.map((c) => `${c.layout}:${c.shape.length}`)).size).toBe(12);
    // Both outcomes occur: some cases clip some unit, some leave everything as it was.
    const changed = cases.filter((c) => c.expected.some((x, j) => x !== c.grad[j])).length;
    expect(changed).toBeGreaterThan(5);
    expect(changed).toBeLessThan(cases.length);
  });

  it.each(cases.map((c, i) => [i, c] as const))('case %i', (_i, c) => {
    const g = f64(c.grad);
    const r = agc({ clipping: c.clipping, eps: c.eps, layout: c.layout }).clip(
      { w: { values: g, shape: c.shape } },
      { w: { values: f64(c.param), shape: c.shape } },
    );
    expect(maxRelDiff(g, f64(c.expected), 1e-300)).toBeLessThan(1e-12);
    expect(r.clipped).toBe(g.some((x, j) => x !== Number(c.grad[j])));
    expect(r.finite).toBe(true);
  });
});

describe('agc (hand-worked)', () => {
  it('clips a dense [in, out] kernel column by column', () => {
    // W = [[3, 0], [4, 0]] (shape [2, 2], 'tf'): column norms ‖W_0‖ = 5, ‖W_1‖ = 0 → eps = 1e-3.
    // G = [[1, 1], [0, 0]]: column norms 1 and 1. clipping 0.1: limits 0.5 and 1e-4.
    // Column 0: 1 ≥ 0.5 → ×0.5; column 1: 1 ≥ 1e-4 → ×1e-4.
    const g = new Float64Array([1, 1, 0, 0]);
    const r = agc({ clipping: 0.1 }).clip(
      { values: g, shape: [2, 2] },
      { values: new Float64Array([3, 0, 4, 0]), shape: [2, 2] },
    );
    expect([...g]).toEqual([0.5, 0.1 * 1e-3, 0, 0]);
    expect(r.scale).toBeCloseTo(1e-4, 15);
    expect(r.norm).toBeCloseTo(Math.SQRT2, 15);
  });

  it('splits a torch [out, in] matrix by rows and leaves units under the limit alone', () => {
    // W rows (1, 0) and (0, 10): norms 1 and 10; clipping 0.5 → limits 0.5 and 5.
    // G rows (0.3, 0.4) (norm 0.5 ≥ 0.5: factor 0.5/0.5 = 1) and (3, 0) (3 < 5: untouched).
    const g = new Float64Array([0.3, 0.4, 3, 0]);
    const r = agc({ clipping: 0.5, layout: 'torch' }).clip(
      { values: g, shape: [2, 2] },
      { values: new Float64Array([1, 0, 0, 10]), shape: [2, 2] },
    );
    expect([...g]).toEqual([0.3, 0.4, 3, 0]);
    expect(r.scale).toBe(1);
    expect(r.clipped).toBe(false);
  });

  it('never lets a unit norm exceed clipping·max(‖W_u‖, eps) (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: 6, maxLength: 6 }),
        fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 6, maxLength: 6 }),
        fc.constantFrom<UnitLayout>('tf', 'torch'),
        (gs, ws, layout) => {
          const g = Float64Array.from(gs);
          const w = Float64Array.from(ws);
          agc({ clipping: 0.05, layout }).clip({ values: g, shape: [2, 3] }, { values: w, shape: [2, 3] });
          const units =
            layout === 'tf'
              ? [
                  [0, 3],
                  [1, 4],
                  [2, 5],
                ]
              : [
                  [0, 1, 2],
                  [3, 4, 5],
                ];
          for (const u of units) {
            const gn = Math.hypot(...u.map((i) => g[i]!));
            const wn = Math.hypot(...u.map((i) => w[i]!));
            expect(gn).toBeLessThanOrEqual(0.05 * Math.max(wn, 1e-3) * (1 + 1e-12) + 1e-300);
          }
        },
      ),
      fcGate({ seed: 2202 }),
    );
  });

  it('rejects missing params, mismatched shapes, rank 6 in tf layout and bad options, leaving grads untouched', () => {
    const g = new Float64Array([1, 2, 3, 4]);
    const before = [...g];
    const clipper = agc();
    expect(() => clipper.clip({ w: g })).toThrow(/needs the parameters/);
    expect(() => clipper.clip({ w: g }, { v: new Float64Array(4) })).toThrow(/no entry for gradient 'w'/);
    expect(() =>
      clipper.clip({ w: { values: g, shape: [2, 2] } }, { w: { values: new Float64Array(4), shape: [4] } }),
    ).toThrow(/shape \[2, 2\] but its parameter has shape \[4\]/);
    expect(() =>
      clipper.clip({ values: g, shape: [1, 1, 1, 1, 2, 2] }, { values: g, shape: [1, 1, 1, 1, 2, 2] }),
    ).toThrow(RangeError);
    expect([...g]).toEqual(before);
    expect(() => agc({ clipping: -1 })).toThrow(/options.clipping.*-1/);
    expect(() => agc({ eps: 0 })).toThrow(/options.eps/);
    expect(() => agc({ layout: 'nchw' as UnitLayout })).toThrow(/options.layout/);
    expect(() => agc({ clip: 0.1 } as never)).toThrow(/unknown option 'clip'/);
  });
});
