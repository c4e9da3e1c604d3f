/**
 * Vega-Lite specs of the report's charts, built from the experiments' results. Specs only
 * (plain JSON); `render.ts` turns them into SVG and PNG.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { DemoResult, SmoothnessResult, SurfaceResult, SweepResult, VanishingResult } from './experiments.js';

const METHOD_SCHEME = 'tableau10';

type Range = { min: number; max: number };

/** One heat-map panel of the Pascanu surface with both trajectories (clipped to the panel). */
function surfacePanel(s: SurfaceResult, cellsIn: SurfaceResult['cells'], w: Range, b: Range, title: string) {
  const n = Math.round(Math.sqrt(cellsIn.length));
  const dw = (w.max - w.min) / n;
  const db = (b.max - b.min) / n;
  const cells = cellsIn.map((c) => ({
    w0: c.w - dw / 2,
    w1: c.w + dw / 2,
    b0: c.b - db / 2,
    b1: c.b + db / 2,
    logLoss: Math.log10(Math.max(c.loss, 1e-8)),
  }));
  const inside = (p: { w: number; b: number }) => p.w >= w.min && p.w <= w.max && p.b >= b.min && p.b <= b.max;
  const runs = pascanuRuns(s);
  const traj = [
    ...s.plain.filter(inside).map((p) => ({ ...p, run: runs.domain[0] })),
    ...s.clipped.filter(inside).map((p) => ({ ...p, run: runs.domain[1] })),
  ];
  const xs = { domain: [w.min, w.max], nice: false };
  const ys = { domain: [b.min, b.max], nice: false };
  return {
    title,
    width: 400,
    height: 360,
    layer: [
      {
        data: { values: cells },
        mark: { type: 'rect' as const },
        encoding: {
          x: { field: 'w0', type: 'quantitative' as const, title: 'w (recurrent weight)', scale: xs },
          x2: { field: 'w1' },
          y: { field: 'b0', type: 'quantitative' as const, title: 'b (bias)', scale: ys },
          y2: { field: 'b1' },
          color: {
            field: 'logLoss',
            type: 'quantitative' as const,
            title: 'log10 loss',
            scale: { scheme: 'viridis', domain: [-6, 0] },
          },
        },
      },
      {
        data: { values: traj },
        mark: { type: 'line' as const, point: { filled: true, size: 16 }, strokeWidth: 1.5 },
        encoding: {
          x: { field: 'w', type: 'quantitative' as const, scale: xs },
          y: { field: 'b', type: 'quantitative' as const, scale: ys },
          order: { field: 'iteration', type: 'quantitative' as const },
          color: {
            field: 'run',
            type: 'nominal' as const,
            title: 'gradient descent',
            scale: { domain: runs.domain, range: runs.range },
            legend: { orient: 'bottom' as const, direction: 'vertical' as const, labelLimit: 0 },
          },
        },
      },
      {
        data: { values: [{ w: s.start.w, b: s.start.b, label: 'start' }].filter(inside) },
        mark: { type: 'text' as const, dx: 16, dy: 8, color: 'white', fontWeight: 'bold' as const },
        encoding: {
          x: { field: 'w', type: 'quantitative' as const, scale: xs },
          y: { field: 'b', type: 'quantitative' as const, scale: ys },
          text: { field: 'label' },
        },
      },
    ],
    resolve: { scale: { color: 'independent' as const } },
  };
}

/** The two Pascanu runs' names and colours, the same in both Pascanu charts (red: no clipping). */
function pascanuRuns(s: SurfaceResult) {
  return {
    domain: [
      `no clipping (largest step ${s.plainLargestStep.toFixed(1)})`,
      `clipped at norm ${s.maxNorm} (largest step ${s.clippedLargestStep.toFixed(2)})`,
    ],
    range: ['#e6194b', '#000000'],
  };
}

/** Pascanu Fig. 6: log10 loss heat map with the two GD trajectories on top, whole and zoomed. */
export function surfaceSpec(s: SurfaceResult): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Pascanu et al. 2013, Fig. 6: the error surface of a one-unit RNN has a cliff',
      subtitle: [
        `xₜ = w·σ(xₜ₋₁) + b, 50 steps, loss (σ(x₅₀) − 0.7)²; GD lr ${s.learningRate} from (w, b) = (${s.start.w}, ${s.start.b}), ${s.plain.length - 1} iterations.`,
        'Yellow: plateau σ→0; green: plateau σ→1; dark: the valley',
      ],
    },
    hconcat: [
      surfacePanel(s, s.cells, s.w, s.b, 'whole surface'),
      surfacePanel(s, s.zoom.cells, s.zoom.w, s.zoom.b, 'zoom around the start'),
    ],
    resolve: { scale: { color: 'shared' } },
  } as TopLevelSpec;
}

