import * as tf from '@tensorflow/tfjs-core';
import type { Captured } from './model.js';

/**
 * Squared per-example gradient norms of a linear map z = x·W (+ b), from the layer input X
 * ([B, T, K], T positions sharing W: sequence steps, or image patches for a convolution) and
 * the output gradient Δ = ∂L/∂z ([B, T, P]) — without forming the B per-example gradients
 * Gᵢ = Xᵢᵀ Δᵢ ([K, P] each):
 *
 *   T = 1:   ‖Gᵢ‖² = ‖xᵢ‖² ‖δᵢ‖²                                     (Goodfellow 2015)
 *   T > 1:   ‖Gᵢ‖² = ⟨Xᵢ Xᵢᵀ, Δᵢ Δᵢᵀ⟩_F  (two T×T Gram matrices)     (Li et al. 2021, "ghost norm")
 *            or Σ (Xᵢᵀ Δᵢ)² when that is smaller: 2T² > K·P         (Bu et al. 2023, "book-keeping"
 *            chooses per layer the same way; both are exact)
 *   bias:    ‖Σ_t Δᵢₜ‖²
 *
 * Memory: B·T² or B·K·P floats for one layer at a time, against B·(all parameters) for
 * materialised per-example gradients.
 */
export function linearNormSq(x: tf.Tensor3D, delta: tf.Tensor3D, withBias: boolean): tf.Tensor1D {
  return tf.tidy(() => {
    const [, t, k] = x.shape;
    const p = delta.shape[2];
    let w: tf.Tensor1D;
    if (t === 1) {
      w = tf.mul(tf.sum(tf.square(x), [1, 2]), tf.sum(tf.square(delta), [1, 2]));
    } else if (2 * t * t <= k * p) {
      const gx = tf.matMul(x, x, false, true);
      const gd = tf.matMul(delta, delta, false, true);
      w = tf.sum(tf.mul(gx, gd), [1, 2]);
    } else {
      w = tf.sum(tf.square(tf.matMul(x, delta, true, false)), [1, 2]);
    }
    return withBias ? tf.add(w, tf.sum(tf.square(tf.sum(delta, 1)), 1)) : w;
  });
}

/**
 * Squared per-example norms of an embedding's gradient: example i's gradient row v is the sum
 * of the output gradients δₜ at the positions whose index is v, so
 *   ‖Gᵢ‖² = Σ_{t,s : idxₜ = idxₛ} δₜ·δₛ
 * (a T×T Gram matrix masked by index equality; Li et al. 2021, appendix).
 */
export function embeddingNormSq(indices: tf.Tensor2D, delta: tf.Tensor3D): tf.Tensor1D {
  return tf.tidy(() => {
    if (indices.shape[1] === 1) return tf.sum(tf.square(delta), [1, 2]);
    const same = tf.cast(tf.equal(tf.expandDims(indices, 2), tf.expandDims(indices, 1)), 'float32');
    return tf.sum(tf.mul(same, tf.matMul(delta, delta, false, true)), [1, 2]);
  });
}

/**
 * im2col by convolution: a one-hot kernel of shape [kh, kw, c, kh·kw·c] copies every receptive
 * field into the channels, so the result [B, Ho, Wo, kh·kw·c] is the patch matrix that the
 * convolution multiplies by its kernel reshaped to [kh·kw·c, filters] (same strides, padding,
 * dilation). Multiplying by 1 and adding 0 is exact: the patches are the inputs bit for bit.
 */
export function patches(
  x: tf.Tensor4D,
  kernelShape: readonly number[],
  strides: [number, number],
  padding: 'valid' | 'same',
  dilations: [number, number],
): tf.Tensor3D {
  return tf.tidy(() => {
    const [kh, kw, c] = kernelShape as [number, number, number];
    const k = kh * kw * c;
    const eye = tf.reshape(tf.eye(k), [kh, kw, c, k]) as tf.Tensor4D;
    const cols = tf.conv2d(x, eye, strides, padding, 'NHWC', dilations);
    return tf.reshape(cols, [x.shape[0], -1, k]);
  });
}

/**
 * Squared per-example gradient norm of one trainable layer, from its captured calls and ∂L/∂z
 * for each call's probe. A layer called U times (shared in a functional model) has the
 * per-example gradient Gᵢ = Σᵤ Xᵢ⁽ᵘ⁾ᵀ Δᵢ⁽ᵘ⁾ — the sum over calls, whose norm is not the sum of
 * the calls' norms: ‖Gᵢ‖² = Σᵤ,ᵥ ⟨Xᵢ⁽ᵘ⁾ᵀΔᵢ⁽ᵘ⁾, Xᵢ⁽ᵛ⁾ᵀΔᵢ⁽ᵛ⁾⟩, with cross terms (xᵢ⁽ᵘ⁾·xᵢ⁽ᵛ⁾)(δᵢ⁽ᵘ⁾·δᵢ⁽ᵛ⁾)
 * for T = 1. That sum is exactly Xᵢᵀ Δᵢ for the calls stacked along the position axis
 * (Xᵢ = [Xᵢ⁽¹⁾; …; Xᵢ⁽ᵁ⁾], the same for Δᵢ), so the calls are concatenated along T and the
 * one-call formulas (their Gram route computes every cross term) apply unchanged; for an
 * embedding the stacked indices and output gradients give the same.
 */
export function layerNormSq(calls: readonly Captured[], deltas: readonly tf.Tensor[]): tf.Tensor1D {
  return tf.tidy(() => {
    const step = calls[0]!.step;
    const b = deltas[0]!.shape[0]!;
    const cat = <T extends tf.Tensor>(ts: T[]): T => (ts.length === 1 ? ts[0]! : (tf.concat(ts, 1) as T));
    switch (step.kind) {
      case 'dense': {
        const p = step.kernel.shape[1]!;
        const xs = cat(calls.map((c) => c.input as tf.Tensor3D));
        return linearNormSq(xs, cat(deltas.map((d) => tf.reshape(d, [b, -1, p]) as tf.Tensor3D)), step.bias !== null);
      }
      case 'conv2d': {
        const p = step.kernel.shape[3]!;
        const cols = cat(
          calls.map((c) =>
            patches(c.input as tf.Tensor4D, step.kernel.shape, step.strides, step.padding, step.dilations),
          ),
        );
        return linearNormSq(cols, cat(deltas.map((d) => tf.reshape(d, [b, -1, p]) as tf.Tensor3D)), step.bias !== null);
      }
      case 'embedding': {
        const d = step.embeddings.shape[1]!;
        const idx = cat(calls.map((c) => c.input as tf.Tensor2D));
        return embeddingNormSq(idx, cat(deltas.map((g) => tf.reshape(g, [b, -1, d]) as tf.Tensor3D)));
      }
      default:
        throw new Error('unreachable: weightless layers are not captured');
    }
  });
}
