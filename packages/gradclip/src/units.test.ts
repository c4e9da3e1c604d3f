import { describe, expect, it } from 'vitest';
import { typedOps } from './typed_ops.js';
import { unitGeometry, unitReduceAxes } from './units.js';

describe('unit layout', () => {
  it('reduces the axes optax and timm reduce', () => {
    expect(unitReduceAxes(0, 'tf')).toEqual([]);
    expect(unitReduceAxes(1, 'tf')).toEqual([0]);
    expect(unitReduceAxes(2, 'tf')).toEqual([0]);
    expect(unitReduceAxes(3, 'tf')).toEqual([0]);
    expect(unitReduceAxes(4, 'tf')).toEqual([0, 1, 2]);
    expect(unitReduceAxes(5, 'tf')).toEqual([0, 1, 2, 3]);
    expect(() => unitReduceAxes(6, 'tf')).toThrow(RangeError);
    expect(unitReduceAxes(1, 'torch')).toEqual([0]);
    expect(unitReduceAxes(4, 'torch')).toEqual([1, 2, 3]);
    expect(unitGeometry([2, 3, 4], 'tf')).toEqual({ count: 12, inner: 1 });
    expect(unitGeometry([2, 3, 4], 'torch')).toEqual({ count: 2, inner: 12 });
    expect(unitGeometry([], 'tf')).toEqual({ count: 1, inner: 1 });
  });

  it('computes one L2 norm per unit', () => {
    // [[1, 2, 3], [4, 5, 6]]: 'tf' columns ‖(1,4)‖ = √17, ‖(2,5)‖ = √29, ‖(3,6)‖ = √45;
    // 'torch' rows ‖(1,2,3)‖ = √14, ‖(4,5,6)‖ = √77.
    const t = new Float64Array([1, 2, 3, 4, 5, 6]);
    expect([...typedOps.unitNorms(t, [2, 3], 'tf')]).toEqual([Math.sqrt(17), Math.sqrt(29), Math.sqrt(45)]);
    expect([...typedOps.unitNorms(t, [2, 3], 'torch')]).toEqual([Math.sqrt(14), Math.sqrt(77)]);
    expect([...typedOps.unitNorms(t, [6], 'tf')]).toEqual([Math.sqrt(91)]);
  });

  it('does not overflow or underflow, and propagates NaN / Infinity per unit', () => {
    // (1e200)² overflows float64; the careful pass gives 1e200·√2. (1e-200)² underflows to 0.
    const big = typedOps.unitNorms(new Float64Array([1e200, 1e200, 3, 4]), [2, 2], 'torch');
    expect(big[0]! / (1e200 * Math.SQRT2)).toBeCloseTo(1, 14);
    expect(big[1]).toBe(5);
    // 'tf' columns of [[1e200, 3], [1e200, 4]] (interleaved units): 1e200·√2 and 5.
    const cols = typedOps.unitNorms(new Float64Array([1e200, 3, 1e200, 4]), [2, 2], 'tf');
    expect(cols[0]! / (1e200 * Math.SQRT2)).toBeCloseTo(1, 14);
    expect(cols[1]).toBe(5);
    const tiny = typedOps.unitNorms(new Float64Array([3e-200, 4e-200]), [2], 'tf');
    expect(tiny[0]! / 5e-200).toBeCloseTo(1, 14);
    const bad = typedOps.unitNorms(new Float64Array([NaN, 1, Infinity, 1, 3, 4]), [3, 2], 'torch');
    expect([...bad]).toEqual([NaN, Infinity, 5]);
  });

  it('scales each unit by its own factor and maps unit pairs', () => {
    const t = new Float64Array([1, 2, 3, 4, 5, 6]);
    typedOps.scaleUnits(t, [2, 3], 'tf', new Float64Array([1, 0.5, 0]));
    expect([...t]).toEqual([1, 1, 0, 4, 2.5, 0]);
    const m = typedOps.mapUnits(new Float64Array([1, 2]), new Float64Array([3, 5]), (x, y) => x * y + 1);
    expect([...m]).toEqual([4, 11]);
    expect(typedOps.minOf(new Float64Array([3, -1, 2]))).toBe(-1);
    expect(typedOps.minOf(new Float64Array([3, NaN, 2]))).toBeNaN();
    expect(typedOps.minOf(new Float64Array([]))).toBe(Infinity);
  });
});
