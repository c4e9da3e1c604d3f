import { describe, expect, it } from 'vitest';
import { PASCANU_DEFAULTS, pascanuLoss } from '@gradclip/experiments/pascanu';
import { typedClipper } from '../src/clipping.js';
import { START, surfaceRows, trajectory } from '../src/pascanu_panel.js';
import { DEFAULTS, METHODS } from '../src/settings.js';

// The experiment's own setting (packages/cli): a start next to the wall and a step size at
// which plain GD is thrown off it.
const lr = PASCANU_DEFAULTS.learningRate;
const tau = PASCANU_DEFAULTS.maxNorm;

describe('Pascanu panel', () => {
  it('plain gradient descent jumps off the cliff; global-norm clipping bounds every step by lr·τ', () => {
    const plain = trajectory(lr, null);
    const clipped = trajectory(lr, typedClipper({ ...DEFAULTS, method: 'globalNorm', threshold: tau }));
    // One step of plain GD covers more than half the plot's width (w from 2 to 10) …
    expect(plain.largestStep).toBeGreaterThan(4);
    // … while a clipped step is at most lr·τ·‖g‖/(‖g‖ + 1e-6) < lr·τ, and reaches it
    // (to 1e-6 relative) on the wall where ‖g‖ ≫ τ.
    expect(clipped.largestStep).toBeLessThanOrEqual(lr * tau);
    expect(clipped.largestStep).toBeGreaterThan(lr * tau * (1 - 1e-5));
    expect(clipped.finalLoss).toBeLessThan(plain.finalLoss / 10);
    expect(plain.path[0]).toEqual({ i: 0, w: START.w, b: START.b });
    expect(clipped.path).toHaveLength(61);
  });

  it('value clipping bounds each coordinate of a step by lr·c', () => {
    const t = trajectory(lr, typedClipper({ ...DEFAULTS, method: 'value', threshold: 0.2 }));
    for (let i = 1; i < t.path.length; i++) {
      expect(Math.abs(t.path[i]!.w - t.path[i - 1]!.w)).toBeLessThanOrEqual(lr * 0.2 + 1e-15);
      expect(Math.abs(t.path[i]!.b - t.path[i - 1]!.b)).toBeLessThanOrEqual(lr * 0.2 + 1e-15);
    }
  });

  it('every method of the page runs on the two-parameter model and reports the end point’s loss', () => {
    for (const method of METHODS) {
      const t = trajectory(lr, typedClipper({ ...DEFAULTS, method }));
      const end = t.path.at(-1)!;
      expect(Number.isFinite(end.w) && Number.isFinite(end.b)).toBe(true);
      expect(t.finalLoss).toBeCloseTo(pascanuLoss(end.w, end.b), 15);
    }
  });

  it('the heat map covers the plot with cells whose colour value is positive (log scale)', () => {
    const rows = surfaceRows(70);
    expect(rows).toHaveLength(70 * 70);
    const minW = Math.min(...rows.map((r) => r.w0));
    const maxB = Math.max(...rows.map((r) => r.b1));
    expect(minW).toBeLessThanOrEqual(2);
    expect(maxB).toBeGreaterThanOrEqual(4);
    for (const r of rows) expect(r.loss).toBeGreaterThanOrEqual(1e-5);
    // The two plateaus of the figure: σ(x₅₀) near 1 (loss 0.09) and near 0 (loss 0.49).
    expect(Math.max(...rows.map((r) => r.loss))).toBeGreaterThan(0.45);
    expect(rows.some((r) => Math.abs(r.loss - 0.09) < 0.005)).toBe(true);
  });
});
