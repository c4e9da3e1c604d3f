/**
 * The report's first screen: "should I clip, and how", in a few lines computed from the
 * run's numbers, each linking to the section that holds the evidence; and the two halves of
 * claim (4) ("too low slows learning", "too high does not stabilise"), each decided from the
 * data where it can be seen. Node-free (strings only).
 */
import { median } from './experiments.js';
import { learningChecks } from './learning.js';
import { parseMethod } from './methods.js';
import type { ReportInput } from './report.js';
import { advice, f3 } from './report_learning.js';

/**
 * A lower threshold ends this much worse (median loss ratio) before "too low slows
 * learning" is said: differences under 10 % are within seed noise at 3 seeds.
 */
export const SLOWER_BY = 1.1;

export interface TooLowEvidence {
  /** Where it was looked for: 'sweep' (the threshold sweep) or 'learning' (the LR sweep). */
  where: 'sweep' | 'learning';
  /** The lower and the higher threshold compared, in words, and their median losses. */
  low: string;
  high: string;
  lowLoss: number | null;
  highLoss: number | null;
  /** The learning rate of the comparison (learning-rate sweep only). */
  lr?: number;
  /** Whether the lower threshold ended at least SLOWER_BY × worse (a diverged low run counts as worse). */
  holds: boolean;
}

/**
 * The "too low slows learning" half of claim (4): the threshold sweep's smallest multiple
 * against 1×, and, in the learning-rate sweep, the lowest global threshold against the
 * highest at the smallest learning rate (where each step is short already and a low τ
 * shortens it further). Every comparison that could be made is returned.
 */
export function tooLowEvidence(r: ReportInput): TooLowEvidence[] {
  const out: TooLowEvidence[] = [];
  const worse = (lo: number | null, hi: number | null) => hi !== null && (lo === null || lo > SLOWER_BY * hi);
  const s = r.sweep;
  if (s && s.multiples.length >= 2) {
    const medAt = (k: number) => {
      const ev = s.points.filter((p) => p.multiple === k).map((p) => p.evalLoss);
      return ev.some((x) => x === null) && ev.filter((x) => x === null).length * 2 >= ev.length
        ? null
        : median(ev.filter((x): x is number => x !== null));
    };
    const lowK = Math.min(...s.multiples);
    const highK = s.multiples.includes(1) ? 1 : null;
    if (highK !== null && lowK < highK) {
      const lo = medAt(lowK);
      const hi = medAt(highK);
      out.push({
        where: 'sweep',
        low: `${lowK}× the reference`,
        high: `${highK}×`,
        lowLoss: lo,
        highLoss: hi,
        holds: worse(lo, hi),
      });
    }
  }
  const l = r.learning;
  if (l) {
    const globals = l.curves
      .filter((c) => c.method.startsWith('global:'))
      .sort((a, b) => parseMethod(a.method).arg! - parseMethod(b.method).arg!);
    if (globals.length >= 2) {
      const lo = globals[0]!;
      const hi = globals.at(-1)!;
      const lr = Math.min(...l.lrs);
      const at = (id: typeof lo) => id.points.find((p) => p.lr === lr)?.medianLoss ?? null;
      out.push({
        where: 'learning',
        low: lo.label,
        high: hi.label,
        lowLoss: at(lo),
        highLoss: at(hi),
        lr,
        holds: worse(at(lo), at(hi)),
      });
    }
  }
  return out;
}

/** One sentence for a "too low" comparison, with its numbers. */
export function tooLowText(e: TooLowEvidence): string {
  const where =
    e.where === 'sweep'
      ? `In the threshold sweep the smallest threshold (${e.low})`
      : `In the learning-rate sweep at the smallest rate (lr ${e.lr}) ${e.low}`;
  const lo = e.lowLoss === null ? 'diverged' : `ended at median loss ${f3(e.lowLoss)}`;
  return (
    `${where} ${lo} vs ${f3(e.highLoss)} for ${e.high}` +
    (e.holds
      ? ': too low a threshold slows learning here.'
      : ': here a low threshold did not hurt — it acts like a smaller learning rate, which this setting tolerates.')
  );
}

export interface SummaryLine {
  /** Plain text (escaped by the caller). */
  text: string;
  /** Anchor of the section with the evidence (without '#'). */
  href: string;
  link: string;
}

/**
 * "Should I clip, and how?" in 3–5 lines, from this run's numbers. Lines whose experiment
 * was not run are left out.
 */
