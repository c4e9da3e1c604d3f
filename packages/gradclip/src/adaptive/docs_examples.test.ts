/**
 * Runs every ```js example of docs/adaptive.md against the library source: the
 * `import … from 'gradclip'` line becomes a destructuring of the source module, the rest runs
 * as written (the examples check themselves with node:assert). README.md's own test runs the
 * same blocks against the built package once they are folded in.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as gradclip from '../index.js';

const doc = readFileSync(new URL('../../../../docs/adaptive.md', import.meta.url), 'utf8');
const blocks = [...doc.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!);

function runnable(code: string): string {
  return code
    .replace(/^import assert from 'node:assert\/strict';$/m, '')
    .replace(/^import \{([^}]*)\} from 'gradclip';$/m, (_m, names: string) => `const {${names}} = gradclip;`);
}

describe('docs/adaptive.md examples', () => {
  it('has one example per method', () => {
    expect(blocks.length).toBe(5);
    for (const b of blocks) expect(b).toMatch(/from 'gradclip'/);
  });

  blocks.forEach((code, i) => {
    it(`example ${i + 1}`, () => {
      const body = runnable(code);
      expect(body).not.toMatch(/^import /m);
      new Function('gradclip', 'assert', body)(gradclip, assert);
    });
  });
});
