/**
 * Chart rendering: Vega-Lite spec → Vega (vega-lite `compile`) → SVG (a headless vega View,
 * renderer 'none', `toSVG`) → PNG (@resvg/resvg-js). Node only.
 */
import { Resvg } from '@resvg/resvg-js';
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface RenderedChart {
  name: string;
  title: string;
  svg: string;
  png: Buffer;
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

export async function renderChart(name: string, title: string, spec: TopLevelSpec, scale = 2): Promise<RenderedChart> {
  const full = { ...spec, config: { ...CHART_CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec;
  const vgSpec = compile(full).spec;
  const view = new View(parse(vgSpec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const resvg = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: scale },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  });
  const png = resvg.render().asPng();
  return { name, title, svg, png: Buffer.from(png) };
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
