import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from './cli.js';
import { loadDigits } from './privacy.js';
import { pngSize } from './render.js';

describe('the UCI digits shipped in data/', () => {
  it('has 1797 8×8 images in [0, 1] and every digit about 180 times', () => {
    const d = loadDigits();
    expect(d.n).toBe(1797);
    expect(d.x.length).toBe(1797 * 64);
    expect(Math.min(...d.x)).toBe(0);
    expect(Math.max(...d.x)).toBe(1);
    const counts = new Array<number>(10).fill(0);
    d.y.forEach((c) => counts[c]!++);
    // sklearn's load_digits: 178, 182, 177, 183, 181, 182, 181, 179, 174, 180.
    expect(counts).toEqual([178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
  });
});

describe('gradclip privacy --quick', () => {
  it('trains at ε = 1 and 8 and the baselines, writes the report, ε spent within each target', async () => {
    const out = mkdtempSync(join(tmpdir(), 'gradclip-privacy-'));
    expect(await main(['privacy', '--quick', '--no-progress', '--backend', 'cpu', '--out', out])).toBe(0);
    const r = JSON.parse(readFileSync(join(out, 'privacy.json'), 'utf8')) as {
      runs: { label: string; targetEpsilon: number | null; epsilon: number | null; testAccuracy: number }[];
      summary: { label: string; medianAccuracy: number }[];
    };
    expect(r.summary.map((s) => s.label)).toEqual(['ε = 1', 'ε = 8', 'ε = ∞, clipped, no noise', 'ε = ∞, non-private']);
    for (const run of r.runs) {
      // JSON writes ε = ∞ as null.
      if (run.targetEpsilon !== null) expect(run.epsilon!).toBeLessThanOrEqual(run.targetEpsilon);
      else expect(run.epsilon).toBeNull();
    }
    const acc = Object.fromEntries(r.summary.map((s) => [s.label, s.medianAccuracy]));
    // Measured (seed 1, 30 steps): ε = 1 ≈ 0.87, ε = 8 ≈ 0.93, non-private ≈ 0.95; chance is 0.1.
    expect(acc['ε = 1']!).toBeGreaterThan(0.6);
    expect(acc['ε = ∞, non-private']!).toBeGreaterThan(0.85);
    expect(acc['ε = ∞, non-private']!).toBeGreaterThanOrEqual(acc['ε = 1']! - 0.02);
    expect(pngSize(readFileSync(join(out, 'privacy.png'))).width).toBeGreaterThan(300);
    expect(readFileSync(join(out, 'privacy.html'), 'utf8')).toContain('<svg');
    expect(readFileSync(join(out, 'privacy.csv'), 'utf8').trim().split('\n')).toHaveLength(1 + 4);
  });
});
