import { describe, expect, it } from 'vitest';
import { redrawBudget } from '../src/throttle.js';

/**
 * Simulates a run: a training step every 60 ms; a redraw (when allowed) takes 0.3 ms per point
 * already drawn, so it grows with the run. Returns the share of time spent drawing in the
 * last 200 steps and the number of redraws.
 */
function simulate(budget: ((now: () => number) => { ready(): boolean; done(s: number): void }) | null, steps = 1350) {
  let t = 0;
  const b = budget?.(() => t);
  let drawing = 0;
  let lateDrawing = 0;
  let redraws = 0;
  for (let step = 1; step <= steps; step++) {
    t += 60;
    if (b === undefined || b.ready()) {
      const start = t;
      const cost = 0.3 * step;
      t += cost;
      drawing += cost;
      if (step > steps - 200) lateDrawing += cost;
      redraws++;
      b?.done(start);
    }
  }
  return { lateShare: lateDrawing / (200 * 60 + lateDrawing), redraws, drawing };
}

describe('redraw budget (issue 12, item 17: long runs no longer slow the page down)', () => {
  it('drawing after every step takes most of the time late in a run; the budget keeps it at ≤ 20 %', () => {
    const every = simulate(null);
    // Late steps: 60 ms of training and ~390 ms of drawing each (0.3 ms × ~1,300 points).
    expect(every.lateShare).toBeGreaterThan(0.8);
    const budgeted = simulate((now) => redrawBudget(250, 0.2, now));
    // (≤ 0.21: the 200-step window can end inside a pause and so count a little less waiting.)
    expect(budgeted.lateShare).toBeLessThanOrEqual(0.21);
    expect(budgeted.redraws).toBeGreaterThan(20); // still live
  });

  it('at most one redraw per minMs when redraws are cheap, and the first one at once', () => {
    let t = 1000;
    const b = redrawBudget(250, 0.2, () => t);
    expect(b.ready()).toBe(true);
    b.done(t); // took 0 ms
    t += 249;
    expect(b.ready()).toBe(false);
    t += 1;
    expect(b.ready()).toBe(true);
  });

  it('after a 100 ms redraw the next waits 400 ms (drawing stays at a fifth of the time)', () => {
    let t = 0;
    const b = redrawBudget(250, 0.2, () => t);
    t = 100;
    b.done(0);
    t = 499;
    expect(b.ready()).toBe(false);
    t = 500;
    expect(b.ready()).toBe(true);
    expect(() => redrawBudget(250, 1)).toThrow(RangeError);
  });
});
