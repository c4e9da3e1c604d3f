/**
 * gradclip/jax's norm statistics on both of its paths: the one-pass float64 sums (cpu / wasm) and
 * the composed max-then-sum scheme (webgpu / webgl, which have no float64; run here on wasm with
 * float64 sums off). Each is held to the L2 norm computed on the host in float64, at float32's
 * edges: values near its largest (whose squares overflow float32), subnormals (whose squares
 * underflow it), zeros, NaN and ±Infinity, and leaves that mix them.
 */
import { numpy as np } from '@jax-js/jax';
import { describe, expect, it } from 'vitest';
import { finaliseNorm } from '../norm_stats.js';
import { jaxOps, scoped, withFloat64Sums } from './ops.js';
import { clipByGlobalNorm } from './index.js';
import { arr, values } from './test_utils.js';

/** The L2 norm of the float32 values in float64 on the host. */
function hostNorm(leaves: readonly number[][]): number {
  let s = 0;
  for (const l of leaves) for (const x of l) s += Math.fround(x) ** 2;
  return Math.sqrt(s);
}

/** The norm gradclip/jax computes for the leaves, on the float64 path or the composed one. */
function jaxNorm(leaves: readonly number[][], f64: boolean): number {
  // (jax-js's np.array does not take an empty typed array.)
  const ts = leaves.map((l) => (l.length === 0 ? np.zeros([0], { dtype: np.float32 }) : arr(l)));
  const norm = scoped(
    () => withFloat64Sums(f64, () => finaliseNorm(jaxOps, jaxOps.normStatsOfSet!(ts, 2))),
    (n) => void n.ref,
  );
  for (const t of ts) t.dispose();
  return values(norm)[0]!;
}

const CASES: { name: string; leaves: number[][]; want?: number }[] = [
  { name: 'ordinary values', leaves: [[3, -4], [12]] }, // √(9 + 16 + 144) = 13
  { name: 'near float32 max (squares overflow float32)', leaves: [[3e38, -3e38], [3e38]] },
  { name: 'one huge value beside small ones', leaves: [[1e20, 1e-3], [-2e20]] },
  { name: 'subnormals only (squares underflow float32)', leaves: [[1e-45, -1e-45], [3e-44]] },
  { name: 'subnormal beside a normal value', leaves: [[1e-40], [1e-20, 2e-20]] },
  { name: 'zeros', leaves: [[0, -0], [0]], want: 0 },
  { name: 'an empty leaf', leaves: [[], [5]], want: 5 },
  { name: 'NaN in one leaf', leaves: [[1, NaN], [2]], want: NaN },
  { name: 'Infinity', leaves: [[1, -Infinity], [2]], want: Infinity },
  { name: 'NaN beside Infinity', leaves: [[Infinity], [NaN]], want: NaN },
  { name: 'NaN and Infinity in one leaf', leaves: [[Infinity, NaN]], want: NaN },
];

describe('gradclip/jax L2 norm statistics at float32 edges', () => {
  for (const f64 of [true, false]) {
    const path = f64 ? 'float64 sums' : 'composed max + sum';
    it.each(CASES)(`${path}: $name`, ({ leaves, want }) => {
      const expected = want ?? hostNorm(leaves);
      const got = jaxNorm(leaves, f64);
      if (Number.isNaN(expected) || !Number.isFinite(expected) || expected === 0) expect(got).toBe(expected);
      else if (expected > 3.4028234663852886e38)
        expect(got).toBe(Infinity); // beyond float32
      // Within float32's rounding of the norm: 2^-23 relative, or its smallest step (2^-149) for
      // a subnormal norm.
      else expect(Math.abs(got - expected)).toBeLessThanOrEqual(Math.max(expected * 2 ** -23, 2 ** -149));
    });
  }

  it('clipByGlobalNorm on wasm (float64 sums) scales 3e38-sized leaves to the norm, not to 0', () => {
    // ‖g‖ = 3e38·√3 overflows float32, yet g · (1/‖g‖) = ±1/√3 each.
    const t = clipByGlobalNorm(1);
    const [out] = t.update([arr([3e38, -3e38]), arr([3e38])], t.init([]));
    const got = [...values(out[0]!), ...values(out[1]!)];
    const third = 1 / Math.sqrt(3);
    expect(got.map((x) => Math.abs(x) - third).every((d) => Math.abs(d) < 1e-6)).toBe(true);
    expect(Math.sign(got[1]!)).toBe(-1);
    t.dispose?.();
  });

  it('the two paths agree on random trees of mixed magnitude (fixed seed)', () => {
    let s = 20;
    const rand = () => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s / 2 ** 32;
    };
    for (let k = 0; k < 20; k++) {
      const mag = 10 ** Math.round(rand() * 70 - 35);
      const leaves = [1, 7, 40].map((n) => Array.from({ length: n }, () => (rand() * 2 - 1) * mag));
      const a = jaxNorm(leaves, true);
      const b = jaxNorm(leaves, false);
      const want = hostNorm(leaves);
      expect(Math.abs(a - want) / want, `float64 path, magnitude ${mag}`).toBeLessThan(2e-7);
      expect(Math.abs(b - want) / want, `composed path, magnitude ${mag}`).toBeLessThan(1e-5);
    }
    expect(np.array(0).device).toBe('wasm');
  });

  it.each([true, false])(
    'AGC unit norms (float64 sums: %s): subnormal, huge, zero, NaN, ordinary and Infinity units',
    (f64) => {
      // Layout 'tf', [in, out] = [2, 6]: a unit is a column. Columns: subnormal, huge, zero,
      // NaN beside Infinity, ordinary, Infinity.
      const w = arr([1e-45, 3e38, 0, NaN, 1, Infinity, -3e-44, 3e38, 0, Infinity, 2, 1], [2, 6]);
      const n = scoped(
        () => withFloat64Sums(f64, () => jaxOps.unitNorms(w, [2, 6], 'tf')),
        (x) => void x.ref,
      );
      expect(n.shape).toEqual([1, 6]); // reduced dims kept: it broadcasts against the array
      const got = values(n);
      const sub = Math.hypot(Math.fround(1e-45), Math.fround(-3e-44));
      expect(Math.abs(got[0]! - sub)).toBeLessThanOrEqual(2 ** -149);
      expect(got[1]).toBe(Infinity); // 4.2e38 is beyond float32
      expect(got[2]).toBe(0);
      expect(got[3]).toBeNaN();
      expect(Math.abs(got[4]! - Math.sqrt(5))).toBeLessThanOrEqual(Math.sqrt(5) * 2 ** -23);
      expect(got[5]).toBe(Infinity);
      w.dispose();
    },
  );
});