/** Loss of both Pascanu trajectories against iteration. */
export function surfaceLossSpec(s: SurfaceResult): TopLevelSpec {
  const runs = pascanuRuns(s);
  const rows = [
    ...s.plain.map((p) => ({ ...p, run: runs.domain[0] })),
    ...s.clipped.map((p) => ({ ...p, run: runs.domain[1] })),
  ];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Pascanu one-unit RNN: loss along the GD trajectories',
      subtitle: 'The unclipped run jumps off the cliff onto the plateau (loss 0.09) and stays there',
    },
    width: 520,
    height: 220,
    data: { values: rows.map((r) => ({ ...r, loss: Math.max(r.loss, 1e-12) })) },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'iteration', type: 'quantitative' },
      y: { field: 'loss', type: 'quantitative', scale: { type: 'log' }, title: 'loss (log)' },
      color: {
        field: 'run',
        type: 'nominal',
        scale: { domain: runs.domain, range: runs.range },
        legend: { orient: 'bottom', direction: 'vertical', title: null, labelLimit: 0 },
      },
    },
  };
}

/** Training loss per step, one panel per method, one line per seed; divergences marked. */
export function demoLossSpec(
  d: DemoResult,
  chanceLoss: number,
  taskTitle = 'adding problem, T = 50',
  settingsNotes: readonly string[] = [],
): TopLevelSpec {
  const rows = d.runs.flatMap((r) =>
    r.loss.map((l, step) => ({
      method: r.label,
      seed: `seed ${r.seed}`,
      step,
      loss: Number.isFinite(l) ? Math.min(Math.max(l, 1e-4), 1e4) : 1e4,
    })),
  );
  const divs = d.runs
    .filter((r) => r.diverged)
    .map((r) => ({ method: r.label, step: r.divergedAt ?? 0, loss: 1e4, seed: `seed ${r.seed}` }));
  const order = d.summary.map((s) => s.label);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `RNN training loss per step (${taskTitle})`,
      subtitle: [
        (divs.length ? '× = divergence (loss NaN/∞ or > 100× chance, drawn at the top); ' : '') +
          `dashed = chance level ${chanceLoss.toFixed(3)}`,
        ...settingsNotes,
      ],
    },
    data: { values: [...rows.map((r) => ({ ...r, kind: 'loss' })), ...divs.map((r) => ({ ...r, kind: 'diverged' }))] },
    ...methodGrid(order),
    spec: {
      ...PANEL,
      layer: [
        {
          transform: [{ filter: "datum.kind === 'loss'" }],
          mark: { type: 'line', strokeWidth: 1.2 },
          encoding: {
            x: { field: 'step', type: 'quantitative' },
            y: {
              field: 'loss',
              type: 'quantitative',
              scale: { type: 'log', domain: [1e-2, 1e4] },
              title: 'loss (log)',
              axis: { values: [0.01, 0.1, 1, 10, 100, 1000, 10000], format: '~g' },
            },
            color: {
              field: 'seed',
              type: 'nominal',
              scale: { scheme: 'dark2' },
              legend: { orient: 'bottom', title: null },
            },
          },
        },
        {
          transform: [{ filter: "datum.kind === 'diverged'" }],
          mark: { type: 'point', shape: 'cross', size: 90, color: '#d62728', filled: true },
          encoding: { x: { field: 'step', type: 'quantitative' }, y: { field: 'loss', type: 'quantitative' } },
        },
        {
          data: { values: [{ chance: chanceLoss }] },
          mark: { type: 'rule', strokeDash: [4, 3], color: '#666' },
          encoding: { y: { field: 'chance', type: 'quantitative' } },
        },
      ],
    },
  };
}

/** One small panel per method, three to a row, in the summary's order. */
function methodGrid(order: string[]) {
  return { facet: { field: 'method', type: 'nominal' as const, sort: order, title: null }, columns: 3 };
}
const PANEL = { width: 220, height: 130 };

