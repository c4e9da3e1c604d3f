import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { privacySpent } from 'gradclip';
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
  it('trains at ε = 1 and 8 (σ by RDP and by PLD) and the baselines, writes the report, ε spent within each target', async () => {
    const out = mkdtempSync(join(tmpdir(), 'gradclip-privacy-'));
    expect(await main(['privacy', '--quick', '--no-progress', '--backend', 'cpu', '--out', out])).toBe(0);
    const r = JSON.parse(readFileSync(join(out, 'privacy.json'), 'utf8')) as {
      steps: number;
      sampleRate: number;
      config: { delta: number };
      runs: {
        label: string;
        targetEpsilon: number | null;
        accounting: 'rdp' | 'pld' | null;
        noiseMultiplier: number;
        epsilon: number | null;
        epsilonRdp: number | null;
        epsilonPld: number | null;
        testAccuracy: number;
      }[];
      summary: { label: string; medianAccuracy: number }[];
      accounting: {
        targetEpsilon: number;
        sigmaRdp: number;
        sigmaPld: number;
        curve: { epoch: number; steps: number; rdp: number; pld: number }[];
        accuracyRdp: number;
        accuracyPld: number;
      }[];
    };
    expect(r.summary.map((s) => s.label)).toEqual([
      'ε = 1',
      'ε = 8',
      'ε = ∞, clipped, no noise',
      'ε = ∞, non-private',
      'ε = 1, PLD σ',
      'ε = 8, PLD σ',
    ]);
    for (const run of r.runs) {
      // JSON writes ε = ∞ as null.
      if (run.targetEpsilon !== null) {
        expect(run.epsilon!).toBeLessThanOrEqual(run.targetEpsilon);
        expect(run.epsilon).toBe(run.accounting === 'pld' ? run.epsilonPld : run.epsilonRdp);
        // The same steps counted by PLD never give more than RDP.
        expect(run.epsilonPld!).toBeLessThanOrEqual(run.epsilonRdp!);
      } else expect(run.epsilon).toBeNull();
    }
    // RDP against PLD (issue 21 item 6): the ε curves of the RDP-σ run, the σ each accountant needs.
    expect(r.accounting.map((a) => a.targetEpsilon)).toEqual([1, 8]);
    for (const a of r.accounting) {
      // 10 epochs of round(1497 / 512) = 3 steps.
      expect(a.curve.map((p) => p.steps)).toEqual([3, 6, 9, 12, 15, 18, 21, 24, 27, 30]);
      for (const p of a.curve) expect(p.pld).toBeLessThanOrEqual(p.rdp);
      // ε grows with every epoch, by both accountants.
      for (let i = 1; i < a.curve.length; i++) {
        expect(a.curve[i]!.rdp).toBeGreaterThan(a.curve[i - 1]!.rdp);
        expect(a.curve[i]!.pld).toBeGreaterThan(a.curve[i - 1]!.pld);
      }
      // The RDP curve is privateFit's own accountant: it ends where privacySpent('rdp') says.
      const end = a.curve[a.curve.length - 1]!;
      const q = r.sampleRate;
      expect(end.rdp).toBeCloseTo(
        privacySpent({
          sampleRate: q,
          noiseMultiplier: a.sigmaRdp,
          steps: r.steps,
          delta: r.config.delta,
          accounting: 'rdp',
        }).epsilon,
        10,
      );
      expect(end.rdp).toBeLessThanOrEqual(a.targetEpsilon);
      // PLD needs less noise for the same target ε.
      expect(a.sigmaPld).toBeLessThan(a.sigmaRdp);
      expect(r.runs.find((x) => x.label === `ε = ${a.targetEpsilon}, PLD σ`)!.noiseMultiplier).toBe(a.sigmaPld);
    }
    const acc = Object.fromEntries(r.summary.map((s) => [s.label, s.medianAccuracy]));
    // Measured (seed 1, 30 steps): ε = 1 ≈ 0.87, ε = 8 ≈ 0.93, non-private ≈ 0.95; chance is 0.1.
    expect(acc['ε = 1']!).toBeGreaterThan(0.6);
    expect(acc['ε = ∞, non-private']!).toBeGreaterThan(0.85);
    expect(acc['ε = ∞, non-private']!).toBeGreaterThanOrEqual(acc['ε = 1']! - 0.02);
    expect(pngSize(readFileSync(join(out, 'privacy.png'))).width).toBeGreaterThan(300);
    expect(pngSize(readFileSync(join(out, 'privacy_accounting.png'))).width).toBeGreaterThan(300);
    const html = readFileSync(join(out, 'privacy.html'), 'utf8');
    expect(html.match(/<svg/g)!.length).toBeGreaterThanOrEqual(2);
    expect(html).toContain('RDP or PLD accounting');
    for (const a of r.accounting) {
      const end = a.curve[a.curve.length - 1]!;
      expect(html).toContain(`RDP counts ε = ${end.rdp.toFixed(3)}, PLD ${end.pld.toFixed(3)}`);
      expect(html).toContain(`PLD needs σ = ${a.sigmaPld.toFixed(2)} instead of ${a.sigmaRdp.toFixed(2)}`);
    }
    expect(readFileSync(join(out, 'privacy.csv'), 'utf8').trim().split('\n')).toHaveLength(1 + 6);
  });
});
