/**
 * The report: one verdict per claim of the seed article with its numbers across seeds,
 * charts inline (SVG) in a self-contained index.html, the same charts as PNG, metrics.json
 * and CSV files. Node only.
 */
import type { TopLevelSpec } from 'vega-lite';
import {
  cosineSpec,
  demoFinalSpec,
  demoLossSpec,
  demoNormSpec,
  smoothnessSpec,
  surfaceLossSpec,
  surfaceSpec,
  sweepSpec,
  vanishingSpec,
} from './charts.js';
import { biasSpec, heavyTailSpec, learningSpec, smoothnessCorrelationSpec } from './charts_learning.js';
import {
  mean,
  median,
  type DemoResult,
  type MethodSummary,
  type SmoothnessResult,
  type SurfaceResult,
  type SweepResult,
  type VanishingResult,
} from './experiments.js';
import type { LearningResult, SmoothnessCorrelation } from './learning.js';
import { adaGCWarmup, ZCLIP_MAX_GRAD_NORM, ZCLIP_WARMUP } from './methods.js';
import type { BiasResult, HeavyTailResult } from './noise.js';
import { renderChart, type RenderedChart } from './render.js';
import { summaryLines, tooLowEvidence, tooLowText } from './report_summary.js';
import { writeReportFiles } from './report_files.js';
import {
  adviceSection,
  deviationNote,
  f3,
  learningSections,
  learningVerdict,
  reproductions,
} from './report_learning.js';
import type { TrainConfig } from './train.js';
import { esc, table } from './report_html.js';

export interface ReportInput {
  settings: {
    backend: string;
    seeds: number[];
    steps: number;
    quick: boolean;
    config: Omit<TrainConfig, 'task'> & { task: string };
    chanceLoss: number;
    sweepSteps: number;
    vanishingSteps: number;
  };
  demo?: DemoResult;
  sweep?: SweepResult;
  vanishing?: VanishingResult;
  surface?: SurfaceResult;
  smoothness?: SmoothnessResult;
  /** Learning-rate sweep (claim 2, Wortsman et al. 2023). */
  learning?: LearningResult;
  /** Zhang et al. 2020, Fig. 1: smoothness against gradient norm along a trajectory. */
  smoothnessCorrelation?: SmoothnessCorrelation;
  /** SGD vs clipped SGD under heavy-tailed noise (Zhang et al. 2020b). */
  heavyTail?: HeavyTailResult;
  /** The bias of clipped SGD (Koloskova et al. 2023). */
  bias?: BiasResult;
  /** Wall and CPU seconds of each part (not deterministic; not used in any verdict). */
  timings?: Record<string, { wall: number; cpu: number }>;
  seconds: number;
}

export interface Verdict {
  claim: string;
  verdict: 'supported' | 'partly' | 'not supported' | 'false' | 'confirmed' | 'not measured';
  text: string;
}

