// The seed policy of every property test (issue 22). `npm test` is a gate: each `fc.assert`
// runs with a fixed seed, so a run fails only when the code changed. `npm run fuzz` sets
// GRADCLIP_FUZZ=1: the same properties then run with fresh seeds (and GRADCLIP_FUZZ_SCALE
// times the runs), and fast-check prints the seed and path of any counterexample — which
// then becomes a named regression case in the gate.
//
//   fc.assert(property, fcGate({ seed: 1207, numRuns: 400 }));
import type { Parameters } from 'fast-check';

/**
 * The seed every property runs with when a test forgot `fcGate` — set globally by the vitest
 * setup file (fc_setup.ts) as a safety net; fc_gate.test.ts fails the gate on such a test.
 */
export const GATE_SEED = 22_0022;

/** True under `npm run fuzz`. */
export const fuzzing: boolean = typeof process !== 'undefined' && !!process.env.GRADCLIP_FUZZ;

function fuzzScale(): number {
  const raw = typeof process !== 'undefined' ? process.env.GRADCLIP_FUZZ_SCALE : undefined;
  const scale = raw === undefined ? 1 : Number(raw);
  if (!(scale > 0) || !Number.isFinite(scale))
    throw new RangeError(`GRADCLIP_FUZZ_SCALE must be a positive number, got ${raw}`);
  return scale;
}

/** Parameters for `fc.assert`: the fixed seed in the gate, a fresh one when fuzzing. */
export function fcGate<T>(params: Parameters<T> & { seed: number }): Parameters<T> {
  if (!fuzzing) return params;
  const { seed: _seed, path: _path, ...rest } = params;
  return { ...rest, numRuns: Math.ceil((params.numRuns ?? 100) * fuzzScale()) };
}
