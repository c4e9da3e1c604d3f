/**
 * A multiset of numbers kept sorted in blocks (the idea behind Python's `sortedcontainers`):
 * insert, delete and k-th smallest cost O(log(n/B) + B + n/B) with blocks of B ≈ 512..1024
 * values — a few microseconds for a million values, against O(n log n) for sorting the history
 * at every step or O(n) for a single sorted array with memmove. Only finite numbers go in.
 */
export class SortedBlocks {
  private static readonly BLOCK = 512;
  private blocks: number[][] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Builds the structure from values in any order: O(n log n), used when restoring a state. */
  static from(values: Iterable<number>): SortedBlocks {
    const s = new SortedBlocks();
    const sorted = Float64Array.from(values).sort();
    for (let i = 0; i < sorted.length; i += SortedBlocks.BLOCK) {
      s.blocks.push(Array.from(sorted.subarray(i, i + SortedBlocks.BLOCK)));
    }
    s.count = sorted.length;
    return s;
  }

  /** Index of the first block whose last value is ≥ x (the last block if none). */
  private blockFor(x: number): number {
    let lo = 0;
    let hi = this.blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const b = this.blocks[mid]!;
      if (b[b.length - 1]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  insert(x: number): void {
    this.count++;
    if (this.blocks.length === 0) {
      this.blocks.push([x]);
      return;
    }
    const bi = this.blockFor(x);
    const b = this.blocks[bi]!;
    b.splice(lowerBound(b, x), 0, x);
    if (b.length > 2 * SortedBlocks.BLOCK) this.blocks.splice(bi + 1, 0, b.splice(SortedBlocks.BLOCK));
  }

  /** Removes one occurrence of x; returns whether it was there. */
  delete(x: number): boolean {
    if (this.blocks.length === 0) return false;
    const bi = this.blockFor(x);
    const b = this.blocks[bi]!;
    const i = lowerBound(b, x);
    if (b[i] !== x) return false;
    b.splice(i, 1);
    if (b.length === 0) this.blocks.splice(bi, 1);
    this.count--;
    return true;
  }

  /** The k-th smallest value, k from 0. */
  kth(k: number): number {
    if (!(k >= 0 && k < this.count)) throw new RangeError(`kth: index ${k} outside [0, ${this.count})`);
    for (const b of this.blocks) {
      if (k < b.length) return b[k]!;
      k -= b.length;
    }
    throw new RangeError('unreachable');
  }

  /**
   * NumPy's default percentile (method 'linear'): virtual index (n − 1)·q/100 between the
   * sorted values at its floor and the next one, interpolated the way NumPy's `_lerp` does
   * (from the upper end when the fraction is ≥ ½, which keeps the result monotone and exact
   * at the ends). NaN for an empty set.
   */
  percentile(q: number): number {
    const n = this.count;
    if (n === 0) return NaN;
    const virtual = (n - 1) * (q / 100);
    const lo = Math.floor(virtual);
    const hi = Math.min(lo + 1, n - 1);
    const t = virtual - lo;
    const a = this.kth(lo);
    const b = hi === lo ? a : this.kth(hi);
    const diff = b - a;
    return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
  }
}

function lowerBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
