/**
 * `gradclip privacy`: the privacy–utility experiment (privacy.ts) and its report —
 * <out>/privacy.html (self-contained, charts inline), privacy.png / .svg (accuracy against ε),
 * privacy_accounting.png / .svg (RDP against PLD ε over training), privacy.json and privacy.csv. Node only.
 */
import type { Command } from 'commander';
import {
  loadDigits,
  privacyAccountingSpec,
  privacySpec,
  PRIVACY_CONFIG,
  runPrivacy,
  type PrivacyConfig,
  type PrivacyResult,
} from './privacy.js';
import { renderChart } from './render.js';
import { writeReportFiles } from './report_files.js';

/** --quick: ε ∈ {1, 8} (σ by RDP and by PLD) and the baselines, 10 epochs, one seed (a few seconds). */
export const PRIVACY_QUICK: Partial<PrivacyConfig> = { epsilons: [1, 8], epochs: 10 };

export interface PrivacyCommandOptions {
  quick: boolean;
  seeds: number[];
  out: string;
  progress: boolean;
}

/** Registers the `privacy` subcommand (flags from `common`: --quick, --seeds, --backend, --out, --no-progress). */
export function addPrivacyCommand(
  program: Command,
  common: (cmd: Command) => Command,
  checkOutDir: (out: string) => void,
  setBackend: (name: string) => Promise<void>,
  dryRun?: (o: PrivacyCommandOptions & { backend: string }) => void,
): void {
  const cmd = common(
    program
      .command('privacy')
      .description('privacy–utility: test accuracy of DP-SGD (privateFit, ghost clipping) against ε on the UCI digits'),
  ).exitOverride();
  cmd.action(async (raw: { quick?: boolean; seeds?: number[]; backend?: string; out: string; progress: boolean }) => {
    checkOutDir(raw.out);
    const quick = raw.quick ?? false;
    const o = { quick, seeds: raw.seeds ?? (quick ? [1] : [1, 2, 3]), out: raw.out, progress: raw.progress };
    if (dryRun) return dryRun({ ...o, backend: raw.backend ?? 'wasm' });
    await setBackend(raw.backend ?? 'wasm');
    await runPrivacyCommand(o);
  });
}

