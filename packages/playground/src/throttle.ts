/**
 * Runs `f` at most once every `ms` milliseconds; calls in between are dropped (the caller's
 * own queue — here the pending chart rows — keeps their work for the next run).
 *
 * The live charts redraw every point on each update, so an update costs more as a run grows.
 * Updating on every training step made the page slow from 15 to 7 steps/s over 1,350 steps;
 * a few updates a second keep the cost of drawing a small, fixed share of the time.
 */
export function throttle(f: () => void, ms: number, now: () => number = () => performance.now()): () => void {
  let last = -Infinity;
  return () => {
    const t = now();
    if (t - last < ms) return;
    last = t;
    f();
  };
}
