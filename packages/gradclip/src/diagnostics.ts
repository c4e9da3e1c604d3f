import type { Clipper } from './clipper.js';
import { describe } from './gradients.js';
import type { ClipResult, GradientSet } from './types.js';
import { knownOptions } from './validate.js';

/** Passed to `onNeverClipped`: `steps` steps in a row changed nothing and all had the norm `norm`. */
export interface NeverClippedWarning {
  readonly kind: 'neverClipped';
  /** 0-based index of the first step of the run. */
  readonly firstStep: number;
  /** Length of the run (the `neverClippedSteps` option). */
  readonly steps: number;
  /** The norm every step of the run reported. */
  readonly norm: number;
  readonly message: string;
}

/** Passed to `onTinyScale`: step `step` scaled the gradients by `scale` < `floor`. */
export interface TinyScaleWarning {
  readonly kind: 'tinyScale';
  /** 0-based index of the step. */
  readonly step: number;
  readonly scale: number;
  readonly floor: number;
  readonly message: string;
}

/**
 * Opt-in warnings about clipping that does nothing useful, each given at most once:
 *
 * - **never clipped** — `neverClippedSteps` steps in a row (default 100) clipped nothing and
 *   reported exactly the same norm. Real gradients change every step; a constant norm usually
 *   means the clip runs before the gradients exist (or on a stale / all-zero copy of them).
 * - **tiny scale** — a step's factor fell below `scaleFloor` (default 1e-6): that update was
 *   effectively erased (a threshold far too small for the gradients, or a huge norm spike).
 *
 * Nothing is checked unless its callback is given.
 */
export interface ClipWarningOptions {
  /** Called once when `neverClippedSteps` steps in a row clipped nothing with a constant norm. */
  onNeverClipped?: (warning: NeverClippedWarning) => void;
  /** Length of the run that triggers `onNeverClipped`. Default 100. */
  neverClippedSteps?: number;
  /** Called once when a step's factor is below `scaleFloor`. */
  onTinyScale?: (warning: TinyScaleWarning) => void;
  /** The floor for `onTinyScale`. Default 1e-6. */
  scaleFloor?: number;
}

/** The names `ClipWarningOptions` has (shared with option objects that include them). */
export const CLIP_WARNING_OPTIONS = ['onNeverClipped', 'neverClippedSteps', 'onTinyScale', 'scaleFloor'] as const;

/** Follows a stream of clip reports and calls the warnings of `ClipWarningOptions` (see there). */
export interface ClipWatch {
  /** Looks at one step's report (`step` defaults to the number of steps observed so far). */
  observe(report: Pick<ClipResult, 'norm' | 'scale' | 'clipped'>, step?: number): void;
  /** Whether any warning is asked for (a caller can then skip reading reports back). */
  readonly active: boolean;
}

/** Checks `ClipWarningOptions` (TypeError / RangeError naming the option and its value). */
export function checkWarningOptions(o: ClipWarningOptions, arg = 'options'): Required<ClipWarningOptions> {
  for (const k of ['onNeverClipped', 'onTinyScale'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'function')
      throw new TypeError(`${arg}.${k} must be a function, got ${describe(o[k])}`);
  }
  const n = o.neverClippedSteps ?? 100;
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`${arg}.neverClippedSteps must be an integer ≥ 1, got ${describe(o.neverClippedSteps)}`);
  const floor = o.scaleFloor ?? 1e-6;
  if (typeof floor !== 'number' || !(floor > 0) || !(floor <= 1))
    throw new RangeError(`${arg}.scaleFloor must be a number in (0, 1], got ${describe(o.scaleFloor)}`);
  return {
    onNeverClipped: o.onNeverClipped ?? (() => {}),
    onTinyScale: o.onTinyScale ?? (() => {}),
    neverClippedSteps: n,
    scaleFloor: floor,
  };
}

/**
 * A watcher over clip reports for the warnings of `ClipWarningOptions`: call `observe` with each
 * step's report (a typed clipper's `ClipResult`, or numbers read back from the device).
 *
 * @example
 * const watch = clipWatch({ onTinyScale: (w) => console.warn(w.message) });
 * watch.observe(clipper.clip(grads));
 */
export function clipWatch(options: ClipWarningOptions = {}): ClipWatch {
  knownOptions('options', options, CLIP_WARNING_OPTIONS);
  const o = checkWarningOptions(options);
  const wantsNever = options.onNeverClipped !== undefined;
  const wantsTiny = options.onTinyScale !== undefined;
  let count = 0;
  let runStart = 0;
  let runLength = 0;
  let runNorm = NaN;
  let neverDone = false;
  let tinyDone = false;
  return {
    active: wantsNever || wantsTiny,
    observe(report, step = count) {
      count = step + 1;
      if (wantsTiny && !tinyDone && report.scale < o.scaleFloor) {
        tinyDone = true;
        o.onTinyScale({
          kind: 'tinyScale',
          step,
          scale: report.scale,
          floor: o.scaleFloor,
          message:
            `gradclip: step ${step} scaled the gradients by ${report.scale} (below ${o.scaleFloor}): ` +
            'the update was effectively erased — is the threshold far too small for these gradients?',
        });
      }
      if (!wantsNever || neverDone) return;
      if (report.clipped || !Number.isFinite(report.norm)) {
        runLength = 0;
        return;
      }
      if (runLength > 0 && report.norm === runNorm) runLength++;
      else {
        runStart = step;
        runNorm = report.norm;
        runLength = 1;
      }
      if (runLength >= o.neverClippedSteps) {
        neverDone = true;
        o.onNeverClipped({
          kind: 'neverClipped',
          firstStep: runStart,
          steps: runLength,
          norm: runNorm,
          message:
            `gradclip: ${runLength} steps in a row (from step ${runStart}) clipped nothing and all had the norm ` +
            `${runNorm}: is the clip called before the gradients are computed, or on a stale copy of them?`,
        });
      }
    },
  };
}

/**
 * A typed-array clipper that hands every report to the warnings of `ClipWarningOptions` (it
 * clips, keeps its state and reports exactly as `clipper` does).
 *
 * @example
 * const clipper = withWarnings(globalNormClipper(1), { onNeverClipped: (w) => console.warn(w.message) });
 */
export function withWarnings<S>(clipper: Clipper<S>, options: ClipWarningOptions): Clipper<S> {
  if (typeof clipper !== 'object' || clipper === null || typeof clipper.clip !== 'function') {
    throw new TypeError(`clipper must be a Clipper (e.g. globalNormClipper(1)), got ${describe(clipper)}`);
  }
  const watch = clipWatch(options);
  return {
    name: clipper.name,
    rule: clipper.rule,
    get state() {
      return clipper.state;
    },
    clip(grads: GradientSet, params?: GradientSet): ClipResult {
      const r = clipper.clip(grads, params);
      watch.observe(r);
      return r;
    },
  };
}
