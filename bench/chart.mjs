// The benchmark chart: throughput (GB/s touched, log scale) per candidate over the size sweep,
// one panel per op. Vega-Lite → Vega → SVG (headless View) → PNG (@resvg/resvg-js).
import { writeFileSync } from 'node:fs';
import { Resvg } from '@resvg/resvg-js';
import { parse, View } from 'vega';
import { compile } from 'vega-lite';

const FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';

export function chartSpec(rows) {
  // Few-large configs by size first, then the many-small ones.
  const manySmall = (r) => r.tensors !== Math.min(100, r.total / 10);
  const order = [...new Set([...rows.filter((r) => !manySmall(r)), ...rows.filter(manySmall)].map((r) => r.config))];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: 'Gradient clipping throughput (float32; higher is better)',
      subtitle:
        'GB/s of gradient memory touched (global & per-tensor: 12 B/value, value: 8 B/value); medians; "t" = tensors',
    },
    config: {
      font: FONT,
      axis: { labelFontSize: 11, titleFontSize: 12 },
      legend: { labelFontSize: 12, labelLimit: 300 },
      header: { labelFontSize: 13 },
    },
    // Lines join sizes of one layout only: "100 tensors" (few large) vs many 1,000-value tensors.
    data: {
      values: rows.map((r) => ({
        config: r.config,
        layout: r.tensors === Math.min(100, r.total / 10) ? 'few large' : 'many small',
        op: r.op,
        candidate: r.candidate,
        gbps: r.gbps,
        median: r.median,
      })),
    },
    facet: { column: { field: 'op', title: null, sort: ['global', 'value', 'pertensor'] } },
    spec: {
      width: 330,
      height: 300,
      layer: [{ mark: { type: 'line', strokeWidth: 2 } }, { mark: { type: 'point', filled: true, size: 40 } }],
      encoding: {
        x: { field: 'config', type: 'ordinal', sort: order, title: 'values / tensors', axis: { labelAngle: -40 } },
        y: { field: 'gbps', type: 'quantitative', scale: { type: 'log' }, title: 'GB/s' },
        color: {
          field: 'candidate',
          type: 'nominal',
          sort: [
            'gradclip-wasm',
            'gradclip-wasm-arena',
            'gradclip-wasm-arena-mt',
            'gradclip-js',
            'plain-js',
            'tfjs-cpu',
            'tfjs-wasm',
            'c',
            'pytorch',
            'pytorch-mt',
          ],
          scale: { scheme: 'category10' },
        },
        detail: { field: 'layout' },
        tooltip: [{ field: 'candidate' }, { field: 'median', title: 'median ms' }, { field: 'gbps', format: '.2f' }],
      },
    },
  };
}

/** Writes <base>.svg and <base>.png. */
export async function renderChart(rows, base) {
  const vg = compile(chartSpec(rows)).spec;
  const view = new View(parse(vg), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  writeFileSync(`${base}.svg`, svg);
  const png = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: 2 },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  })
    .render()
    .asPng();
  writeFileSync(`${base}.png`, png);
}
