/**
 * From the page's settings to gradclip clippers. Each method is built once, as gradclip's
 * typed-array `Clipper`; the Pascanu panel uses it directly on two numbers (w, b), and the
 * RNN's training step runs the same rule on tf.Tensors through `tensorClipper` from
 * `gradclip/tfjs` (state in tf.Variables, no host reads inside the step).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  adaGC,
  agc,
  autoClip,
  globalNormClipper,
  perTensorNormClipper,
  valueClipper,
  zClip,
  type Clipper,
} from 'gradclip';
import { tensorClipper } from 'gradclip/tfjs';
import type { Settings } from './settings.js';
import type { ClipOutput, ClipStep } from './train.js';

/** The typed-array clipper of the chosen method (a fresh state), or null for "none". */
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
    case 'agc':
      return agc({ clipping: s.agcClipping });
    case 'autoClip':
      return autoClip({ percentile: s.percentile });
    case 'zClip':
      return zClip({
        zThresh: s.zThresh,
        alpha: s.ema,
        warmupSteps: s.warmup,
        // The page's τ is ZClip's fixed cap; 0 means no cap.
        maxGradNorm: s.threshold > 0 ? s.threshold : null,
      });
    case 'adaGC':
      return adaGC({ lambdaRel: s.lambdaRel, beta: s.ema, warmupSteps: s.warmup });
  }
}

/** The threshold on the total gradient norm when the settings fix it (else null). */
export function fixedNormThreshold(s: Settings): number | null {
  return s.method === 'globalNorm' ? s.threshold : null;
}

const l2 = (grads: tf.NamedTensorMap): tf.Scalar =>
  tf.tidy(() => tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))) as tf.Scalar);

/** The trainer's clipping step for the chosen method. */
export function tensorClipStep(s: Settings): ClipStep {
  const typed = typedClipper(s);
  if (typed === null) {
    // No clipping: the gradients pass unchanged; only their norm is measured for the charts.
    return {
      apply: (grads): ClipOutput => {
        const out: tf.NamedTensorMap = {};
        for (const [n, g] of Object.entries(grads)) out[n] = tf.clone(g);
        return { grads: out, preNorm: l2(grads), threshold: null, clipped: tf.scalar(0) };
      },
      dispose: () => undefined,
    };
  }
  const fixed = fixedNormThreshold(s);
  // From the rule (fresh state made on the device), not from the typed clipper's state:
  // the method starts from scratch either way.
  const clipper = tensorClipper(typed.rule);
  return {
    apply: (grads, params): ClipOutput => {
      const r = clipper.clip(grads, params);
      // Value / per-tensor / AGC report the L2 norm of the whole set too; the threshold
      // line is drawn for the rules whose threshold bounds that norm.
      const threshold = r.threshold ?? (fixed === null ? null : tf.scalar(fixed));
      r.scale.dispose();
      r.finite.dispose();
      return { grads: r.grads as tf.NamedTensorMap, preNorm: r.norm, threshold, clipped: r.clipped };
    },
    dispose: () => clipper.dispose(),
  };
}
