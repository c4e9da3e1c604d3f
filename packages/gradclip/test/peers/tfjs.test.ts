/**
 * TensorFlow.js's clipByValue tests, translated: tensorflow/tfjs
 * tfjs-core/src/ops/clip_by_value_test.ts (HEAD 0fc04d9, Jun 2025), onto gradclip's value
 * clipping — clipByValue on typed arrays and valueTensorClipper on tf.Tensor (cpu backend).
 *
 * gradclip clamps to a symmetric [−c, c] (PyTorch clip_grad_value_, Keras clipvalue); tf.clipByValue
 * takes any [min, max]. So only the upstream cases about validation and input types carry over.
 *
 * Differs on purpose:
 *   - 'throws when passed a non-tensor' — `{}` is an empty gradient record to gradclip (records
 *     of gradients are accepted), so it is a no-op; a non-tensor *entry* is the TypeError.
 *   - 'accepts a tensor-like object' — gradclip accepts Float32Array / Float64Array (and tensors
 *     in gradclip/tfjs), not plain number arrays: a TypeError names what it got.
 *   - 'clip int32 tensor' — gradients are float32 tensors (tfjs's only float type); an int32 one
 *     is refused with a TypeError instead of being clamped as integers.
 *
 * No gradclip counterpart (not translated): 'basic', 'basic vec4', 'propagates NaNs',
 * 'clip(x, eps, 1-eps) never returns 0 or 1', 'clip min = max' (asymmetric bounds [min, max];
 * NaN propagation itself is covered by TensorFlow's testClipByValueNonFinite in
 * tensorflow.test.ts), and the five 'gradient: …' cases (the gradient *of* clipByValue; gradclip
 * is not differentiated).
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { clipByValue } from 'gradclip';
import { valueTensorClipper } from 'gradclip/tfjs';
import { read, useCpu } from './tfjs_util.js';

const SRC = "tensorflow/tfjs tfjs-core/src/ops/clip_by_value_test.ts describeWithFlags('clipByValue')";

describe(`tfjs peer suite (${SRC})`, () => {
  beforeAll(useCpu);

  it(`${SRC} 'min greater than max' (−c > c: a negative clip value throws)`, () => {
    const values = [3, -1, 0, 100, -7, 2];
    const a = new Float32Array(values);
    expect(() => clipByValue(a, -1)).toThrow(RangeError);
    expect(Array.from(a)).toEqual(values);
    expect(() => valueTensorClipper(-1)).toThrow(RangeError);
  });

  it(`${SRC} 'throws when passed a non-tensor' — differs on purpose: {} is an empty gradient record; a non-tensor entry throws`, () => {
    expect(clipByValue({}, 1)).toMatchObject({ clipped: false, finite: true });
    expect(() => clipByValue({ x: {} } as never, 1)).toThrow(TypeError);
    const clipper = valueTensorClipper(1);
    expect(() =>
      tf.tidy(() => {
        clipper.clip({ x: {} } as never);
      }),
    ).toThrow(TypeError);
    clipper.dispose();
  });

  it(`${SRC} 'accepts a tensor-like object' — differs on purpose: a plain number array is refused with a TypeError`, () => {
    const plain = [3, -1, 0, 100, -7, 2];
    expect(() => clipByValue(plain as never, 50)).toThrow(TypeError);
    expect(() => clipByValue(plain as never, 50)).toThrow(/Float32Array or Float64Array/);
    expect(plain).toEqual([3, -1, 0, 100, -7, 2]);
    // the typed form of the same data is clipped
    const typed = new Float32Array(plain);
    clipByValue(typed, 50);
    expect(Array.from(typed)).toEqual([3, -1, 0, 50, -7, 2]);
  });

  it(`${SRC} 'throws for string tensor'`, () => {
    expect(() => clipByValue('q' as never, 1)).toThrow(TypeError);
    const clipper = valueTensorClipper(1);
    const s = tf.tensor(['q']);
    expect(() =>
      tf.tidy(() => {
        clipper.clip([s]);
      }),
    ).toThrow(TypeError);
    s.dispose();
    clipper.dispose();
  });

  it(`${SRC} 'clip int32 tensor' — differs on purpose: gradients must be float32, an int32 tensor is refused`, () => {
    expect(() => clipByValue(new Int32Array([2, 3, 4]) as never, 50)).toThrow(TypeError);
    const clipper = valueTensorClipper(50);
    const t = tf.tensor([2, 3, 4], [3], 'int32');
    expect(() =>
      tf.tidy(() => {
        clipper.clip([t]);
      }),
    ).toThrow(TypeError);
    expect(read(t)).toEqual([2, 3, 4]);
    t.dispose();
    clipper.dispose();
  });
});
