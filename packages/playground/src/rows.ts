/**
 * What the live charts plot, from the step records. Pure, so it is unit-tested apart from
 * the page.
 */
import type { StepRecord } from './train.js';

/** The "recent" clipped fraction covers this many steps. */
export const WINDOW = 20;

export interface LossRow {
  step: number;
  value: number;
}
export interface SeriesRow {
  step: number;
  series: string;
  value: number;
}

/**
 * Rows for the records[from … to) of a run (`records` is the whole run so far, so the
 * clipped fractions can look back). Log-scale charts cannot show 0, NaN or ±Infinity: those
 * values get no row (a diverged run's line simply ends).
 */
export function chartRows(
  records: readonly StepRecord[],
  from: number,
  to: number,
): { loss: LossRow[]; norm: SeriesRow[]; fraction: SeriesRow[] } {
  const loss: LossRow[] = [];
  const norm: SeriesRow[] = [];
  const fraction: SeriesRow[] = [];
  const plottable = (x: number) => Number.isFinite(x) && x > 0;
  let clippedSoFar = 0;
  for (let j = 0; j < from; j++) if (records[j]!.clipped) clippedSoFar++;
  for (let i = from; i < to; i++) {
    const r = records[i]!;
    if (plottable(r.loss)) loss.push({ step: r.step, value: r.loss });
    if (plottable(r.preNorm)) norm.push({ step: r.step, series: 'pre', value: r.preNorm });
    if (plottable(r.postNorm)) norm.push({ step: r.step, series: 'post', value: r.postNorm });
    if (r.threshold !== null && plottable(r.threshold))
      norm.push({ step: r.step, series: 'threshold', value: r.threshold });
    if (r.clipped) clippedSoFar++;
    let recent = 0;
    const first = Math.max(0, i + 1 - WINDOW);
    for (let j = first; j <= i; j++) if (records[j]!.clipped) recent++;
    fraction.push({ step: r.step, series: 'cumulative', value: clippedSoFar / (i + 1) });
    fraction.push({ step: r.step, series: 'window', value: recent / (i + 1 - first) });
  }
  return { loss, norm, fraction };
}
