import fc from 'fast-check';
import { fcGate } from '../../gradclip/test/fc_gate.js';
import { describe, expect, it } from 'vitest';
import { chartRows, WINDOW } from '../src/rows.js';
import type { StepRecord } from '../src/train.js';

const rec = (step: number, clipped: boolean, over: Partial<StepRecord> = {}): StepRecord => ({
  step,
  loss: 0.5,
  preNorm: 2,
  postNorm: clipped ? 1 : 2,
  threshold: 1,
  clipped,
  ...over,
});

describe('chartRows', () => {
  it('computes the clipped fractions by hand', () => {
    // clipped pattern: yes, no, yes, yes → cumulative 1/1, 1/2, 2/3, 3/4.
    const records = [rec(1, true), rec(2, false), rec(3, true), rec(4, true)];
    const { fraction } = chartRows(records, 0, 4);
    const cumulative = fraction.filter((r) => r.series === 'cumulative').map((r) => r.value);
    expect(cumulative).toEqual([1, 1 / 2, 2 / 3, 3 / 4]);
    // Fewer than WINDOW steps so far: the window is the whole run, so it equals the cumulative.
    expect(fraction.filter((r) => r.series === 'window').map((r) => r.value)).toEqual(cumulative);
  });

  it('the window covers the last 20 steps only', () => {
    // 20 clipped steps then 10 unclipped: at step 30 the window holds steps 11–30, of which
    // 10 were clipped (11–20) → 0.5; the cumulative fraction is 20/30.
    const records = Array.from({ length: 30 }, (_, i) => rec(i + 1, i < 20));
    const last = chartRows(records, 29, 30).fraction;
    expect(last).toEqual([
      { step: 30, series: 'cumulative', value: 20 / 30 },
      { step: 30, series: 'window', value: 10 / WINDOW },
    ]);
  });

  it('rows of a suffix equal the same rows of the whole run (streaming = rebuilding)', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 60 }), fc.nat(), (flags, k) => {
        const records = flags.map((c, i) => rec(i + 1, c));
        const from = k % records.length;
        const whole = chartRows(records, 0, records.length);
        const tail = chartRows(records, from, records.length);
        const after = (rows: { step: number }[]) => rows.filter((r) => r.step > from);
        expect(tail.fraction).toEqual(after(whole.fraction));
        expect(tail.norm).toEqual(after(whole.norm));
        expect(tail.loss).toEqual(after(whole.loss));
      }),
      fcGate({ seed: 2223 }),
    );
  });

  it('leaves out what a log scale cannot draw, and the threshold when there is none', () => {
    const records = [
      rec(1, false, { loss: Infinity, preNorm: NaN, postNorm: NaN, threshold: null }),
      rec(2, false, { loss: 0, preNorm: 3, postNorm: 3, threshold: null }),
    ];
    const rows = chartRows(records, 0, 2);
    expect(rows.loss).toEqual([]);
    expect(rows.norm).toEqual([
      { step: 2, series: 'pre', value: 3 },
      { step: 2, series: 'post', value: 3 },
    ]);
    expect(rows.fraction).toHaveLength(4); // every step counts towards the fractions
  });
});
