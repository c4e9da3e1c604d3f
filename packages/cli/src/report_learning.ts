/**
 * The report's parts about learning: the learning-rate sweep and claim (2), the noise
 * experiments, the reproductions with their pass marks, and the advice — all computed from
 * the measured numbers. Node-free (strings only); report.ts puts them in the page.
 */
import { median } from './experiments.js';
import { learningChecks, type LearningChecks, type LearningCurve } from './learning.js';
import { adaGCWarmup, parseMethod, ZCLIP_MAX_GRAD_NORM, ZCLIP_WARMUP } from './methods.js';
import type { ReportInput, Verdict } from './report.js';
import { esc, table } from './report_html.js';

/** A number for the report: 3 significant digits, exponent form outside [1e-3, 1e4), — for none. */
export const f3 = (x: number | null | undefined): string =>
  x === null || x === undefined || !Number.isFinite(x)
    ? '—'
    : Math.abs(x) >= 1e4 || Math.abs(x) < 1e-3
      ? x.toExponential(2)
      : x.toPrecision(3);
const times = (x: number | null, chance: number): string => (x === null ? 'diverged' : `${f3(x / chance)}× chance`);
const lrList = (lrs: readonly number[]): string => (lrs.length ? lrs.join(', ') : 'none');

/** Library defaults of the adaptive clippers' main settings (gradclip's factories). */
const LIBRARY_DEFAULT: Record<string, number> = { agc: 0.01, autoclip: 10, zclip: 2.5, adagc: 1.05 };

/**
 * What differs from the library's (and the papers') defaults for a method as the CLI runs
 * it, in words; '' when nothing does. `steps` sizes AdaGC's warm-up.
 */
export function deviationNote(methodId: string, steps: number): string {
  const m = parseMethod(methodId);
  const notes: string[] = [];
  const def = LIBRARY_DEFAULT[m.kind];
  if (def !== undefined && m.arg !== def)
    notes.push(`${m.kind === 'agc' ? 'λ' : 'setting'} ${m.arg} instead of the default ${def}`);
  if (m.kind === 'zclip')
    notes.push(
      ZCLIP_MAX_GRAD_NORM === null
        ? `no fixed cap (maxGradNorm: null; default 1), so nothing is clipped in its ${ZCLIP_WARMUP}-step warm-up`
        : `cap maxGradNorm ${ZCLIP_MAX_GRAD_NORM}`,
    );
  if (m.kind === 'adagc') notes.push(`warm-up ${adaGCWarmup(steps)} steps instead of 100`);
  return notes.join('; ');
}

/** Claim (2) from the learning-rate sweep (null when it was not run). */
export function learningVerdict(r: ReportInput): Verdict | null {
  const l = r.learning;
  if (!l) return null;
  const k = learningChecks(l);
  if (!k) return null;
  const chance = l.chanceLoss;
  const clip = l.curves.find((c) => c.method === k.method)!;
  const none = l.curves.find((c) => c.method === 'none')!;
  const ok = k.a && k.b && k.c;
  const ratios = none.learns.flatMap((lr) => {
    const c = clip.points.find((p) => p.lr === lr)?.medianLoss ?? null;
    const n = none.points.find((p) => p.lr === lr)?.medianLoss ?? null;
    return c !== null && n !== null && n > 0 ? [c / n] : [];
  });
  const deciding = k.decidingLrs
    .map((d) => `lr ${d.lr}: ${k.method} ${times(d.clipped, chance)}, unclipped ${times(d.unclipped, chance)}`)
    .join('; ');
  const demo =
    r.demo?.summary
      .filter((s) => s.method.startsWith('global:'))
      .flatMap((s) => s.evalLoss.filter((v): v is number => v !== null)) ?? [];
  return {
    claim: '(2) Clipping stabilises training and convergence',
    verdict: ok ? 'supported' : k.a || k.c ? 'partly' : 'not supported',
    text:
      `Learning-rate sweep (${l.task}, T = ${l.config.seqLen}, ${l.config.steps} SGD steps, lr ${l.lrs.join(', ')}, seeds ${l.seeds.join(', ')}; median held-out loss, chance ${f3(chance)}). ` +
      `(a) Rates where ${clip.label} reaches ≤ 0.5× chance while unclipped training diverges or ends ≥ 0.9× chance: ${deciding || 'none'}. ` +
      `(b) Best loss: ${k.method} ${f3(k.clipBest)} (lr ${clip.bestLr ?? '—'}), unclipped ${f3(k.noneBest)}; ratio ${f3(k.bestRatio)} (pass ≤ 1.05). ` +
      `(c) Within 2× of the better of the two best losses (${f3(k.pairBest)}): ${k.method} at lr ${lrList(k.clipWithinTwo)} (${k.clipWithinTwo.length}), unclipped at lr ${lrList(k.noneWithinTwo)} (${k.noneWithinTwo.length}). ` +
      `Rates (of ${l.lrs.length}) where the median run learns (≤ 0.5× chance): ${l.curves.map((x) => `${x.method} ${x.learns.length}`).join(', ')}. ` +
      `${[k.a, k.b, k.c].filter(Boolean).length}/3 of the checks hold` +
      (ok ? ': clipping lets the same model learn at rates where unclipped training fails.' : '.') +
      (ratios.length
        ? ` At the rates where unclipped training learns (lr ${none.learns.join(', ')}), ${k.method} ends at ${f3(Math.min(...ratios))}–${f3(Math.max(...ratios))}× its loss.`
        : '') +
      (demo.length
        ? ` In the harder RNN comparison (${r.settings.config.task}, T = ${r.settings.config.seqLen}) clipping kept ${r.demo!.summary.filter((s) => s.method.startsWith('global:')).reduce((a, s) => a + s.seeds - s.diverged, 0)} of ${r.demo!.summary.filter((s) => s.method.startsWith('global:')).reduce((a, s) => a + s.seeds, 0)} runs finite (median held-out loss ${f3(median(demo))}, chance ${f3(r.settings.chanceLoss)}); ${demo.filter((v) => v < 0.9 * r.settings.chanceLoss).length} of them ended below 0.9× chance in ${r.settings.steps} steps: stable is not the same as fast.`
        : ''),
  };
}

