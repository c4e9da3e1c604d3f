import { describe, expect, it } from 'vitest';
import { median, referenceNorm, runSmoothness, summarise } from './experiments.js';
import { parseMethod } from './methods.js';
import { verdicts, type ReportInput } from './report.js';
import type { RunRecord } from './train.js';

function run(
  method: string,
  seed: number,
  loss: number[],
  norm: number[],
  diverged = false,
  evalLoss: number | null = 0.15,
): RunRecord {
  return {
    method,
    label: method,
    seed,
    loss,
    norm,
    threshold: norm.map(() => null),
    clipped: norm.map((n) => method !== 'none' && n > 1),
    scale: norm.map(() => 1),
    cosine: norm.map(() => 1),
    diverged,
    divergedAt: diverged ? loss.length - 1 : null,
    evalLoss: diverged ? null : evalLoss,
    clipFraction: 0,
    ms: 0,
  };
}

describe('summaries', () => {
  it('median of even and odd lists', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('reference norm = median pre-clip norm of stable global-norm runs, else unclipped steps before divergence', () => {
    const runs = [
      run('none', 1, [1, 1e9], [5, 1e9], true),
      run('global:1', 1, [1, 1, 1], [2, 4, 6]),
      run('global:1', 2, [1, 1], [8, 100], true),
    ];
    expect(referenceNorm(runs)).toBe(4); // only the stable global run: median of 2, 4, 6
    expect(referenceNorm([runs[0]!])).toBe(5); // the divergence step itself is excluded
  });

  it('counts divergences and keeps per-seed losses in seed order', () => {
    const runs = [run('none', 1, [1, 1e9], [5, 1e9], true), run('none', 2, [1, 0.5], [5, 5], false, 0.4)];
    const [s] = summarise(runs, [parseMethod('none')]);
    expect(s!.diverged).toBe(1);
    expect(s!.evalLoss).toEqual([null, 0.4]);
    expect(s!.medianEvalLoss).toBe(0.4);
  });
});

describe('verdicts are computed from the numbers', () => {
  const base: ReportInput['settings'] = {
    backend: 'cpu',
    seeds: [1, 2, 3],
    steps: 2,
    quick: true,
    config: {
      task: 'adding',
      seqLen: 50,
      hidden: 4,
      batchSize: 4,
      steps: 2,
      learningRate: 0.1,
      recurrentScale: 1.5,
      evalSize: 4,
      divergenceFactor: 100,
    },
    chanceLoss: 1 / 6,
    sweepSteps: 2,
    vanishingSteps: 2,
  };
  const methods = ['none', 'global:1'].map(parseMethod);

  it('claim 1 is supported when unclipped runs mostly diverge and clipped ones never do', () => {
    const runs = [1, 2, 3].flatMap((seed) => [
      run('none', seed, [1, 1e9], [5, 1e9], seed !== 3),
      run('global:1', seed, [1, 1], [5, 5]),
    ]);
    const v = verdicts({ settings: base, demo: { runs, summary: summarise(runs, methods) }, seconds: 0 });
    expect(v[0]!.verdict).toBe('supported');
    expect(v[0]!.text).toContain('2/3 seeds');
  });

  it('claim 1 is not supported when a clipped run diverges too', () => {
    const runs = [1, 2, 3].flatMap((seed) => [
      run('none', seed, [1, 1e9], [5, 1e9], true),
      run('global:1', seed, [1, 1e9], [5, 5], seed === 1),
    ]);
    const v = verdicts({ settings: base, demo: { runs, summary: summarise(runs, methods) }, seconds: 0 });
    expect(v[0]!.verdict).toBe('not supported');
  });
});

describe('Zhang et al. 2020 on x⁴', () => {
  it('clipped GD reaches the tolerance from every start, in fewer iterations than the tuned fixed step', () => {
    const r = runSmoothness([1, 4, 16], 1e-6, 20_000);
    for (const x0 of [1, 4, 16]) {
      const fixed = r.points.find((p) => p.x0 === x0 && p.method.startsWith('fixed'))!;
      const clipped = r.points.find((p) => p.x0 === x0 && p.method.startsWith('clipped'))!;
      expect(clipped.iterations).not.toBeNull();
      expect(fixed.diverged).toBe(false);
      // the fixed step, tuned for x0 = 16, is η = 1/(8·256): near 0 it moves by η·4x³, which
      // takes far longer than 20 000 iterations to get |x| below 10^-1.5
      expect(fixed.iterations === null || fixed.iterations > clipped.iterations!).toBe(true);
    }
  });
});