/** Pre-clip gradient norm per step with the threshold in force. */
export function demoNormSpec(d: DemoResult): TopLevelSpec {
  const rows = d.runs.flatMap((r) =>
    r.norm.map((n, step) => ({
      method: r.label,
      seed: `seed ${r.seed}`,
      step,
      norm: Number.isFinite(n) ? Math.min(Math.max(n, 1e-4), 1e8) : 1e8,
      threshold: r.threshold[step] ?? null,
    })),
  );
  const order = d.summary.map((s) => s.label);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'RNN gradient norm before clipping, per step',
      subtitle: [
        'Lines: seeds; grey dots: the threshold in force — fixed for global norm, reported by the rule each step for AutoClip / ZClip;',
        'AGC, AdaGC (per unit / tensor) and value clipping have no single one',
      ],
    },
    data: { values: rows },
    ...methodGrid(order),
    spec: {
      ...PANEL,
      layer: [
        {
          mark: { type: 'line', strokeWidth: 1.2 },
          encoding: {
            x: { field: 'step', type: 'quantitative' },
            y: {
              field: 'norm',
              type: 'quantitative',
              scale: { type: 'log' },
              title: '‖g‖ (log)',
              axis: { values: [0.1, 1, 10, 100, 1000, 10000, 1e5, 1e6, 1e7, 1e8], format: '~g' },
            },
            color: {
              field: 'seed',
              type: 'nominal',
              scale: { scheme: 'dark2' },
              legend: { orient: 'bottom', title: null },
            },
          },
        },
        {
          transform: [{ filter: 'datum.threshold !== null' }],
          mark: { type: 'point', size: 6, color: '#555', filled: true, opacity: 0.6 },
          encoding: { x: { field: 'step', type: 'quantitative' }, y: { field: 'threshold', type: 'quantitative' } },
        },
      ],
    },
  };
}

/** Final held-out loss per method and seed, with the number of divergences. */
export function demoFinalSpec(d: DemoResult, chanceLoss: number, settingsNotes: readonly string[] = []): TopLevelSpec {
  const rows = d.runs.map((r) => ({
    method: r.label,
    seed: `seed ${r.seed}`,
    evalLoss: r.evalLoss,
    diverged: r.diverged,
  }));
  const counts = d.summary.map((s) => ({ method: s.label, text: `${s.diverged}/${s.seeds} diverged` }));
  const order = d.summary.map((s) => s.label);
  const finite = rows.filter((r) => r.evalLoss !== null).map((r) => r.evalLoss!);
  const top = Math.max(chanceLoss * 2, ...finite) * 1.15;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'RNN final held-out loss per method',
      subtitle: [
        `Dots: seeds that did not diverge; dashed: chance ${chanceLoss.toFixed(3)} (the best constant prediction); right: divergences`,
        ...settingsNotes,
      ],
    },
    hconcat: [
      {
        width: 460,
        height: { step: 26 },
        layer: [
          {
            data: { values: rows.filter((r) => r.evalLoss !== null) },
            mark: { type: 'point', filled: true, size: 70 },
            encoding: {
              y: { field: 'method', type: 'nominal', sort: order, title: null, scale: { domain: order } },
              x: {
                field: 'evalLoss',
                type: 'quantitative',
                title: 'held-out loss',
                scale: { domain: [0, top], nice: false },
              },
              color: {
                field: 'seed',
                type: 'nominal',
                scale: { scheme: 'dark2' },
                legend: { orient: 'bottom', title: null },
              },
            },
          },
          {
            data: { values: [{ chance: chanceLoss }] },
            mark: { type: 'rule', strokeDash: [4, 3], color: '#666' },
            encoding: { x: { field: 'chance', type: 'quantitative' } },
          },
        ],
      },
      {
        width: 150,
        height: { step: 26 },
        data: { values: counts },
        mark: { type: 'text', align: 'left', x: 5, fontSize: 12 },
        encoding: {
          y: { field: 'method', type: 'nominal', sort: order, axis: null, scale: { domain: order } },
          text: { field: 'text' },
          color: { condition: { test: "indexof(datum.text, '0/') === 0", value: '#2a7a2a' }, value: '#c0392b' },
        },
      },
    ],
  };
}

