/** A buffer of gradient or parameter values. Only floating-point data can be clipped. */
export type FloatArray = Float32Array | Float64Array;

/** Values with their shape; the shape is needed by unit-wise rules such as AGC. */
export interface Shaped {
  readonly values: FloatArray;
  readonly shape: readonly number[];
}

/** One gradient. `null` / `undefined` means "this parameter has no gradient" and is skipped. */
export type Entry = FloatArray | Shaped | null | undefined;

/** A single gradient, a list of them, or a record keyed by parameter name. */
export type GradientSet = Entry | readonly Entry[] | Readonly<Record<string, Entry>>;

/** What to do when a NaN or ±Infinity is found in the gradients. */
export type NonFinitePolicy = 'propagate' | 'error' | 'skip' | 'zero';

/** The report every clipping call returns. */
export interface ClipResult {
  /** Total norm of the gradients before clipping (the p-norm in use; L2 for value / per-tensor rules). */
  norm: number;
  /** Factor applied to all gradients (1 when untouched; per-tensor / per-unit rules report the smallest factor). */
  scale: number;
  /** Whether any value was changed. */
  clipped: boolean;
  /** False when a NaN or ±Infinity was seen in the gradients. */
  finite: boolean;
  /** The threshold in force this step, reported by rules whose threshold moves (AutoClip, ZClip). */
  threshold?: number;
  /** For a chain of rules (`chainRule`): each rule's own report, in order. */
  steps?: ClipResult[];
}
