// PLD accountant timings (issue 21): Opacus's PRV test grid (40 rows, δ = 1e-6), 50,000 and 2,250 steps.
// Run after `npm run build -w gradclip`: node packages/gradclip/scripts/bench-pld.mjs
// Prints wall time and this process's CPU time (user + system), which is the fairer number on a
// shared machine.
import { readFileSync } from 'node:fs';
import { privacySpent } from '../dist/index.js';

const fx = JSON.parse(readFileSync(new URL('../test/fixtures/privacy/upstream_pld.json', import.meta.url), 'utf8'));

function time(label, fn) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const out = fn();
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  console.log(`${label}: wall ${(wall / 1000).toFixed(2)} s, cpu ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s`, out);
}

const eps = (o, delta) => privacySpent({ ...o, delta }).epsilon;
time('Opacus PRV grid, 40 rows', () =>
  fx.opacusPrvGrid.rows.reduce(
    (worst, r) =>
      Math.max(worst, eps({ sampleRate: r.sampleRate, noiseMultiplier: r.noiseMultiplier, steps: r.steps }, 1e-6)),
    0,
  ),
);
time('50,000 steps (σ 1.5, q 0.04, δ 1e-5)', () =>
  eps({ sampleRate: 0.04, noiseMultiplier: 1.5, steps: 50_000 }, 1e-5),
);
time('2,250 steps (σ 1.5, q 0.04, δ 1e-5)', () => eps({ sampleRate: 0.04, noiseMultiplier: 1.5, steps: 2250 }, 1e-5));
time(
  'RDP, 2,250 steps',
  () => privacySpent({ sampleRate: 0.04, noiseMultiplier: 1.5, steps: 2250, delta: 1e-5, accounting: 'rdp' }).epsilon,
);
