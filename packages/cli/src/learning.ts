/**
 * Learning-rate sensitivity (Wortsman et al. 2023, "Small-scale proxies for large-scale
 * Transformer training instabilities"): the final held-out loss against the learning rate,
 * per clipping method. A stable method has a wide basin: it reaches a low loss over a wide
 * range of learning rates, and unclipped training leaves the basin at the high end.
 *
 * The model is the experiments' tanh RNN on the temporal-order task with T = 10, a
 * dependency short enough for plain SGD to learn in 200 steps (at T = 50 nothing learns in
 * the time budget; see docs/experiments.md). Also here: Zhang et al. 2020's Fig. 1 (local
 * smoothness against gradient norm along a trajectory), measured on the same model.
 *
 * Browser-safe: progress goes through callbacks.
 */
import { median, mean, type Progress } from './experiments.js';
import { parseMethod, type MethodSpec } from './methods.js';
import { temporalOrder } from '@gradclip/experiments/tasks';
import { trainRun, type TrainConfig } from './train.js';

/**
 * The model and task of the learning-rate sweep: temporal order (4 classes, chance loss
 * ln 4), T = 10, a 16-unit tanh RNN with ρ(Wh) ≈ 1.5 at init, batch 32, plain SGD,
 * 150 steps. Chosen by trying T = 10–20, 150–300 steps and ρ 1.5–2.5 over lr 0.03–10 (3
 * seeds): at T = 10 every seed learns at the good rates, so the curves are not dominated by
 * seed luck (at T = 15–20 single seeds stay at chance at every rate). 150 steps keep the
 * sweep (108 runs) within the time budget of `npm start`.
 */
export const LEARNING_CONFIG: TrainConfig = {
  task: temporalOrder,
  seqLen: 10,
  hidden: 16,
  batchSize: 32,
  steps: 150,
  learningRate: 0.1,
  recurrentScale: 1.5,
  evalSize: 256,
  divergenceFactor: 100,
};

/** Learning rates of the default sweep: 2.5 decades in steps of ≈ √10. */
export const LEARNING_RATES = [0.03, 0.1, 0.3, 1, 3, 10];
/**
 * Methods of the default sweep: two global-norm thresholds (1, near the median early
 * norm, and 0.3); AGC and AutoClip at their library defaults (λ = 0.01, p10); ZClip as
 * everywhere in the CLI without its fixed cap (`zclip:2.5`). AdaGC is left out for time
 * (it costs twice a global-norm run; in a trial its curve followed global norm ≤ 1 up to
 * lr 1 and stayed finite but above chance at 3 and 10).
 */
export const LEARNING_METHODS = ['none', 'global:1', 'global:0.3', 'autoclip:10', 'zclip:2.5', 'agc:0.01'];

export interface LearningRun {
  method: string;
  lr: number;
  seed: number;
  /** Held-out loss after training; null = diverged (loss NaN/∞ or above 100× chance). */
  finalLoss: number | null;
  /** Median pre-clip gradient norm of the first 20 steps. */
  earlyNorm: number;
  /** Fraction of steps that clipped. */
  clipFraction: number;
}

export interface LearningPoint {
  method: string;
  label: string;
  lr: number;
  /** Median over seeds, diverged runs counted as +∞ (null when the median run diverged). */
  medianLoss: number | null;
  diverged: number;
  seeds: number;
}

export interface LearningCurve {
  method: string;
  label: string;
  points: LearningPoint[];
  /** Lowest median loss over the learning rates (null when every rate diverged). */
  bestLoss: number | null;
  bestLr: number | null;
  /**
   * Wortsman et al.'s LR sensitivity: the mean over learning rates of
   * min(loss, chance) − best, where best is the lowest median loss of any method. Lower
   * is more robust; a diverged rate counts as chance (the loss at initialisation).
   */
  sensitivity: number;
  /** Learning rates at which the median loss is within 2× of the best loss of any method. */
  withinTwo: number[];
  /** Learning rates at which it learns: median loss ≤ 0.5× chance. */
  learns: number[];
}

export interface LearningResult {
  task: string;
  chanceLoss: number;
  config: Omit<TrainConfig, 'task' | 'learningRate'> & { task: string };
  lrs: number[];
  methods: string[];
  seeds: number[];
  runs: LearningRun[];
  curves: LearningCurve[];
  /** The best median loss of any method at any learning rate. */
  bestLoss: number;
}

