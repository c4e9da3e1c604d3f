/**
 * Every ```js block of README.md that imports gradclip is run as a user would run it: as an
 * ES module in the repository, resolving `gradclip` through node_modules to the built
 * package (`npm test` builds it first).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => /from 'gradclip/.test(b));
const dir = join(root, 'node_modules', '.readme-examples');

describe('README examples', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('has runnable examples', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(6);
  });

  blocks.forEach((code, i) => {
    const title = code.split('\n').find((l) => l.includes('import'))?.trim() ?? `block ${i}`;
    it(`example ${i + 1}: ${title}`, () => {
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `example-${i}.mjs`);
      writeFileSync(file, code);
      const out = execFileSync(process.execPath, [file], { cwd: root, encoding: 'utf8', timeout: 120_000 });
      expect(typeof out).toBe('string');
    });
  });
});
