/**
 * Clipped SGD under gradient noise, on problems small enough to run thousands of times
 * (plain typed arrays; the clipping is gradclip's `clipByGlobalNorm`):
 *
 * - heavy-tailed noise (Zhang, Karimireddy, Veit, Kim, Reddi, Kumar & Sra 2020, "Why are
 *   adaptive methods good for attention models?"): SGD against clipped SGD on a quadratic
 *   whose stochastic gradient carries Gaussian, Student-t (ν = 1.5: infinite variance) or
 *   Cauchy noise;
 * - the bias of clipping (Koloskova, Hendrikx & Stich 2023, "Revisiting gradient clipping:
 *   stochastic bias and tight convergence guarantees"): with skewed noise the expected
 *   clipped gradient is not the gradient, so clipped SGD stalls at a distance from the
 *   optimum that shrinks as the threshold τ grows.
 *
 * Browser-safe.
 */
import { clipByGlobalNorm } from 'gradclip';
import { median } from './experiments.js';
import { Rng } from '@gradclip/experiments/tasks';

/** Gamma(shape k, scale 1) by Marsaglia & Tsang (2000); k < 1 through the boost u^(1/k). */
export function gamma(rng: Rng, k: number): number {
  if (k < 1) return gamma(rng, k + 1) * Math.pow(1 - rng.next(), 1 / k);
  const d = k - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = rng.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - rng.next();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

export type NoiseKind = 'gaussian' | 'student-t' | 'cauchy';

/** Student-t's degrees of freedom: 1 < ν < 2 has a mean but no variance. */
export const STUDENT_NU = 1.5;

/** One noise value with unit scale: N(0, 1), Student-t(ν = 1.5), or Cauchy (= Student-t with ν = 1). */
export function noise(rng: Rng, kind: NoiseKind): number {
  if (kind === 'gaussian') return rng.normal();
  if (kind === 'cauchy') return Math.tan(Math.PI * (rng.next() - 0.5));
  return rng.normal() / Math.sqrt((2 * gamma(rng, STUDENT_NU / 2)) / STUDENT_NU);
}

export interface HeavyTailConfig {
  dim: number;
  steps: number;
  lr: number;
  /** Threshold of clipped SGD. */
  maxNorm: number;
  /** Scale of the noise added to each coordinate of the gradient. */
  noiseScale: number;
  seeds: number;
  noises: NoiseKind[];
  /** Steps at which the per-seed losses are recorded (for the chart). */
  every: number;
}

/**
 * f(x) = ½‖x‖² in 10 dimensions from x₀ = (10, …, 10) (f = 500), stochastic gradient
 * x + σξ. The learning rate 0.05 and τ = 2 were set once on the Gaussian case (where
 * clipping should not matter much) and kept for the heavy-tailed ones.
 */
export const HEAVY_TAIL_CONFIG: HeavyTailConfig = {
  dim: 10,
  steps: 1000,
  lr: 0.05,
  maxNorm: 2,
  noiseScale: 1,
  seeds: 60,
  noises: ['gaussian', 'student-t', 'cauchy'],
  every: 10,
};

export interface HeavyTailRow {
  noise: NoiseKind;
  method: 'SGD' | 'clipped SGD';
  /** f at the recorded steps: median and 90th percentile over seeds. */
  steps: number[];
  median: number[];
  p90: number[];
  /** f after the last step, per seed. */
  final: number[];
  finalMedian: number;
  finalP90: number;
  /** Largest f any seed reached at any recorded step. */
  worst: number;
}

export interface HeavyTailResult {
  config: HeavyTailConfig;
  rows: HeavyTailRow[];
}

/** The q-quantile (0 ≤ q ≤ 1) with linear interpolation, as NumPy's default. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = q * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo]! + (pos - lo) * (s[hi]! - s[lo]!);
}

export function runHeavyTail(cfg: HeavyTailConfig = HEAVY_TAIL_CONFIG): HeavyTailResult {
  const rows: HeavyTailRow[] = [];
  const recorded: number[] = [];
  for (let t = 0; t <= cfg.steps; t += cfg.every) recorded.push(t);
  for (const kind of cfg.noises) {
    for (const method of ['SGD', 'clipped SGD'] as const) {
      const traces: number[][] = recorded.map(() => []);
      const final: number[] = [];
      for (let seed = 1; seed <= cfg.seeds; seed++) {
        // The same noise sequence for both methods of a seed.
        const rng = new Rng(seed * 7 + cfg.noises.indexOf(kind) * 100_003);
        const x = new Float64Array(cfg.dim).fill(10);
        const g = new Float64Array(cfg.dim);
        let k = 0;
        for (let t = 0; t <= cfg.steps; t++) {
          let f = 0;
          for (let i = 0; i < cfg.dim; i++) f += 0.5 * x[i]! * x[i]!;
          if (t === recorded[k]) traces[k++]!.push(f);
          if (t === cfg.steps) {
            final.push(f);
            break;
          }
          for (let i = 0; i < cfg.dim; i++) g[i] = x[i]! + cfg.noiseScale * noise(rng, kind);
          if (method === 'clipped SGD') clipByGlobalNorm(g, cfg.maxNorm);
          for (let i = 0; i < cfg.dim; i++) x[i] = x[i]! - cfg.lr * g[i]!;
        }
      }
      rows.push({
        noise: kind,
        method,
        steps: recorded,
        median: traces.map((v) => median(v)),
        p90: traces.map((v) => quantile(v, 0.9)),
        final,
        finalMedian: median(final),
        finalP90: quantile(final, 0.9),
        worst: Math.max(...traces.flat()),
      });
    }
  }
  return { config: cfg, rows };
}

export interface BiasConfig {
  /** Noise scale σ of the skewed noise σ·(E − 1), E ~ Exp(1). */
  sigma: number;
  thresholds: number[];
  seeds: number;
  steps: number;
  /** Step size η_t = lr0 / (1 + t / t0): decays, so that only the bias remains. */
  lr0: number;
  t0: number;
}