/** The verdicts, computed from the numbers (nothing here is written in advance). */
export function verdicts(r: ReportInput): Verdict[] {
  const out: Verdict[] = [];
  const chance = r.settings.chanceLoss;
  const d = r.demo;
  const by = (id: string) => d?.summary.find((s) => s.method === id);
  const none = by('none');
  const globals = d?.summary.filter((s) => s.method.startsWith('global:')) ?? [];
  if (none && globals.length) {
    const gDiv = globals.reduce((a, s) => a + s.diverged, 0);
    const gRuns = globals.reduce((a, s) => a + s.seeds, 0);
    const ok = none.diverged * 2 > none.seeds && gDiv === 0;
    const divSteps = d!.runs.filter((x) => x.method === 'none' && x.divergedAt !== null).map((x) => x.divergedAt!);
    out.push({
      claim: '(1) Clipping prevents exploding gradients',
      verdict: ok ? 'supported' : gDiv === 0 ? 'partly' : 'not supported',
      text:
        `Unclipped training diverged in ${none.diverged}/${none.seeds} seeds` +
        (divSteps.length
          ? ` (at steps ${divSteps.join(', ')}; pre-clip norms reached ${f3(Math.max(...d!.runs.filter((x) => x.method === 'none').flatMap((x) => x.norm.filter(Number.isFinite))))})`
          : '') +
        `; global-norm clipping diverged in ${gDiv}/${gRuns} runs (thresholds ${globals.map((s) => s.method.slice(7)).join(', ')}). ` +
        `The gradient still explodes — the pre-clip norm is as large as without clipping — but the step is bounded by lr × threshold, so the weights stay finite.`,
    });
    const gEval = globals.flatMap((s) => s.evalLoss.filter((v): v is number => v !== null));
    const learned = gEval.filter((v) => v < 0.9 * chance).length;
    const fromSweep = learningVerdict(r);
    if (fromSweep) out.push(fromSweep);
    else
      out.push({
        claim: '(2) Clipping stabilises training and convergence',
        verdict: learned * 2 > gEval.length ? 'supported' : 'partly',
        text:
          `With clipping every run finished with a finite held-out loss (median ${f3(median(gEval))}, chance ${f3(chance)}); without it ${none.diverged}/${none.seeds} runs were lost. ` +
          `${learned}/${gEval.length} clipped runs ended clearly below chance (< 0.9 × chance) within ${r.settings.steps} steps: ` +
          (learned * 2 > gEval.length
            ? 'clipped training converges.'
            : 'clipping keeps training alive, but it does not by itself make a vanilla RNN learn the 50-step dependency in this budget — stability is not the same as fast convergence.'),
      });
  } else {
    const fromSweep = learningVerdict(r);
    if (fromSweep) out.push(fromSweep);
  }
  const v = r.vanishing;
  if (v) {
    const reach = (id: string) => v.runs.filter((x) => x.method === id).map((x) => x.reachEnd);
    const scale = (id: string) => mean(v.runs.filter((x) => x.method === id).map((x) => x.meanScale));
    const clipFrac = (id: string) => mean(v.runs.filter((x) => x.method === id).map((x) => x.clipFraction));
    const start = median(v.runs.map((x) => x.hiddenGradStart[0]! / x.hiddenGradStart[x.hiddenGradStart.length - 1]!));
    out.push({
      claim: '(3) Clipping helps against vanishing gradients',
      verdict: 'false',
      text:
        `Clipping multiplies the whole gradient by min(1, τ/‖g‖) ≤ 1: it can only shrink. With ρ(Wh) ≈ ${v.recurrentScale}, ‖∂L/∂h_1‖/‖∂L/∂h_T‖ = ${f3(start)} at initialisation. ` +
        v.methods
          .map(
            (id) =>
              `${id}: ratio after training ${f3(median(reach(id)))} (clipped ${(100 * clipFrac(id)).toFixed(0)}% of steps, mean factor ${f3(scale(id))})`,
          )
          .join('; ') +
        '. A threshold above the norm never fires and changes nothing; an aggressive one scales every step down, early and late alike. Remedies for vanishing gradients are architectural (LSTM/GRU gates, residual paths, orthogonal init), not clipping.',
    });
  }
  const s = r.sweep;
  if (s) {
    const rows = s.multiples.map((k) => {
      const ps = s.points.filter((p) => p.multiple === k);
      const ev = ps.map((p) => p.evalLoss).filter((x): x is number => x !== null);
      return { k, div: ps.filter((p) => p.diverged).length, n: ps.length, med: ev.length ? median(ev) : null };
    });
    const inBand = rows.filter((x) => x.k >= 0.5 && x.k <= 10);
    const bandDiv = inBand.reduce((a, x) => a + x.div, 0);
    const lowRows = rows.filter((x) => x.k < 1);
    const hiRows = rows.filter((x) => x.k > 1);
    const lowDiv = lowRows.reduce((a, x) => a + x.div, 0);
    const hiDiv = hiRows.reduce((a, x) => a + x.div, 0);
    const firstBad = rows.find((x) => x.div > 0);
    const low = tooLowEvidence(r);
    const tooLow = low.some((e) => e.holds);
    const tooHigh = hiDiv > 0;
    out.push({
      claim: '(4) The threshold is sensitive: too low slows learning, too high does not stabilise',
      verdict: tooLow && tooHigh ? 'confirmed' : tooLow || tooHigh ? 'partly' : 'not supported',
      text:
        `Reference norm ${f3(s.referenceNorm)}: the median pre-clip norm of the stable global-norm runs of the ${r.settings.config.task} RNN (T = ${r.settings.config.seqLen}); ` +
        `“Choosing τ” measures its own on the learning-rate sweep's smaller model — each model has its own scale. ` +
        rows.map((x) => `${x.k}×: ${x.div}/${x.n} diverged, median loss ${f3(x.med)}`).join('; ') +
        '. ' +
        (firstBad ? `Runs start to diverge at ${firstBad.k}× the reference; ` : 'No threshold in the grid diverged; ') +
        `inside Pascanu's 0.5×–10× band ${bandDiv} of ${inBand.reduce((a, x) => a + x.n, 0)} runs diverged, ` +
        `below 1× ${lowDiv}, above 1× ${hiDiv}. ` +
        `Too high does not stabilise: ${tooHigh ? `holds (${hiDiv} runs above 1× diverged)` : 'not seen (no run above 1× diverged)'}. ` +
        `Too low slows learning: ${low.length ? low.map(tooLowText).join(' ') : 'not measured.'}`,
    });
  }
  if (d) {
    const val = d.summary.filter((x) => x.method.startsWith('value:'));
    const agcs = d.summary.filter((x) => x.method.startsWith('agc:'));
    const gl = globals.filter((x) => x.clippedCosine !== null);
    const low = s ? s.points.filter((p) => p.multiple === Math.min(...s.multiples)) : [];
    const lowEval = low.map((p) => p.evalLoss).filter((x): x is number => x !== null);
    out.push({
      claim: '(5) Aggressive clipping loses gradient information',
      verdict: 'partly',
      text:
        `Global-norm clipping keeps the direction exactly (mean cosine on clipped steps ${gl.map((x) => `${x.method}: ${f3(x.clippedCosine)}`).join(', ') || '—'}); ` +
        `value clipping changes it (${val.map((x) => `${x.method}: cosine ${f3(x.clippedCosine)}, clipped ${(100 * x.clipFraction).toFixed(0)}% of steps`).join('; ') || 'not run'})` +
        (agcs.length
          ? `, and so does per-unit AGC (${agcs.map((x) => `${x.method}${noteOf(x.method, r.settings.steps)}: ${f3(x.clippedCosine)}`).join('; ')})`
          : '') +
        '. ' +
        (lowEval.length
          ? `The most aggressive sweep threshold (${Math.min(...s!.multiples)}× reference) ended at median loss ${f3(median(lowEval))}: information about the step length is lost, the direction is not. `
          : '') +
        'What is lost is the length of large steps (global norm) or the direction as well (value / unit-wise).',
    });
    const adaptive = d.summary.filter((x) => ['agc', 'autoclip', 'zclip', 'adagc'].some((k) => x.method.startsWith(k)));
    const g1 = by('global:1');
    out.push({
      claim: '(6) Clipping adds a hyperparameter to tune',
      verdict: 'confirmed',
      text:
        `Global-norm clipping needs τ (see claim 4). Adaptive methods trade it for settings of their own, run here without tuning (where they differ from the library's defaults, in brackets): ` +
        (adaptive
          .map(
            (x) =>
              `${x.label}${noteOf(x.method, r.settings.steps)}: ${x.diverged}/${x.seeds} diverged, median loss ${f3(x.medianEvalLoss)}, clipped ${(100 * x.clipFraction).toFixed(0)}% of steps`,
          )
          .join('; ') || 'none run') +
        '. ' +
        methodSettingsText(d, r.settings.steps, g1) +
        'They still have hyperparameters (percentile, z threshold, λ), but ones that transfer between models because they are relative to the observed norms or the weights.',
    });
  }
  return out;
}

