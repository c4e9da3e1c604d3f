import { describe, expect, it } from 'vitest';
import { AdaptiveClip } from './adaptive_clip.js';
import { gaussianNoise } from './gaussian.js';
import { insecureSeededRandom, secureRandom } from './random.js';
import { poissonSample } from './sampling.js';

/** Mean, variance, fraction within ±1σ and lag-1 correlation of a sample. */
function moments(x: Float64Array, sd: number) {
  let m = 0;
  for (const v of x) m += v;
  m /= x.length;
  let v2 = 0;
  let within = 0;
  let lag = 0;
  for (let i = 0; i < x.length; i++) {
    v2 += (x[i]! - m) ** 2;
    if (Math.abs(x[i]!) <= sd) within++;
    if (i > 0) lag += (x[i]! - m) * (x[i - 1]! - m);
  }
  return { mean: m, variance: v2 / (x.length - 1), within: within / x.length, corr: lag / v2 };
}

describe('gaussianNoise', () => {
  // n draws of N(0, σ²): the mean has standard error σ/√n, the variance σ²√(2/(n−1)), the
  // fraction in ±σ (p = 0.682689) √(p(1−p)/n), the lag-1 correlation 1/√n. Bounds at 5
  // standard errors fail by chance with probability < 1e−6 each.
  const n = 200_000;
  const sd = 2.5;
  for (const [name, options] of [
    ['crypto.getRandomValues', {}],
    ['a seeded (insecure) source', { insecureSeed: 7 }],
  ] as const) {
    it(`has mean 0, variance σ², the normal's ±1σ mass, no serial correlation (${name})`, () => {
      const s = moments(gaussianNoise(n, sd, options), sd);
      expect(Math.abs(s.mean)).toBeLessThan((5 * sd) / Math.sqrt(n));
      expect(Math.abs(s.variance - sd * sd)).toBeLessThan(5 * sd * sd * Math.sqrt(2 / (n - 1)));
      expect(Math.abs(s.within - 0.682689)).toBeLessThan(5 * Math.sqrt((0.682689 * 0.317311) / n));
      expect(Math.abs(s.corr)).toBeLessThan(5 / Math.sqrt(n));
    });
  }

  it('is secure by default and repeatable only with the insecure seed', () => {
    expect(secureRandom().secure).toBe(true);
    expect(insecureSeededRandom(1).secure).toBe(false);
    expect(gaussianNoise(5, 1, { insecureSeed: 3 })).toEqual(gaussianNoise(5, 1, { insecureSeed: 3 }));
    expect(gaussianNoise(5, 1)).not.toEqual(gaussianNoise(5, 1));
    expect(Array.from(gaussianNoise(3, 0)).every((x) => x === 0)).toBe(true);
  });

  it('rejects bad arguments', () => {
    expect(() => gaussianNoise(-1, 1)).toThrow(/length must be an integer ≥ 0/);
    expect(() => gaussianNoise(3, -1)).toThrow(/stddev must be a finite number ≥ 0, got -1/);
    expect(() => gaussianNoise(3, 1, { insecureSeed: 1.5 })).toThrow(/insecureSeed must be an integer/);
  });
});

describe('poissonSample', () => {
  it('includes each example independently with probability q', () => {
    // 400 draws of n = 1000 at q = 0.05: batch sizes Binomial(1000, 0.05), mean 50, variance 47.5;
    // every index is picked 400·0.05 = 20 times on average.
    const rng = insecureSeededRandom(11);
    const sizes: number[] = [];
    const hits = new Float64Array(1000);
    for (let t = 0; t < 400; t++) {
      const idx = poissonSample(1000, 0.05, rng);
      sizes.push(idx.length);
      idx.forEach((i) => hits[i]!++);
      for (let k = 1; k < idx.length; k++) expect(idx[k]!).toBeGreaterThan(idx[k - 1]!);
    }
    const mean = sizes.reduce((a, b) => a + b, 0) / sizes.length;
    const variance = sizes.reduce((a, b) => a + (b - mean) ** 2, 0) / (sizes.length - 1);
    expect(Math.abs(mean - 50)).toBeLessThan(5 * Math.sqrt(47.5 / 400));
    expect(variance).toBeGreaterThan(30); // a fixed-size sampler would give 0
    expect(variance).toBeLessThan(70);
    expect(Math.abs(hits.reduce((a, b) => a + b, 0) / 1000 - 20)).toBeLessThan(1);
    expect(poissonSample(10, 1, rng)).toEqual(Uint32Array.from({ length: 10 }, (_, i) => i));
    expect(() => poissonSample(10, 0, rng)).toThrow(/sampleRate must be in \(0, 1\], got 0/);
  });
});