/**
 * f(x) = ½(x − x*)², x* = 0, stochastic gradient (x − x*) + σ(E − 1) with E ~ Exp(1): mean
 * zero, skewed to the right. Clipped SGD with decaying steps converges to the point x̄
 * where the expected clipped gradient vanishes, E[clip(x̄ + σ(E − 1))] = 0; for τ below the
 * spread of the noise x̄ ≠ x*. The threshold grid runs from 0.1σ to 10σ.
 */
export const BIAS_CONFIG: BiasConfig = {
  sigma: 1,
  thresholds: [0.1, 0.3, 1, 3, 10],
  seeds: 16,
  steps: 3000,
  lr0: 0.5,
  t0: 20,
};

export interface BiasPoint {
  /** null = unclipped SGD. */
  threshold: number | null;
  /** |x̄ − x*| per seed: the average of the last quarter of the iterates. */
  distances: number[];
  medianDistance: number;
  /** The fixed point predicted from E[clip(x̄ + σ(E − 1))] = 0 (null for unclipped: 0). */
  predicted: number | null;
}

export interface BiasResult {
  config: BiasConfig;
  points: BiasPoint[];
  /** Median distances never grow with τ (slack: 10 % plus the unclipped runs' median distance, the sampling noise). */
  monotone: boolean;
  /** Median distance at the smallest τ over the one at the largest. */
  shrinkFactor: number;
  /** Largest |measured − predicted| / predicted over the thresholds whose predicted bias is ≥ 3× the unclipped runs' median distance. */
  worstPredictionError: number;
  pass: boolean;
}

/**
 * The fixed point x̄ − x* of clipped SGD: the root of h(x) = E[clip(x + σ(E − 1), τ)], by
 * bisection (h is increasing in x), with the expectation over evenly spaced quantiles of E.
 */
export function clippedFixedPoint(sigma: number, tau: number, samples = 40_000): number {
  // Stratified quantiles of Exp(1), rescaled to mean exactly 1 so that h(0) = 0 without clipping.
  const e = Float64Array.from({ length: samples }, (_, i) => -Math.log(1 - (i + 0.5) / samples));
  const m = e.reduce((a, b) => a + b, 0) / samples;
  for (let i = 0; i < samples; i++) e[i] = e[i]! / m;
  const h = (x: number) => {
    let s = 0;
    for (const v of e) s += Math.max(-tau, Math.min(tau, x + sigma * (v - 1)));
    return s / samples;
  };
  let lo = -10 * sigma;
  let hi = 10 * sigma;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (h(mid) > 0) hi = mid;
    else lo = mid;
  }
  return (lo + hi) / 2;
}

export function runBias(cfg: BiasConfig = BIAS_CONFIG): BiasResult {
  const points: BiasPoint[] = [];
  for (const tau of [...cfg.thresholds, null]) {
    const distances: number[] = [];
    for (let seed = 1; seed <= cfg.seeds; seed++) {
      const rng = new Rng(seed);
      const x = new Float64Array([0]);
      const g = new Float64Array(1);
      let sum = 0;
      let n = 0;
      const tail = Math.floor((3 * cfg.steps) / 4);
      for (let t = 0; t < cfg.steps; t++) {
        g[0] = x[0]! + cfg.sigma * (-Math.log(1 - rng.next()) - 1);
        if (tau !== null) clipByGlobalNorm(g, tau);
        x[0] = x[0]! - (cfg.lr0 / (1 + t / cfg.t0)) * g[0]!;
        if (t >= tail) {
          sum += x[0]!;
          n++;
        }
      }
      distances.push(Math.abs(sum / n));
    }
    points.push({
      threshold: tau,
      distances,
      medianDistance: median(distances),
      predicted: tau === null ? null : Math.abs(clippedFixedPoint(cfg.sigma, tau)),
    });
  }
  const clipped = points.filter((p) => p.threshold !== null);
  // Differences below the unclipped runs' remaining distance are sampling noise, not bias.
  const floor = points.find((p) => p.threshold === null)!.medianDistance;
  const monotone = clipped.every((p, i) => i === 0 || p.medianDistance <= 1.1 * clipped[i - 1]!.medianDistance + floor);
  const shrinkFactor = clipped[0]!.medianDistance / clipped.at(-1)!.medianDistance;
  // The prediction is checked where the bias stands out of that noise (≥ 3× the floor).
  const checked = clipped.filter((p) => p.predicted! >= 3 * floor);
  const worstPredictionError = Math.max(
    0,
    ...checked.map((p) => Math.abs(p.medianDistance - p.predicted!) / p.predicted!),
  );
  return {
    config: cfg,
    points,
    monotone,
    shrinkFactor,
    worstPredictionError,
    pass: monotone && shrinkFactor >= 5 && worstPredictionError <= 0.25,
  };
}
