import type { ArrayOps } from './ops.js';
import type { ClipResult, NonFinitePolicy } from './types.js';

/** What a rule returns on any backend: new (or, for typed arrays, the same) tensors and a report. */
export interface RuleOutput<T, S, B> {
  grads: T[];
  /** Pre-clip norm. */
  norm: S;
  /** Applied factor (smallest factor for per-tensor / per-unit rules). */
  scale: S;
  clipped: B;
  finite: B;
}

/** Converts a typed-array rule's output into the public report. */
export function toClipResult(out: RuleOutput<unknown, number, boolean>): ClipResult {
  return { norm: out.norm, scale: out.scale, clipped: out.clipped, finite: out.finite };
}

export class NonFiniteGradientError extends RangeError {
  constructor(what: string) {
    super(`${what} contain NaN or ±Infinity (nonFinite: 'error'); nothing was changed`);
    this.name = 'NonFiniteGradientError';
  }
}

/**
 * Applies a clipping step under a non-finite policy. `clip` produces the clipped tensors and
 * the factor it applied; it runs only when it is needed ('propagate', or finite input), so on
 * typed arrays nothing is written before the decision is made.
 *   propagate — whatever the arithmetic gives (PyTorch);
 *   error     — throw before touching anything;
 *   skip      — leave the gradients as they are (factor 1);
 *   zero      — replace every gradient by zeros (factor 0).
 */
export function withNonFinitePolicy<T, S, B>(
  ops: ArrayOps<T, S, B>,
  policy: NonFinitePolicy,
  finite: B,
  grads: T[],
  clip: () => { grads: T[]; scale: S; clipped: B },
): { grads: T[]; scale: S; clipped: B } {
  if (policy === 'propagate') return clip();
  if (policy === 'error') {
    if (!ops.readBool(finite)) throw new NonFiniteGradientError('the gradients');
    return clip();
  }
  let scale = ops.scalar(1);
  let clipped = ops.bool(false);
  const out = ops.choose(
    finite,
    () => {
      const r = clip();
      scale = r.scale;
      clipped = r.clipped;
      return r.grads;
    },
    () => (policy === 'zero' ? grads.map((g) => ops.zeros(g)) : grads),
  );
  const fallback = ops.scalar(policy === 'zero' ? 0 : 1);
  return {
    grads: out,
    scale: ops.where(finite, scale, fallback),
    clipped: policy === 'zero' ? ops.or(ops.not(finite), ops.and(finite, clipped)) : ops.and(finite, clipped),
  };
}
