// Test-only helpers (imported by *.test.ts, never by the library).
import { readFileSync } from 'node:fs';

/** A number as the fixture scripts write it: NaN and ±Infinity as strings. */
export type Num = number | 'NaN' | 'Infinity' | '-Infinity';

export const decode = (x: Num): number => (typeof x === 'number' ? x : Number(x));

export const f64 = (xs: readonly Num[]): Float64Array => Float64Array.from(xs, decode);

export function loadAdaptiveFixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../../test/fixtures/adaptive/${name}`, import.meta.url), 'utf8')) as T;
}

/**
 * Largest relative difference between two arrays (NaN matches NaN, ±Infinity itself), with
 * differences below `floor` in absolute value ignored — zeros from a clipped unit vs. 1e-20.
 */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-300): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y))) continue;
    const d = Math.abs(x - y);
    if (!(d <= floor)) m = Math.max(m, d / Math.max(Math.abs(x), Math.abs(y)));
  }
  return m;
}

/** One step of a sequence fixture: the pre-clip norm and the gradients after clipping. */
export interface SequenceStep {
  norm: Num;
  out: Num[][];
}

/** A fixture sequence as fresh Float64Arrays for each step (clipping works in place). */
export function sequenceArrays(sequence: readonly Num[][][]): Float64Array[][] {
  return sequence.map((tensors) => tensors.map((t) => f64(t)));
}