export function runLearning(
  cfg: TrainConfig = LEARNING_CONFIG,
  lrs: readonly number[] = LEARNING_RATES,
  methods: readonly MethodSpec[] = LEARNING_METHODS.map(parseMethod),
  seeds: readonly number[] = [1, 2, 3],
  progress?: Progress,
): LearningResult {
  const runs: LearningRun[] = [];
  const total = methods.length * lrs.length * seeds.length;
  for (const m of methods) {
    for (const lr of lrs) {
      for (const seed of seeds) {
        const idx = runs.length;
        // The sweep does not use the cosine between raw and clipped gradient: not measured.
        const r = trainRun({ ...cfg, learningRate: lr }, m, seed, {
          cosine: false,
          onStep: (s) => progress?.(idx, total, s, `${m.label} lr ${lr} seed ${seed}`),
        });
        runs.push({
          method: m.id,
          lr,
          seed,
          finalLoss: r.evalLoss,
          earlyNorm: median(r.norm.slice(0, 20).filter(Number.isFinite)),
          clipFraction: r.clipFraction,
        });
      }
    }
  }
  const { task, learningRate: _lr, ...rest } = cfg;
  return {
    task: task.name,
    chanceLoss: task.chanceLoss,
    config: { ...rest, task: task.name },
    lrs: [...lrs],
    methods: methods.map((m) => m.id),
    seeds: [...seeds],
    ...curvesOf(runs, methods, lrs, task.chanceLoss),
  };
}

/** Median with diverged runs (null) counted as +∞; null when that median is +∞. */
export function medianWithDivergence(losses: readonly (number | null)[]): number | null {
  const v = median(losses.map((l) => (l === null ? Infinity : l)));
  return Number.isFinite(v) ? v : null;
}

export function curvesOf(
  runs: readonly LearningRun[],
  methods: readonly MethodSpec[],
  lrs: readonly number[],
  chanceLoss: number,
): { runs: LearningRun[]; curves: LearningCurve[]; bestLoss: number } {
  const pts = methods.map((m) =>
    lrs.map((lr): LearningPoint => {
      const rs = runs.filter((r) => r.method === m.id && r.lr === lr);
      return {
        method: m.id,
        label: m.label,
        lr,
        medianLoss: medianWithDivergence(rs.map((r) => r.finalLoss)),
        diverged: rs.filter((r) => r.finalLoss === null).length,
        seeds: rs.length,
      };
    }),
  );
  const finite = pts.flat().flatMap((p) => (p.medianLoss === null ? [] : [p.medianLoss]));
  const bestLoss = finite.length ? Math.min(...finite) : NaN;
  const curves = methods.map((m, i): LearningCurve => {
    const points = pts[i]!;
    const ok = points.filter((p) => p.medianLoss !== null);
    const best = ok.length ? ok.reduce((a, b) => (b.medianLoss! < a.medianLoss! ? b : a)) : null;
    return {
      method: m.id,
      label: m.label,
      points,
      bestLoss: best?.medianLoss ?? null,
      bestLr: best?.lr ?? null,
      sensitivity: mean(points.map((p) => Math.min(p.medianLoss ?? chanceLoss, chanceLoss) - bestLoss)),
      withinTwo: points.filter((p) => p.medianLoss !== null && p.medianLoss <= 2 * bestLoss).map((p) => p.lr),
      learns: points.filter((p) => p.medianLoss !== null && p.medianLoss <= 0.5 * chanceLoss).map((p) => p.lr),
    };
  });
  return { runs: [...runs], curves, bestLoss };
}

/**
 * The issue's acceptance test for claim (2), computed from the sweep: (a) a learning rate
 * where a global-norm clipper reaches a median held-out loss ≤ 0.5× chance while unclipped
 * training there diverges or ends ≥ 0.9× chance; (b) clipping's best loss ≤ 1.05× the
 * unclipped best; (c) clipping within 2× of the best loss (the lower of the two methods'
 * bests) at more learning rates than unclipped.
 */
export interface LearningChecks {
  /** The global-norm method the checks are about (the first one in the sweep). */
  method: string;
  decidingLrs: { lr: number; clipped: number; unclipped: number | null }[];
  clipBest: number | null;
  noneBest: number | null;
  bestRatio: number | null;
  pairBest: number | null;
  clipWithinTwo: number[];
  noneWithinTwo: number[];
  a: boolean;
  b: boolean;
  c: boolean;
}

