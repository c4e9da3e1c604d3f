import { jsKernels } from './js.js';
import type { Kernels } from './kernels.js';

export type { Kernels, PowSumMax, FiniteMax } from './kernels.js';
export { jsKernels } from './js.js';

let active: Kernels = jsKernels;

/** The kernels the typed-array functions use now. */
export function kernels(): Kernels {
  return active;
}

/** Replaces the active kernels (used to force the JS path in tests and benchmarks). */
export function setKernels(k: Kernels): void {
  active = k;
}
