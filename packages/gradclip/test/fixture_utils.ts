import { readFileSync } from 'node:fs';
import type { FloatArray } from '../src/types.js';

export type Num = number | 'NaN' | 'Infinity' | '-Infinity';

export const decode = (x: Num): number => (typeof x === 'number' ? x : Number(x));

export function loadFixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as T;
}

export function toArray(values: readonly Num[], dtype: 'float32' | 'float64'): FloatArray {
  const a = dtype === 'float32' ? new Float32Array(values.length) : new Float64Array(values.length);
  values.forEach((v, i) => (a[i] = decode(v)));
  return a;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const f64 = new Float64Array(1);
const u64 = new BigInt64Array(f64.buffer);

/** Position of a float on the number line of its format (monotone; −0 and +0 both 0). */
function ordinal(x: number, dtype: 'float32' | 'float64'): bigint {
  if (dtype === 'float32') {
    f32[0] = x;
    const bits = u32[0]!;
    return bits & 0x80000000 ? -BigInt(bits & 0x7fffffff) : BigInt(bits);
  }
  f64[0] = x;
  const bits = u64[0]!;
  return bits < 0n ? -(bits & 0x7fffffffffffffffn) : bits;
}

/** Distance in units in the last place between two numbers of the given format (NaN = NaN is 0). */
export function ulpDistance(a: number, b: number, dtype: 'float32' | 'float64'): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a === b ? 0 : Infinity;
  const d = ordinal(a, dtype) - ordinal(b, dtype);
  return Number(d < 0n ? -d : d);
}

/** Largest ulp distance between two arrays of equal length. */
export function maxUlps(a: ArrayLike<number>, b: ArrayLike<number>, dtype: 'float32' | 'float64'): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, ulpDistance(a[i]!, b[i]!, dtype));
  return m;
}

export function relErr(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a === b ? 0 : Infinity;
  if (a === b) return 0;
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
}