/** ' (what differs from the library default)' for a method, or ''. */
function noteOf(methodId: string, steps: number): string {
  const n = deviationNote(methodId, steps);
  return n ? ` (${n})` : '';
}

/** What the report says about the settings of AdaGC and ZClip, with the data of this run. */
function methodSettingsText(d: DemoResult, steps: number, g1: MethodSummary | undefined): string {
  const parts: string[] = [];
  const ada = d.summary.filter((x) => x.method.startsWith('adagc'));
  if (ada.length) {
    parts.push(
      `AdaGC ran with warmupSteps = ${adaGCWarmup(steps)} (a quarter of the ${steps}-step run; its default of 100 would cover the whole run), during which it is global-norm clipping at lambdaAbs = 1; after that each tensor has its own threshold. `,
    );
  }
  const zs = d.summary.filter((x) => x.method.startsWith('zclip'));
  for (const z of zs) {
    const runs = d.runs.filter((x) => x.method === z.method);
    const early = runs.filter((x) => x.divergedAt !== null && x.divergedAt < ZCLIP_WARMUP).length;
    const sameAsG1 = g1 !== undefined && z.evalLoss.every((v, i) => v === g1.evalLoss[i]);
    parts.push(
      ZCLIP_MAX_GRAD_NORM === null
        ? `ZClip ran without its fixed cap (maxGradNorm: null), so that its z-score rule acts alone: it only collects norm statistics during its first ${ZCLIP_WARMUP} steps and clips nothing then. ` +
            (early > 0
              ? `It diverged within those steps in ${early}/${runs.length} seeds, exactly like unclipped training — an adaptive threshold needs a safe start, and ZClip's default cap (maxGradNorm = 1) is that safe start, which makes it a fixed threshold again. `
              : `It diverged in ${z.diverged}/${runs.length} seeds. `)
        : `ZClip ran with its default cap maxGradNorm = ${ZCLIP_MAX_GRAD_NORM}, which is in force during warm-up and after` +
            (sameAsG1
              ? ` — and it ended with exactly the losses of global norm ≤ 1 in every seed: the cap was always the binding limit. `
              : '. '),
    );
  }
  return parts.join('');
}

