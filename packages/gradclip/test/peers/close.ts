/**
 * The peer suites' comparison helpers, each with the semantics of the upstream assertion it
 * stands for, so that a translated case is exactly as strict as the original.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { decode, type Num } from '../fixture_utils.js';

/**
 * numpy.testing.assert_allclose: |actual − desired| ≤ atol + rtol·|desired| element-wise, NaN
 * equal to NaN, ±Infinity equal only to itself, same length. Used by optax
 * (`assert_trees_all_close`, rtol 1e-6, atol 0), TensorFlow's and Keras's `assertAllClose`
 * (rtol 1e-6, atol 1e-6).
 */
export function expectAllClose(
  actual: ArrayLike<number>,
  desired: ArrayLike<number>,
  { rtol, atol }: { rtol: number; atol: number },
  what = 'values',
): void {
  expect(actual.length, `${what}: length`).toBe(desired.length);
  const bad: string[] = [];
  for (let i = 0; i < desired.length; i++) {
    const a = actual[i]!;
    const d = desired[i]!;
    const ok =
      Number.isNaN(d) || !Number.isFinite(d)
        ? Object.is(a, d) || (Number.isNaN(a) && Number.isNaN(d))
        : Math.abs(a - d) <= atol + rtol * Math.abs(d);
    if (!ok) bad.push(`[${i}] ${a} vs ${d}`);
  }
  expect(bad, `${what} not close (rtol ${rtol}, atol ${atol})`).toEqual([]);
}

/** NumPy / TF / Keras `assertAllClose` defaults (rtol 1e-6, atol 1e-6). */
export const TF_CLOSE = { rtol: 1e-6, atol: 1e-6 } as const;
/** optax `test_utils.assert_trees_all_close` defaults (rtol 1e-6, atol 0). */
export const OPTAX_CLOSE = { rtol: 1e-6, atol: 0 } as const;
/** PyTorch `assertEqual` for float32 tensors (rtol 1.3e-6, atol 1e-5). */
export const TORCH_F32 = { rtol: 1.3e-6, atol: 1e-5 } as const;
/** PyTorch `assertEqual` for float64 tensors (rtol 1e-7, atol 1e-7). */
export const TORCH_F64 = { rtol: 1e-7, atol: 1e-7 } as const;
/** tfjs `expectArraysClose` on float32 backends (|a − e| ≤ 1e-3). */
export const TFJS_CLOSE = { rtol: 0, atol: 1e-3 } as const;

/** Python `assertAlmostEqual(a, b, places)`: round(a − b, places) == 0. */
export function expectAlmostEqual(a: number, b: number, places: number, what = 'value'): void {
  expect(Math.abs(a - b), `${what}: ${a} vs ${b} to ${places} places`).toBeLessThan(0.5 * 10 ** -places);
}

/** The L2 norm of plain numbers, in float64 (the test side's own reference, not gradclip's). */
export function l2(...arrays: ArrayLike<number>[]): number {
  let s = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  return Math.sqrt(s);
}

const FIXTURE = new URL('../fixtures/peers/peers.json', import.meta.url);

export interface PeerFixture {
  torch: string;
  pytorch_clip_grad_norm: {
    normType: number | 'Infinity';
    maxNorm: number;
    norm: number;
    weight: Num[];
    bias: Num[];
  }[];
  timm_agc: {
    name: string;
    clipFactor: number;
    eps: number;
    tensors: { shape: number[]; param: Num[]; grad: Num[]; expected: Num[] }[];
  }[];
}

/** The numbers scripts/gen_peer_fixtures.py computed with PyTorch. */
export function peerFixture(): PeerFixture {
  return JSON.parse(readFileSync(FIXTURE, 'utf8')) as PeerFixture;
}

export const f32 = (values: readonly Num[]): Float32Array => Float32Array.from(values, decode);
