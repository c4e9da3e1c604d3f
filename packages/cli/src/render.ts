/**
 * Chart rendering: Vega-Lite spec → Vega (vega-lite `compile`) → SVG (a headless vega View,
 * renderer 'none', `toSVG`) → PNG (@resvg/resvg-js). Node only.
 *
 * Layout measures text with the real advance widths of the font the PNG is drawn with
 * (text_width.ts), not Vega's 0.8 em estimate, and titles and subtitles are wrapped to the
 * width of the chart's body: a long subtitle no longer widens the canvas (issue 23).
 */
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { textWidth } from './text_width.js';

export interface RenderedChart {
  name: string;
  title: string;
  svg: string;
  png: Buffer;
  /** The Vega-Lite spec as drawn (titles wrapped). */
  spec: TopLevelSpec;
  /** What the chart test checks (plot area, title, legend). */
  layout: ChartLayout;
}

export interface ChartLayout {
  /** Width of the whole image (SVG px). */
  width: number;
  /** Left and right edge of the plot area: the union of every panel that draws data marks. */
  plotLeft: number;
  plotRight: number;
  /** The chart's title text (lines joined by a space). */
  titleText: string;
  /** Every label drawn in a legend. */
  legendLabels: string[];
}

/** Fonts every chart asks for; resvg uses the system's, browsers theirs. */
const FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';

export const CHART_CONFIG = {
  font: FONT,
  background: 'white',
  axis: { labelFontSize: 11, titleFontSize: 12 },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 260 },
  title: { fontSize: 14, anchor: 'start' as const, subtitleFontSize: 11, subtitleColor: '#555' },
  header: { labelFontSize: 12, titleFontSize: 12 },
  view: { stroke: '#ccc' },
};

interface TextItem {
  fontSize?: number;
  fontWeight?: string | number;
}
/** Vega's text measurer (exported by vega-scenegraph, missing from vega's types). */
const textMetrics = (vega as unknown as { textMetrics: { width: (item: TextItem, text: unknown) => number } })
  .textMetrics;
textMetrics.width = (item: TextItem, text: unknown) => {
  const s = text === null || text === undefined ? '' : String(text).trim();
  const w = item.fontWeight;
  const bold = w === 'bold' || (typeof w === 'number' && w >= 600) || (typeof w === 'string' && Number(w) >= 600);
  return textWidth(s, item.fontSize ?? 11, bold);
};

/** Splits `line` into lines no wider than `width` px at `fontSize`, breaking at spaces. */
export function wrapText(line: string, width: number, fontSize: number, bold = false): string[] {
  const out: string[] = [];
  let cur = '';
  for (const word of line.split(' ')) {
    const next = cur === '' ? word : `${cur} ${word}`;
    if (cur !== '' && textWidth(next, fontSize, bold) > width) {
      out.push(cur);
      cur = word;
    } else cur = next;
  }
  if (cur !== '') out.push(cur);
  return out;
}

type Title = { text: string | string[]; subtitle?: string | string[] } & Record<string, unknown>;
const lines = (x: string | string[] | undefined): string[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

function view(spec: TopLevelSpec): View {
  const full = { ...spec, config: { ...CHART_CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec;
  return new View(parse(compile(full).spec), { renderer: 'none' });
}

const svgWidth = (svg: string): number => Number(/<svg[^>]*\swidth="([\d.]+)"/.exec(svg)?.[1] ?? NaN);

export async function renderChart(name: string, title: string, spec: TopLevelSpec, scale = 2): Promise<RenderedChart> {
  // 1. The chart without its title, to learn the width of its body; 2. the title wrapped to it.
  const t = (typeof spec.title === 'string' ? { text: spec.title } : spec.title) as Title | undefined;
  let final = spec;
  if (t !== undefined) {
    const { title: _t, ...bare } = spec as TopLevelSpec & { title?: unknown };
    const probe = view(bare as TopLevelSpec);
    const width = svgWidth(await probe.toSVG()) - 10;
    probe.finalize();
    const text = lines(t.text).flatMap((l) => wrapText(l, width, CHART_CONFIG.title.fontSize, true));
    // The subtitle's lines flow as one paragraph, wrapped to the body's width.
    const sub = lines(t.subtitle).join(' ');
    const subtitle = sub === '' ? [] : wrapText(sub, width, CHART_CONFIG.title.subtitleFontSize);
    final = { ...spec, title: { ...t, text, ...(subtitle.length ? { subtitle } : {}) } } as TopLevelSpec;
  }
  const v = view(final);
  const svg = await v.toSVG();
  const layout = measure(v, svg, t === undefined ? '' : lines(t.text).join(' '));
  v.finalize();
  const resvg = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: scale },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  });
  const png = resvg.render().asPng();
  return { name, title, svg, png: Buffer.from(png), spec: final, layout };
}

interface SceneItem {
  x?: number;
  width?: number;
  text?: unknown;
  items?: SceneMark[];
}
interface SceneMark {
  marktype: string;
  role?: string;
  items: SceneItem[];
}

/** The plot area and legend labels of a rendered view (from its scenegraph). */
function measure(v: View, svg: string, titleText: string): ChartLayout {
  const root = (v.scenegraph() as unknown as { root: SceneMark }).root;
  let plotLeft = Infinity;
  let plotRight = -Infinity;
  const legendLabels: string[] = [];
  const walk = (item: SceneItem, ox: number, inLegend: boolean) => {
    const x = ox + (item.x ?? 0);
    const marks = item.items ?? [];
    if (!inLegend && marks.some((m) => m.role === 'mark' && m.marktype !== 'group' && m.items.length > 0)) {
      plotLeft = Math.min(plotLeft, x);
      plotRight = Math.max(plotRight, x + (item.width ?? 0));
    }
    for (const m of marks) {
      if (m.role === 'legend-label') for (const it of m.items) legendLabels.push(String(it.text));
      if (m.marktype === 'group') for (const it of m.items) walk(it, x, inLegend || m.role === 'legend');
    }
  };
  for (const it of root.items) walk(it, v.origin()[0], false);
  return { width: svgWidth(svg), plotLeft, plotRight, titleText, legendLabels };
}

/** Width and height from a PNG's IHDR chunk, after checking the 8-byte signature. */
export function pngSize(buf: Uint8Array): { width: number; height: number } {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (buf.length < 24 || sig.some((b, i) => buf[i] !== b)) throw new TypeError('not a PNG: bad signature');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (String.fromCharCode(buf[12]!, buf[13]!, buf[14]!, buf[15]!) !== 'IHDR')
    throw new TypeError('not a PNG: no IHDR chunk first');
  return { width: dv.getUint32(16), height: dv.getUint32(20) };
}
