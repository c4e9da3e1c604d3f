/**
 * The TensorFlow.js example and the code blocks of README.md's TensorFlow.js section, run as a user would run them:
 * `node` in the repository root, importing the built package (`gradclip/tfjs` → dist; `npm
 * test` builds it first).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

function node(args: string[]): { status: number | null; stdout: string; stderr: string } {
  if (!existsSync(`${root}packages/gradclip/dist/tfjs/index.js`)) {
    throw new Error('packages/gradclip/dist is missing: run `npm run build -w gradclip` first');
  }
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 110_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('examples/tfjs_fit.mjs', () => {
  it('trains with clipping, every update bounded by lr·maxNorm', () => {
    const r = node(['examples/tfjs_fit.mjs']);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^steps: 48, clipped: \d+%$/m);
    const m = /largest update ‖Δw‖ = (\S+) ≤ lr·maxNorm = (\S+)/.exec(r.stdout);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(Number(m![2]) * (1 + 1e-4));
    expect(Number(m![1])).toBeGreaterThan(0);
  });
});

describe("README.md's TensorFlow.js section", () => {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const start = readme.indexOf('\n## TensorFlow.js\n');
  const doc = readme.slice(start, readme.indexOf('\n## ', start + 5));
  // Complete programs start with an import; fragments (e.g. reading the monitor) do not.
  const blocks = [...doc.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => b.startsWith('import'));

  it('has runnable examples', () => expect(blocks.length).toBeGreaterThanOrEqual(2));

  blocks.forEach((code, i) => {
    it(`code block ${i + 1} runs`, () => {
      const r = node(['--input-type=module', '--eval', code]);
      expect(r.stderr).not.toMatch(/Error/);
      expect(r.status).toBe(0);
      expect(r.stdout.length).toBeGreaterThan(0);
    });
  });

  it('the custom-loop example prints what its comments say', () => {
    const loop = blocks.find((b) => b.includes('computeGradients'))!;
    const r = node(['--input-type=module', '--eval', loop]);
    // ‖∇‖ = ‖2·[3, −4]‖ = 10; each clipped step moves w by 0.1 along −w/‖w‖ = [−0.6, 0.8]:
    // after 3 steps w = [3 − 0.18, −4 + 0.24] = [2.82, −3.76], as the block's comment says.
    // Then the clipper outside tf.tidy: one new tensor per gradient (here one), nothing else.
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/pre-clip norm 10/);
    const w = JSON.parse(lines.find((l) => l.startsWith('['))!.replace(/\s+/g, '')) as number[];
    expect(w[0]).toBeCloseTo(2.82, 4);
    expect(w[1]).toBeCloseTo(-3.76, 4);
    expect(lines.at(-1)).toBe('1');
  });
});
