/**
 * From the page's settings to gradclip clippers: typed-array clippers for the Pascanu panel
 * (two numbers, w and b) and the tensor clipping step for the RNN being trained.
 */
import * as tf from '@tensorflow/tfjs-core';
import { globalNormClipper, perTensorNormClipper, valueClipper, type Clipper } from 'gradclip';
import type { Settings } from './settings.js';
import type { ClipOutput, ClipStep } from './train.js';

/** A typed-array clipper for the chosen method, or null for "none". */
export function typedClipper(s: Settings): Clipper | null {
  switch (s.method) {
    case 'none':
      return null;
    case 'globalNorm':
      return globalNormClipper(s.threshold);
    case 'value':
      return valueClipper(s.threshold);
    case 'perTensor':
      return perTensorNormClipper(s.threshold);
    default:
      throw new Error(`${s.method} is not available yet`);
  }
}

/** The threshold on the gradient norm when it is fixed by the settings (else null). */
export function fixedNormThreshold(s: Settings): number | null {
  return s.method === 'globalNorm' || s.method === 'perTensor' ? s.threshold : null;
}

/**
 * The clipping step the trainer calls. INTERIM: round-trips through the typed-array clipper
 * until gradclip/tfjs lands.
 */
export function tensorClipStep(s: Settings): ClipStep {
  const clipper = typedClipper(s);
  const threshold = fixedNormThreshold(s);
  const apply = (grads: tf.NamedTensorMap, params: tf.NamedTensorMap): ClipOutput => {
    const names = Object.keys(grads);
    const g: Record<string, { values: Float32Array; shape: number[] }> = {};
    const p: Record<string, { values: Float32Array; shape: number[] }> = {};
    for (const n of names) {
      g[n] = { values: grads[n]!.dataSync() as Float32Array, shape: grads[n]!.shape };
      p[n] = { values: params[n]!.dataSync() as Float32Array, shape: params[n]!.shape };
    }
    let pre = 0;
    for (const n of names) for (const x of g[n]!.values) pre += x * x;
    pre = Math.sqrt(pre);
    const clipped = clipper === null ? false : clipper.clip(g, p).clipped;
    const out: tf.NamedTensorMap = {};
    for (const n of names) out[n] = tf.tensor(g[n]!.values, g[n]!.shape);
    return { grads: out, preNorm: tf.scalar(pre), threshold: threshold === null ? null : tf.scalar(threshold), clipped: tf.scalar(clipped ? 1 : 0) };
  };
  return { apply, dispose: () => undefined };
}
