import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fcGate } from '../../gradclip/test/fc_gate.js';
import { largestStep, PASCANU_DEFAULTS, pascanuLossAndGrad, pascanuTrajectory } from './pascanu.js';

describe('pascanuLossAndGrad', () => {
  it('matches a hand-worked one-step case', () => {
    // T = 1, w = 2, b = 0, x0 = 0: x1 = 2·σ(0) = 1; σ(1) = 0.7310586;
    // L = (0.7310586 − 0.7)² = 9.6463e-4; ∂x1/∂w = σ(0) = 0.5, ∂x1/∂b = 1;
    // ∂L/∂x1 = 2·0.0310586·σ'(1) = 2·0.0310586·0.1966119 = 0.0122130
    const r = pascanuLossAndGrad(2, 0, { steps: 1, x0: 0 });
    expect(r.xT).toBeCloseTo(1, 12);
    expect(r.loss).toBeCloseTo(9.6463e-4, 7);
    expect(r.dw).toBeCloseTo(0.5 * 0.012213, 6);
    expect(r.db).toBeCloseTo(0.012213, 6);
  });

  it('agrees with central finite differences', () => {
    fc.assert(
      fc.property(fc.double({ min: -3, max: 3, noNaN: true }), fc.double({ min: -3, max: 3, noNaN: true }), (w, b) => {
        const h = 1e-6;
        const r = pascanuLossAndGrad(w, b, { steps: 10 });
        const fdw =
          (pascanuLossAndGrad(w + h, b, { steps: 10 }).loss - pascanuLossAndGrad(w - h, b, { steps: 10 }).loss) /
          (2 * h);
        const fdb =
          (pascanuLossAndGrad(w, b + h, { steps: 10 }).loss - pascanuLossAndGrad(w, b - h, { steps: 10 }).loss) /
          (2 * h);
        expect(Math.abs(r.dw - fdw)).toBeLessThan(1e-6 + 1e-4 * Math.abs(fdw));
        expect(Math.abs(r.db - fdb)).toBeLessThan(1e-6 + 1e-4 * Math.abs(fdb));
      }),
      fcGate({ seed: 2221, numRuns: 50 }),
    );
  });
});

describe('pascanuTrajectory (Fig. 6)', () => {
  const { start, learningRate, maxNorm, iterations } = PASCANU_DEFAULTS;
  const plain = pascanuTrajectory(start, { learningRate, iterations });
  const clipped = pascanuTrajectory(start, { learningRate, iterations, maxNorm });

  it('without clipping jumps off the cliff onto the plateau', () => {
    expect(largestStep(plain)).toBeGreaterThan(5);
    expect(plain.at(-1)!.loss).toBeGreaterThan(0.05);
  });

  it('with clipping takes bounded steps and reaches the valley', () => {
    // every step is at most lr · maxNorm = 1 · 0.25
    expect(largestStep(clipped)).toBeLessThanOrEqual(learningRate * maxNorm + 1e-9);
    expect(clipped.some((p) => p.clipped)).toBe(true);
    expect(clipped.at(-1)!.loss).toBeLessThan(1e-3);
  });

  it('both start from the same point', () => {
    expect(plain[0]).toEqual(clipped[0]);
  });
});
