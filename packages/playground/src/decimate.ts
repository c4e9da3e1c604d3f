/**
 * Bounded views of the live charts' series (issue 12, item 17). Every redraw draws every
 * point a chart holds, so a chart fed every step of a run costs more to redraw as the run
 * grows. A chart is fed a decimated view instead: at most `maxPoints` points per series,
 * however long the run, and still the shape that matters — spikes of the gradient norm
 * stay visible, and the line reaches the latest step.
 *
 * Min-max decimation with a doubling stride: the points of a series fall into buckets of
 * `stride` consecutive points (aligned: bucket k holds points k·stride … (k+1)·stride − 1),
 * and each bucket keeps its minimum and its maximum. When the buckets fill the budget,
 * neighbours merge pairwise and the stride doubles, so a series keeps between a quarter and
 * a half of `maxPoints` buckets; a point costs O(1) amortised. The first and the latest
 * point are always kept. Until the first merge (at most ⌊(maxPoints − 2) / 2⌋ points) a
 * series is kept whole. Pure (no Vega, no DOM), so it is unit-tested apart from the page.
 */

/** What a series holds: a point per step, with a value to keep the extremes of. */
export interface Point {
  step: number;
  value: number;
}

interface Kept<P> {
  /** Position of the point in its series (0 = first pushed). */
  i: number;
  p: P;
}

interface Bucket<P> {
  count: number;
  min: Kept<P>;
  max: Kept<P>;
}

/** One series, fed a point at a time in step order. */
export class SeriesDecimator<P extends Point> {
  private closed: Bucket<P>[] = [];
  private open: Bucket<P> | null = null;
  private first: Kept<P> | null = null;
  private last: Kept<P> | null = null;
  private n = 0;
  private width = 1;
  private readonly maxBuckets: number;

  /** `maxPoints`: the most points `points()` returns (an integer ≥ 6). */
  constructor(readonly maxPoints: number) {
    if (!(Number.isInteger(maxPoints) && maxPoints >= 6))
      throw new RangeError(`maxPoints must be an integer ≥ 6, got ${maxPoints}`);
    // Two points a bucket, plus the first and the latest point when no bucket keeps them.
    this.maxBuckets = Math.floor((maxPoints - 2) / 2);
  }

  /** Points per bucket: 1 until the first merge, then doubling. */
  get stride(): number {
    return this.width;
  }

  /** Number of points pushed since the start (or the last `clear()`). */
  get pushed(): number {
    return this.n;
  }

  push(p: P): void {
    const k: Kept<P> = { i: this.n++, p };
    if (this.first === null) this.first = k;
    this.last = k;
    if (this.open !== null && this.open.count === this.width) {
      this.closed.push(this.open);
      this.open = null;
      if (this.closed.length >= this.maxBuckets) this.merge();
    }
    if (this.open === null) {
      this.open = { count: 1, min: k, max: k };
    } else {
      this.open.count++;
      if (p.value < this.open.min.p.value) this.open.min = k;
      if (p.value > this.open.max.p.value) this.open.max = k;
    }
  }

  /** Merges neighbouring buckets pairwise; a bucket left over (odd count) is reopened. */
  private merge(): void {
    const c = this.closed;
    const merged: Bucket<P>[] = [];
    for (let j = 0; j + 1 < c.length; j += 2) {
      const a = c[j]!;
      const b = c[j + 1]!;
      merged.push({
        count: a.count + b.count,
        min: b.min.p.value < a.min.p.value ? b.min : a.min,
        max: b.max.p.value > a.max.p.value ? b.max : a.max,
      });
    }
    // It starts at an even multiple of the old stride, so it is aligned to the new one.
    if (c.length % 2 === 1) this.open = c[c.length - 1]!;
    this.closed = merged;
    this.width *= 2;
  }

  /** The decimated series, in step order: at most `maxPoints` points, all of them pushed ones. */
  points(): P[] {
    const out: P[] = [];
    let at = -1;
    const emit = (k: Kept<P> | null) => {
      if (k !== null && k.i > at) {
        out.push(k.p);
        at = k.i;
      }
    };
    emit(this.first);
    const buckets = this.open === null ? this.closed : [...this.closed, this.open];
    for (const b of buckets) {
      const [x, y] = b.min.i <= b.max.i ? [b.min, b.max] : [b.max, b.min];
      emit(x);
      emit(y);
    }
    emit(this.last);
    return out;
  }

  clear(): void {
    this.closed = [];
    this.open = this.first = this.last = null;
    this.n = 0;
    this.width = 1;
  }
}

/**
 * A chart's rows, decimated series by series: rows with a `series` field are grouped by
 * it (rows without one form a single series). `rows()` returns every series' points, at
 * most `maxPoints` per series.
 */
export class ChartDecimator<R extends Point & { series?: string }> {
  private readonly series = new Map<string, SeriesDecimator<R>>();

  constructor(readonly maxPoints: number) {
    new SeriesDecimator(maxPoints); // validates maxPoints now, not at the first push
  }

  push(rows: readonly R[]): void {
    for (const r of rows) {
      const key = r.series ?? '';
      let s = this.series.get(key);
      if (s === undefined) this.series.set(key, (s = new SeriesDecimator<R>(this.maxPoints)));
      s.push(r);
    }
  }

  rows(): R[] {
    return [...this.series.values()].flatMap((s) => s.points());
  }

  /** Number of rows pushed since the start (or the last `clear()`), before decimation. */
  get pushed(): number {
    let n = 0;
    for (const s of this.series.values()) n += s.pushed;
    return n;
  }

  clear(): void {
    this.series.clear();
  }
}
