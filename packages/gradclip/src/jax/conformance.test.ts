/**
 * gradclip/jax gives the core's numbers: every transformation against its typed-array twin (the
 * same rule run by the core's Clipper on Float32Arrays) on random trees over several steps,
 * float32, 1e-5 relative (differences below 1e-6 of the step's largest |value| ignored: a value
 * that is 0 in float64 may be 1e-12 in float32).
 */
import { blockUntilReady, numpy as np } from '@jax-js/jax';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { adaGC as typedAdaGC } from '../adaptive/ada_gc.js';
import { agc as typedAgc } from '../adaptive/agc.js';
import { autoClip as typedAutoClip } from '../adaptive/auto_clip.js';
import { perGroup as typedPerGroup } from '../adaptive/groups.js';
import { zClip as typedZClip } from '../adaptive/z_clip.js';
import { globalNormClipper, perTensorNormClipper, valueClipper, type Clipper } from '../clipper.js';
import { globalNormRuleOf } from '../clipper.js';
import { fcGate } from '../../test/fc_gate.js';
import {
  adaGC,
  agc,
  autoClip,
  clipByGlobalNorm,
  clipByNorm,
  clipByValue,
  perGroup,
  zClip,
  type GradientTransformation,
} from './index.js';
import { refTree } from './transform.js';
import { disposeTree } from './tree.js';

interface Twin {
  name: string;
  jax: () => GradientTransformation;
  typed: () => Clipper;
  params?: boolean;
}

const TWINS: Twin[] = [
  { name: 'clipByGlobalNorm', jax: () => clipByGlobalNorm(1), typed: () => globalNormClipper(1, { eps: 0 }) },
  {
    name: 'clipByGlobalNorm p=3 eps 1e-6',
    jax: () => clipByGlobalNorm(0.7, { normType: 3, eps: 1e-6 }),
    typed: () => globalNormClipper(0.7, { normType: 3 }),
  },
  {
    name: 'clipByGlobalNorm p=Infinity',
    jax: () => clipByGlobalNorm(0.5, { normType: Infinity }),
    typed: () => globalNormClipper(0.5, { normType: Infinity, eps: 0 }),
  },
  { name: 'clipByNorm', jax: () => clipByNorm(0.8), typed: () => perTensorNormClipper(0.8) },
  { name: 'clipByValue', jax: () => clipByValue(0.4), typed: () => valueClipper(0.4) },
  { name: 'agc', jax: () => agc(0.05), typed: () => typedAgc({ clipping: 0.05 }), params: true },
  {
    name: 'agc torch',
    jax: () => agc(0.1, { layout: 'torch' }),
    typed: () => typedAgc({ clipping: 0.1, layout: 'torch' }),
    params: true,
  },
  { name: 'autoClip', jax: () => autoClip({ percentile: 30 }), typed: () => typedAutoClip({ percentile: 30 }) },
  {
    name: 'autoClip historySize 2',
    jax: () => autoClip({ historySize: 2 }),
    typed: () => typedAutoClip({ historySize: 2 }),
  },
  {
    name: 'zClip',
    jax: () => zClip({ warmupSteps: 2, zThresh: 0.5, alpha: 0.5 }),
    typed: () => typedZClip({ warmupSteps: 2, zThresh: 0.5, alpha: 0.5 }),
  },
  { name: 'adaGC', jax: () => adaGC({ warmupSteps: 2 }), typed: () => typedAdaGC({ warmupSteps: 2 }) },
  {
    name: 'perGroup',
    jax: () => perGroup([{ match: 'b*', clip: clipByValue(0.1) }], clipByGlobalNorm(0.5)),
    typed: () => typedPerGroup([{ match: 'b*', clipper: valueClipper(0.1) }], globalNormRuleOf(0.5, { eps: 0 })),
  },
];

/** A record of 1–3 leaves named a, b, c with small shapes, and `steps` gradient sets for them. */
const trees = fc
  .record({
    shapes: fc.array(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 3 }), {
      minLength: 1,
      maxLength: 3,
    }),
    steps: fc.integer({ min: 1, max: 4 }),
    scale: fc.constantFrom(1e-30, 0.01, 1, 30, 1e15, 1e25),
    seed: fc.integer({ min: 1, max: 2 ** 30 }),
  })
  .map(({ shapes, steps, scale, seed }) => {
    let s = seed;
    const rand = () => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s / 2 ** 32;
    };
    const names = ['a', 'b', 'c'].slice(0, shapes.length);
    const make = () =>
      names.map((name, i) => {
        const n = shapes[i]!.reduce((a, b) => a * b, 1);
        return { name, shape: shapes[i]!, values: Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale) };
      });
    return { params: make(), grads: Array.from({ length: steps }, make) };
  });

type Leaves = { name: string; shape: number[]; values: Float32Array }[];

const jaxTree = (ls: Leaves) =>
  Object.fromEntries(ls.map((l) => [l.name, np.array(Float32Array.from(l.values)).reshape(l.shape)]));
const typedTree = (ls: Leaves) =>
  Object.fromEntries(ls.map((l) => [l.name, { values: Float32Array.from(l.values), shape: l.shape }]));

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>, floor: number): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y))) continue;
    const d = Math.abs(x - y);
    if (!(d <= floor)) m = Math.max(m, d / Math.max(Math.abs(x), Math.abs(y)));
  }
  return m;
}

describe('gradclip/jax conformance with the typed-array core', () => {
  it.each(TWINS)('$name', async (twin) => {
    await fc.assert(
      fc.asyncProperty(trees, async ({ params, grads }) => {
        const t = twin.jax();
        const c = twin.typed();
        const jp = jaxTree(params);
        let state = t.init(refTree(jp));
        for (const g of grads) {
          const tg = typedTree(g);
          c.clip(tg, twin.params ? typedTree(params) : undefined);
          const [out, next] = t.update(jaxTree(g), state, twin.params ? refTree(jp) : undefined);
          state = next;
          await blockUntilReady(out);
          const biggest = Math.max(...g.flatMap((l) => Array.from(l.values, Math.abs)));
          for (const l of g) {
            const got = (out as Record<string, np.Array>)[l.name]!.ref.dataSync() as Float32Array;
            const want = tg[l.name]!.values;
            expect(maxRelDiff(got, want, biggest * 1e-6), `${twin.name} leaf ${l.name}`).toBeLessThan(1e-5);
          }
          disposeTree(out);
        }
        disposeTree(state);
        disposeTree(jp);
        t.dispose?.();
      }),
      fcGate({ seed: 2020, numRuns: 12 }),
    );
  });
});
