/**
 * The experiments behind the report, one function each, returning plain data (JSON):
 *
 * - demo:      every method × every seed on the adding problem (claims 1, 2, 5, 6)
 * - sweep:     global-norm thresholds on a log grid around the average unclipped norm (claim 4)
 * - vanishing: ∂L/∂h_t per time step with and without clipping (claim 3)
 * - surface:   Pascanu et al. 2013 Fig. 6 (cliff, trajectories)
 * - smoothness: Zhang et al. 2020 — clipped vs fixed-step GD on f(x) = x⁴
 *
 * Browser-safe: progress goes through callbacks.
 */
import { clipByGlobalNorm } from 'gradclip';
import { parseMethod, type MethodSpec } from './methods.js';
import {
  errorSurface,
  largestStep,
  PASCANU_DEFAULTS,
  pascanuTrajectory,
  type SurfaceCell,
  type TrajectoryPoint,
} from '@gradclip/experiments/pascanu';
import { trainRun, type RunRecord, type TrainConfig } from './train.js';

export type Progress = (runIndex: number, runCount: number, step: number, label: string) => void;

export const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
export const mean = (xs: readonly number[]): number =>
  xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;

export interface MethodSummary {
  method: string;
  label: string;
  seeds: number;
  diverged: number;
  /** Held-out loss per seed (null = diverged). */
  evalLoss: (number | null)[];
  medianEvalLoss: number | null;
  /** Mean over seeds of the fraction of steps that clipped. */
  clipFraction: number;
  /** Median over all steps and seeds of the pre-clip gradient norm. */
  medianNorm: number;
  /** Mean cosine between clipped and raw gradient over the steps that clipped (1 = direction kept). */
  clippedCosine: number | null;
  /** Std of the step-to-step change in training loss over the last half (lower = smoother). */
  lossJitter: number | null;
}

export function summarise(runs: readonly RunRecord[], methods: readonly MethodSpec[]): MethodSummary[] {
  return methods.map((m) => {
    const rs = runs.filter((r) => r.method === m.id);
    const evals = rs.map((r) => r.evalLoss);
    const ok = evals.filter((v): v is number => v !== null);
    const cos = rs.flatMap((r) => r.cosine.filter((_, i) => r.clipped[i]));
    const jit = rs
      .filter((r) => !r.diverged)
      .map((r) => {
        const half = r.loss.slice(Math.floor(r.loss.length / 2));
        const d = half.slice(1).map((v, i) => v - half[i]!);
        const mu = mean(d);
        return Math.sqrt(mean(d.map((x) => (x - mu) ** 2)));
      });
    return {
      method: m.id,
      label: m.label,
      seeds: rs.length,
      diverged: rs.filter((r) => r.diverged).length,
      evalLoss: evals,
      medianEvalLoss: ok.length ? median(ok) : null,
      clipFraction: mean(rs.map((r) => r.clipFraction)),
      medianNorm: median(rs.flatMap((r) => r.norm.filter(Number.isFinite))),
      clippedCosine: cos.length ? mean(cos) : null,
      lossJitter: jit.length ? mean(jit) : null,
    };
  });
}

export interface DemoResult {
  runs: RunRecord[];
  summary: MethodSummary[];
}

export function runDemo(
  cfg: TrainConfig,
  methods: readonly MethodSpec[],
  seeds: readonly number[],
  progress?: Progress,
): DemoResult {
  const runs: RunRecord[] = [];
  const total = methods.length * seeds.length;
  for (const m of methods) {
    for (const seed of seeds) {
      const idx = runs.length;
      runs.push(trainRun(cfg, m, seed, { onStep: (s) => progress?.(idx, total, s, `${m.label} seed ${seed}`) }));
    }
  }
  return { runs, summary: summarise(runs, methods) };
}

/**
 * Pascanu et al.'s reference norm: "the average norm over a sufficiently large number of
 * updates". Unclipped training here blows up within a few steps, so its norms measure the
 * blow-up, not training; the reference is instead the median pre-clip norm over every step
 * of the global-norm runs that trained without diverging (the norm the gradient has while
 * training is under way). Falls back to the unclipped runs' steps before divergence.
 */
