/**
 * examples/jax_dp_sgd.mjs run as a user would run it: `node` in the repository root, importing
 * the built package (`gradclip/jax` → dist; `npm test` builds it first).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { privacySpent } from '../privacy/spent.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

describe('examples/jax_dp_sgd.mjs', () => {
  it('trains with DP-SGD on jax-js and reports the ε its PLD accountant computes for its steps, and RDP’s', () => {
    if (!existsSync(`${root}packages/gradclip/dist/jax/index.js`)) {
      throw new Error('packages/gradclip/dist is missing: run `npm run build -w gradclip` first');
    }
    const r = spawnSync(process.execPath, ['examples/jax_dp_sgd.mjs'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 110_000,
    });
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status).toBe(0);
    const acc = /^steps: 60, accuracy: (\S+)$/m.exec(r.stdout);
    expect(acc).not.toBeNull();
    // The labels are linearly separable: even with noise σ = 1.1 the model learns them.
    expect(Number(acc![1])).toBeGreaterThan(0.8);
    const eps = /privacy spent: ε = (\S+) at δ = 1e-5 .*PLD; RDP would report (\S+)\)/.exec(r.stdout);
    expect(eps).not.toBeNull();
    const mechanism = { sampleRate: 64 / 512, noiseMultiplier: 1.1, steps: 60, delta: 1e-5 } as const;
    const pld = privacySpent({ ...mechanism, accounting: 'pld' });
    const rdp = privacySpent({ ...mechanism, accounting: 'rdp' });
    expect(Number(eps![1])).toBeCloseTo(pld.epsilon, 3);
    expect(Number(eps![2])).toBeCloseTo(rdp.epsilon, 3);
    // PLD is the tighter accounting: less ε reported for the same steps.
    expect(pld.epsilon).toBeLessThan(rdp.epsilon);
  });
});
