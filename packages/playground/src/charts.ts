/**
 * The page's charts, written as Vega-Lite specs and rendered by Vega on canvas. Live charts
 * receive new rows by replacing their data set (no re-render of the whole spec) and draw a
 * bounded, decimated view of the run, so a redraw costs the same however long the run is.
 */
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { ChartDecimator, type Point } from './decimate.js';

const FONT = 'system-ui, -apple-system, "Segoe UI", "Noto Sans KR", "Apple SD Gothic Neo", sans-serif';

const CONFIG = {
  font: FONT,
  background: 'transparent',
  view: { stroke: '#d8dee6' },
  axis: {
    labelColor: '#45505c',
    titleColor: '#45505c',
    gridColor: '#eef1f5',
    domainColor: '#aab4c0',
    tickColor: '#aab4c0',
    labelFontSize: 11,
    titleFontSize: 11,
    titleFontWeight: 500,
  },
  // No label limit: a label is never cut ("thresho", issue 23); legends wrap into columns instead.
  legend: {
    labelColor: '#45505c',
    labelFontSize: 11,
    orient: 'top',
    title: null,
    symbolStrokeWidth: 2.5,
    labelLimit: 0,
    columns: 2,
  },
  title: { color: '#1d2733', fontSize: 13, fontWeight: 600, anchor: 'start' },
} as const;

/**
 * The step axis: labels that cannot overlap (a long run's "10,000" is five digits wide; Vega's
 * default tick count would run them together) and compact (2k, 10k).
 */
const STEP_AXIS = { labelOverlap: true, format: '~s', tickMinStep: 1 } as const;

/** Log axes: a few ticks, labelled compactly (0.01, 1, 100, 1e+6) so exploded values fit. */
const LOG_AXIS = {
  // Label 1·10^k, 2·10^k and 5·10^k only (and drop the overlapping ones); other ticks keep
  // their grid line. Exploded values are labelled 1e6, 1e12 so that the labels stay short.
  labelOverlap: 'greedy',
  labelExpr:
    "test(/^[125]e/, format(datum.value, '.0e')) ? (abs(datum.value) >= 1e4 || abs(datum.value) < 1e-3 ? replace(format(datum.value, '.0e'), 'e+', 'e') : format(datum.value, '~g')) : ''",
} as const;

export const COLORS = {
  pre: '#d6455d',
  post: '#2b7bd6',
  threshold: '#222b36',
  loss: '#5b3fc4',
  cumulative: '#0e9f6e',
  window: '#e08a00',
};

async function render(container: HTMLElement, spec: TopLevelSpec): Promise<View> {
  const vg = compile(spec).spec;
  const view = new View(parse(vg), { renderer: 'canvas', container, hover: false });
  await view.runAsync();
  return view;
}

/**
 * Most points a live chart draws per series. Every redraw draws every point a chart holds:
 * fed every step, a chart would cost more to redraw as the run grows and slow training
 * down. Beyond this, older steps are thinned (decimate.ts: each bucket keeps its minimum
 * and maximum, so spikes stay visible), so a redraw costs the same at step 100 and at step
 * 10,000. A decimated series keeps 125–250 buckets of up to two points each, one to two
 * points per pixel of a chart on a desktop screen (a cap of 250 looked coarse). The run's
 * data stay complete in the page (`history()`, the stats); only what is drawn is thinned.
 */
export const MAX_POINTS_PER_SERIES = 500;

/** A chart that shows a growing run, at most `MAX_POINTS_PER_SERIES` points per series. */
export class LiveChart {
  private readonly data = new ChartDecimator<Point & { series?: string }>(MAX_POINTS_PER_SERIES);
  private shown: readonly (Point & { series?: string })[] = [];

  private constructor(private readonly view: View) {}

  static async create(container: HTMLElement, spec: TopLevelSpec): Promise<LiveChart> {
    container.replaceChildren();
    return new LiveChart(await render(container, spec));
  }

  /**
   * Adds rows ({ step, value } or { step, series, value }, in step order) and re-renders
   * (asynchronously; calls are serialised by Vega).
   */
  async append(rows: readonly (Point & { series?: string })[]): Promise<void> {
    if (rows.length === 0) return;
    this.data.push(rows);
    this.shown = this.data.rows();
    // view.data() replaces the data set; Vega matches the rows that stay by identity (the
    // decimator hands back the very row objects), so only thinned-out and new rows change.
    // resize(): re-run the layout, since new axis labels (a log axis gaining a decade) can
    // need more room than the first layout, which was made for an empty chart.
    await this.view.data('points', this.shown).resize().runAsync();
  }

