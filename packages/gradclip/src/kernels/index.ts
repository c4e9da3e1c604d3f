import { describe } from '../gradients.js';
import { jsKernels } from './js.js';
import type { Kernels } from './kernels.js';
import { loadWasmKernels, wasmUnavailableReason } from './wasm.js';

export type { Kernels, PowSumMax, FiniteMax } from './kernels.js';
export { jsKernels } from './js.js';
export { loadWasmKernels } from './wasm.js';
export { gradientArena, type GradientArena, type GradientArenaOptions, type ArenaDtype } from './arena.js';

/** Which kernels to use: the WASM SIMD ones, the plain-JS ones, or the best available. */
export type KernelChoice = 'wasm' | 'js' | 'auto';

// Chosen lazily on first use, so importing the library has no side effects.
let active: Kernels | undefined;
let wasm: Kernels | null | undefined;

function wasmKernels(): Kernels | null {
  if (wasm === undefined) wasm = loadWasmKernels();
  return wasm;
}

/**
 * The kernels the typed-array functions use now: by default the WASM SIMD kernels where the
 * engine supports WebAssembly SIMD (Node ≥ 16.4, Chrome ≥ 91, Firefox ≥ 89, Safari ≥ 16.4),
 * else the plain-JS ones.
 */
export function kernels(): Kernels {
  if (active === undefined) active = wasmKernels() ?? jsKernels;
  return active;
}

/** The functions every `Kernels` implementation must have (powSumMaxSet / scaleSet are optional). */
const REQUIRED = ['powSumMax', 'finiteMax', 'scaledPowSum', 'scale', 'clamp'] as const;
const OPTIONAL = ['powSumMaxSet', 'scaleSet'] as const;

/**
 * Replaces the active kernels with any implementation of `Kernels` (e.g. `jsKernels`, or the
 * kernels `useKernels` returned). Throws a TypeError naming what is missing when `k` is not an
 * object with a string `name` and the kernel functions, instead of letting the next clip fail
 * somewhere inside the library; the active kernels are then left as they were.
 */
export function setKernels(k: Kernels): void {
  if (typeof k !== 'object' || k === null) {
    throw new TypeError(`setKernels: k must be a Kernels object (name, ${REQUIRED.join(', ')}), got ${describe(k)}`);
  }
  const rec = k as unknown as Record<string, unknown>;
  const wrong: string[] = [];
  if (typeof rec['name'] !== 'string') wrong.push(`name (a string, got ${describe(rec['name'])})`);
  for (const f of REQUIRED) if (typeof rec[f] !== 'function') wrong.push(`${f} (a function, got ${describe(rec[f])})`);
  for (const f of OPTIONAL)
    if (rec[f] !== undefined && typeof rec[f] !== 'function')
      wrong.push(`${f} (optional, but a function if given, got ${describe(rec[f])})`);
  if (wrong.length > 0)
    throw new TypeError(`setKernels: k is not a Kernels object: missing or wrong ${wrong.join('; ')}`);
  active = k;
}

/**
 * Forces a kernel set: `'js'` (the plain-JS reference), `'wasm'` (throws an Error saying why
 * when WebAssembly SIMD is unavailable), or `'auto'` (the default choice). Returns the
 * kernels now in use. Results agree between the two up to float64 summation order.
 *
 * @example
 * useKernels('js');   // e.g. to compare speed
 * useKernels('auto');
 */
export function useKernels(choice: KernelChoice): Kernels {
  if (choice === 'js') active = jsKernels;
  else if (choice === 'auto') active = wasmKernels() ?? jsKernels;
  else if (choice === 'wasm') {
    const k = wasmKernels();
    if (k === null) throw new Error(`useKernels('wasm'): ${wasmUnavailableReason() ?? 'unavailable'}`);
    active = k;
  } else {
    throw new RangeError(`useKernels: choice must be 'wasm', 'js' or 'auto', got ${JSON.stringify(choice)}`);
  }
  return active;
}
