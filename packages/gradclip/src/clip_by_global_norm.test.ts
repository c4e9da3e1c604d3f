import { describe, expect, it } from 'vitest';
import { clipByGlobalNorm } from './clip_by_global_norm.js';
import { globalNorm } from './global_norm.js';

describe('clipByGlobalNorm (hand-worked)', () => {
  it('scales a 3-4-5 gradient to the threshold', () => {
    // ‖(3, 4, 0)‖ = 5; scale = 1 / (5 + 1e-6) = 0.19999996; w → (0.59999988, 0.79999984)
    const grads = { w: new Float64Array([3, 4]), b: new Float64Array([0]) };
    const r = clipByGlobalNorm(grads, 1);
    expect(r.norm).toBe(5);
    expect(r.scale).toBeCloseTo(1 / (5 + 1e-6), 15);
    expect(r.clipped).toBe(true);
    expect(r.finite).toBe(true);
    expect(grads.w[0]).toBeCloseTo(0.6 / (1 + 2e-7), 12);
    expect(globalNorm(grads)).toBeCloseTo(1, 6);
  });
});
