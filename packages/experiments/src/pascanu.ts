/**
 * The single-unit recurrent network of Pascanu, Mikolov & Bengio, "On the difficulty of
 * training recurrent neural networks", ICML 2013, §3 and Fig. 6:
 *
 *     x_t = w · σ(x_{t−1}) + b,   x₀ = 0.5,   t = 1 … T (T = 50)
 *     L(w, b) = (σ(x_T) − 0.7)²
 *
 * For w large enough the map x ↦ w·σ(x) + b has two stable fixed points; crossing the
 * bifurcation line in (w, b) switches the final state from one basin to the other, so the
 * error surface has a near-vertical wall (the "cliff") next to the valley of low loss.
 * Gradient descent that reaches the wall takes one huge step and lands far away on a flat
 * plateau; clipping the gradient norm keeps the step bounded and the descent stays in the
 * valley.
 *
 * Browser-safe (no Node imports): the playground imports this module too.
 */
import { clipByGlobalNorm } from 'gradclip';

export interface PascanuOptions {
  /** Number of recurrent steps T. Default 50. */
  steps?: number;
  /** Initial state x₀. Default 0.5. */
  x0?: number;
  /** Target for σ(x_T). Default 0.7. */
  target?: number;
}

export interface LossAndGrad {
  loss: number;
  /** ∂L/∂w */
  dw: number;
  /** ∂L/∂b */
  db: number;
  /** Final state x_T. */
  xT: number;
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/**
 * Loss and exact gradient by forward-mode differentiation: with two parameters, carrying
 * ∂x_t/∂w and ∂x_t/∂b through the recursion is cheaper and simpler than back-propagation
 * through time, and gives the same numbers:
 *
 *     ∂x_t/∂w = σ(x_{t−1}) + w·σ'(x_{t−1})·∂x_{t−1}/∂w
 *     ∂x_t/∂b = 1          + w·σ'(x_{t−1})·∂x_{t−1}/∂b
 *     ∂L/∂θ   = 2(σ(x_T) − target)·σ'(x_T)·∂x_T/∂θ
 */
export function pascanuLossAndGrad(w: number, b: number, options: PascanuOptions = {}): LossAndGrad {
  const steps = options.steps ?? 50;
  const target = options.target ?? 0.7;
  let x = options.x0 ?? 0.5;
  let dxdw = 0;
  let dxdb = 0;
  for (let t = 0; t < steps; t++) {
    const s = sigmoid(x);
    const slope = w * s * (1 - s);
    dxdw = s + slope * dxdw;
    dxdb = 1 + slope * dxdb;
    x = w * s + b;
  }
  const s = sigmoid(x);
  const err = s - target;
  const c = 2 * err * s * (1 - s);
  return { loss: err * err, dw: c * dxdw, db: c * dxdb, xT: x };
}

export function pascanuLoss(w: number, b: number, options: PascanuOptions = {}): number {
  return pascanuLossAndGrad(w, b, options).loss;
}

export interface Range {
  min: number;
  max: number;
}

export interface SurfaceCell {
  w: number;
  b: number;
  loss: number;
}

/** The loss on an n × n grid over [w.min, w.max] × [b.min, b.max] (cell centres). */
export function errorSurface(w: Range, b: Range, n = 80, options: PascanuOptions = {}): SurfaceCell[] {
  const cells: SurfaceCell[] = [];
  for (let i = 0; i < n; i++) {
    const bi = b.min + ((i + 0.5) * (b.max - b.min)) / n;
    for (let j = 0; j < n; j++) {
      const wj = w.min + ((j + 0.5) * (w.max - w.min)) / n;
      cells.push({ w: wj, b: bi, loss: pascanuLoss(wj, bi, options) });
    }
  }
  return cells;
}

export interface TrajectoryOptions extends PascanuOptions {
  /** Gradient-descent steps. Default 60. */
  iterations?: number;
  /** Learning rate. Default 1. */
  learningRate?: number;
  /** Global-norm threshold; omit for plain gradient descent. */
  maxNorm?: number;
}

export interface TrajectoryPoint {
  iteration: number;
  w: number;
  b: number;
  loss: number;
  /** Gradient norm at this point, before clipping. */
  gradNorm: number;
  /** Whether the step taken from this point was clipped. */
  clipped: boolean;
  /** Length of the step taken from this point (0 for the last point). */
  stepLength: number;
}

/**
 * Gradient descent on (w, b) from `start`. With `maxNorm`, the gradient goes through
 * gradclip's `clipByGlobalNorm` (PyTorch semantics) before each step.
 */
export function pascanuTrajectory(start: { w: number; b: number }, options: TrajectoryOptions = {}): TrajectoryPoint[] {
  const iterations = options.iterations ?? 60;
  const lr = options.learningRate ?? 1;
  let w = start.w;
  let b = start.b;
  const points: TrajectoryPoint[] = [];
  for (let k = 0; k <= iterations; k++) {
    const r = pascanuLossAndGrad(w, b, options);
    const grad = new Float64Array([r.dw, r.db]);
    const gradNorm = Math.hypot(r.dw, r.db);
    let clipped = false;
    if (options.maxNorm !== undefined) clipped = clipByGlobalNorm(grad, options.maxNorm).clipped;
    const last = k === iterations;
    const stepLength = last ? 0 : lr * Math.hypot(grad[0]!, grad[1]!);
    points.push({ iteration: k, w, b, loss: r.loss, gradNorm, clipped: last ? false : clipped, stepLength });
    if (last) break;
    w -= lr * grad[0]!;
    b -= lr * grad[1]!;
  }
  return points;
}

/**
 * The defaults of the `surface` experiment: a start just on the high-loss side of the cliff,
 * where plain GD (lr 1) is thrown ~10 units away onto the σ(x_T) ≈ 1 plateau (loss 0.09)
 * and stays there, while GD clipped at norm 0.25 (so every step is ≤ 0.25 long) walks down
 * into the valley (loss ≈ 1e-6 after 60 steps). Found by scanning starts, learning rates and
 * thresholds on a grid; several starts near the wall behave alike.
 */
export const PASCANU_DEFAULTS = {
  start: { w: 4.5, b: -3 },
  learningRate: 1,
  maxNorm: 0.25,
  iterations: 60,
  w: { min: 2, max: 10 } as Range,
  b: { min: -6, max: 8 } as Range,
} as const;

/** The largest single step of a trajectory: the "jump off the cliff" when it is large. */
export function largestStep(points: readonly TrajectoryPoint[]): number {
  let m = 0;
  for (const p of points) m = Math.max(m, p.stepLength);
  return m;
}
