/**
 * tfjs helpers for the peer suites: the cpu backend, and an optimizer whose applyGradients
 * records what it was given — the gradients after clipping — so a case can compare them with
 * what Keras's `_clip_gradients` / TF's clip ops return.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers the gradient functions minimize() needs

export async function useCpu(): Promise<void> {
  if (!(await tf.setBackend('cpu'))) throw new Error('tfjs cpu backend failed to initialise');
  await tf.ready();
}

type NamedTensor = { name: string; tensor: tf.Tensor };

/** Wraps `inner.applyGradients` so each call's gradients (by variable name) are kept as Float32Arrays. */
export function recording<O extends tf.Optimizer>(inner: O): { optimizer: O; calls: Map<string, Float32Array>[] } {
  const calls: Map<string, Float32Array>[] = [];
  const apply = inner.applyGradients.bind(inner);
  inner.applyGradients = (grads: tf.NamedTensorMap | NamedTensor[]) => {
    const list = Array.isArray(grads) ? grads : Object.entries(grads).map(([name, tensor]) => ({ name, tensor }));
    calls.push(new Map(list.filter((g) => g.tensor != null).map((g) => [g.name, g.tensor.dataSync() as Float32Array])));
    apply(grads);
  };
  return { optimizer: inner, calls };
}

let serial = 0;
/** A uniquely named variable (tfjs optimizers find variables by name). */
export function variable(values: number[], shape?: number[]): tf.Variable {
  return tf.variable(shape === undefined ? tf.tensor1d(values) : tf.tensor(values, shape), true, `peer_${serial++}`);
}

export const read = (t: tf.Tensor): number[] => Array.from(t.dataSync());
