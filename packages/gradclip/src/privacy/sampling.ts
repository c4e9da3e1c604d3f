import { describe } from '../gradients.js';
import { checkSampleRate } from './rdp.js';
import { checkRandomSource, uniformFrom, type RandomSource } from './random.js';

/**
 * Poisson sampling, the batch selection DP-SGD's accountant assumes (Abadi et al. 2016;
 * Mironov, Talwar & Zhang 2019): each of the `n` examples is in the batch independently with
 * probability q, so the batch size is Binomial(n, q) — sometimes larger, sometimes smaller
 * than q·n, possibly empty. Returns the chosen indices in increasing order.
 *
 * Fixed-size shuffled batches are what most non-private training uses, but the RDP analysis
 * of the sampled Gaussian mechanism does not cover them (their privacy amplification is
 * weaker and is not what `RDPAccountant` computes).
 *
 * `random` is required (`secureRandom()` for private training); each draw is checked to lie in (0, 1).
 */
export function poissonSample(n: number, sampleRate: number, random: RandomSource): Uint32Array {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be an integer ≥ 0, got ${describe(n)}`);
  const q = checkSampleRate('sampleRate', sampleRate);
  const rng = checkRandomSource('random', random);
  const picked: number[] = [];
  for (let i = 0; i < n; i++) if (uniformFrom(rng) < q) picked.push(i);
  return Uint32Array.from(picked);
}
