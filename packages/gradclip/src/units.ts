import type { UnitLayout } from './ops.js';

/**
 * The axes AGC reduces over to get one norm per unit (optax `unitwise_norm`, timm
 * `unitwise_norm`). Layout 'tf': rank ≤ 1 → all axes; rank 2, 3 → [0]; rank 4 → [0, 1, 2];
 * rank 5 → [0, 1, 2, 3]; higher ranks have no agreed meaning and throw (as optax does).
 * Layout 'torch': rank ≤ 1 → all axes; otherwise every axis but 0.
 */
export function unitReduceAxes(rank: number, layout: UnitLayout): number[] {
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  if (rank <= 1) return range(rank);
  if (layout === 'torch') return range(rank).slice(1);
  if (rank <= 3) return [0];
  if (rank <= 5) return range(rank - 1);
  throw new RangeError(`unit-wise norms in layout 'tf' are defined for rank ≤ 5, got a tensor of rank ${rank}`);
}

/**
 * Where the units of a row-major tensor lie: element i belongs to unit
 * ⌊i / inner⌋ mod count. The reduced axes are always a prefix ('tf') or a suffix ('torch')
 * of the shape, so this one formula covers both layouts.
 */
export interface UnitGeometry {
  /** Number of units. */
  readonly count: number;
  /** Consecutive elements that share a unit (1 for 'tf', the unit size for 'torch'). */
  readonly inner: number;
}

export function unitGeometry(shape: readonly number[], layout: UnitLayout): UnitGeometry {
  const size = shape.reduce((a, b) => a * b, 1);
  const reduced = new Set(unitReduceAxes(shape.length, layout));
  if (shape.length <= 1) return { count: 1, inner: Math.max(size, 1) };
  const kept = shape.filter((_, i) => !reduced.has(i)).reduce((a, b) => a * b, 1);
  if (layout === 'torch') return { count: kept, inner: kept === 0 ? 1 : size / kept };
  return { count: kept, inner: 1 };
}