describe('AdaptiveClip (Andrew et al. 2021)', () => {
  it('moves C geometrically towards the target quantile (noise-free step worked by hand)', () => {
    // m = 4, C = 1, norms (0.5, 0.8, 2, 3): 2 unclipped → b̃ = (2 − 4·½)/4 + ½ = 0.5;
    // γ = 0.25, η = 0.2 → C = exp(−0.2 · 0.25) = 0.951229…
    const a = new AdaptiveClip(4, { initialClip: 1, targetQuantile: 0.25 });
    expect(a.update([0.5, 0.8, 2, 3], 0, insecureSeededRandom(1))).toBeCloseTo(Math.exp(-0.05), 12);
  });

  it('converges to the γ-quantile of the norms', () => {
    // Norms uniform on (0, 10) in batches of 100: the 0.3-quantile is 3.
    const rng = insecureSeededRandom(5);
    const a = new AdaptiveClip(100, { initialClip: 0.1, targetQuantile: 0.3 });
    for (let t = 0; t < 400; t++) {
      const norms = Array.from({ length: 100 }, () => rng.uniform() * 10);
      a.update(norms, 1, rng);
    }
    expect(a.clip).toBeGreaterThan(2.5);
    expect(a.clip).toBeLessThan(3.5);
  });

  it('splits the noise multiplier so that gradient and count together spend z', () => {
    // z = 1, σ_b = 5 (count noise multiplier 10): σ_Δ = (1 − 1/100)^{−1/2} = 1.005038…
    const a = new AdaptiveClip(100, { countStddev: 5 });
    const sd = a.gradientNoiseMultiplier(1);
    expect(sd).toBeCloseTo(1 / Math.sqrt(0.99), 12);
    expect(sd ** -2 + (2 * 5) ** -2).toBeCloseTo(1, 12);
    expect(() => new AdaptiveClip(10, { countStddev: 0.4 }).gradientNoiseMultiplier(1)).toThrow(
      /countStddev > noiseMultiplier \/ 2/,
    );
    expect(() => new AdaptiveClip(10, { targetQuantile: 2 })).toThrow(/targetQuantile must be in \[0, 1\], got 2/);
  });
});