export function referenceNorm(runs: readonly RunRecord[]): number {
  const stable = runs.filter((r) => r.method.startsWith('global:') && !r.diverged).flatMap((r) => r.norm);
  if (stable.length) return median(stable);
  return median(
    runs
      .filter((r) => r.method === 'none')
      .flatMap((r) => r.norm.filter((v, i) => Number.isFinite(v) && (r.divergedAt === null || i < r.divergedAt))),
  );
}

export interface SweepPoint {
  multiple: number;
  threshold: number;
  seed: number;
  diverged: boolean;
  evalLoss: number | null;
  clipFraction: number;
}

export interface SweepResult {
  referenceNorm: number;
  multiples: number[];
  points: SweepPoint[];
}

export const SWEEP_MULTIPLES = [0.1, 0.3, 1, 3, 10, 30, 100];

export function runSweep(
  cfg: TrainConfig,
  refNorm: number,
  seeds: readonly number[],
  multiples: readonly number[] = SWEEP_MULTIPLES,
  progress?: Progress,
): SweepResult {
  const points: SweepPoint[] = [];
  const total = multiples.length * seeds.length;
  for (const k of multiples) {
    // Thresholds rounded to 3 significant digits so the method ids stay readable.
    const threshold = Number((k * refNorm).toPrecision(3));
    const m = parseMethod(`global:${threshold}`);
    for (const seed of seeds) {
      const idx = points.length;
      const r = trainRun(cfg, m, seed, { onStep: (s) => progress?.(idx, total, s, `sweep ${k}× seed ${seed}`) });
      points.push({
        multiple: k,
        threshold,
        seed,
        diverged: r.diverged,
        evalLoss: r.evalLoss,
        clipFraction: r.clipFraction,
      });
    }
  }
  return { referenceNorm: refNorm, multiples: [...multiples], points };
}

export interface VanishingRun {
  method: string;
  label: string;
  seed: number;
  hiddenGradStart: number[];
  hiddenGradEnd: number[];
  clipFraction: number;
  meanScale: number;
  /** ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ after training: how much of the signal reaches the first step. */
  reachEnd: number;
  evalLoss: number | null;
}

export interface VanishingResult {
  recurrentScale: number;
  methods: string[];
  runs: VanishingRun[];
}

/**
 * The vanishing-gradient regime: the same RNN with a small recurrent matrix (ρ ≈ 0.6), so
 * ∂L/∂h_t decays geometrically towards early t. Trained without clipping, with a threshold
 * above the typical norm, and with an aggressive one that clips every step.
 */
export function runVanishing(
  cfg: TrainConfig,
  seeds: readonly number[],
  methodIds: readonly string[] = ['none', 'global:1', 'global:0.01'],
  progress?: Progress,
): VanishingResult {
  const vcfg: TrainConfig = { ...cfg, recurrentScale: 0.6 };
  const runs: VanishingRun[] = [];
  const total = methodIds.length * seeds.length;
  for (const id of methodIds) {
    const m = parseMethod(id);
    for (const seed of seeds) {
      const idx = runs.length;
      const r = trainRun(vcfg, m, seed, {
        profile: true,
        onStep: (s) => progress?.(idx, total, s, `vanishing ${m.label} seed ${seed}`),
      });
      const end = r.hiddenGradEnd ?? r.hiddenGradStart!;
      runs.push({
        method: m.id,
        label: m.label,
        seed,
        hiddenGradStart: r.hiddenGradStart!,
        hiddenGradEnd: end,
        clipFraction: r.clipFraction,
        meanScale: mean(r.scale),
        reachEnd: end[0]! / end[end.length - 1]!,
        evalLoss: r.evalLoss,
      });
    }
  }
  return { recurrentScale: vcfg.recurrentScale, methods: [...methodIds], runs };
}

