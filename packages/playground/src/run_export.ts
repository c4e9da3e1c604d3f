/**
 * A finished (or paused) run as a file, and the label that names a run in the charts'
 * legends. Pure, so it is unit-tested apart from the page.
 */
import { METHOD_OPTIONS, RANGES, settingsToQuery, type Settings } from './settings.js';
import type { StepRecord } from './train.js';

/** One row per step: step, loss, pre- and post-clip norm, threshold (empty when none), clipped (0/1). */
export function runToCSV(records: readonly StepRecord[]): string {
  const rows = records.map((r) =>
    [r.step, r.loss, r.preNorm, r.postNorm, r.threshold ?? '', r.clipped ? 1 : 0].join(','),
  );
  return ['step,loss,pre_norm,post_norm,threshold,clipped', ...rows].join('\n') + '\n';
}

/** Settings, the query string that reproduces the run, and every step (non-finite numbers as strings). */
export function runToJSON(settings: Settings, records: readonly StepRecord[]): string {
  return JSON.stringify(
    { settings, query: settingsToQuery(settings), steps: records },
    (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v),
    1,
  );
}

type NumericKey = keyof typeof RANGES;
const SHORT: Partial<Record<NumericKey, string>> = {
  threshold: 'τ',
  agcClipping: 'λ',
  percentile: 'p',
  zThresh: 'z',
  lambdaRel: 'λrel',
};

/** "globalNorm τ=1 · lr 0.3 · T 10" — the method, its main options and the training settings that decide a run. */
export function runLabel(s: Settings, methodName: string = s.method): string {
  const opts = METHOD_OPTIONS[s.method]
    .filter((k) => SHORT[k] !== undefined)
    .map((k) => `${SHORT[k]}=${s[k]}`)
    .join(' ');
  return `${methodName}${opts ? ` ${opts}` : ''} · lr ${s.learningRate} · T ${s.seqLen}`;
}