export interface Reproduction {
  paper: string;
  what: string;
  measured: string;
  passMark: string;
  pass: boolean;
}

export function reproductions(r: ReportInput): Reproduction[] {
  const out: Reproduction[] = [];
  const s = r.surface;
  if (s) {
    const plainEnd = s.plain.at(-1)!.loss;
    const clipEnd = s.clipped.at(-1)!.loss;
    out.push({
      paper: 'Pascanu, Mikolov & Bengio 2013, Fig. 6',
      what: 'the one-unit RNN has a cliff: unclipped GD jumps off it, clipped GD follows the valley',
      measured: `largest step unclipped ${f3(s.plainLargestStep)}, clipped ${f3(s.clippedLargestStep)}; final loss unclipped ${f3(plainEnd)}, clipped ${f3(clipEnd)}`,
      passMark: `unclipped largest step > 5 and final loss > 0.05; clipped steps ≤ lr·τ = ${f3(s.learningRate * s.maxNorm)} and final loss < 1e-3`,
      pass:
        s.plainLargestStep > 5 &&
        plainEnd > 0.05 &&
        s.clippedLargestStep <= s.learningRate * s.maxNorm + 1e-9 &&
        clipEnd < 1e-3,
    });
  }
  const c = r.smoothnessCorrelation;
  if (c) {
    out.push({
      paper: 'Zhang, He, Sra & Jadbabaie 2020, Fig. 1',
      what: 'along a training trajectory the local smoothness grows with the gradient norm',
      measured: `corr(log ‖∇f‖, log L̂) per seed ${c.traces.map((t) => t.correlation.toFixed(2)).join(', ')}; median ${c.medianCorrelation.toFixed(2)}`,
      passMark: `median correlation ≥ ${c.passMark}`,
      pass: c.pass,
    });
  }
  const z = r.smoothness;
  if (z) {
    const starts = [...new Set(z.points.map((p) => p.x0))];
    const faster = starts.filter((x0) => {
      const fixed = z.points.find((p) => p.x0 === x0 && p.method.startsWith('fixed'));
      const clipped = z.points.find((p) => p.x0 === x0 && p.method.startsWith('clipped'));
      return clipped?.iterations != null && (fixed?.iterations == null || fixed.iterations > clipped.iterations);
    });
    out.push({
      paper: 'Zhang, He, Sra & Jadbabaie 2020, Thm. 4 (x⁴)',
      what: 'on an (L0, L1)-smooth function clipped GD beats GD with a step tuned for the worst start',
      measured: `clipped GD faster from ${faster.length}/${starts.length} starts (x₀ = ${starts.join(', ')})`,
      passMark: 'faster from every start',
      pass: faster.length === starts.length,
    });
  }
  const h = r.heavyTail;
  if (h) {
    const row = (noise: string, method: string) => h.rows.find((x) => x.noise === noise && x.method === method);
    const heavy = ['student-t', 'cauchy'].filter((n) => row(n, 'SGD'));
    const ratios = heavy.map((n) => row(n, 'clipped SGD')!.finalP90 / row(n, 'SGD')!.finalP90);
    const g = row('gaussian', 'SGD');
    const gc = row('gaussian', 'clipped SGD');
    out.push({
      paper: 'Zhang, Karimireddy, Veit et al. 2020 (heavy-tailed noise)',
      what: 'under heavy-tailed gradient noise SGD keeps large errors, clipped SGD converges',
      measured:
        heavy
          .map(
            (n, i) =>
              `${n}: 90th-percentile final f SGD ${f3(row(n, 'SGD')!.finalP90)}, clipped ${f3(row(n, 'clipped SGD')!.finalP90)} (×${f3(ratios[i]!)})`,
          )
          .join('; ') + (g && gc ? `; Gaussian control: SGD ${f3(g.finalP90)}, clipped ${f3(gc.finalP90)}` : ''),
      passMark: 'clipped ≤ 0.5× SGD at the 90th percentile under each heavy-tailed noise',
      pass: ratios.length > 0 && ratios.every((x) => x <= 0.5),
    });
  }
  const b = r.bias;
  if (b) {
    const cl = b.points.filter((p) => p.threshold !== null);
    out.push({
      paper: 'Koloskova, Hendrikx & Stich 2023',
      what: 'with skewed noise clipped SGD stalls at a distance from the optimum that shrinks as τ grows',
      measured: `median |x̄ − x*| at τ = ${cl.map((p) => p.threshold).join(', ')}: ${cl.map((p) => f3(p.medianDistance)).join(', ')} (predicted ${cl.map((p) => f3(p.predicted)).join(', ')}); unclipped ${f3(b.points.find((p) => p.threshold === null)?.medianDistance)}`,
      passMark:
        'never grows with τ (slack: 10 % plus the unclipped distance), smallest τ ≥ 5× the largest, within 25 % of the predicted fixed point where that is ≥ 3× the unclipped distance (the sampling noise)',
      pass: b.pass,
    });
  }
  const l = r.learning;
  const k = l ? learningChecks(l) : null;
  if (l && k) {
    out.push({
      paper: 'Wortsman et al. 2023 (LR sensitivity)',
      what: 'a stabilising method widens the range of learning rates that reach a low loss',
      measured: `${k.method}: within 2× of the best at ${k.clipWithinTwo.length} rates, unclipped at ${k.noneWithinTwo.length}; LR sensitivity ${l.curves.map((x) => `${x.method} ${f3(x.sensitivity)}`).join(', ')}`,
      passMark: 'the three checks of claim (2) hold',
      pass: k.a && k.b && k.c,
    });
  }
  return out;
}