export async function runPrivacyCommand(o: PrivacyCommandOptions): Promise<PrivacyResult> {
  const t0 = performance.now();
  const config = o.quick ? { ...PRIVACY_CONFIG, ...PRIVACY_QUICK } : PRIVACY_CONFIG;
  const tty = o.progress && process.stderr.isTTY;
  const result = await runPrivacy(loadDigits(), config, o.seeds, (done, total, label) => {
    if (tty) process.stderr.write(`\rprivacy    run ${Math.min(done + 1, total)}/${total} ${label.padEnd(40)}`);
  });
  if (tty) process.stderr.write('\n');
  const seconds = (performance.now() - t0) / 1000;
  await writePrivacyReport(o.out, result, seconds);
  console.log('');
  for (const s of result.summary) {
    const sigma = s.targetEpsilon === null ? '' : ` (σ = ${s.noiseMultiplier.toFixed(2)})`;
    console.log(
      `${`${s.label}${sigma}`.padEnd(34)} test accuracy ${pct(s.medianAccuracy)} (${pct(s.minAccuracy)}–${pct(s.maxAccuracy)})`,
    );
  }
  console.log('');
  for (const line of accountingSentences(result)) console.log(line);
  console.log(`\nReport written to ${o.out}/privacy.html (${seconds.toFixed(0)} s)`);
  return result;
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
/** How much smaller b is than a, in per cent. */
const less = (a: number, b: number) => `${((100 * (a - b)) / a).toFixed(1)} %`;

/** The PLD gain in numbers: ε at the same σ, σ at the same ε, accuracy at the same ε (one line per target ε). */
export function accountingSentences(r: PrivacyResult): string[] {
  return r.accounting.map((a) => {
    const end = a.curve[a.curve.length - 1]!;
    return (
      `ε = ${a.targetEpsilon}: at σ = ${a.sigmaRdp.toFixed(2)} after ${end.steps} steps RDP counts ε = ${end.rdp.toFixed(3)}, ` +
      `PLD ${end.pld.toFixed(3)} (${less(end.rdp, end.pld)} less); PLD needs σ = ${a.sigmaPld.toFixed(2)} instead of ` +
      `${a.sigmaRdp.toFixed(2)} (${less(a.sigmaRdp, a.sigmaPld)} less noise); median test accuracy ${pct(a.accuracyPld)} ` +
      `with the PLD σ, ${pct(a.accuracyRdp)} with the RDP σ.`
    );
  });
}

export async function writePrivacyReport(out: string, r: PrivacyResult, seconds: number): Promise<void> {
  const chart = await renderChart('privacy', 'Privacy–utility', privacySpec(r));
  const accChart = await renderChart('privacy_accounting', 'RDP against PLD', privacyAccountingSpec(r));
  const csv = [
    'setting,target_epsilon,seed,noise_multiplier,sigma_accounting,epsilon_spent,epsilon_rdp,epsilon_pld,test_accuracy,seconds',
    ...r.runs.map((x) =>
      [
        JSON.stringify(x.label),
        x.targetEpsilon ?? 'inf',
        x.seed,
        x.noiseMultiplier,
        x.accounting ?? '',
        x.epsilon,
        x.epsilonRdp,
        x.epsilonPld,
        x.testAccuracy,
        x.seconds.toFixed(2),
      ].join(','),
    ),
  ].join('\n');
  const c = r.config;
  const rows = r.summary
    .map(
      (s) =>
        `<tr><td>${s.label}</td><td>${s.targetEpsilon === null ? '—' : s.noiseMultiplier.toFixed(2)}</td><td>${pct(s.medianAccuracy)}</td><td>${pct(s.minAccuracy)} – ${pct(s.maxAccuracy)}</td></tr>`,
    )
    .join('\n');
  const gainRows = r.accounting
    .map((a) => {
      const end = a.curve[a.curve.length - 1]!;
      return `<tr><td>${a.targetEpsilon}</td><td>${a.sigmaRdp.toFixed(2)}</td><td>${end.rdp.toFixed(3)}</td><td>${end.pld.toFixed(3)} (−${less(end.rdp, end.pld)})</td><td>${a.sigmaPld.toFixed(2)} (−${less(a.sigmaRdp, a.sigmaPld)})</td><td>${pct(a.accuracyRdp)}</td><td>${pct(a.accuracyPld)}</td></tr>`;
    })
    .join('\n');
  const curveHead = r.accounting.map((a) => `<th>σ = ${a.sigmaRdp.toFixed(2)}: RDP</th><th>PLD</th>`).join('');
  const curveRows = r.accounting[0]
    ? r.accounting[0].curve
        .map(
          (p, i) =>
            `<tr><td>${p.epoch}</td><td>${p.steps}</td>${r.accounting.map((a) => `<td>${a.curve[i]!.rdp.toFixed(3)}</td><td>${a.curve[i]!.pld.toFixed(3)}</td>`).join('')}</tr>`,
        )
        .join('\n')
    : '';
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>gradclip — privacy–utility</title>
<style>body{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto;line-height:1.45;padding:0 1em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}</style></head><body>
<h1>Differentially private training: privacy against utility</h1>
<p>${r.dataset.name} (UCI ML Repository, CC BY 4.0), ${r.dataset.train} training and ${r.dataset.test} test images.
A 64 → ${c.hidden} → 10 network trained with DP-SGD by <code>privateFit</code> from <code>gradclip/tfjs</code>: ghost per-example clipping to
C = ${c.l2NormClip}, Gaussian noise σC, Poisson sampling at q = ${r.sampleRate.toFixed(4)} (expected batch ${c.batchSize}), ${c.epochs} epochs = ${r.steps} steps,
SGD lr ${c.learningRate} with momentum ${c.momentum}; σ for each ε found by <code>noiseMultiplierFor</code> at δ = ${c.delta}.
Baselines at ε = ∞: the same training without noise (clipped) and without clipping or noise (non-private). Seeds ${[...new Set(r.runs.map((x) => x.seed))].join(', ')}.</p>
<table><tr><th>setting</th><th>σ</th><th>median test accuracy</th><th>range over seeds</th></tr>
${rows}</table>
${chart.svg}
<h2>RDP or PLD accounting</h2>
<p>The same runs counted by two accountants: <code>privateFit</code> keeps an RDP accountant (its ε is the RDP one);
<code>privacySpent({ accounting: 'pld' })</code> counts the same steps, σ and q with privacy-loss distributions (gradclip's default).
PLD is tight where RDP's conversion to (ε, δ) is loose, so at the same σ it reports a smaller ε; calibrated with PLD, the
same target ε needs a smaller σ. The "PLD σ" rows above train with that σ (same seeds, same everything else); their ε is the PLD ε.</p>
${accountingSentences(r)
  .map((t) => `<p>${t}</p>`)
  .join('\n')}
<table><tr><th>target ε</th><th>σ (RDP)</th><th>ε by RDP at that σ</th><th>ε by PLD at that σ</th><th>σ (PLD)</th><th>median accuracy, RDP σ</th><th>median accuracy, PLD σ</th></tr>
${gainRows}</table>
${accChart.svg}
<table><tr><th>epoch</th><th>steps</th>${curveHead}</tr>
${curveRows}</table>
<p>The runs use seeded noise so that they repeat exactly; the ε reported is what the same training with
<code>crypto.getRandomValues</code> noise spends. Hyperparameters were chosen on the ε = 1 and 4 runs and serve every ε;
the privacy cost of that tuning is not accounted. Files: <code>privacy.json</code>, <code>privacy.csv</code>, <code>privacy.png</code>, <code>privacy_accounting.png</code>. ${seconds.toFixed(0)} s.</p>
</body></html>
`;
  // all at once, page last: a failure leaves the old files as they were (report_files.ts)
  writeReportFiles(out, [
    ['privacy.svg', chart.svg],
    ['privacy.png', chart.png],
    ['privacy_accounting.svg', accChart.svg],
    ['privacy_accounting.png', accChart.png],
    ['privacy.json', JSON.stringify({ ...r, seconds }, null, 1)],
    ['privacy.csv', csv + '\n'],
    ['privacy.html', html],
  ]);
}