/** How much each method changes the gradient's direction (claim 5: information loss). */
export function cosineSpec(d: DemoResult): TopLevelSpec {
  const rows = d.summary
    .filter((s) => s.clippedCosine !== null)
    .map((s) => ({ method: s.label, cosine: s.clippedCosine!, clipFraction: s.clipFraction }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'RNN: direction kept? The cosine between the clipped and the raw gradient on clipped steps',
      subtitle:
        '1 = only the length changed (norm clipping); < 1 = the direction changed too (value / per-unit clipping)',
    },
    width: 600,
    height: { step: 26 },
    data: { values: rows },
    layer: [
      {
        mark: { type: 'bar', color: '#4c78a8' },
        encoding: {
          y: { field: 'method', type: 'nominal', title: null, sort: rows.map((r) => r.method) },
          x: {
            field: 'cosine',
            type: 'quantitative',
            scale: { domain: [0, 1] },
            title: 'mean cosine over clipped steps',
          },
        },
      },
      {
        mark: { type: 'text', align: 'right', dx: -4, fontSize: 11, color: 'white' },
        encoding: {
          y: { field: 'method', type: 'nominal', sort: rows.map((r) => r.method) },
          x: { field: 'cosine', type: 'quantitative' },
          text: { field: 'cosine', type: 'quantitative', format: '.3f' },
        },
      },
    ],
  };
}

/**
 * Threshold sweep: held-out loss per seed and divergence rate against the threshold, with
 * Pascanu's band shaded. The axes fit the data: x spans the thresholds run, y the finite
 * losses (and chance); diverged runs are red crosses at the top edge, named in the legend
 * only when there are any.
 */
export function sweepSpec(s: SweepResult, chanceLoss: number): TopLevelSpec {
  const thresholds = [...new Set(s.points.map((p) => p.threshold))];
  const rate = thresholds.map((t) => {
    const ps = s.points.filter((p) => p.threshold === t);
    return { threshold: t, rate: ps.filter((p) => p.diverged).length / ps.length };
  });
  const lo = Math.min(...thresholds) / 1.4;
  const hi = Math.max(...thresholds) * 1.4;
  const band = [{ lo: Math.max(lo, 0.5 * s.referenceNorm), hi: Math.min(hi, 10 * s.referenceNorm) }];
  const finite = s.points.filter((p) => p.evalLoss !== null);
  const top = Math.max(chanceLoss, ...finite.map((p) => p.evalLoss!)) * 1.2;
  const SEED = 'seed (held-out loss)';
  const DIVERGED = 'diverged seed (drawn at the top)';
  const rows = [
    ...finite.map((p) => ({ threshold: p.threshold, loss: p.evalLoss!, kind: SEED })),
    ...s.points.filter((p) => p.evalLoss === null).map((p) => ({ threshold: p.threshold, loss: top, kind: DIVERGED })),
  ];
  const kinds = [SEED, DIVERGED].filter((k) => rows.some((r) => r.kind === k));
  const xScale = { type: 'log' as const, domain: [lo, hi], nice: false };
  const x = {
    field: 'threshold',
    type: 'quantitative' as const,
    scale: xScale,
    title: `global-norm threshold (reference norm ${s.referenceNorm.toPrecision(3)})`,
    axis: { values: thresholds, format: '.3~g' },
  };
  const shade = {
    data: { values: band },
    mark: { type: 'rect' as const, color: '#2ca02c', opacity: 0.12 },
    encoding: { x: { field: 'lo', type: 'quantitative' as const, scale: xScale }, x2: { field: 'hi' } },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Threshold sweep (global-norm clipping): loss and divergence against the threshold',
      subtitle: [
        `Green band: Pascanu's heuristic, 0.5×–10× the reference norm (median pre-clip norm of stable clipped training). Line: median of the seeds that did not diverge; dashed: chance ${chanceLoss.toFixed(3)}`,
      ],
    },
    vconcat: [
      {
        width: 520,
        height: 200,
        layer: [
          shade,
          {
            data: { values: rows },
            mark: { type: 'point', filled: true, size: 55 },
            encoding: {
              x,
              y: {
                field: 'loss',
                type: 'quantitative',
                title: 'held-out loss',
                scale: { domain: [0, top], nice: false },
              },
              color: {
                field: 'kind',
                type: 'nominal',
                scale: { domain: kinds, range: kinds.map((k) => (k === SEED ? '#1f77b4' : '#d62728')) },
                legend: { orient: 'bottom', title: null, labelLimit: 0 },
              },
              shape: {
                field: 'kind',
                type: 'nominal',
                scale: { domain: kinds, range: kinds.map((k) => (k === SEED ? 'circle' : 'cross')) },
                legend: { orient: 'bottom', title: null, labelLimit: 0 },
              },
            },
          },
          {
            data: { values: finite },
            mark: { type: 'line', color: '#1f77b4' },
            encoding: { x, y: { aggregate: 'median', field: 'evalLoss', type: 'quantitative' } },
          },
          {
            data: { values: [{ chance: chanceLoss }] },
            mark: { type: 'rule', strokeDash: [4, 3], color: '#666' },
            encoding: { y: { field: 'chance', type: 'quantitative' } },
          },
        ],
      },
      {
        width: 520,
        height: 110,
        layer: [
          shade,
          {
            data: { values: rate },
            mark: { type: 'line', point: { color: '#d62728' }, color: '#d62728' },
            encoding: {
              x,
              y: {
                field: 'rate',
                type: 'quantitative',
                title: 'divergence rate',
                scale: { domain: [0, 1] },
                axis: { format: '%' },
              },
            },
          },
        ],
      },
    ],
  };
}

