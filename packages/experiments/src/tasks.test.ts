import fc from 'fast-check';
import { fcGate } from '../../gradclip/test/fc_gate.js';
import { describe, expect, it } from 'vitest';
import { addingProblem, Rng, temporalOrder } from './tasks.js';

describe('Rng', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    const a = new Rng(1);
    const b = new Rng(1);
    const c = new Rng(2);
    const xs = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(xs);
  });
  it('draws uniforms in [0, 1) with mean ≈ 1/2 and normals with variance ≈ 1', () => {
    const r = new Rng(7);
    const u = Array.from({ length: 20000 }, () => r.next());
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    // standard error of the mean of 20000 uniforms: 0.289/√20000 ≈ 0.002
    expect(Math.abs(u.reduce((s, x) => s + x, 0) / u.length - 0.5)).toBeLessThan(0.01);
    const z = Array.from({ length: 20000 }, () => r.normal());
    expect(Math.abs(z.reduce((s, x) => s + x * x, 0) / z.length - 1)).toBeLessThan(0.05);
  });
  it('rejects a non-integer seed', () => {
    expect(() => new Rng(1.5)).toThrow(/seed must be an integer, got 1.5/);
  });
});

describe('adding problem', () => {
  it('marks one position in each half and targets the sum of the marked values', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 2, max: 60 }), (seed, steps) => {
        const b = addingProblem.batch(new Rng(seed), 3, steps);
        const half = Math.floor(steps / 2);
        for (let i = 0; i < 3; i++) {
          const marked: number[] = [];
          let sum = 0;
          for (let t = 0; t < steps; t++) {
            const o = (i * steps + t) * 2;
            if (b.inputs[o + 1] === 1) {
              marked.push(t);
              sum += b.inputs[o]!;
            }
          }
          expect(marked.length).toBe(2);
          expect(marked[0]!).toBeLessThan(half);
          expect(marked[1]!).toBeGreaterThanOrEqual(half);
          expect(b.targets[i]).toBeCloseTo(sum, 5);
        }
      }),
      fcGate({ seed: 2222, numRuns: 50 }),
    );
  });
});

describe('temporal order', () => {
  it('has exactly one relevant symbol per window and the class of their order', () => {
    const steps = 50;
    const b = temporalOrder.batch(new Rng(3), 8, steps);
    for (let i = 0; i < 8; i++) {
      const rel: number[] = [];
      for (let t = 0; t < steps; t++) {
        const row = b.inputs.subarray((i * steps + t) * 6, (i * steps + t + 1) * 6);
        expect(row.reduce((s, x) => s + x, 0)).toBe(1);
        if (row[0] === 1 || row[1] === 1) rel.push(row[0] === 1 ? 0 : 1);
      }
      expect(rel.length).toBe(2);
      const cls = Array.from(b.targets.subarray(i * 4, i * 4 + 4)).indexOf(1);
      expect(cls).toBe(rel[0]! * 2 + rel[1]!);
    }
  });
});