export function summaryLines(r: ReportInput): SummaryLine[] {
  const out: SummaryLine[] = [];
  const l = r.learning;
  const k = l ? learningChecks(l) : null;
  const none = r.demo?.summary.find((s) => s.method === 'none');
  const globals = r.demo?.summary.filter((s) => s.method.startsWith('global:')) ?? [];
  const gDiv = globals.reduce((a, s) => a + s.diverged, 0);
  if (l && k) {
    const clip = l.curves.find((c) => c.method === k.method)!;
    const noneCurve = l.curves.find((c) => c.method === 'none')!;
    out.push({
      text: k.a
        ? `Clip: yes. With ${clip.label} the RNN learns at lr ${k.decidingLrs.map((d) => d.lr).join(', ')}, where unclipped training diverges or stays at chance; it learns at ${clip.learns.length} of ${l.lrs.length} learning rates, unclipped at ${noneCurve.learns.length}.`
        : `Clip: not decisive here. No learning rate in the sweep where ${clip.label} learns and unclipped training fails (clipped learns at ${clip.learns.length} of ${l.lrs.length} rates, unclipped at ${noneCurve.learns.length}).`,
      href: 'learning-rate',
      link: 'loss against learning rate',
    });
  } else if (none && globals.length) {
    out.push({
      text:
        none.diverged > 0 && gDiv === 0
          ? `Clip: yes, as a safety net. Unclipped training diverged in ${none.diverged}/${none.seeds} seeds, global-norm clipping in none.`
          : `Clip: not decisive here (unclipped diverged in ${none.diverged}/${none.seeds} seeds, global-norm clipping in ${gDiv}).`,
      href: 'claim-1',
      link: 'claim (1)',
    });
  }
  const a = advice(r);
  if (a && a.tau !== null && l) {
    out.push({
      text: `How: global-norm clipping with τ ≈ the median pre-clip norm of the first ~20 steps of a run with clipping off (here ${a.tau}, measured at lr ${Math.min(...l.lrs)}); not far below it.`,
      href: 'advice',
      link: 'choosing τ',
    });
  }
  const low = tooLowEvidence(r);
  const s = r.sweep;
  if (s || low.length) {
    const hiDiv = s ? s.points.filter((p) => p.multiple > 1 && p.diverged).length : 0;
    const hiRuns = s ? s.points.filter((p) => p.multiple > 1).length : 0;
    const held = low.filter((e) => e.holds);
    out.push({
      text:
        'τ matters: ' +
        [
          s
            ? hiDiv > 0
              ? `too high does not stabilise (${hiDiv}/${hiRuns} sweep runs above 1× the reference diverged)`
              : `no run above 1× the reference diverged in the sweep`
            : null,
          held.length
            ? `too low slows learning (${held.map((e) => `${e.where === 'learning' ? `at lr ${e.lr} ` : ''}${e.low} ends at loss ${e.lowLoss === null ? 'diverged' : f3(e.lowLoss)} vs ${f3(e.highLoss)} for ${e.high}`).join('; ')})`
            : low.length
              ? 'a low τ did not slow learning in this run'
              : null,
        ]
          .filter((x) => x !== null)
          .join('; ') +
        '.',
      href: 'claim-4',
      link: 'claim (4)',
    });
  }
  if (r.vanishing)
    out.push({
      text: 'It does nothing for vanishing gradients: clipping only ever shrinks the gradient; use gates, residual paths or a better initialisation.',
      href: 'claim-3',
      link: 'claim (3)',
    });
  if (r.demo && globals.length) {
    const chance = r.settings.chanceLoss;
    const ev = globals.flatMap((g) => g.evalLoss.filter((v): v is number => v !== null));
    const learned = ev.filter((v) => v < 0.9 * chance).length;
    const c = r.settings.config;
    out.push({
      text:
        learned * 2 > ev.length
          ? `On the harder task (${c.task}, T = ${c.seqLen}) clipped runs learn too (${learned}/${ev.length} below 0.9× chance).`
          : `Clipping is not enough on its own for a hard long-range task: on ${c.task} with T = ${c.seqLen} it keeps every run finite (median loss ${f3(median(ev))}, chance ${f3(chance)}) but ${learned}/${ev.length} runs learn in ${r.settings.steps} steps.`,
      href: 'rnn',
      link: 'the harder case',
    });
  }
  return out.slice(0, 5);
}
