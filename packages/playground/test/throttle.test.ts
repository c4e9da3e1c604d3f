import { describe, expect, it } from 'vitest';
import { throttle } from '../src/throttle.js';

describe('throttle (issue 12, item 17: chart updates no longer scale with the step rate)', () => {
  it('1,350 steps 10 ms apart (13.5 s) give at most 55 chart updates at 250 ms, not 1,350', () => {
    let t = 0;
    let runs = 0;
    const update = throttle(
      () => runs++,
      250,
      () => t,
    );
    for (let step = 0; step < 1350; step++) {
      update();
      t += 10;
    }
    // One update per 250 ms window: ⌈13,500 / 250⌉ = 54.
    expect(runs).toBe(54);
  });

  it('the first call runs at once, and a call after the interval runs again', () => {
    let t = 1000;
    let runs = 0;
    const update = throttle(
      () => runs++,
      250,
      () => t,
    );
    update();
    expect(runs).toBe(1);
    t += 249;
    update();
    expect(runs).toBe(1);
    t += 1;
    update();
    expect(runs).toBe(2);
  });
});
