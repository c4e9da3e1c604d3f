import fc from 'fast-check';
import { fcGate } from '../../gradclip/test/fc_gate.js';
import { describe, expect, it } from 'vitest';
import { ChartDecimator, SeriesDecimator, type Point } from '../src/decimate.js';

const series = (values: readonly number[]): Point[] => values.map((value, i) => ({ step: i + 1, value }));

function decimate(points: readonly Point[], maxPoints: number): SeriesDecimator<Point> {
  const d = new SeriesDecimator<Point>(maxPoints);
  for (const p of points) d.push(p);
  return d;
}

describe('SeriesDecimator (issue 12, item 17: bounded live charts)', () => {
  it('decimates by hand: min and max of each bucket, the first and the latest point', () => {
    // maxPoints 6 → at most ⌊(6 − 2) / 2⌋ = 2 buckets.
    //   steps 1–2: two buckets of one point;
    //   step 3: a third bucket → merge to [1–2], stride 2; step 3 opens the next bucket;
    //   step 5: buckets [1–2] [3–4] full → merge to [1–4], stride 4; step 5 opens [5–8].
    // Kept: the first point (1); [1–4]: min 1 at step 2, max 9 at step 3; [5–8] (open): max 8
    // at step 6, min 0 at step 7; the latest point (8). Steps 4 and 5 are thinned out.
    const d = decimate(series([5, 1, 9, 2, 3, 8, 0, 4]), 6);
    expect(d.stride).toBe(4);
    expect(d.pushed).toBe(8);
    expect(d.points()).toEqual([
      { step: 1, value: 5 },
      { step: 2, value: 1 },
      { step: 3, value: 9 },
      { step: 6, value: 8 },
      { step: 7, value: 0 },
      { step: 8, value: 4 },
    ]);
    // After 4 steps the stride is 2, but buckets of two points keep both: nothing is lost.
    expect(
      decimate(series([5, 1, 9, 2]), 6)
        .points()
        .map((p) => p.step),
    ).toEqual([1, 2, 3, 4]);
  });

  it('a single spike in a long run survives, and the line reaches the latest step', () => {
    // 10,000 steps of a sawtooth between 1 and 7, one spike of 1e6 at step 5,001; 200 points.
    const values = Array.from({ length: 10_000 }, (_, i) => (i === 5000 ? 1e6 : 1 + (i % 7)));
    const out = decimate(series(values), 200).points();
    expect(out.length).toBeLessThanOrEqual(200);
    expect(out).toContainEqual({ step: 5001, value: 1e6 });
    expect(out[0]).toEqual({ step: 1, value: 1 });
    expect(out.at(-1)).toEqual({ step: 10_000, value: 1 + (9999 % 7) });
    // The sawtooth's range stays drawn: its lowest and highest values are still there.
    expect(Math.min(...out.map((p) => p.value))).toBe(1);
    expect(out.filter((p) => p.value === 7).length).toBeGreaterThan(40);
  });

  it('keeps a short series whole, and starts again after clear()', () => {
    // maxPoints 10 → 4 buckets: up to 4 points kept one per bucket.
    const d = decimate(series([3, 1, 4, 1]), 10);
    expect(d.stride).toBe(1);
    expect(d.points()).toEqual(series([3, 1, 4, 1]));
    d.clear();
    expect(d.points()).toEqual([]);
    expect(d.pushed).toBe(0);
    d.push({ step: 7, value: 2 });
    expect(d.points()).toEqual([{ step: 7, value: 2 }]);
    expect(() => new SeriesDecimator(5)).toThrow(RangeError);
    expect(() => new SeriesDecimator(10.5)).toThrow(RangeError);
  });

  const value = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.double({ noNaN: true }));

  it('property: at most maxPoints points, in order, the first and the latest kept, every bucket’s min and max kept', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 400 }), fc.integer({ min: 6, max: 40 }), (values, maxPoints) => {
        const input = series(values);
        const d = decimate(input, maxPoints);
        const out = d.points();
        expect(out.length).toBeLessThanOrEqual(maxPoints);
        // A subsequence of the input (the very objects pushed), in step order.
        const at = out.map((p) => input.indexOf(p));
        for (let j = 0; j < at.length; j++) expect(at[j]!).toBeGreaterThan(j === 0 ? -1 : at[j - 1]!);
        if (input.length === 0) {
          expect(out).toEqual([]);
          return;
        }
        expect(out[0]).toBe(input[0]);
        expect(out.at(-1)).toBe(input.at(-1));
        // Each aligned block of `stride` points keeps its smallest and its largest value.
        const s = d.stride;
        for (let k = 0; k * s < input.length; k++) {
          const block = input.slice(k * s, (k + 1) * s);
          const kept = out.filter((p) => block.includes(p)).map((p) => p.value);
          expect(kept).toContain(Math.max(...block.map((p) => p.value)));
          expect(kept).toContain(Math.min(...block.map((p) => p.value)));
        }
      }),
      fcGate({ seed: 2225 }),
    );
  });

  it('property: whole until ⌊(maxPoints − 2) / 2⌋ points; after that, never thinned below a quarter of maxPoints buckets', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 600 }), fc.integer({ min: 6, max: 60 }), (values, maxPoints) => {
        const input = series(values);
        const d = decimate(input, maxPoints);
        const buckets = Math.floor((maxPoints - 2) / 2);
        if (input.length <= buckets) {
          expect(d.stride).toBe(1);
          expect(d.points()).toEqual(input);
        } else {
          // The stride doubled only when the buckets were full: ≥ ⌊buckets / 2⌋ remain.
          expect(Math.log2(d.stride) % 1).toBe(0);
          expect(Math.ceil(input.length / d.stride)).toBeGreaterThanOrEqual(Math.floor(buckets / 2));
        }
      }),
      fcGate({ seed: 2226 }),
    );
  });
});