export interface Advice {
  /** τ from the median pre-clip norm of the first 20 steps of unclipped training at the smallest rate. */
  tau: number | null;
  lines: string[];
  snippet: string;
}

const rank = (curves: readonly LearningCurve[]) =>
  [...curves].sort(
    (a, b) =>
      b.learns.length - a.learns.length || b.withinTwo.length - a.withinTwo.length || a.sensitivity - b.sensitivity,
  );

/** "What should I use", from this run's numbers. */
export function advice(r: ReportInput): Advice | null {
  const l = r.learning;
  if (!l) return null;
  const chance = l.chanceLoss;
  const lines: string[] = [];
  const lowLr = Math.min(...l.lrs);
  const early = l.runs.filter((x) => x.method === 'none' && x.lr === lowLr).map((x) => x.earlyNorm);
  const tau = early.length ? Number(median(early).toPrecision(2)) : null;
  const curve = (id: string) => l.curves.find((c) => c.method === id);
  const none = curve('none');
  const globals = l.curves
    .filter((c) => c.method.startsWith('global:'))
    .sort((a, b) => parseMethod(b.method).arg! - parseMethod(a.method).arg!);
  const describe = (c: LearningCurve) =>
    `learns (≤ 0.5× chance) at lr ${lrList(c.learns)}, best ${times(c.bestLoss, chance)} at lr ${c.bestLr ?? '—'}`;
  const ranked = rank(l.curves);
  const counts = [...new Set(ranked.map((c) => c.learns.length))];
  lines.push(
    `Width of the basin — the learning rates (of ${l.lrs.length}) at which each method learns, ≤ 0.5× chance: ` +
      counts
        .map(
          (n) =>
            `${n}: ${ranked
              .filter((c) => c.learns.length === n)
              .map((c) => c.label)
              .join(', ')}`,
        )
        .join('; ') +
      ` (within a group, in order of the rates within 2× of the best loss, then of Wortsman's LR sensitivity).`,
  );
  if (tau !== null && globals.length) {
    const near = [...globals].sort(
      (a, b) =>
        Math.abs(Math.log(parseMethod(a.method).arg! / tau)) - Math.abs(Math.log(parseMethod(b.method).arg! / tau)),
    )[0]!;
    lines.push(
      `Choosing τ: the median pre-clip norm of the first 20 steps of unclipped training at a safe rate (lr ${lowLr}) was ${tau}. ` +
        `The global threshold nearest to it, ${near.label}, ${describe(near)}` +
        (none ? ` (unclipped training ${describe(none)})` : '') +
        '.',
    );
  }
  if (globals.length >= 2) {
    const hi = globals[0]!;
    const lo = globals.at(-1)!;
    const at = (c: LearningCurve, lr: number) => c.points.find((p) => p.lr === lr)?.medianLoss ?? null;
    const maxLr = (c: LearningCurve) =>
      Math.max(
        ...c.points.filter((p) => p.medianLoss !== null && p.medianLoss <= 0.5 * chance).map((p) => p.lr),
        -Infinity,
      );
    lines.push(
      `A lower τ trades speed at small rates for safety at large ones: ${lo.label} learns (≤ 0.5× chance) up to lr ${maxLr(lo)} against ${maxLr(hi)} for ${hi.label}, ` +
        `but at lr ${lowLr} it ends at ${times(at(lo, lowLr), chance)} against ${times(at(hi, lowLr), chance)}: each step is at most lr·τ long.`,
    );
  }
  const auto = l.curves.find((c) => c.method.startsWith('autoclip'));
  const demoAuto = r.demo?.summary.find((s) => s.method.startsWith('autoclip'));
  if (auto) {
    lines.push(
      `No idea about τ: ${auto.label} (τ = that percentile of the norms seen so far) ${describe(auto)}.` +
        (demoAuto && demoAuto.diverged > 0
          ? ` It cannot clip its first step (no history yet): in the RNN comparison it diverged in ${demoAuto.diverged}/${demoAuto.seeds} seeds (at step ${r
              .demo!.runs.filter((x) => x.method === demoAuto.method && x.divergedAt !== null)
              .map((x) => x.divergedAt)
              .join(', ')}) — combine it with a generous fixed cap if the first steps can explode.`
          : ''),
    );
  }
  const agc = l.curves.find((c) => c.method.startsWith('agc'));
  if (agc)
    lines.push(
      `${agc.label}${agc.method === 'agc:0.01' ? ' (the library default)' : ''} bounds each unit's step relative to its weights: it ${describe(agc)}.`,
    );
  const z = l.curves.find((c) => c.method.startsWith('zclip'));
  const demoZ = r.demo?.summary.find((s) => s.method.startsWith('zclip'));
  if (z)
    lines.push(
      `ZClip without its cap (${deviationNote(z.method, l.config.steps)}) ${describe(z)}: its z-score test does not catch a rate that is simply too large.` +
        (demoZ && demoZ.diverged > 0
          ? ` In the RNN comparison it diverged in ${demoZ.diverged}/${demoZ.seeds} seeds inside its warm-up: keep its cap (maxGradNorm) for the first steps.`
          : ''),
    );
  const h = r.heavyTail;
  if (h) {
    const row = (noise: string, method: string) => h.rows.find((x) => x.noise === noise && x.method === method);
    const s = row('cauchy', 'SGD');
    const c = row('cauchy', 'clipped SGD');
    if (s && c)
      lines.push(
        `Heavy-tailed gradient noise (rare huge gradients, as in attention models): clip. With Cauchy noise the 90th percentile of the final loss was ${f3(s.finalP90)} for SGD and ${f3(c.finalP90)} clipped.`,
      );
  }
  const b = r.bias;
  if (b) {
    const cl = b.points.filter((p) => p.threshold !== null);
    lines.push(
      `Do not clip far below the typical norm when the noise is skewed: clipped SGD then converges to the wrong point (distance ${f3(cl[0]!.medianDistance)} at τ = ${cl[0]!.threshold}σ, ${f3(cl.at(-1)!.medianDistance)} at τ = ${cl.at(-1)!.threshold}σ).`,
    );
  }
  if (r.vanishing)
    lines.push(
      'Vanishing gradients: clipping cannot help (claim 3); use gates, residual paths or a better initialisation.',
    );
  const t = tau ?? 1;
  const snippet = `import * as tf from '@tensorflow/tfjs';
import { withClipping, autoClipTensorClipper } from 'gradclip/tfjs';

// 1. A few steps with a threshold that never fires, monitored: take the median pre-clip norm.
const probe = withClipping(tf.train.sgd(lr), { globalClipnorm: 1e30 }, { monitor: true });
model.compile({ optimizer: probe, loss });
await model.fit(xs, ys, { epochs: 1, batchSize: 32 });           // ≥ 20 steps
const norms = (await probe.monitor.read()).slice(0, 20).map((r) => r.norm).sort((a, b) => a - b);
const tau = norms[norms.length >> 1];                              // here: ${t}

// 2. Train with global-norm clipping at τ (Keras global_clipnorm, PyTorch clip_grad_norm_).
model.compile({ optimizer: withClipping(tf.train.sgd(lr), { globalClipnorm: tau }), loss });

// Unsure about τ? AutoClip: τ = the 10th percentile of the norms seen so far.
const auto = withClipping(tf.train.sgd(lr), autoClipTensorClipper({ percentile: 10, historySize: 10_000 }));`;
  return { tau, lines, snippet };
}

