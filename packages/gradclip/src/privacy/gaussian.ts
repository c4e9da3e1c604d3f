import { describe } from '../gradients.js';
import { knownOptions } from '../validate.js';
import { checkRandomSource, insecureSeededRandom, secureRandom, uniformFrom, type RandomSource } from './random.js';

export interface GaussianNoiseOptions {
  /**
   * Seed for a reproducible, NON-PRIVATE generator — tests only. Noise drawn from a known
   * seed can be recomputed and subtracted, so it gives no privacy at all. Leave unset in
   * real training (the default draws from `crypto.getRandomValues`).
   */
  readonly insecureSeed?: number;
  /** A random source to draw from (not together with `insecureSeed`). */
  readonly random?: RandomSource;
}

/**
 * Gaussian noise N(0, stddev²) for DP-SGD, `length` values, from a cryptographically secure
 * source by default.
 *
 * Method: Marsaglia's polar method (Marsaglia & Bray 1964) — draw (u, v) uniform in the
 * square (−1, 1)², keep the pair if 0 < s = u² + v² < 1, and return u·√(−2 ln s / s) and
 * v·√(−2 ln s / s). For exactly uniform inputs the outputs are exactly independent standard
 * normals (it is Box–Muller with the angle taken from the accepted point, no trigonometry
 * and no approximation of the inverse CDF); the uniforms carry 53 random bits each. The
 * remaining caveat is floating point itself: like Opacus and TF Privacy, this is a
 * floating-point sampler, and Mironov 2012 shows that the low bits of floating-point noise
 * can leak; a discrete Gaussian sampler (Canonne, Kamath & Steinke 2020) would close that.
 *
 * Every uniform draw is checked to lie in (0, 1) and the rejection loop is bounded (a pair
 * is rejected with probability 1 − π/4; 100 rejections in a row, probability 2e−67, mean the
 * source is broken — e.g. a constant): a broken source is an error, never NaN noise or a hang.
 *
 * @param length how many values.
 * @param stddev σ·C for DP-SGD (≥ 0).
 */
export function gaussianNoise(length: number, stddev: number, options: GaussianNoiseOptions = {}): Float64Array {
  knownOptions('gaussianNoise options', options, ['insecureSeed', 'random']);
  if (!Number.isInteger(length) || length < 0)
    throw new RangeError(`length must be an integer ≥ 0, got ${describe(length)}`);
  if (typeof stddev !== 'number') throw new TypeError(`stddev must be a number ≥ 0, got ${describe(stddev)}`);
  if (!(stddev >= 0) || !Number.isFinite(stddev))
    throw new RangeError(`stddev must be a finite number ≥ 0, got ${stddev}`);
  const rng = randomFrom(options);
  const out = new Float64Array(length);
  fillGaussian(out, stddev, rng);
  return out;
}

/** Fills `out` with N(0, stddev²) values by the polar method (see `gaussianNoise`). */
export function fillGaussian(out: Float32Array | Float64Array, stddev: number, rng: RandomSource): void {
  for (let i = 0; i < out.length;) {
    let u: number;
    let v: number;
    let s: number;
    let tries = 0;
    do {
      if (tries++ === MAX_REJECTIONS) {
        throw new RangeError(
          `the random source gave ${MAX_REJECTIONS} rejected pairs in a row (probability 2e-67 for a uniform one): it is not uniform`,
        );
      }
      u = 2 * uniformFrom(rng) - 1;
      v = 2 * uniformFrom(rng) - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s) * stddev;
    out[i++] = u * f;
    if (i < out.length) out[i++] = v * f;
  }
}

/** Pairs the polar method may reject in a row: (1 − π/4)¹⁰⁰ ≈ 2e−67 for a uniform source. */
const MAX_REJECTIONS = 100;

/** The source selected by options: `random`, else a seeded one for `insecureSeed`, else crypto. */
export function randomFrom(options: GaussianNoiseOptions): RandomSource {
  if (options.random !== undefined) {
    if (options.insecureSeed !== undefined) {
      throw new TypeError('gaussianNoise takes random or insecureSeed, not both');
    }
    return checkRandomSource('options.random', options.random);
  }
  if (options.insecureSeed !== undefined) return insecureSeededRandom(options.insecureSeed);
  return secureRandom();
}
