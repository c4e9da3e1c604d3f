import { describe, expect, it } from 'vitest';
import { clipByGlobalNorm } from './clip_by_global_norm.js';
import { clipByNorm } from './clip_by_norm.js';
import { clipByValue } from './clip_by_value.js';
import { globalNorm } from './global_norm.js';

const fresh = () => ({ a: new Float32Array([3, 4]), b: new Float64Array([12]) });
const snapshot = (g: ReturnType<typeof fresh>) => [Array.from(g.a), Array.from(g.b)];

describe('bad hyperparameters → RangeError naming the argument and the value; data untouched', () => {
  const cases: [string, (g: ReturnType<typeof fresh>) => unknown, RegExp][] = [
    ['negative maxNorm', (g) => clipByGlobalNorm(g, -1), /maxNorm.*-1/],
    ['NaN maxNorm', (g) => clipByGlobalNorm(g, NaN), /maxNorm.*NaN/],
    ['negative per-tensor maxNorm', (g) => clipByNorm(g, -0.5), /maxNorm.*-0\.5/],
    ['negative clipValue', (g) => clipByValue(g, -2), /clipValue.*-2/],
    ['NaN clipValue', (g) => clipByValue(g, NaN), /clipValue.*NaN/],
    ['normType 0', (g) => clipByGlobalNorm(g, 1, { normType: 0 }), /normType.*0/],
    ['negative normType', (g) => clipByGlobalNorm(g, 1, { normType: -2 }), /normType.*-2/],
    ['NaN normType', (g) => globalNorm(g, NaN), /normType.*NaN/],
    ['-Infinity normType', (g) => globalNorm(g, -Infinity), /normType.*-Infinity/],
    ['negative eps', (g) => clipByGlobalNorm(g, 1, { eps: -1e-6 }), /eps.*-0\.000001/],
    [
      'unknown nonFinite policy',
      (g) => clipByGlobalNorm(g, 1, { nonFinite: 'ignore' as never }),
      /nonFinite.*"ignore"/,
    ],
  ];
  for (const [name, call, message] of cases) {
    it(name, () => {
      const g = fresh();
      const before = snapshot(g);
      expect(() => call(g)).toThrow(RangeError);
      expect(() => call(g)).toThrow(message);
      expect(snapshot(g)).toEqual(before);
    });
  }
});

describe('bad gradients → TypeError naming the argument and the value; data untouched', () => {
  const bad: [string, unknown, RegExp][] = [
    ['an Int32Array', new Int32Array([1, 2]), /grads must be .*got Int32Array\(2\)/],
    ['a plain number array', [1, 2, 3], /grads\[0\] must be .*got 1/],
    ['a string', 'abc', /grads must be .*got "abc"/],
    ['a number', 5, /grads must be .*got 5/],
    ['a Uint8Array in a list', [new Float32Array([1]), new Uint8Array(3)], /grads\[1\] must be .*Uint8Array\(3\)/],
    ['a nested plain array in a record', { w: [1, 2] }, /grads\["w"\] must be .*plain array of length 2/],
    ['a Map', new Map(), /grads must be .*a Map/],
    [
      'shaped entry with Int16Array values',
      { values: new Int16Array(2), shape: [2] },
      /grads\.values must be .*Int16Array/,
    ],
  ];
  for (const [name, grads, message] of bad) {
    it(name, () => {
      expect(() => clipByGlobalNorm(grads as never, 1)).toThrow(TypeError);
      expect(() => clipByGlobalNorm(grads as never, 1)).toThrow(message);
      expect(() => clipByValue(grads as never, 1)).toThrow(TypeError);
      expect(() => clipByNorm(grads as never, 1)).toThrow(TypeError);
      expect(() => globalNorm(grads as never)).toThrow(TypeError);
    });
  }

  it('a bad entry after good ones leaves the good ones untouched', () => {
    const good = new Float32Array([30, 40]);
    expect(() => clipByGlobalNorm([good, new Int32Array(1) as never], 1)).toThrow(TypeError);
    expect(() => clipByValue([good, 'x' as never], 1)).toThrow(TypeError);
    expect(Array.from(good)).toEqual([30, 40]);
  });

  it('a shape that does not match the values is a RangeError', () => {
    expect(() => globalNorm({ values: new Float32Array(6), shape: [2, 2] })).toThrow(
      /shape \[2, 2\] holds 4 values but values has 6/,
    );
  });

  it('an unknown option is a TypeError (a typo would otherwise be ignored)', () => {
    expect(() => clipByGlobalNorm(new Float32Array(1), 1, { norm_type: 2 } as never)).toThrow(
      /unknown option 'norm_type'/,
    );
  });

  it('options.statistics for another p are refused', () => {
    expect(() =>
      clipByGlobalNorm(new Float32Array([1]), 1, { normType: 2, statistics: { p: 1, ref: 1, sum: 1, nan: 0, inf: 0 } }),
    ).toThrow(/statistics are for p = 1/);
  });
});