  /**
   * Earlier runs drawn faded under the current one (rows { step, value, run }); only charts
   * whose spec has a 'previous' data set (loss, and the gradient norm) draw them.
   */
  async setOverlay(rows: readonly { step: number; value: number; run: string }[]): Promise<void> {
    if (!this.hasOverlay) return;
    await this.view
      .data('previous', rows as object[])
      .resize()
      .runAsync();
  }

  private get hasOverlay(): boolean {
    try {
      this.view.data('previous');
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Where each legend label is drawn: its text and right edge in CSS px from the canvas's
   * left (the e2e test checks that no label is cut).
   */
  legendLayout(): { text: string; right: number }[] {
    const labels: { text: string; right: number }[] = [];
    type Item = { x?: number; text?: unknown; bounds?: { x2: number }; items?: Mark[] };
    type Mark = { marktype: string; role?: string; items: Item[] };
    const walk = (item: Item, ox: number) => {
      const x = ox + (item.x ?? 0);
      for (const m of item.items ?? []) {
        if (m.role === 'legend-label')
          for (const it of m.items) labels.push({ text: String(it.text), right: x + (it.bounds?.x2 ?? 0) });
        if (m.marktype === 'group') for (const it of m.items) walk(it, x);
      }
    };
    const root = (this.view.scenegraph() as unknown as { root: Mark }).root;
    for (const it of root.items) walk(it, this.view.origin()[0]);
    return labels;
  }

  async clear(): Promise<void> {
    this.data.clear();
    this.shown = [];
    await this.view.data('points', []).runAsync();
  }

  /** Number of rows the chart draws (at most MAX_POINTS_PER_SERIES per series). */
  get rows(): number {
    return this.shown.length;
  }

  /** The latest step the chart draws (0 when empty). */
  get lastStep(): number {
    return this.shown.reduce((m, r) => Math.max(m, r.step), 0);
  }

  finalize(): void {
    this.view.finalize();
  }
}

interface SeriesLabels {
  title: string;
  step: string;
  labels: Record<string, string>;
}

const base = (width: number, height: number) => ({
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  width,
  height,
  config: CONFIG,
  data: { name: 'points' },
});

/**
 * The layer of earlier runs (Reset keeps the last two): rows { step, value, run } of the data set
 * 'previous', faded and under the current run, each line named by its run in a legend below.
 */
function previousRunsLayer(y: object) {
  return {
    data: { name: 'previous' },
    mark: { type: 'line', strokeWidth: 1.5, opacity: 0.55, clip: true },
    encoding: {
      x: { field: 'step', type: 'quantitative' },
      y,
      color: {
        field: 'run',
        type: 'nominal',
        sort: null,
        scale: { range: ['#8d99a6', '#d08a9c'] },
        legend: { orient: 'bottom', columns: 1, symbolType: 'stroke' },
      },
    },
  } as const;
}

/**
 * Loss per step, log scale, with a dashed line at the loss of the best constant prediction
 * (a model at that level has learned nothing). Rows: { step, value } with value > 0.
 */
export function lossSpec(
  t: SeriesLabels & { chance: string },
  chanceLoss: number,
  width: number,
  height: number,
): TopLevelSpec {
  const { data: _data, ...top } = base(width, height);
  const y = { field: 'value', type: 'quantitative', title: null, scale: { type: 'log' }, axis: LOG_AXIS } as const;
  return {
    ...top,
    title: {
      text: t.title,
      subtitle: `- - - ${t.chance} (${chanceLoss.toFixed(3)})`,
      subtitleColor: '#5d6875',
      subtitleFontSize: 10,
    },
    layer: [
      previousRunsLayer(y),
      {
        data: { name: 'points' },
        mark: { type: 'line', color: COLORS.loss, strokeWidth: 1.5, clip: true },
        encoding: {
          x: { field: 'step', type: 'quantitative', title: t.step, scale: { nice: false }, axis: STEP_AXIS },
          y,
        },
      },
      {
        data: { values: [{ value: chanceLoss }] },
        mark: { type: 'rule', color: COLORS.threshold, strokeDash: [5, 4], strokeWidth: 1.2 },
        encoding: { y },
      },
    ],
  } as TopLevelSpec;
}

/**
 * Multi-series line chart. Rows: { step, series, value }; `series` is a key of `labels`,
 * shown through a label expression so the data does not depend on the language.
 */
export function seriesSpec(
  t: SeriesLabels,
  colors: Record<string, string>,
  width: number,
  height: number,
  y: { log?: boolean; domain?: [number, number]; dashed?: string[]; overlay?: boolean },
): TopLevelSpec {
  const keys = Object.keys(t.labels);
  const labelExpr =
    keys.map((k) => `datum.value === '${k}' ? '${t.labels[k]!.replace(/'/g, "\\'")}'`).join(' : ') + " : ''";
  const current = {
    mark: { type: 'line', strokeWidth: 1.6, clip: true, interpolate: 'linear' },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: t.step, scale: { nice: false }, axis: STEP_AXIS },
      y: {
        field: 'value',
        type: 'quantitative',
        title: null,
        scale: { ...(y.log === true ? { type: 'log' } : {}), ...(y.domain ? { domain: y.domain } : {}) },
        ...(y.log === true ? { axis: LOG_AXIS } : {}),
      },
      color: {
        field: 'series',
        type: 'nominal',
        scale: { domain: keys, range: keys.map((k) => colors[k]!) },
        legend: { labelExpr },
      },
      strokeDash: {
        field: 'series',
        type: 'nominal',
        scale: { domain: keys, range: keys.map((k) => (y.dashed?.includes(k) === true ? [5, 4] : [1, 0])) },
        // The same legend as colour, so Vega-Lite merges the two into one.
        legend: { labelExpr },
      },
    },
  } as const;
  if (y.overlay !== true) return { ...base(width, height), title: t.title, ...current } as TopLevelSpec;
  // With earlier runs under the current one: their colours and legend are their own.
  const { data: _data, ...top } = base(width, height);
  return {
    ...top,
    title: t.title,
    layer: [previousRunsLayer(current.encoding.y), { data: { name: 'points' }, ...current }],
    resolve: { scale: { color: 'independent', strokeDash: 'independent' }, legend: { color: 'independent' } },
  } as TopLevelSpec;
}

