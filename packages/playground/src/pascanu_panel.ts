/**
 * Data for the "cliff" panel: Pascanu et al.'s single-unit RNN (model code shared with the
 * CLI experiments, packages/experiments/src/pascanu.ts) with gradient descent whose gradient goes
 * through any gradclip clipper — the one the page's settings select.
 */
import type { Clipper } from 'gradclip';
import { errorSurface, PASCANU_DEFAULTS, pascanuLossAndGrad } from '@gradclip/experiments/pascanu';
import type { PathRow, SurfaceRow } from './charts.js';

export const DOMAIN = {
  w: [PASCANU_DEFAULTS.w.min, PASCANU_DEFAULTS.w.max],
  b: [PASCANU_DEFAULTS.b.min, PASCANU_DEFAULTS.b.max],
} as {
  w: [number, number];
  b: [number, number];
};
export const START = PASCANU_DEFAULTS.start;
export const ITERATIONS = PASCANU_DEFAULTS.iterations;

/** Colour floor: losses below 1e-5 all look like "the valley" (the log colour scale needs > 0). */
const LOSS_FLOOR = 1e-5;

let cached: SurfaceRow[] | undefined;

/** The error surface on an n × n grid as heat-map cells (computed once). */
export function surfaceRows(n = 70): SurfaceRow[] {
  if (cached) return cached;
  const { w, b } = PASCANU_DEFAULTS;
  // Half a cell, enlarged by 4% so that neighbouring cells overlap: antialiased edges of
  // cells that only touch would leave hairline seams across the heat map.
  const dw = ((w.max - w.min) / n / 2) * 1.04;
  const db = ((b.max - b.min) / n / 2) * 1.04;
  cached = errorSurface(w, b, n).map((c) => ({
    w0: c.w - dw,
    w1: c.w + dw,
    b0: c.b - db,
    b1: c.b + db,
    loss: Math.max(LOSS_FLOOR, c.loss),
  }));
  return cached;
}

export interface Trajectory {
  path: PathRow[];
  finalLoss: number;
  /** Longest single step ‖Δθ‖. */
  largestStep: number;
}

/**
 * Gradient descent on θ = (w, b) from START. The gradient is passed to `clipper` as two
 * one-element tensors {w, b} (with the parameters, for AGC) and clipped in place.
 */
export function trajectory(learningRate: number, clipper: Clipper | null, iterations = ITERATIONS): Trajectory {
  let w: number = START.w;
  let b: number = START.b;
  const path: PathRow[] = [{ i: 0, w, b }];
  let largestStep = 0;
  for (let i = 1; i <= iterations; i++) {
    const r = pascanuLossAndGrad(w, b);
    const grads = { w: new Float64Array([r.dw]), b: new Float64Array([r.db]) };
    if (clipper !== null) clipper.clip(grads, { w: new Float64Array([w]), b: new Float64Array([b]) });
    const dw = learningRate * grads.w[0]!;
    const db = learningRate * grads.b[0]!;
    if (!Number.isFinite(dw) || !Number.isFinite(db)) break;
    largestStep = Math.max(largestStep, Math.hypot(dw, db));
    w -= dw;
    b -= db;
    path.push({ i, w, b });
  }
  return { path, finalLoss: pascanuLossAndGrad(w, b).loss, largestStep };
}