/** ‖∂L/∂h_t‖ against t, before and after training, per method (median over seeds). */
export function vanishingSpec(v: VanishingResult): TopLevelSpec {
  const rows = v.runs.flatMap((r) => [
    ...r.hiddenGradStart.map((g, t) => ({
      method: r.label,
      seed: r.seed,
      t: t + 1,
      grad: g,
      when: 'at initialisation',
    })),
    ...r.hiddenGradEnd.map((g, t) => ({ method: r.label, seed: r.seed, t: t + 1, grad: g, when: 'after training' })),
  ]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Vanishing gradients: ‖∂L/∂hₜ‖ per time step (median over seeds)',
      subtitle: [
        `tanh RNN with ρ(Wh) ≈ ${v.recurrentScale}; all methods start from the same weights, so their curves coincide at initialisation.`,
        'Clipping rescales the update; it cannot lift the signal that reaches early steps',
      ],
    },
    data: { values: rows },
    facet: { column: { field: 'when', type: 'nominal', sort: ['at initialisation', 'after training'], title: null } },
    spec: {
      width: 300,
      height: 220,
      mark: { type: 'line', strokeWidth: 2 },
      encoding: {
        x: { field: 't', type: 'quantitative', title: 'time step t (the loss is at t = T)' },
        y: {
          aggregate: 'median',
          field: 'grad',
          type: 'quantitative',
          scale: { type: 'log' },
          title: '‖∂L/∂hₜ‖ (log)',
          axis: { format: '.0e' },
        },
        color: { field: 'method', type: 'nominal', scale: { scheme: METHOD_SCHEME }, legend: { orient: 'bottom' } },
        strokeDash: { field: 'method', type: 'nominal' },
      },
    },
  };
}

/** Zhang et al. 2020: iterations to reach f(x) < tol on x⁴ from several starts. */
export function smoothnessSpec(s: SmoothnessResult): TopLevelSpec {
  const rows = s.points.map((p) => ({
    ...p,
    iterationsShown: p.iterations ?? s.maxIterations,
    capped: p.iterations === null,
  }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Zhang et al. 2020: clipped vs fixed-step GD on f(x) = x⁴',
      subtitle: `Iterations until f(x) < ${s.tolerance}; runs at ${s.maxIterations.toLocaleString('en')} hit the cap without getting there`,
    },
    width: 440,
    height: 220,
    data: { values: rows },
    mark: { type: 'line', point: { filled: true, size: 50 } },
    encoding: {
      x: { field: 'x0', type: 'quantitative', scale: { type: 'log', base: 2 }, title: 'starting point x₀ (log)' },
      y: {
        field: 'iterationsShown',
        type: 'quantitative',
        scale: { type: 'log' },
        title: 'iterations (log)',
        axis: { values: [1, 10, 100, 1000, 10000, 100000, 1000000], format: '~s' },
      },
      color: {
        field: 'method',
        type: 'nominal',
        sort: 'descending',
        scale: { range: ['#d62728', '#1f77b4'] },
        legend: { orient: 'bottom', title: null, labelLimit: 0 },
      },
    },
  };
}