describe('ChartDecimator', () => {
  it('decimates each series apart and keeps every series to the latest step', () => {
    // 1,000 steps of three series (as the norm chart), 50 points per series at most.
    const d = new ChartDecimator<Point & { series: string }>(50);
    for (let step = 1; step <= 1000; step++)
      d.push(['pre', 'post', 'threshold'].map((s, j) => ({ step, series: s, value: j === 0 ? step : 1 })));
    const rows = d.rows();
    expect(d.pushed).toBe(3000);
    for (const s of ['pre', 'post', 'threshold']) {
      const mine = rows.filter((r) => r.series === s);
      expect(mine.length).toBeLessThanOrEqual(50);
      expect(mine[0]!.step).toBe(1);
      expect(mine.at(-1)!.step).toBe(1000);
    }
    expect(rows.filter((r) => r.series === 'pre').map((r) => r.value)).toContain(1000);
    d.clear();
    expect(d.rows()).toEqual([]);
    expect(d.pushed).toBe(0);
  });

  it('property: streaming in batches gives the rows pushing them all at once gives', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('a', 'b', undefined), fc.double({ noNaN: true })), { maxLength: 300 }),
        fc.array(fc.nat(40), { maxLength: 20 }),
        fc.integer({ min: 6, max: 30 }),
        (spec, cuts, maxPoints) => {
          const rows = spec.map(([series, value], i) =>
            series === undefined ? { step: i, value } : { step: i, series, value },
          );
          const whole = new ChartDecimator<Point & { series?: string }>(maxPoints);
          whole.push(rows);
          const streamed = new ChartDecimator<Point & { series?: string }>(maxPoints);
          let at = 0;
          for (const c of [...cuts, rows.length]) {
            streamed.push(rows.slice(at, at + c));
            at += c;
          }
          streamed.push(rows.slice(at));
          expect(streamed.rows()).toEqual(whole.rows());
          expect(whole.rows().length).toBeLessThanOrEqual(3 * maxPoints);
        },
      ),
      fcGate({ seed: 2227 }),
    );
  });
});
