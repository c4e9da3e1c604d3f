import { describe } from '../gradients.js';

/**
 * A source of uniform random numbers for DP-SGD's noise and sampling.
 *
 * `secureRandom()` reads the platform's cryptographically secure generator
 * (`crypto.getRandomValues`, in browsers and Node ≥ 19 as `globalThis.crypto`): the noise of
 * DP-SGD protects privacy only if an attacker cannot predict it, so a seeded PRNG such as
 * `Math.random` or a tfjs seed is not acceptable. `insecureSeededRandom(seed)` exists only so
 * that tests can repeat a run — noise from a known seed can be subtracted and gives NO privacy.
 */
export interface RandomSource {
  /** A uniform double in (0, 1) with 53 random bits (0 is excluded: log(u) must be finite). */
  uniform(): number;
  /** Whether this source is cryptographically secure (false for seeded test sources). */
  readonly secure: boolean;
}

/** Words fetched per `getRandomValues` call (its limit is 65,536 bytes). */
const POOL = 8192;

class WordSource implements RandomSource {
  private readonly pool = new Uint32Array(POOL);
  private at = POOL;
  constructor(
    private readonly refill: (out: Uint32Array) => void,
    readonly secure: boolean,
  ) {}

  private word(): number {
    if (this.at === POOL) {
      this.refill(this.pool);
      this.at = 0;
    }
    return this.pool[this.at++]!;
  }

  uniform(): number {
    // A zero has probability 2⁻⁵³ per draw: 64 in a row means the generator is broken (a
    // getRandomValues that fills zeros), and looping on it would never return.
    for (let tries = 0; tries < MAX_ZERO_DRAWS; tries++) {
      // 27 + 26 bits → an integer in [0, 2^53), exactly representable; scale to [0, 1).
      const u = ((this.word() >>> 5) * 67108864 + (this.word() >>> 6)) / 9007199254740992;
      if (u !== 0) return u;
    }
    throw new Error(
      `the random generator returned ${MAX_ZERO_DRAWS} zero draws in a row (probability 2^-3392): it is broken, no noise was drawn`,
    );
  }
}

const MAX_ZERO_DRAWS = 64;

/**
 * `x` as a RandomSource: an object with a `uniform()` method and a boolean `secure`. The same
 * TypeError everywhere a source is taken (`gaussianNoise`, `poissonSample`, `AdaptiveClip`).
 */
export function checkRandomSource(arg: string, x: unknown): RandomSource {
  const r = x as { uniform?: unknown; secure?: unknown } | null | undefined;
  if (typeof x !== 'object' || x === null || typeof r!.uniform !== 'function' || typeof r!.secure !== 'boolean') {
    throw new TypeError(`${arg} must be a RandomSource { uniform(), secure }, got ${describe(x)}`);
  }
  return x as RandomSource;
}

/**
 * One draw of `random.uniform()`, checked to be in (0, 1): a source that returns 2, NaN or
 * 1 is broken, and its output must not become noise (NaN noise would release nothing
 * private, silently) or a sampling decision.
 */
export function uniformFrom(random: RandomSource): number {
  const u = random.uniform();
  if (typeof u !== 'number' || !(u > 0 && u < 1)) {
    throw new RangeError(`random.uniform() must return a number in (0, 1), got ${describe(u)}: the source is broken`);
  }
  return u;
}

/** The platform's cryptographically secure generator. Throws if there is none. */
export function secureRandom(): RandomSource {
  const c = (globalThis as { crypto?: { getRandomValues?: (a: Uint32Array) => Uint32Array } }).crypto;
  const fill = c?.getRandomValues?.bind(c);
  if (!fill) throw new TypeError('No crypto.getRandomValues in this environment: cannot draw private noise');
  return new WordSource((out) => fill(out), true);
}

/**
 * A seeded generator (xoshiro128**, Blackman & Vigna 2018; state from SplitMix32) for tests.
 * NOT PRIVATE: whoever knows the seed knows the noise.
 */
export function insecureSeededRandom(seed: number): RandomSource {
  if (typeof seed !== 'number' || !Number.isInteger(seed)) {
    throw new TypeError(`insecureSeed must be an integer, got ${describe(seed)}`);
  }
  let x = seed >>> 0;
  const split = () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  const next = () => {
    const r = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return r;
  };
  return new WordSource((out) => {
    for (let i = 0; i < out.length; i++) out[i] = next();
  }, false);
}

function rotl(v: number, k: number): number {
  return (v << k) | (v >>> (32 - k));
}
