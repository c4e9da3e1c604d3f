/**
 * How often the live charts may redraw while training runs.
 *
 * A redraw costs main-thread time that training then does not get; redrawing after every
 * step is what slowed long runs down, all the more as every redraw drew every step so far.
 * The charts now draw at most MAX_POINTS_PER_SERIES points a series (charts.ts, decimate.ts),
 * so a redraw costs about the same all run long; this budget spaces the redraws out. The
 * pause after a redraw grows with how long it took (at most `share` of the time measured
 * from the redraw's start to its end) and is at least `minMs`. The page uses
 * `redrawBudget(1000, 0.2)`: measured in headless Chromium (cpu backend, SwiftShader canvas,
 * scripts/throughput.mjs), training runs at 59 steps/s at first and 57 at step 8,000 (59
 * with no chart updates); up to four redraws a second (250 ms) cost about a tenth of that
 * rate, see docs/playground.md.
 */
export interface RedrawBudget {
  /** Whether a redraw may start now. */
  ready(): boolean;
  /** Reports a redraw that started at `startedAt` (a `now()` reading) and has just finished. */
  done(startedAt: number): void;
}

export function redrawBudget(minMs: number, share: number, now: () => number = () => performance.now()): RedrawBudget {
  if (!(share > 0 && share < 1)) throw new RangeError(`share must be in (0, 1), got ${share}`);
  let next = -Infinity;
  return {
    ready: () => now() >= next,
    done(startedAt) {
      const t = now();
      next = t + Math.max(minMs, ((t - startedAt) * (1 - share)) / share);
    },
  };
}
