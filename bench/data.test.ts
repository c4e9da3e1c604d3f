/**
 * The benchmark's correctness oracle must itself be right, and must reject wrong kernels —
 * otherwise a fast wrong candidate could "win" `npm run bench`.
 */
import { describe, expect, it } from 'vitest';
// @ts-expect-error — plain .mjs module without type declarations
import * as data from './data.mjs';

interface Summary {
  norm?: number;
  sum: number;
  sumAbs: number;
  first: number;
  last: number;
}
const { valueAt, fillTensor, expectations, check, summarise, stats, OPS } = data as {
  valueAt(t: number, i: number): number;
  fillTensor<T extends Float32Array | Float64Array>(a: T, t: number): T;
  expectations(total: number, tensors: number): Record<'global' | 'value' | 'pertensor', Summary>;
  check(op: string, got: Summary, want: Summary, tol?: number): string[];
  summarise(a: Float32Array[]): Summary;
  stats(t: number[]): { median: number; min: number; max: number; reps: number };
  OPS: Record<'global' | 'value' | 'pertensor', { threshold: number }>;
};

/** Builds the gradients and clips them with a straightforward float64 implementation. */
function reference(total: number, tensors: number) {
  const grads = Array.from({ length: tensors }, (_, t) => fillTensor(new Float32Array(total / tensors), t));
  const all = grads.flatMap((g) => [...g]);
  const norm = Math.sqrt(all.reduce((a, v) => a + v * v, 0));
  const s = Math.min(1, OPS.global.threshold / (norm + 1e-6));
  return { grads, norm, s };
}

describe('bench data and oracle', () => {
  it('generates float32-exact values in [-1, 1) from the integer hash (same as clip.c / torch_clip.py)', () => {
    // h = 0·2654435761 + 0·40503 + 12345 = 12345; (12345 >> 8) = 48; (48 − 2^23) / 2^23
    expect(valueAt(0, 0)).toBe((48 - 8388608) / 8388608);
    // h = 1·2654435761 + 12345 = 2654448106 (< 2^32); 2654448106 >> 8 = 10368937
    expect(valueAt(0, 1)).toBe((10368937 - 8388608) / 8388608);
    for (let i = 0; i < 1000; i++) {
      const v = valueAt(7, i * 7919);
      expect(Math.fround(v)).toBe(v);
      expect(v >= -1 && v < 1).toBe(true);
    }
  });

  it('expectations match a direct computation', () => {
    const { grads, norm, s } = reference(6000, 6);
    const want = expectations(6000, 6);
    expect(want.global.norm).toBeCloseTo(norm, 9);
    const clipped = grads.map((g) => g.map((v) => v * s));
    const got = summarise(clipped);
    expect(check('global', { ...got, norm }, want.global)).toEqual([]);
    const c = OPS.value.threshold;
    const clamped = grads.map((g) => g.map((v) => Math.min(c, Math.max(-c, v))));
    expect(check('value', summarise(clamped), want.value)).toEqual([]);
  });

  it('rejects a kernel that drops one tensor, scales wrongly, or mis-clamps', () => {
    const { grads, norm, s } = reference(6000, 6);
    const want = expectations(6000, 6);
    const dropped = grads.map((g, i) => (i === 3 ? g.map(() => 0) : g.map((v) => v * s)));
    expect(check('global', { ...summarise(dropped), norm }, want.global).length).toBeGreaterThan(0);
    const scaledWrong = grads.map((g) => g.map((v) => v * s * 1.001));
    expect(check('global', { ...summarise(scaledWrong), norm }, want.global).length).toBeGreaterThan(0);
    const right = grads.map((g) => g.map((v) => v * s));
    expect(check('global', { ...summarise(right), norm: norm * 1.001 }, want.global)).toEqual([
      expect.stringMatching(/^norm/),
    ]);
    const clampedWrong = grads.map((g) => g.map((v) => Math.min(0.49, Math.max(-0.49, v))));
    expect(check('value', summarise(clampedWrong), want.value).length).toBeGreaterThan(0);
  });

  it('summarises repeated timings by median, min and max', () => {
    expect(stats([5, 1, 3])).toEqual({ median: 3, min: 1, max: 5, reps: 3 });
    expect(stats([4, 1, 3, 2])).toEqual({ median: 2.5, min: 1, max: 4, reps: 4 });
  });
});