export function learningChecks(l: LearningResult, method?: string): LearningChecks | null {
  const clip = l.curves.find((c) => (method === undefined ? c.method.startsWith('global:') : c.method === method));
  const none = l.curves.find((c) => c.method === 'none');
  if (!clip || !none) return null;
  const chance = l.chanceLoss;
  const decidingLrs = l.lrs.flatMap((lr) => {
    const c = clip.points.find((p) => p.lr === lr)?.medianLoss ?? null;
    const n = none.points.find((p) => p.lr === lr);
    if (c === null || n === undefined || c > 0.5 * chance) return [];
    if (n.medianLoss !== null && n.medianLoss < 0.9 * chance) return [];
    return [{ lr, clipped: c, unclipped: n.medianLoss }];
  });
  const bests = [clip.bestLoss, none.bestLoss].filter((x): x is number => x !== null);
  const pairBest = bests.length ? Math.min(...bests) : null;
  const within = (c: LearningCurve) =>
    pairBest === null
      ? []
      : c.points.filter((p) => p.medianLoss !== null && p.medianLoss <= 2 * pairBest).map((p) => p.lr);
  const clipWithinTwo = within(clip);
  const noneWithinTwo = within(none);
  const bestRatio = clip.bestLoss !== null && none.bestLoss !== null ? clip.bestLoss / none.bestLoss : null;
  return {
    method: clip.method,
    decidingLrs,
    clipBest: clip.bestLoss,
    noneBest: none.bestLoss,
    bestRatio,
    pairBest,
    clipWithinTwo,
    noneWithinTwo,
    a: decidingLrs.length > 0,
    b: clip.bestLoss !== null && (none.bestLoss === null || clip.bestLoss <= 1.05 * none.bestLoss),
    c: clipWithinTwo.length > noneWithinTwo.length,
  };
}

/** Pearson correlation of two equally long lists (NaN with fewer than 3 pairs or no spread). */
export function pearson(xs: readonly number[], ys: readonly number[]): number {
  const n = Math.min(xs.length, ys.length);
  if (n < 3) return NaN;
  const mx = mean(xs.slice(0, n));
  const my = mean(ys.slice(0, n));
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - mx;
    const dy = ys[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : NaN;
}

export interface SmoothnessTrace {
  seed: number;
  /** Pre-clip gradient norm and local smoothness per step (steps where both are finite and positive). */
  norm: number[];
  smoothness: number[];
  /** Pearson correlation of log ‖∇f‖ and log L̂ over the steps. */
  correlation: number;
}

export interface SmoothnessCorrelation {
  method: string;
  lr: number;
  steps: number;
  traces: SmoothnessTrace[];
  medianCorrelation: number;
  /** The pass mark of the reproduction: median correlation ≥ this. */
  passMark: number;
  pass: boolean;
}

/**
 * Zhang, He, Sra & Jadbabaie 2020, Fig. 1: along a training trajectory, the local
 * smoothness L̂_t = ‖∇f(x_{t+1}) − ∇f(x_t)‖/‖x_{t+1} − x_t‖ grows with the gradient norm
 * (their (L0, L1)-smoothness: L ≤ L0 + L1‖∇f‖). Measured on the learning-rate sweep's
 * model, trained with global-norm clipping at a rate where it learns; the reproduction
 * passes when the median over seeds of corr(log ‖∇f‖, log L̂) is at least 0.5 (a clear
 * positive relation, as in their plots; fixed before the first run).
 */
export function runSmoothnessCorrelation(
  cfg: TrainConfig = LEARNING_CONFIG,
  method = 'global:1',
  lr = 0.3,
  seeds: readonly number[] = [1, 2, 3],
  progress?: Progress,
): SmoothnessCorrelation {
  const m = parseMethod(method);
  const traces = seeds.map((seed, i): SmoothnessTrace => {
    const r = trainRun({ ...cfg, learningRate: lr }, m, seed, {
      smoothness: true,
      onStep: (s) => progress?.(i, seeds.length, s, `smoothness seed ${seed}`),
    });
    const sm = r.smoothness ?? [];
    const keep = sm
      .map((_, t) => t)
      .filter((t) => Number.isFinite(sm[t]) && sm[t]! > 0 && Number.isFinite(r.norm[t]) && r.norm[t]! > 0);
    const norm = keep.map((t) => r.norm[t]!);
    const smoothness = keep.map((t) => sm[t]!);
    return { seed, norm, smoothness, correlation: pearson(norm.map(Math.log), smoothness.map(Math.log)) };
  });
  const medianCorrelation = median(traces.map((t) => t.correlation));
  const passMark = 0.5;
  return { method, lr, steps: cfg.steps, traces, medianCorrelation, passMark, pass: medianCorrelation >= passMark };
}
