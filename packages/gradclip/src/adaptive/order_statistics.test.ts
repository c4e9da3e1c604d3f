import fc from 'fast-check';
import { fcGate } from '../../test/fc_gate.js';
import { describe, expect, it } from 'vitest';
import { SortedBlocks } from './order_statistics.js';

/** Percentile the slow way (sort a copy), NumPy 'linear'. */
function sortedPercentile(xs: readonly number[], q: number): number {
  const a = [...xs].sort((x, y) => x - y);
  const v = (a.length - 1) * (q / 100);
  const lo = Math.floor(v);
  const hi = Math.min(lo + 1, a.length - 1);
  const t = v - lo;
  const d = a[hi]! - a[lo]!;
  return t >= 0.5 ? a[hi]! - d * (1 - t) : a[lo]! + d * t;
}

describe('SortedBlocks', () => {
  it('matches sorting for any sequence of inserts and deletes (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 50 })), { maxLength: 3000 }),
        fc.double({ min: 0, max: 100, noNaN: true }),
        (ops, q) => {
          const s = new SortedBlocks();
          const ref: number[] = [];
          for (const [del, x] of ops) {
            if (del) {
              const i = ref.indexOf(x);
              expect(s.delete(x)).toBe(i >= 0);
              if (i >= 0) ref.splice(i, 1);
            } else {
              s.insert(x);
              ref.push(x);
            }
          }
          expect(s.size).toBe(ref.length);
          if (ref.length > 0) expect(s.percentile(q)).toBe(sortedPercentile(ref, q));
          else expect(s.percentile(q)).toBeNaN();
        },
      ),
      fcGate({ seed: 2201, numRuns: 60 }),
    );
  });

  it('splits blocks under many inserts and still answers every rank', () => {
    // 5000 values in a scrambled order: the structure holds several blocks of ≤ 1024.
    const s = new SortedBlocks();
    for (let i = 0; i < 5000; i++) s.insert((i * 7919) % 5000);
    for (const k of [0, 1, 511, 512, 1023, 1024, 2500, 4999]) expect(s.kth(k)).toBe(k);
    expect(() => s.kth(5000)).toThrow(RangeError);
    const r = SortedBlocks.from([5, 1, 3]);
    expect([r.kth(0), r.kth(1), r.kth(2)]).toEqual([1, 3, 5]);
    // NumPy: np.percentile([1, 3, 5], 40) = 1 + 0.8·(3 − 1) = 2.6 (fraction ≥ ½: 3 − 2·0.2).
    expect(r.percentile(40)).toBeCloseTo(2.6, 15);
  });
});