function csv(headers: string[], rows: (string | number | boolean | null)[][]): string {
  const cell = (c: string | number | boolean | null) =>
    c === null ? '' : typeof c === 'string' && /[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : String(c);
  return [headers.join(','), ...rows.map((r) => r.map(cell).join(','))].join('\n') + '\n';
}

export async function buildCharts(r: ReportInput): Promise<RenderedChart[]> {
  const specs: [string, string, TopLevelSpec][] = [];
  const chance = r.settings.chanceLoss;
  if (r.surface) {
    specs.push(['pascanu_surface', 'Pascanu Fig. 6: error surface and trajectories', surfaceSpec(r.surface)]);
    specs.push(['pascanu_loss', 'Pascanu: loss along the trajectories', surfaceLossSpec(r.surface)]);
  }
  if (r.demo) {
    // What differs from the library defaults, under the charts whose numbers it affects.
    const notes = r.demo.summary.flatMap((x) => {
      const n = deviationNote(x.method, r.settings.steps);
      return n
        ? [
            `${x.label}: ${n.replace(/ \(maxGradNorm: null; default 1\), so nothing is clipped in its \d+-step warm-up/, ' (default cap 1)')}`,
          ]
        : [];
    });
    const note = notes.map((n, i) => (i === 0 ? `Not the library defaults: ${n}` : n));
    specs.push([
      'rnn_loss',
      'Training loss per method',
      demoLossSpec(r.demo, chance, `${r.settings.config.task}, T = ${r.settings.config.seqLen}`, note),
    ]);
    specs.push(['rnn_norm', 'Pre-clip gradient norm per method', demoNormSpec(r.demo)]);
    specs.push(['rnn_final_loss', 'Final loss and divergences', demoFinalSpec(r.demo, chance, note)]);
    specs.push(['rnn_cosine', 'Direction change from clipping', cosineSpec(r.demo)]);
  }
  if (r.sweep) specs.push(['sweep', 'Threshold sweep', sweepSpec(r.sweep, chance)]);
  if (r.vanishing) specs.push(['vanishing', 'Vanishing gradients', vanishingSpec(r.vanishing)]);
  if (r.smoothness) specs.push(['zhang_x4', 'Zhang et al. 2020 on x⁴', smoothnessSpec(r.smoothness)]);
  if (r.learning) specs.push(['learning_rate', 'Final loss against learning rate', learningSpec(r.learning)]);
  if (r.smoothnessCorrelation)
    specs.push([
      'smoothness_correlation',
      'Zhang et al. 2020, Fig. 1: smoothness against gradient norm',
      smoothnessCorrelationSpec(r.smoothnessCorrelation),
    ]);
  if (r.heavyTail)
    specs.push(['heavy_tail', 'SGD vs clipped SGD under heavy-tailed noise', heavyTailSpec(r.heavyTail)]);
  if (r.bias) specs.push(['clipping_bias', 'Koloskova et al. 2023: the bias of clipped SGD', biasSpec(r.bias)]);
  const charts: RenderedChart[] = [];
  for (const [name, title, spec] of specs) charts.push(await renderChart(name, title, spec));
  return charts;
}

export interface WrittenReport {
  dir: string;
  files: string[];
  verdicts: Verdict[];
}

/**
 * Writes the report into `outDir` all at once (report_files.ts): complete files in a staging
 * folder first, then renamed into place, so a failure leaves the old report as it was and
 * nothing is written through a link already in `outDir`.
 */
export async function writeReport(outDir: string, r: ReportInput): Promise<WrittenReport> {
  const staged: [string, string | Buffer][] = [];
  const put = (name: string, data: string | Buffer) => {
    staged.push([name, data]);
  };
  const charts = await buildCharts(r);
  for (const c of charts) put(`${c.name}.png`, c.png);
  const vs = verdicts(r);
  put(
    'metrics.json',
    JSON.stringify(
      { ...r, verdicts: vs, reproductions: reproductions(r) },
      (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v),
      1,
    ),
  );
  if (r.demo) {
    put(
      'steps.csv',
      csv(
        ['method', 'seed', 'step', 'loss', 'grad_norm', 'threshold', 'clipped', 'scale', 'cosine'],
        r.demo.runs.flatMap((x) =>
          x.loss.map((l, i) => [
            x.method,
            x.seed,
            i,
            l,
            x.norm[i]!,
            x.threshold[i] ?? null,
            x.clipped[i]!,
            x.scale[i]!,
            x.cosine[i]!,
          ]),
        ),
      ),
    );
    put(
      'runs.csv',
      csv(
        ['method', 'seed', 'diverged', 'diverged_at', 'eval_loss', 'clip_fraction', 'steps_run', 'ms'],
        r.demo.runs.map((x) => [
          x.method,
          x.seed,
          x.diverged,
          x.divergedAt,
          x.evalLoss,
          x.clipFraction,
          x.loss.length,
          Math.round(x.ms),
        ]),
      ),
    );
  }
  if (r.learning)
    put(
      'learning.csv',
      csv(
        ['method', 'lr', 'seed', 'final_loss', 'early_norm', 'clip_fraction'],
        r.learning.runs.map((x) => [x.method, x.lr, x.seed, x.finalLoss, x.earlyNorm, x.clipFraction]),
      ),
    );
  if (r.sweep)
    put(
      'sweep.csv',
      csv(
        ['multiple', 'threshold', 'seed', 'diverged', 'eval_loss', 'clip_fraction'],
        r.sweep.points.map((p) => [p.multiple, p.threshold, p.seed, p.diverged, p.evalLoss, p.clipFraction]),
      ),
    );
  if (r.vanishing) {
    put(
      'vanishing.csv',
      csv(
        ['method', 'seed', 't', 'grad_h_start', 'grad_h_end'],
        r.vanishing.runs.flatMap((x) =>
          x.hiddenGradStart.map((g, t) => [x.method, x.seed, t + 1, g, x.hiddenGradEnd[t] ?? null]),
        ),
      ),
    );
  }
  put('index.html', html(r, vs, charts));
  const files = writeReportFiles(outDir, staged);
  return { dir: outDir, files, verdicts: vs };
}

/** Every setting that differs from the library's defaults in this run, in one sentence. */
function deviationsText(r: ReportInput): string {
  const ids = [...new Set([...(r.demo?.summary.map((x) => x.method) ?? []), ...(r.learning?.methods ?? [])])];
  const notes = ids.flatMap((id) => {
    const steps =
      r.learning?.methods.includes(id) && !r.demo?.summary.some((x) => x.method === id)
        ? r.learning.config.steps
        : r.settings.steps;
    const n = deviationNote(id, steps);
    return n ? [`${id}: ${n}`] : [];
  });
  return notes.length ? notes.join('; ') : 'none in this run';
}

/** The answer box at the top of the page: "should I clip, and how", linking to the evidence. */
function answer(r: ReportInput): string {
  const lines = summaryLines(r);
  return lines.length
    ? `<section class="answer" id="answer"><h2>Should I clip, and how? The answer from this run</h2><ul>${lines
        .map((x) => `<li>${esc(x.text)} <a href="#${x.href}">→ ${esc(x.link)}</a></li>`)
        .join('')}</ul></section>`
    : '';
}

function html(r: ReportInput, vs: Verdict[], charts: RenderedChart[]): string {
  const chart = (name: string) => {
    const c = charts.find((x) => x.name === name);
    return c
      ? `<figure>${c.svg}<figcaption>${esc(c.title)} — <a href="${c.name}.png">PNG</a></figcaption></figure>`
      : '';
  };
  const s = r.settings;
  const color = (v: Verdict['verdict']) =>
    ({
      supported: '#2a7a2a',
      confirmed: '#2a7a2a',
      partly: '#b7791f',
      'not supported': '#c0392b',
      false: '#c0392b',
      'not measured': '#777',
    })[v];
  const summaryTable = r.demo
    ? table(
        [
          'method',
          'diverged',
          'median held-out loss',
          'loss per seed',
          'steps clipped',
          'median pre-clip norm',
          'cos(clipped, raw)',
        ],
        r.demo.summary.map((x) => [
          x.label + noteOf(x.method, s.steps),
          `${x.diverged}/${x.seeds}`,
          f3(x.medianEvalLoss),
          x.evalLoss.map((e) => (e === null ? 'div' : f3(e))).join(' '),
          `${(100 * x.clipFraction).toFixed(0)}%`,
          f3(x.medianNorm),
          f3(x.clippedCosine),
        ]),
      )
    : '';
  const c = s.config;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gradclip — what gradient clipping does, measured</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.5;overflow-wrap:anywhere}
h1{font-size:1.6em} h2{margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em;margin:1em 0;overflow-wrap:normal} th,td{border:1px solid #ddd;padding:.3em .6em;text-align:left} th{background:#f5f5f5}
.verdict{border-left:5px solid;padding:.4em 1em;margin:1em 0;background:#fafafa}
.tag{font-weight:bold;text-transform:uppercase;font-size:.85em}
figure{margin:1.5em 0} figure svg{display:block;max-width:100%;height:auto} figcaption{font-size:.85em;color:#555} code{background:#f3f3f3;padding:0 .2em}
.scroll{overflow-x:auto;max-width:100%} pre{overflow-x:auto;background:#f6f6f6;padding:.6em;font-size:.85em}
.answer{background:#eef6ee;border:1px solid #b9dbb9;border-radius:6px;padding:.6em 1.2em;margin:1em 0} .answer h2{margin:.2em 0;border:0;font-size:1.2em} .answer ul{margin:.4em 0;padding-left:1.2em}
@media (max-width:600px){body{margin:1em auto;padding:0 .6em} h1{font-size:1.3em} table{font-size:.8em}}
</style></head><body>
<h1>What gradient clipping does — and does not do, measured</h1>
${answer(r)}
<p>Below: what to use, then a verdict on each claim of the seed article with its numbers across seeds, then the experiments behind them (<a href="#settings">settings and definitions</a>).</p>
${adviceSection(r)}
<h2 id="verdicts">Verdicts</h2>
${vs.map((v) => `<div class="verdict" id="claim-${v.claim.slice(1, v.claim.indexOf(')'))}" style="border-color:${color(v.verdict)}"><div><span class="tag" style="color:${color(v.verdict)}">${esc(v.verdict)}</span> — <b>${esc(v.claim)}</b></div><div>${esc(v.text)}</div></div>`).join('\n')}
${learningSections(r, chart)}
${r.demo ? `<h2 id="rnn">The harder case: ${esc(c.task)} task, T = ${c.seqLen} — every method, every seed</h2><p>A long-range dependency a vanilla RNN rarely learns in ${s.steps} steps: here clipping's effect is that runs stay finite, not that they learn (the learning-rate sweep above is where clipping decides whether training works).</p>${summaryTable}${chart('rnn_final_loss')}${chart('rnn_loss')}${chart('rnn_norm')}${chart('rnn_cosine')}` : ''}
${r.surface ? `<h2>Pascanu, Mikolov &amp; Bengio 2013, Fig. 6</h2><p>The error surface of a single recurrent sigmoid unit has a cliff. Plain gradient descent that reaches the wall gets a huge gradient and is thrown ${f3(r.surface.plainLargestStep)} units away in one step, onto a plateau where the gradient vanishes; clipping the norm to ${r.surface.maxNorm} bounds every step at ${f3(r.surface.learningRate * r.surface.maxNorm)} and the descent follows the valley to loss ${f3(r.surface.clipped.at(-1)!.loss)} (unclipped: ${f3(r.surface.plain.at(-1)!.loss)}).</p>${chart('pascanu_surface')}${chart('pascanu_loss')}` : ''}
${r.sweep ? `<h2 id="sweep">Threshold sensitivity</h2><p>Global-norm clipping at multiples of the reference norm ${f3(r.sweep.referenceNorm)}, ${s.sweepSteps} steps per run. The reference is the median pre-clip norm of the stable global-norm runs of the ${esc(c.task)} RNN above (T = ${c.seqLen}); it is not the τ of “Choosing τ”, which is measured on the learning-rate sweep's smaller model: each model has its own gradient scale, which is why τ is measured rather than copied.</p>${chart('sweep')}` : ''}
${r.vanishing ? `<h2>Vanishing gradients</h2><p>The same RNN with a small recurrent matrix; ${s.vanishingSteps} training steps per run. The curves for different thresholds lie on top of each other whenever clipping does not fire, and clipping that fires lowers them.</p>${chart('vanishing')}` : ''}
${
  r.smoothness
    ? `<h2>Zhang et al. 2020: why clipping can speed up training</h2><p>On f(x) = x⁴ the curvature grows with the gradient ((L0, L1)-smoothness). A fixed step small enough to be stable at the farthest start crawls near the minimum; clipped GD can use a larger step because clipping caps it where the gradient is large.</p>${chart('zhang_x4')}${table(
        ['method', 'x₀', 'iterations to f < tol'],
        r.smoothness.points.map((p) => [
          p.method,
          p.x0,
          p.iterations === null ? (p.diverged ? 'diverged' : `> ${r.smoothness!.maxIterations}`) : p.iterations,
        ]),
      )}`
    : ''
}
<h2 id="settings">How this was measured</h2><p>Each claim of the seed article about gradient clipping, tested with several seeds. Clipping comes from the <code>gradclip</code> library
(global norm, value, AGC, AutoClip, ZClip, AdaGC). Settings: ${esc(c.task)} problem, T = ${c.seqLen}, tanh RNN with ${c.hidden} units
(ρ(Wh) ≈ ${c.recurrentScale} at init), batch ${c.batchSize}, SGD lr ${c.learningRate}, ${s.steps} steps, seeds ${s.seeds.join(', ')},
TF.js backend <code>${esc(s.backend)}</code>${s.quick ? ' (<b>--quick</b>: CI-sized run)' : ''}; finished in ${r.seconds.toFixed(0)} s.
Adaptive clippers use gradclip's defaults (the papers') except: ${esc(deviationsText(r))}.
A run <i>diverges</i> when its loss becomes NaN/∞ or exceeds ${c.divergenceFactor}× the chance loss ${f3(s.chanceLoss)} (the loss of the best constant prediction: the model has learned nothing).</p>
<h2>Files</h2><p><code>metrics.json</code> (everything above, per step), <code>learning.csv</code>, <code>steps.csv</code>, <code>runs.csv</code>, <code>sweep.csv</code>, <code>vanishing.csv</code>, and each chart as PNG. Rerun with <code>npm start</code> or <code>npx gradclip demo --help</code>.</p>
</body></html>
`;
}
