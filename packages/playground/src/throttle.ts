/**
 * How often the live charts may redraw while training runs.
 *
 * Every redraw draws all the points a chart holds, so it costs more as a run grows; redrawing
 * after every step is what slowed long runs down. The pause after a redraw grows with how long
 * it took (at most `share` of the time measured from the redraw's start to its end) and is at
 * least `minMs`. Measured in headless Chromium (cpu backend, SwiftShader canvas): the
 * redraw's wall time misses part of what the browser spends on the charts, so long runs still
 * slow down, less than before (see docs/playground.md); bounding the points per chart is the
 * remaining fix.
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