describe('random sources are checked, never trusted (issue 24 N8, N10, N11, N13; issue 25)', () => {
  const constant = (x: number) => ({ uniform: () => x, secure: false });

  it('N8/N10: gaussianNoise with a degenerate source is an error, never a hang or NaN noise', () => {
    // uniform: () => 0.5 gave u = v = 0, rejected forever; 2 gave s ≥ 1 forever; NaN gave NaN noise silently.
    expect(() => gaussianNoise(4, 1, { random: constant(0.5) })).toThrow(/100 rejected pairs in a row/);
    expect(() => gaussianNoise(4, 1, { random: constant(2) })).toThrow(
      /random.uniform\(\) must return a number in \(0, 1\), got 2/,
    );
    expect(() => gaussianNoise(4, 1, { random: constant(NaN) })).toThrow(/got NaN/);
    expect(() => gaussianNoise(4, 1, { random: constant(0) })).toThrow(/got 0/);
    expect(() => gaussianNoise(4, 1, { random: constant(1) })).toThrow(RangeError);
    expect(() => gaussianNoise(4, 1, { random: { uniform: () => '0.3', secure: true } as never })).toThrow(RangeError);
    // A zero-length request draws nothing and needs no draws.
    expect(gaussianNoise(0, 1, { random: constant(0.5) })).toEqual(new Float64Array(0));
  });

  it('N8: a getRandomValues that fills zeros is an error, not an endless loop', () => {
    const real = globalThis.crypto;
    const zeros = { getRandomValues: (a: Uint32Array) => a.fill(0) };
    Object.defineProperty(globalThis, 'crypto', { value: zeros, configurable: true });
    try {
      const rng = secureRandom();
      expect(() => rng.uniform()).toThrow(/64 zero draws in a row/);
      expect(() => gaussianNoise(3, 1)).toThrow(/zero draws in a row/);
    } finally {
      Object.defineProperty(globalThis, 'crypto', { value: real, configurable: true });
    }
    expect(gaussianNoise(2, 1).every(Number.isFinite)).toBe(true);
  });

  it('issue 25: unknown gaussianNoise options are refused ({ seed: 1 } is not a seed)', () => {
    expect(() => gaussianNoise(3, 1, { seed: 1 } as never)).toThrow(/unknown option 'seed'/);
    expect(() => gaussianNoise(3, 1, { random: insecureSeededRandom(1), insecureSeed: 2 })).toThrow(
      /random or insecureSeed, not both/,
    );
  });

  it('N13: poissonSample without a source is a clear TypeError (and { random: {} } says the same)', () => {
    const message = /must be a RandomSource \{ uniform\(\), secure \}/;
    expect(() => poissonSample(10, 0.1, undefined as never)).toThrow(TypeError);
    expect(() => poissonSample(10, 0.1, undefined as never)).toThrow(message);
    expect(() => poissonSample(10, 0.1, {} as never)).toThrow(message);
    expect(() => gaussianNoise(3, 1, { random: {} as never })).toThrow(message);
    expect(() => new AdaptiveClip(4).update([1], 1, {} as never)).toThrow(message);
    expect(() => new AdaptiveClip(4).update([1], 1, undefined as never)).toThrow(message);
    expect(() => poissonSample(10, 0.5, constant(NaN))).toThrow(/got NaN/);
  });

  it('N11: AdaptiveClip.gradientNoiseMultiplier(-1) and NaN are errors (−1 returned 1.005)', () => {
    const a = new AdaptiveClip(100, { countStddev: 5 });
    expect(() => a.gradientNoiseMultiplier(-1)).toThrow(/noiseMultiplier must be a finite number ≥ 0, got -1/);
    expect(() => a.gradientNoiseMultiplier(NaN)).toThrow(RangeError);
    expect(() => a.gradientNoiseMultiplier(Infinity)).toThrow(RangeError);
    expect(() => a.gradientNoiseMultiplier(undefined as never)).toThrow(TypeError);
    expect(a.gradientNoiseMultiplier(0)).toBe(0);
  });

  it('issue 25: AdaptiveClip.update with a missing, NaN or negative σ is an error, never a noiseless count', () => {
    const a = new AdaptiveClip(4, { countStddev: 1, initialClip: 1 });
    const rng = insecureSeededRandom(3);
    for (const bad of [undefined, NaN, -1]) {
      expect(() => a.update([0.5, 2], bad as never, rng), String(bad)).toThrow(/noiseMultiplier/);
    }
    expect(() => a.update(undefined as never, 1, rng)).toThrow(/norms must be an array or typed array/);
    expect(() => a.update([0.5, NaN], 1, rng)).toThrow(/norms\[1\] must be a number ≥ 0, got NaN/);
    expect(() => a.update([-1], 1, rng)).toThrow(RangeError);
    // eslint-disable-next-line no-sparse-arrays
    expect(() => a.update([0.5, , 1] as number[], 1, rng)).toThrow(/norms\[1\]/);
    expect(a.clip).toBe(1); // nothing moved
    expect(a.update(Float32Array.of(0.5, 2), 1, rng)).not.toBe(1);
  });

  it('issue 25: new AdaptiveClip(32, {}, { clip: 1, extra: 2 }) is refused', () => {
    expect(() => new AdaptiveClip(32, {}, { clip: 1, extra: 2 } as never)).toThrow(/unexpected extra/);
    expect(() => new AdaptiveClip(32, {}, {} as never)).toThrow(/missing clip/);
    expect(() => new AdaptiveClip(32, {}, { clip: -1 })).toThrow(/state.clip must be a finite number > 0, got -1/);
    expect(new AdaptiveClip(32, {}, { clip: 2 }).clip).toBe(2);
    expect(() => new AdaptiveClip(32, { clip: 1 } as never)).toThrow(/unknown option 'clip'/);
  });
});