export interface SurfaceResult {
  start: { w: number; b: number };
  learningRate: number;
  maxNorm: number;
  w: { min: number; max: number };
  b: { min: number; max: number };
  cells: SurfaceCell[];
  /** A finer grid around the start, where the trajectories part ways. */
  zoom: { w: { min: number; max: number }; b: { min: number; max: number }; cells: SurfaceCell[] };
  plain: TrajectoryPoint[];
  clipped: TrajectoryPoint[];
  plainLargestStep: number;
  clippedLargestStep: number;
}

const ZOOM = { w: { min: 3.6, max: 4.8 }, b: { min: -3.2, max: -1.4 } };

export function runSurface(gridSize = 80): SurfaceResult {
  const d = PASCANU_DEFAULTS;
  const plain = pascanuTrajectory(d.start, { learningRate: d.learningRate, iterations: d.iterations });
  const clipped = pascanuTrajectory(d.start, {
    learningRate: d.learningRate,
    iterations: d.iterations,
    maxNorm: d.maxNorm,
  });
  return {
    start: { ...d.start },
    learningRate: d.learningRate,
    maxNorm: d.maxNorm,
    w: { ...d.w },
    b: { ...d.b },
    cells: errorSurface(d.w, d.b, gridSize),
    zoom: { w: { ...ZOOM.w }, b: { ...ZOOM.b }, cells: errorSurface(ZOOM.w, ZOOM.b, gridSize) },
    plain,
    clipped,
    plainLargestStep: largestStep(plain),
    clippedLargestStep: largestStep(clipped),
  };
}

export interface SmoothnessPoint {
  method: string;
  x0: number;
  iterations: number | null;
  diverged: boolean;
}

export interface SmoothnessResult {
  tolerance: number;
  maxIterations: number;
  learningRate: number;
  maxNorm: number;
  points: SmoothnessPoint[];
}

/**
 * Zhang, He, Sra & Jadbabaie 2020 ("Why gradient clipping accelerates training"): f(x) = x⁴
 * is (L0, L1)-smooth but not L-smooth — its curvature 12x² grows with the gradient 4x³. A
 * fixed step size must be ≲ 1/(12x₀²) to avoid diverging from x₀, so it crawls near the
 * minimum; clipped GD takes steps of at most lr·maxNorm far away and full steps near 0.
 * For each start x₀ we count the iterations to reach f(x) < tol: fixed-step GD uses the
 * a step tuned for the largest start (tuned once for all starts, as a
 * practitioner would), clipped GD uses a larger lr with clipByGlobalNorm.
 */
export function runSmoothness(
  starts: readonly number[] = [1, 2, 4, 8, 16, 32],
  tolerance = 1e-6,
  maxIterations = 100_000,
): SmoothnessResult {
  const xmax = Math.max(...starts);
  // The fixed step tuned for the farthest start: η = 1/(8·x_max²) halves x in the first step
  // (x − η·4x³ = x/2 at x = x_max); η ≥ 1/(2x²) would overshoot past −x and diverge.
  const fixedLr = 1 / (8 * xmax * xmax);
  const clippedLr = 0.05;
  const maxNorm = 1;
  const points: SmoothnessPoint[] = [];
  const run = (x0: number, lr: number, clip: boolean): { iterations: number | null; diverged: boolean } => {
    let x = x0;
    for (let k = 0; k < maxIterations; k++) {
      if (x ** 4 < tolerance) return { iterations: k, diverged: false };
      if (!Number.isFinite(x) || Math.abs(x) > 1e6) return { iterations: null, diverged: true };
      const g = new Float64Array([4 * x ** 3]);
      if (clip) clipByGlobalNorm(g, maxNorm);
      x -= lr * g[0]!;
    }
    return { iterations: null, diverged: false };
  };
  for (const x0 of starts) {
    points.push({ method: `fixed step η=${fixedLr.toPrecision(2)}`, x0, ...run(x0, fixedLr, false) });
    points.push({ method: `clipped η=${clippedLr}, maxNorm ${maxNorm}`, x0, ...run(x0, clippedLr, true) });
  }
  return { tolerance, maxIterations, learningRate: clippedLr, maxNorm, points };
}
