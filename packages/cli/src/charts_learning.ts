/**
 * Vega-Lite specs of the learning-rate sweep, the noise experiments and Zhang et al.'s
 * smoothness correlation (plain JSON; `render.ts` draws them).
 */
import type { TopLevelSpec } from 'vega-lite';
import type { LearningResult, SmoothnessCorrelation } from './learning.js';
import type { BiasResult, HeavyTailResult } from './noise.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const LOSS_FLOOR = 1e-4;
const LOSS_TOP = 300;

/**
 * Final held-out loss against learning rate: one panel per method with its seeds (dots),
 * its median (line) and, in grey, the unclipped median for comparison; diverged seeds as
 * red crosses at the top; dashed: chance.
 */
export function learningSpec(l: LearningResult): TopLevelSpec {
  const label = (id: string) => l.curves.find((c) => c.method === id)?.label ?? id;
  const order = l.curves.map((c) => c.label);
  const clamp = (v: number) => Math.min(Math.max(v, LOSS_FLOOR), LOSS_TOP / 3);
  const seeds = l.runs
    .filter((r) => r.finalLoss !== null)
    .map((r) => ({
      kind: 'seed',
      method: label(r.method),
      lr: r.lr,
      loss: clamp(r.finalLoss!),
      seed: `seed ${r.seed}`,
    }));
  const crosses = l.runs
    .filter((r) => r.finalLoss === null)
    .map((r) => ({ kind: 'diverged', method: label(r.method), lr: r.lr, loss: LOSS_TOP, seed: `seed ${r.seed}` }));
  const medians = l.curves.flatMap((c) =>
    c.points
      .filter((p) => p.medianLoss !== null)
      .map((p) => ({ kind: 'median', method: c.label, lr: p.lr, loss: clamp(p.medianLoss!) })),
  );
  const none = l.curves.find((c) => c.method === 'none');
  const reference = none
    ? l.curves
        .filter((c) => c !== none)
        .flatMap((c) =>
          none.points
            .filter((p) => p.medianLoss !== null)
            .map((p) => ({ kind: 'reference', method: c.label, lr: p.lr, loss: clamp(p.medianLoss!) })),
        )
    : [];
  const x = {
    field: 'lr',
    type: 'quantitative' as const,
    scale: { type: 'log' as const },
    title: 'learning rate (log)',
    axis: { values: l.lrs, format: '~g' },
  };
  const y = {
    field: 'loss',
    type: 'quantitative' as const,
    scale: { type: 'log' as const, domain: [LOSS_FLOOR, LOSS_TOP], nice: false },
    title: 'held-out loss (log)',
    axis: { values: [1e-4, 1e-3, 1e-2, 0.1, 1, 10, 100], format: '~g' },
  };
  const DIVERGED = 'diverged seed (drawn at the top)';
  return {
    $schema: SCHEMA,
    title: {
      text: `Final held-out loss against learning rate (${l.task}, T = ${l.config.seqLen}, ${l.config.steps} SGD steps)`,
      subtitle: [
        'Dots: seeds; line: median (diverged seeds count as +∞); grey: the unclipped median, repeated in every panel for comparison;',
        `${crosses.length ? 'red ×: diverged seeds; ' : ''}dashed: chance ${l.chanceLoss.toFixed(3)} (ln 4, predicting the class frequencies); losses below ${LOSS_FLOOR} drawn at ${LOSS_FLOOR}`,
      ],
    },
    data: { values: [...seeds, ...crosses.map((c) => ({ ...c, marker: DIVERGED })), ...medians, ...reference] },
    facet: { field: 'method', type: 'nominal', sort: order, title: null },
    columns: 3,
    spec: {
      width: 190,
      height: 150,
      layer: [
        {
          transform: [{ filter: "datum.kind === 'reference'" }],
          mark: { type: 'line', color: '#aaa', strokeWidth: 2 },
          encoding: { x, y },
        },
        {
          transform: [{ filter: "datum.kind === 'median'" }],
          mark: { type: 'line', color: '#1f77b4', strokeWidth: 2, point: { filled: true, size: 30 } },
          encoding: { x, y },
        },
        {
          transform: [{ filter: "datum.kind === 'seed'" }],
          mark: { type: 'point', filled: true, size: 22, opacity: 0.7 },
          encoding: {
            x,
            y,
            color: {
              field: 'seed',
              type: 'nominal',
              scale: { scheme: 'dark2' },
              legend: { orient: 'bottom', title: null },
            },
          },
        },
        // Only when a seed diverged: its legend entry would otherwise promise what is not drawn.
        ...(crosses.length
          ? [
              {
                transform: [{ filter: "datum.kind === 'diverged'" }],
                mark: { type: 'point', size: 70, color: '#d62728', filled: true },
                encoding: {
                  x,
                  y,
                  shape: {
                    field: 'marker',
                    type: 'nominal',
                    scale: { domain: [DIVERGED], range: ['cross'] },
                    legend: { orient: 'bottom', title: null, labelLimit: 0 },
                  },
                },
              },
            ]
          : []),
        {
          data: { values: [{ chance: l.chanceLoss }] },
          mark: { type: 'rule', strokeDash: [4, 3], color: '#666' },
          encoding: { y: { field: 'chance', type: 'quantitative' } },
        },
      ],
    },
  } as TopLevelSpec;
}

