import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { pngSize } from '../src/render.js';
import { buildCharts, type ReportInput } from '../src/report.js';

interface Metrics {
  settings: { chanceLoss: number; seeds: number[] };
  demo: {
    summary: { method: string; diverged: number; seeds: number; evalLoss: (number | null)[] }[];
    runs: { method: string; seed: number; loss: number[]; evalLoss: number | null; divergedAt: number | null }[];
  };
  surface: {
    plainLargestStep: number;
    clippedLargestStep: number;
    maxNorm: number;
    learningRate: number;
    plain: { loss: number }[];
    clipped: { loss: number }[];
  };
  verdicts: { claim: string; verdict: string; text: string }[];
  learning: {
    task: string;
    chanceLoss: number;
    lrs: number[];
    runs: { method: string; lr: number; seed: number; finalLoss: number | null }[];
  };
  reproductions: { paper: string; pass: boolean }[];
}

// One `gradclip demo --quick` run (the CI-sized configuration) shared by the assertions below.
describe('gradclip demo --quick', () => {
  const out = mkdtempSync(join(tmpdir(), 'gradclip-report-'));
  let code = -1;
  let metrics: Metrics;
  beforeAll(async () => {
    code = await main(['demo', '--quick', '--no-progress', '--out', out]);
    metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as Metrics;
  }, 120_000);

  it('exits with 0', () => {
    expect(code).toBe(0);
  });

  it('unclipped training diverges or ends clearly worse in most seeds; global-norm clipping converges', () => {
    const chance = metrics.settings.chanceLoss;
    const none = metrics.demo.summary.find((s) => s.method === 'none')!;
    const global = metrics.demo.summary.find((s) => s.method === 'global:1')!;
    const badNone = none.evalLoss.filter((l) => l === null || l > 2 * chance).length;
    expect(badNone * 2).toBeGreaterThan(none.seeds);
    // at quick size every unclipped seed blows up within the first few steps
    expect(none.diverged).toBe(none.seeds);
    expect(global.diverged).toBe(0);
    // "converges", in what is true at this size: every seed ends with a finite held-out loss
    // near chance (predicting the mean; below 2×, measured 1.1–1.4×), clearly below where
    // its training started (the first 5 steps average 2–10× chance; measured end/start
    // 0.1–0.7). It does not learn the 50-step dependency in 30 steps (no seed ends below
    // chance), so that is not asserted.
    const runs = metrics.demo.runs.filter((r) => r.method === 'global:1');
    expect(runs).toHaveLength(global.seeds);
    for (const r of runs) {
      const start = r.loss.slice(0, 5).reduce((a, b) => a + b, 0) / 5;
      expect(r.evalLoss).not.toBeNull();
      expect(r.evalLoss!, `seed ${r.seed}`).toBeLessThan(2 * chance);
      expect(r.evalLoss!, `seed ${r.seed}`).toBeLessThan(0.8 * start);
    }
  });

  it('ZClip without its fixed cap clips nothing during warm-up and diverges there like unclipped training', () => {
    const z = metrics.demo.runs.filter((r) => r.method === 'zclip:2.5');
    const none = metrics.demo.runs.filter((r) => r.method === 'none');
    expect(z.map((r) => r.divergedAt)).toEqual(none.map((r) => r.divergedAt));
    for (const r of z) expect(r.divergedAt!).toBeLessThan(25);
    expect(metrics.verdicts[5]!.text).toContain('without its fixed cap');
  });

  it('learning-rate sweep: at lr 1 clipped training learns the temporal-order task, unclipped ends above chance', () => {
    const l = metrics.learning;
    expect(l.task).toBe('temporal-order');
    expect(l.chanceLoss).toBeCloseTo(Math.log(4), 12);
    expect(l.runs).toHaveLength(2 * 3 * 2); // none, global:1 × lr 0.1, 1, 10 × seeds 1, 2
    for (const r of l.runs)
      expect(Object.keys(r)).toEqual(expect.arrayContaining(['method', 'lr', 'seed', 'finalLoss']));
    const at = (method: string, lr: number) =>
      l.runs.filter((r) => r.method === method && r.lr === lr).map((r) => r.finalLoss);
    // measured (quick: 100 steps, seeds 1–2): global:1 at lr 1 ends at 0.002–0.003× chance,
    // unclipped at 2.3–4× chance; at lr 10 both are far above chance
    for (const v of at('global:1', 1)) expect(v!).toBeLessThan(0.05 * l.chanceLoss);
    for (const v of at('none', 1)) expect(v === null || v > 1.3 * l.chanceLoss).toBe(true);
    expect(metrics.verdicts[1]!.text).toContain('Learning-rate sweep');
  });

  it('reports each reproduction with a pass mark', () => {
    const papers = metrics.reproductions.map((r) => r.paper.split(' ')[0]);
    expect(papers).toEqual(['Pascanu,', 'Zhang,', 'Zhang,', 'Zhang,', 'Koloskova,', 'Wortsman']);
    // Pascanu's cliff, Zhang's x⁴ and the heavy-tailed noise do not depend on the run's size
    expect(metrics.reproductions.filter((r) => /Pascanu|x⁴|heavy/.test(r.paper)).every((r) => r.pass)).toBe(true);
  });

  it('the Pascanu trajectory without clipping jumps off the cliff, the clipped one does not', () => {
    const s = metrics.surface;
    expect(s.plainLargestStep).toBeGreaterThan(5);
    expect(s.clippedLargestStep).toBeLessThanOrEqual(s.learningRate * s.maxNorm + 1e-9);
    expect(s.plain.at(-1)!.loss).toBeGreaterThan(0.05);
    expect(s.clipped.at(-1)!.loss).toBeLessThan(1e-3);
  });

  it('gives a verdict on each of the six claims, claim 3 false', () => {
    expect(metrics.verdicts.map((v) => v.claim.slice(0, 3))).toEqual(['(1)', '(2)', '(3)', '(4)', '(5)', '(6)']);
    expect(metrics.verdicts[2]!.verdict).toBe('false');
  });

  it('every chart: plot area ≥ 80 % of the image, title names its file, legend entries drawn from the data (issue 23)', async () => {
    const input = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'), (_k, v: unknown) =>
      v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v,
    ) as ReportInput;
    const charts = await buildCharts(input);
    expect(charts.map((c) => c.name).sort()).toEqual(
      readdirSync(out)
        .filter((f) => f.endsWith('.png'))
        .map((f) => f.slice(0, -4))
        .sort(),
    );
    for (const c of charts) {
      const { width, plotLeft, plotRight, titleText, legendLabels } = c.layout;
      // No blank margin: the panels that draw data span at least 80 % of the image's width.
      expect((plotRight - plotLeft) / width, c.name).toBeGreaterThanOrEqual(0.8);
      // The PNG's SVG is as wide as the layout says (nothing drawn outside, no extra canvas).
      expect(Math.abs(pngSize(c.png).width - 2 * width), c.name).toBeLessThanOrEqual(2);
      // Every word of the file name is in the chart's title (x4 ↔ x⁴).
      const title = titleText.toLowerCase().replace(/⁴/g, '4');
      for (const word of c.name.split('_')) expect(title, `${c.name}: "${word}"`).toContain(word);
      // Every legend label is a value in the chart's data (a legend entry never promises a
      // mark that is not drawn); numeric labels belong to colour gradients.
      const values = new Set<string>();
      const collect = (x: unknown): void => {
        if (typeof x === 'string') values.add(x);
        else if (Array.isArray(x)) x.forEach(collect);
        else if (x !== null && typeof x === 'object') Object.values(x).forEach(collect);
      };
      const walkData = (x: unknown): void => {
        if (Array.isArray(x)) x.forEach(walkData);
        else if (x !== null && typeof x === 'object') {
          for (const [k, v] of Object.entries(x)) {
            if (k === 'values' && Array.isArray(v)) collect(v);
            else walkData(v);
          }
        }
      };
      walkData(c.spec);
      for (const label of legendLabels) {
        if (/^[−-]?[\d.e+−-]+%?$/.test(label)) continue;
        expect(values.has(label), `${c.name}: legend "${label}"`).toBe(true);
      }
    }
    // The learning-rate chart names diverged seeds in its legend exactly when there are any.
    const lr = charts.find((c) => c.name === 'learning_rate')!;
    const anyDiverged = input.learning!.runs.some((r) => r.finalLoss === null);
    expect(lr.layout.legendLabels.some((l) => l.startsWith('diverged'))).toBe(anyDiverged);
    // The sweep: diverged runs drawn at the top edge, named in the legend.
    const sw = charts.find((c) => c.name === 'sweep')!;
    expect(sw.layout.legendLabels.includes('diverged seed (drawn at the top)')).toBe(
      input.sweep!.points.some((p) => p.diverged),
    );
  }, 120_000);

  it('writes the report files, with valid PNGs', () => {
    for (const f of [
      'index.html',
      'metrics.json',
      'steps.csv',
      'runs.csv',
      'sweep.csv',
      'vanishing.csv',
      'learning.csv',
    ])
      expect(existsSync(join(out, f)), f).toBe(true);
    const pngs = [
      'pascanu_surface',
      'pascanu_loss',
      'rnn_loss',
      'rnn_norm',
      'rnn_final_loss',
      'rnn_cosine',
      'sweep',
      'vanishing',
      'zhang_x4',
      'learning_rate',
      'smoothness_correlation',
      'heavy_tail',
      'clipping_bias',
    ];
    for (const name of pngs) {
      const size = pngSize(readFileSync(join(out, `${name}.png`)));
      expect(size.width, name).toBeGreaterThan(300);
      expect(size.height, name).toBeGreaterThan(150);
    }
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    // self-contained: charts inline as SVG, nothing fetched from the network
    expect((html.match(/<svg/g) ?? []).length).toBe(pngs.length);
    expect(html).not.toMatch(/(src|href)="https?:/);
    expect(html).toContain('What should I use?');
    // The first thing on the page is the answer, before the advice and the verdicts.
    const answer = html.indexOf('Should I clip, and how?');
    expect(answer).toBeGreaterThan(0);
    expect(answer).toBeLessThan(html.indexOf('What should I use?'));
    expect(html.indexOf('What should I use?')).toBeLessThan(html.indexOf('id="verdicts"'));
    expect(html).toContain('withClipping(tf.train.sgd(lr), { globalClipnorm: tau })');
    // On a phone a wide table scrolls inside its wrapper instead of widening the page (issue 23).
    const tables = html.match(/<table/g)?.length ?? 0;
    expect(tables).toBeGreaterThan(2);
    expect(html.match(/<div class="scroll"><table/g)?.length).toBe(tables);
    const runs = readFileSync(join(out, 'runs.csv'), 'utf8').trim().split('\n');
    expect(runs[0]).toBe('method,seed,diverged,diverged_at,eval_loss,clip_fraction,steps_run,ms');
    expect(runs.length - 1).toBe(metrics.demo.summary.length * metrics.settings.seeds.length);
  });
});

describe('gradclip surface', () => {
  it('writes only the Pascanu part, with the unclipped run off the cliff', async () => {
    const out = mkdtempSync(join(tmpdir(), 'gradclip-surface-'));
    expect(await main(['surface', '--no-progress', '--out', out])).toBe(0);
    const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as Partial<Metrics>;
    expect(m.demo).toBeUndefined();
    expect(m.surface!.plainLargestStep).toBeGreaterThan(5);
    expect(pngSize(readFileSync(join(out, 'pascanu_surface.png'))).width).toBeGreaterThan(300);
    expect(existsSync(join(out, 'rnn_loss.png'))).toBe(false);
  });
});

describe('bad flags', () => {
  it.each([
    [['demo', '--bogus']],
    [['demo', '--backend', 'gpu']],
    [['demo', '--steps', '-3']],
    [['demo', '--steps', 'many']],
    [['demo', '--seeds', 'x']],
    [['demo', '--methods', 'global:0']],
    [['demo', '--methods', 'clipall']],
    [['nosuchcommand']],
  ])('%j exits with code 2', async (argv) => {
    expect(await main(argv)).toBe(2);
  });
});