export interface SurfaceRow {
  w0: number;
  w1: number;
  b0: number;
  b1: number;
  /** The loss, floored above 0 for the log colour scale. */
  loss: number;
}

export interface PathRow {
  i: number;
  w: number;
  b: number;
}

/** Heat map of the Pascanu loss surface with a gradient-descent path on top. */
export function surfaceSpec(
  title: string,
  surface: readonly SurfaceRow[],
  path: readonly PathRow[],
  domains: { w: [number, number]; b: [number, number] },
  size: number,
  colorTitle: string,
): TopLevelSpec {
  const x = { scale: { domain: domains.w, nice: false, zero: false } };
  const y = { scale: { domain: domains.b, nice: false, zero: false } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: size,
    height: size,
    config: { ...CONFIG, legend: { ...CONFIG.legend, orient: 'right', title: null, gradientLength: size - 40 } },
    layer: [
      {
        data: { values: surface as SurfaceRow[] },
        mark: { type: 'rect' },
        encoding: {
          x: { field: 'w0', type: 'quantitative', title: 'w', ...x },
          x2: { field: 'w1' },
          y: { field: 'b0', type: 'quantitative', title: 'b', ...y },
          y2: { field: 'b1' },
          color: {
            field: 'loss',
            type: 'quantitative',
            scale: { type: 'log', scheme: 'viridis' },
            legend: { title: colorTitle, titleFontSize: 10, format: '.0e' },
          },
        },
      },
      {
        data: { values: path as PathRow[] },
        mark: {
          type: 'line',
          color: '#ff2d6f',
          strokeWidth: 2.2,
          clip: true,
          point: { filled: true, size: 16, color: '#ff2d6f' },
        },
        encoding: {
          x: { field: 'w', type: 'quantitative', ...x },
          y: { field: 'b', type: 'quantitative', ...y },
          order: { field: 'i' },
        },
      },
      {
        data: { values: path.slice(0, 1) as PathRow[] },
        mark: {
          type: 'point',
          filled: true,
          size: 110,
          color: '#ffffff',
          stroke: '#1d2733',
          strokeWidth: 1.5,
          clip: true,
        },
        encoding: { x: { field: 'w', type: 'quantitative', ...x }, y: { field: 'b', type: 'quantitative', ...y } },
      },
    ],
  } as TopLevelSpec;
}

/** Renders a static chart, replacing whatever the container held. */
export async function renderStatic(container: HTMLElement, spec: TopLevelSpec): Promise<View> {
  container.replaceChildren();
  return render(container, spec);
}