/** f(x) against step under three noise laws: median (solid) and 90th percentile (dashed) over seeds. */
export function heavyTailSpec(h: HeavyTailResult): TopLevelSpec {
  const rows = h.rows.flatMap((r) =>
    r.steps.flatMap((step, i) => [
      { noise: r.noise, method: r.method, stat: 'median', step, f: Math.max(r.median[i]!, 1e-3) },
      { noise: r.noise, method: r.method, stat: '90th percentile', step, f: Math.max(r.p90[i]!, 1e-3) },
    ]),
  );
  const c = h.config;
  return {
    $schema: SCHEMA,
    title: {
      text: 'SGD vs clipped SGD under heavy-tailed gradient noise (Zhang et al. 2020)',
      subtitle: [
        `f(x) = ½‖x‖², ${c.dim} dimensions, stochastic gradient x + ξ, ${c.seeds} seeds; lr ${c.lr}, clipped SGD at global norm ≤ ${c.maxNorm}.`,
        'Solid: median f over seeds; dashed: 90th percentile. Student-t with ν = 1.5 has no variance; Cauchy has no mean either',
      ],
    },
    data: { values: rows },
    facet: { field: 'noise', type: 'nominal', sort: ['gaussian', 'student-t', 'cauchy'], title: null },
    spec: {
      width: 260,
      height: 200,
      mark: { type: 'line', strokeWidth: 1.8 },
      encoding: {
        x: { field: 'step', type: 'quantitative' },
        y: { field: 'f', type: 'quantitative', scale: { type: 'log' }, title: 'f(x) (log)', axis: { format: '~g' } },
        color: {
          field: 'method',
          type: 'nominal',
          scale: { domain: ['SGD', 'clipped SGD'], range: ['#d62728', '#1f77b4'] },
          legend: { orient: 'bottom', title: null },
        },
        strokeDash: {
          field: 'stat',
          type: 'nominal',
          sort: ['median', '90th percentile'],
          legend: { orient: 'bottom', title: null },
        },
      },
    },
  } as TopLevelSpec;
}