export { type LearningChecks };

/** The "What should I use?" section (empty when the learning-rate sweep was not run). */
export function adviceSection(r: ReportInput): string {
  const a = advice(r);
  return a
    ? `<h2 id="advice">What should I use?</h2><p>Computed from this run's numbers (the learning-rate sweep, the RNN comparison and the noise experiments below).</p><ul>${a.lines.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>` +
        `<p>In TensorFlow.js, with gradclip:</p><pre><code>${esc(a.snippet)}</code></pre>`
    : '';
}

/**
 * The page's sections on learning (the learning-rate sweep, reproductions, the learning-rate sweep, the
 * noise experiments, the smoothness correlation); `chart(name)` gives a chart's figure.
 */
export function learningSections(r: ReportInput, chart: (name: string) => string): string {
  const parts: string[] = [];
  // The learning-rate sweep first: it is where clipping decides whether training works.
  const l = r.learning;
  if (l) {
    const chance = l.chanceLoss;
    const c = l.config;
    const k = learningChecks(l);
    parts.push(
      `<h2 id="learning-rate">Does clipping make training work? Final loss against learning rate</h2>` +
        `<p>After Wortsman et al. 2023: the same model and data at ${l.lrs.length} learning rates (${l.lrs.join(', ')}), per clipping method, seeds ${l.seeds.join(', ')}. ` +
        `Task: ${esc(l.task)} with T = ${c.seqLen} (chance loss ln 4 = ${f3(chance)}), a ${c.hidden}-unit tanh RNN with ρ(Wh) ≈ ${c.recurrentScale} at init, batch ${c.batchSize}, plain SGD, ${c.steps} steps, held-out batch of ${c.evalSize}. ` +
        `A run diverges when its loss becomes NaN/∞ or exceeds ${c.divergenceFactor}× chance. Cells: median held-out loss as a multiple of chance (diverged seeds count as +∞). ` +
        `LR sensitivity (Wortsman et al.): the mean over rates of min(loss, chance) − the best loss of any method, in nats; lower is more robust.</p>` +
        table(
          [
            'method',
            ...l.lrs.map((x) => `lr ${x}`),
            'best',
            'rates where it learns (≤ 0.5× chance)',
            'rates within 2× of the best',
            'LR sensitivity',
            'diverged',
          ],
          l.curves.map((cv) => {
            const note = deviationNote(cv.method, c.steps);
            return [
              cv.label + (note ? ` (${note})` : ''),
              ...cv.points.map((p) => (p.medianLoss === null ? 'div' : f3(p.medianLoss / chance))),
              cv.bestLoss === null ? '—' : `${f3(cv.bestLoss / chance)} (lr ${cv.bestLr})`,
              String(cv.learns.length),
              String(cv.withinTwo.length),
              f3(cv.sensitivity),
              `${cv.points.reduce((s, p) => s + p.diverged, 0)}/${cv.points.reduce((s, p) => s + p.seeds, 0)}`,
            ];
          }),
        ) +
        (k
          ? `<p>Checks of claim (2) for ${esc(k.method)} against no clipping: (a) a rate where clipping reaches ≤ 0.5× chance and unclipped training diverges or ends ≥ 0.9× chance — ${k.a ? `yes, lr ${k.decidingLrs.map((d) => d.lr).join(', ')}` : 'no'}; ` +
            `(b) best loss ≤ 1.05× unclipped's — ${k.b ? 'yes' : 'no'} (${f3(k.clipBest)} vs ${f3(k.noneBest)}); ` +
            `(c) within 2× of the better best loss (${f3(k.pairBest)}) at more rates — ${k.c ? 'yes' : 'no'} (${k.clipWithinTwo.length} vs ${k.noneWithinTwo.length}).</p>`
          : '') +
        chart('learning_rate'),
    );
  }
  const reps = reproductions(r);
  if (reps.length) {
    parts.push(
      `<h2 id="reproductions">Reproductions</h2><p>Each published finding, the number measured here, and the pass mark it is held to.</p>` +
        table(
          ['paper', 'finding', 'measured', 'pass mark', 'result'],
          reps.map((x) => [x.paper, x.what, x.measured, x.passMark, x.pass ? 'PASS' : 'FAIL']),
        )
          .replace(/<td>PASS<\/td>/g, '<td style="color:#2a7a2a;font-weight:bold">PASS</td>')
          .replace(/<td>FAIL<\/td>/g, '<td style="color:#c0392b;font-weight:bold">FAIL</td>'),
    );
  }
  const h = r.heavyTail;
  if (h) {
    parts.push(
      `<h2>Heavy-tailed gradient noise</h2><p>Zhang, Karimireddy, Veit, Kim, Reddi, Kumar &amp; Sra 2020 ("Why are adaptive methods good for attention models?") found the gradient noise of attention models heavy-tailed and showed that SGD then fails while clipped SGD converges. ` +
        `Here: f(x) = ½‖x‖² in ${h.config.dim} dimensions from f = ${f3(0.5 * h.config.dim * 100)}, stochastic gradient x + ξ with ξ per coordinate Gaussian, Student-t (ν = 1.5) or Cauchy, ${h.config.steps} steps at lr ${h.config.lr}, clipped SGD at global norm ≤ ${h.config.maxNorm}, ${h.config.seeds} seeds (the same noise for both methods).</p>` +
        table(
          ['noise', 'method', 'final f: median', '90th percentile', 'worst f on the way'],
          h.rows.map((x) => [x.noise, x.method, f3(x.finalMedian), f3(x.finalP90), f3(x.worst)]),
        ) +
        chart('heavy_tail'),
    );
  }
  const b = r.bias;
  if (b) {
    parts.push(
      `<h2>The price of clipping: bias (Koloskova et al. 2023)</h2><p>Clipping a noisy gradient changes its expectation unless the noise is symmetric. With skewed noise clipped SGD converges to the point where the <i>expected clipped</i> gradient vanishes, not to the optimum; the distance shrinks as τ grows. ` +
        `This is the "information loss" of aggressive clipping in its precise form. Predicted: the root of E[clip(x̄ + σ(E − 1), τ)] = 0, with the expectation taken over evenly spaced quantiles of E.</p>` +
        table(
          ['τ', 'median |x̄ − x*|', 'predicted', 'largest over seeds'],
          b.points.map((p) => [
            p.threshold === null ? 'unclipped' : String(p.threshold),
            f3(p.medianDistance),
            p.predicted === null ? '0' : f3(p.predicted),
            f3(Math.max(...p.distances)),
          ]),
        ) +
        chart('clipping_bias'),
    );
  }
  if (r.smoothnessCorrelation) {
    const s = r.smoothnessCorrelation;
    parts.push(
      `<h2>Why clipping helps: smoothness follows the gradient norm</h2><p>Zhang, He, Sra &amp; Jadbabaie 2020 measured along training trajectories that the local smoothness (how fast the gradient changes) grows with the gradient norm, so a fixed step that is safe where the gradient is small is too long where it is large — which is exactly where clipping shortens it. ` +
        `Measured on the learning-rate sweep's RNN (${esc(s.method)}, lr ${s.lr}): median correlation of the logs ${s.medianCorrelation.toFixed(2)} (pass mark ${s.passMark}).</p>` +
        chart('smoothness_correlation'),
    );
  }
  return parts.join('\n');
}