describe('edge values that are valid', () => {
  it('maxNorm = 0 zeroes the gradients (as PyTorch)', () => {
    const g = fresh();
    const r = clipByGlobalNorm(g, 0);
    expect(r.scale).toBe(0);
    expect(snapshot(g)).toEqual([[0, 0], [0]]);
  });

  it('maxNorm = 0 with eps = 0 on all-zero gradients gives zeros, not NaN', () => {
    const g = new Float32Array(3);
    const r = clipByGlobalNorm(g, 0, { eps: 0 });
    expect(r).toEqual({ norm: 0, scale: 1, clipped: false, finite: true });
    expect(Array.from(g)).toEqual([0, 0, 0]);
  });

  it('per-tensor maxNorm = 0 on a zero tensor gives zeros, not 0/0 = NaN', () => {
    const g = [new Float32Array(2), new Float32Array([3, 4])];
    clipByNorm(g, 0);
    expect([...g[0]!, ...g[1]!]).toEqual([0, 0, 0, 0]);
  });

  it('maxNorm = Infinity never clips', () => {
    const g = fresh();
    expect(clipByGlobalNorm(g, Infinity).clipped).toBe(false);
    expect(snapshot(g)).toEqual([[3, 4], [12]]);
  });

  it('clipValue clamps ±Infinity to ±c and keeps NaN', () => {
    const g = new Float64Array([Infinity, -Infinity, NaN, 0.5]);
    const r = clipByValue(g, 1);
    expect(Array.from(g)).toEqual([1, -1, NaN, 0.5]);
    expect(r.finite).toBe(false);
    expect(r.clipped).toBe(true);
  });
});

describe("tensors passed to the typed-array core point to 'gradclip/tfjs' (issue 22)", () => {
  const hint =
    /this is a tensor: for tf\.Tensor gradients import \{ clipByGlobalNorm, clipByNorm, clipByValue \} from 'gradclip\/tfjs'/;
  it('a tf.Tensor, a list, a record and NamedTensor[] of them, for every function', async () => {
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-cpu');
    await tf.setBackend('cpu');
    const t = tf.tensor([3, 4]);
    const calls: [unknown, RegExp][] = [
      [t, /^grads must be a Float32Array.*got a Tensor/],
      [[t], /^grads\[0\] must be a Float32Array.*got a Tensor/],
      [{ 'dense_Dense1/kernel': t }, /^grads\["dense_Dense1\/kernel"\] must be/],
      [[{ name: 'dense_Dense1/kernel', tensor: t }], /^grads\[0\] must be .*got a plain object/],
    ];
    for (const [g, where] of calls) {
      for (const f of [
        () => clipByGlobalNorm(g as never, 1),
        () => clipByNorm(g as never, 1),
        () => clipByValue(g as never, 1),
        () => globalNorm(g as never),
      ]) {
        expect(f).toThrow(TypeError);
        expect(f).toThrow(where);
        expect(f).toThrow(hint);
      }
    }
    expect(Array.from(t.dataSync())).toEqual([3, 4]);
    t.dispose();
  });

  it('a jax-js-like array ({ shape, dtype }) gets the pointer; other bad values do not', () => {
    // jax-js arrays are class instances with shape and dtype (a plain object is a record of gradients).
    const jaxLike = new (class JaxArray {
      shape = [2];
      dtype = 'float32';
    })();
    expect(() => clipByGlobalNorm(jaxLike as never, 1)).toThrow(hint);
    expect(() => clipByGlobalNorm([new Int32Array(2)] as never, 1)).not.toThrow(hint);
    expect(() => clipByGlobalNorm(['abc'] as never, 1)).not.toThrow(hint);
  });
});