/** Koloskova et al.: distance of clipped SGD's average iterate from the optimum against τ. */
export function biasSpec(b: BiasResult): TopLevelSpec {
  const clipped = b.points.filter((p) => p.threshold !== null);
  const seeds = clipped.flatMap((p) => p.distances.map((d) => ({ tau: p.threshold!, d: Math.max(d, 1e-4) })));
  const med = clipped.map((p) => ({
    tau: p.threshold!,
    d: Math.max(p.medianDistance, 1e-4),
    series: 'measured (median)',
  }));
  const pred = clipped.map((p) => ({
    tau: p.threshold!,
    d: Math.max(p.predicted!, 1e-4),
    series: 'predicted fixed point',
  }));
  const plain = b.points.find((p) => p.threshold === null);
  const x = {
    field: 'tau',
    type: 'quantitative' as const,
    scale: { type: 'log' as const },
    title: 'threshold τ (noise scale σ = ' + b.config.sigma + ')',
    axis: { values: b.config.thresholds, format: '~g' },
  };
  const y = {
    field: 'd',
    type: 'quantitative' as const,
    scale: { type: 'log' as const },
    title: '|x̄ − x*| (log)',
    axis: { format: '~g' },
  };
  return {
    $schema: SCHEMA,
    title: {
      text: 'The bias of clipping: clipped SGD stalls short of the optimum (Koloskova et al. 2023)',
      subtitle: [
        `f(x) = ½(x − x*)², gradient noise σ(E − 1), E ~ Exp(1) (mean 0, skewed); step ${b.config.lr0}/(1 + t/${b.config.t0}), ${b.config.steps} steps, ${b.config.seeds} seeds.`,
        'Dots: seeds (mean of the last quarter of the iterates); dashed grey: unclipped SGD (median), i.e. sampling noise;',
        'values below 1e-4 drawn at 1e-4',
      ],
    },
    width: 560,
    height: 260,
    layer: [
      {
        data: { values: seeds },
        mark: { type: 'point', filled: true, size: 14, opacity: 0.4, color: '#1f77b4' },
        encoding: { x, y },
      },
      {
        data: { values: [...med, ...pred] },
        mark: { type: 'line', point: true, strokeWidth: 2 },
        encoding: {
          x,
          y,
          color: {
            field: 'series',
            type: 'nominal',
            scale: { range: ['#1f77b4', '#ff7f0e'] },
            legend: { orient: 'bottom', title: null },
          },
          strokeDash: { field: 'series', type: 'nominal', legend: null },
        },
      },
      ...(plain
        ? [
            {
              data: { values: [{ d: Math.max(plain.medianDistance, 1e-4) }] },
              mark: { type: 'rule' as const, strokeDash: [4, 3], color: '#666' },
              encoding: { y: { field: 'd', type: 'quantitative' as const } },
            },
          ]
        : []),
    ],
  } as TopLevelSpec;
}

/** Zhang et al. 2020, Fig. 1: local smoothness against gradient norm along the trajectory. */
export function smoothnessCorrelationSpec(s: SmoothnessCorrelation): TopLevelSpec {
  const rows = s.traces.flatMap((t) =>
    t.norm.map((n, i) => ({ seed: `seed ${t.seed} (r = ${t.correlation.toFixed(2)})`, norm: n, L: t.smoothness[i]! })),
  );
  return {
    $schema: SCHEMA,
    title: {
      text: 'Correlation of local smoothness and gradient norm (Zhang et al. 2020, Fig. 1)',
      subtitle: [
        `The learning-rate sweep's RNN trained with ${s.method} at lr ${s.lr}, ${s.steps} steps; one dot per step.`,
        `L̂ = ‖∇f(xₜ₊₁) − ∇f(xₜ)‖ / ‖xₜ₊₁ − xₜ‖ on the step's batch; r: correlation of the logs (median ${s.medianCorrelation.toFixed(2)})`,
      ],
    },
    width: 420,
    height: 280,
    data: { values: rows },
    mark: { type: 'point', filled: true, size: 16, opacity: 0.6 },
    encoding: {
      x: {
        field: 'norm',
        type: 'quantitative',
        scale: { type: 'log' },
        title: 'gradient norm ‖∇f(xₜ)‖ (log)',
        axis: { format: '~g' },
      },
      y: {
        field: 'L',
        type: 'quantitative',
        scale: { type: 'log' },
        title: 'local smoothness L̂ (log)',
        axis: { format: '~g' },
      },
      color: {
        field: 'seed',
        type: 'nominal',
        scale: { scheme: 'dark2' },
        legend: { orient: 'bottom', title: null, labelLimit: 0 },
      },
    },
  } as TopLevelSpec;
}
