import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  curvesOf,
  LEARNING_CONFIG,
  learningChecks,
  medianWithDivergence,
  pearson,
  runLearning,
  runSmoothnessCorrelation,
  type LearningResult,
  type LearningRun,
} from './learning.js';
import { parseMethod } from './methods.js';
import { deviationNote, learningVerdict, reproductions } from './report_learning.js';
import type { ReportInput } from './report.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const chance = Math.log(4);
const lrs = [0.1, 1, 10];
const methods = ['none', 'global:1'].map(parseMethod);

/** Synthetic sweep: losses per method and lr for seeds 1–3 (null = diverged). */
function sweep(losses: Record<string, (number | null)[][]>): LearningResult {
  const runs: LearningRun[] = Object.entries(losses).flatMap(([method, perLr]) =>
    perLr.flatMap((seeds, i) =>
      seeds.map((finalLoss, s) => ({ method, lr: lrs[i]!, seed: s + 1, finalLoss, earlyNorm: 1.5, clipFraction: 0 })),
    ),
  );
  const { task, learningRate: _lr, ...rest } = LEARNING_CONFIG;
  return {
    task: task.name,
    chanceLoss: chance,
    config: { ...rest, task: task.name },
    lrs,
    methods: methods.map((m) => m.id),
    seeds: [1, 2, 3],
    ...curvesOf(runs, methods, lrs, chance),
  };
}

describe('learning-rate sweep summaries', () => {
  it('median counts diverged seeds as +∞', () => {
    expect(medianWithDivergence([0.1, null, 0.3])).toBe(0.3);
    expect(medianWithDivergence([0.1, null, null])).toBeNull();
    expect(medianWithDivergence([0.2, 0.1, 0.4])).toBe(0.2);
  });

  it('computes the best loss, the rates within 2× of it, the learning rates and LR sensitivity', () => {
    const l = sweep({
      none: [
        [0.02, 0.03, 0.04],
        [2, 3, null],
        [null, null, null],
      ],
      'global:1': [
        [0.04, 0.04, 0.05],
        [0.01, 0.02, 0.015],
        [5, 6, 7],
      ],
    });
    const [none, g] = l.curves;
    expect(l.bestLoss).toBe(0.015); // global:1 at lr 1
    expect(none!.bestLoss).toBe(0.03);
    expect(none!.points.map((p) => p.medianLoss)).toEqual([0.03, 3, null]);
    expect(g!.withinTwo).toEqual([1]); // 0.04 at lr 0.1 is more than 2 × 0.015
    expect(none!.withinTwo).toEqual([0.1]);
    expect(g!.learns).toEqual([0.1, 1]);
    // sensitivity: mean over rates of min(loss, chance) − best
    expect(none!.sensitivity).toBeCloseTo((0.03 + chance + chance) / 3 - 0.015, 12);
    expect(g!.sensitivity).toBeCloseTo((0.04 + 0.015 + chance) / 3 - 0.015, 12);
    const k = learningChecks(l)!;
    expect(k.method).toBe('global:1');
    expect(k.decidingLrs).toEqual([{ lr: 1, clipped: 0.015, unclipped: 3 }]);
    expect(k.bestRatio).toBeCloseTo(0.5, 12);
    expect([k.a, k.b, k.c]).toEqual([true, true, false]); // 1 rate each within 2×
  });

  it('claim (2) is supported only when all three checks hold, and says which failed', () => {
    const good = sweep({
      none: [
        [0.02, 0.03, 0.04],
        [2, 3, null],
        [null, null, null],
      ],
      'global:1': [
        [0.02, 0.025, 0.03],
        [0.01, 0.02, 0.015],
        [5, 6, 7],
      ],
    });
    const input = (learning: LearningResult) => ({ learning, seconds: 0 }) as unknown as ReportInput;
    expect(learningVerdict(input(good))!.verdict).toBe('supported');
    const bad = sweep({
      none: [
        [0.01, 0.01, 0.01],
        [0.01, 0.01, 0.01],
        [null, null, null],
      ],
      'global:1': [
        [0.5, 0.5, 0.5],
        [0.4, 0.4, 0.4],
        [5, 6, 7],
      ],
    });
    const v = learningVerdict(input(bad))!;
    expect(v.verdict).toBe('not supported');
    expect(v.text).toContain('0/3 of the checks hold');
    expect(reproductions(input(bad)).find((r) => r.paper.startsWith('Wortsman'))!.pass).toBe(false);
  });

  it('states what differs from the library defaults', () => {
    expect(deviationNote('global:1', 100)).toBe('');
    expect(deviationNote('agc:0.01', 100)).toBe('');
    expect(deviationNote('agc:0.05', 100)).toContain('instead of the default 0.01');
    expect(deviationNote('zclip:2.5', 100)).toContain('no fixed cap');
    expect(deviationNote('adagc:1.05', 100)).toContain('warm-up 25 steps');
  });

  it('pearson: exact on lines, NaN without spread', () => {
    expect(pearson([1, 2, 3, 4], [2, 4, 6, 8])).toBeCloseTo(1, 12);
    expect(pearson([1, 2, 3, 4], [8, 6, 4, 2])).toBeCloseTo(-1, 12);
    expect(pearson([1, 2, 3], [5, 5, 5])).toBeNaN();
    expect(pearson([1, 2], [1, 2])).toBeNaN();
  });
});

describe('the sweep and the smoothness probe on tfjs', () => {
  it('runs every method × rate × seed and leaks no tensors', () => {
    const before = tf.memory().numTensors;
    const cfg = { ...LEARNING_CONFIG, steps: 5, evalSize: 16, batchSize: 8 };
    const l = runLearning(cfg, [0.1, 1], ['none', 'global:1', 'agc:0.01'].map(parseMethod), [1, 2]);
    expect(tf.memory().numTensors).toBe(before);
    expect(l.runs).toHaveLength(3 * 2 * 2);
    for (const r of l.runs) {
      expect(r.finalLoss).not.toBeNull();
      expect(r.earlyNorm).toBeGreaterThan(0);
    }
    // same seed, same lr: clipping at a threshold above every norm changes nothing
    const big = runLearning(cfg, [0.1], ['none', 'global:1000'].map(parseMethod), [1]);
    expect(big.runs[1]!.finalLoss).toBe(big.runs[0]!.finalLoss);
  });

  it('local smoothness is positive and finite on every step, without leaks', () => {
    const before = tf.memory().numTensors;
    const s = runSmoothnessCorrelation({ ...LEARNING_CONFIG, steps: 12, evalSize: 16 }, 'global:1', 0.3, [1]);
    expect(tf.memory().numTensors).toBe(before);
    const t = s.traces[0]!;
    expect(t.norm).toHaveLength(12);
    for (const v of t.smoothness) {
      expect(v).toBeGreaterThan(0);
      expect(Number.isFinite(v)).toBe(true);
    }
    expect(Number.isFinite(t.correlation)).toBe(true);
  });
});
