/**
 * Every ```js block of README.md and packages/gradclip/README.md that imports gradclip is run
 * as a user would run it: as an ES module in the repository, resolving `gradclip` through node_modules to the built
 * package (`npm test` builds it first). What each `console.log(…); // expected` prints is
 * checked against its comment: the comment's numbers must appear in the printed line in
 * order (to 1e-6 relative, or 1e-2 after '≈'), and so must its words true / false / NaN.
 * Text in parentheses and after ' — ' is a remark and is not checked.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
/** The ```js blocks that import gradclip, of the repository README and the package's (the npm page). */
const jsBlocks = (file: string) =>
  [...readFileSync(join(root, file), 'utf8').matchAll(/```js\n([\s\S]*?)```/g)]
    .map((m) => m[1]!)
    .filter((b) => /from 'gradclip/.test(b));
const packageBlocks = jsBlocks('packages/gradclip/README.md');
const blocks = [...jsBlocks('README.md'), ...packageBlocks];
const dir = join(root, 'node_modules', '.readme-examples');

const NUMBER = /-?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?/gi;

/** The expected-output comments of a block's console.log lines, in order. */
function expectations(code: string): string[] {
  return code
    .split('\n')
    .filter((l) => /console\.log\(/.test(l))
    .map((l) => {
      const m = /\);\s*\/\/\s*(.*)$/.exec(l);
      if (m === null) throw new Error(`README example line has no expected-output comment: ${l.trim()}`);
      return m[1]!
        .replace(/\([^)]*\)+/g, ' ')
        .split(' — ')[0]!
        .trim();
    });
}

/** Checks one printed line against its expectation; returns a reason when it does not match. */
function mismatch(expected: string, actual: string): string | undefined {
  const rough = expected.startsWith('≈');
  const want = [...expected.matchAll(NUMBER)].map((m) => Number(m[0]));
  const got = [...actual.matchAll(NUMBER)].map((m) => Number(m[0]));
  let j = 0;
  for (const w of want) {
    const tol = rough ? 1e-2 : 1e-6;
    while (j < got.length && !(Math.abs(got[j]! - w) <= tol * Math.max(1, Math.abs(w)))) j++;
    if (j === got.length) return `expected the number ${w} in order in '${actual}'`;
    j++;
  }
  for (const word of ['true', 'false', 'NaN']) {
    const count = (s: string) => s.split(new RegExp(`\\b${word}\\b`)).length - 1;
    if (count(expected) !== count(actual)) return `expected '${word}' ${count(expected)} time(s) in '${actual}'`;
  }
  return undefined;
}

describe('README examples', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('has runnable examples, and most of them say what they print', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(6);
    // The npm page's examples run too: typed arrays, model.fit, nonFinite: 'skip', the custom loop, eps.
    expect(packageBlocks.length).toBeGreaterThanOrEqual(5);
    expect(blocks.flatMap(expectations).length).toBeGreaterThanOrEqual(12);
  });

  it('the output check itself tells a right line from a wrong one', () => {
    expect(
      mismatch('5 true Float32Array(2) [0.6, 0.8]', '5 true Float32Array(2) [ 0.6000000238418579, 0.800000011920929 ]'),
    ).toBeUndefined();
    expect(mismatch('5 true', '5.1 true')).toMatch(/number 5/);
    expect(mismatch('5 true', '5 false')).toMatch(/'true'/);
    expect(mismatch('≈ [2.82, -3.76]', '[ 2.8199999, -3.7600002 ]')).toBeUndefined();
  });

  blocks.forEach((code, i) => {
    const title =
      code
        .split('\n')
        .find((l) => l.includes('import'))
        ?.trim() ?? `block ${i}`;
    it(`example ${i + 1}: ${title}`, () => {
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `example-${i}.mjs`);
      writeFileSync(file, code);
      const out = execFileSync(process.execPath, [file], { cwd: root, encoding: 'utf8', timeout: 120_000 });
      const lines = out.split('\n').filter((l) => l.trim() !== '');
      const want = expectations(code);
      expect(lines).toHaveLength(want.length);
      want.forEach((w, k) => expect(mismatch(w, lines[k]!), `line ${k + 1}`).toBeUndefined());
    });
  });
});
