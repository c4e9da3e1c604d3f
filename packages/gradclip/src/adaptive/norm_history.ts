import type { ArrayOps } from '../ops.js';
import type { StateTree } from '../clipper.js';

/*
 * AutoClip's norm histories per backend, apart from the rule: a backend module (gradclip/tfjs's
 * device history) registers its history here without bringing AutoClip itself into a bundle.
 */

/**
 * The history of norms with percentile queries — the one part of AutoClip that is not the
 * same code on every backend (a device backend keeps a fixed-size buffer of tensors and
 * sorts it there). Register an implementation for a backend with `registerNormHistory`.
 */
export interface NormHistory<S, B> {
  /** Appends x unless `valid` is false (non-finite norms never enter the history). */
  push(x: S, valid: B): void;
  /** NumPy-linear percentile (q in [0, 100]) of the history; NaN when it is empty. */
  percentile(q: number): S;
  /** The history as state (plain data on typed arrays). */
  toState(): StateTree<S>;
}

/** Makes a backend's history from a state (`undefined`: an empty history). */
export type NormHistoryFactory = <T, S, B>(
  ops: ArrayOps<T, S, B>,
  state: StateTree<S> | undefined,
  historySize: number,
) => NormHistory<S, B>;

const factories = new Map<string, NormHistoryFactory>();

/** Tells AutoClip how to keep its history on a backend (keyed by `ops.name`). */
export function registerNormHistory(opsName: string, factory: NormHistoryFactory): void {
  factories.set(opsName, factory);
}

export function historyFor<T, S, B>(ops: ArrayOps<T, S, B>): NormHistoryFactory {
  const f = factories.get(ops.name);
  if (f === undefined) {
    throw new TypeError(
      `autoClip has no norm history for backend '${ops.name}': register one with registerNormHistory`,
    );
  }
  return f;
}
