/**
 * Unit-wise L2 norms computed on the test side (float64), for the AGC peer cases: the units of
 * a row-major tensor when a prefix of its axes is reduced (TF / JAX layout) or every axis but
 * the first (PyTorch layout).
 */
export function unitNormsPrefix(values: ArrayLike<number>, shape: readonly number[], reducedPrefix: number): number[] {
  const units = shape.slice(reducedPrefix).reduce((a, b) => a * b, 1);
  const sums = new Array<number>(units).fill(0);
  for (let i = 0; i < values.length; i++) sums[i % units]! += values[i]! * values[i]!;
  return sums.map(Math.sqrt);
}

export function unitNormsTorch(values: ArrayLike<number>, shape: readonly number[]): number[] {
  if (shape.length <= 1) return unitNormsPrefix(values, shape, shape.length);
  const units = shape[0]!;
  const inner = values.length / units;
  const sums = new Array<number>(units).fill(0);
  for (let i = 0; i < values.length; i++) sums[Math.floor(i / inner)]! += values[i]! * values[i]!;
  return sums.map(Math.sqrt);
}
