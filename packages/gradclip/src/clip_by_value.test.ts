/**
 * clipByValue on typed arrays takes the norm statistics while it clamps, in pieces of 32,768
 * values (typedClampWithStats). Arrays longer than a piece put the interesting values in
 * later pieces, to show the statistics are those of the values before clamping, whichever
 * piece they sit in, and that a piece the fast pass cannot trust (NaN, ±Infinity, squares
 * that underflow) still gets exact statistics before it is clamped.
 */
import { describe, expect, it } from 'vitest';
import { clipByValue } from './clip_by_value.js';
import { globalNorm } from './global_norm.js';

const N = 100_000; // pieces [0, 32768), [32768, 65536), [65536, 98304), [98304, 100000)

describe('clipByValue on arrays longer than one piece', () => {
  it('reports the norm before clamping and clamps every piece', () => {
    const g = new Float32Array(N).fill(0.5);
    g[70_000] = 3;
    g[40_000] = -2;
    const r = clipByValue(g, 1);
    // ‖g‖² = 99,998 · 0.25 + 9 + 4 = 25,012.5
    expect(r.norm).toBeCloseTo(Math.sqrt(25_012.5), 9);
    expect(r.clipped).toBe(true);
    expect(r.finite).toBe(true);
    expect([g[70_000], g[40_000], g[0], g[99_999]]).toEqual([1, -1, 0.5, 0.5]);
  });

  it('says clipped = false when nothing exceeds the threshold', () => {
    const g = new Float32Array(N).fill(-0.25);
    const r = clipByValue(g, 1);
    // ‖g‖² = 100,000 · 0.0625 = 6,250
    expect(r.norm).toBeCloseTo(Math.sqrt(6250), 9);
    expect(r.clipped).toBe(false);
    expect(g.every((x) => x === -0.25)).toBe(true);
  });

  it('sees ±Infinity and NaN in later pieces (PyTorch: NaN stays, ±Infinity becomes ±c)', () => {
    const g = new Float32Array(N).fill(0.5);
    g[99_999] = -Infinity; // last piece
    let r = clipByValue(g, 1);
    expect(r.norm).toBe(Infinity);
    expect(r.clipped).toBe(true);
    expect(r.finite).toBe(false);
    expect(g[99_999]).toBe(-1);

    g[40_000] = NaN; // second piece
    g[70_000] = Infinity; // third piece
    r = clipByValue(g, 1);
    expect(r.norm).toBeNaN();
    expect(Number.isNaN(g[40_000])).toBe(true);
    expect(g[70_000]).toBe(1);
  });

  it('gives exact statistics for a piece whose squares underflow, before clamping it', () => {
    // float64 values of 1e-200: their squares (1e-400) underflow to 0 in the fast pass, so
    // the careful pass (relative to max |x|) runs on that piece while it is still intact.
    const g = new Float64Array(N).fill(1e-200);
    g[50_000] = 3e-200;
    const r = clipByValue(g, 1);
    // ‖g‖ = 1e-200 · √(99,999 + 9)
    expect(r.norm / (1e-200 * Math.sqrt(100_008))).toBeCloseTo(1, 12);
    expect(r.clipped).toBe(false);
  });

  it('agrees with globalNorm taken before clamping, on a mixed set of arrays', () => {
    const set = [new Float32Array(N), new Float32Array(17), new Float64Array(40_000), new Float32Array(0)];
    set.forEach((a, t) => {
      for (let i = 0; i < a.length; i++) a[i] = Math.sin(i * 0.7 + t) * (1 + (i % 5));
    });
    const before = globalNorm(set.map((a) => a.slice()));
    const r = clipByValue(set, 2);
    expect(Math.abs(r.norm - before)).toBeLessThanOrEqual(1e-12 * before);
    for (const a of set) expect(a.every((x) => Math.abs(x) <= 2)).toBe(true);
  });
});
