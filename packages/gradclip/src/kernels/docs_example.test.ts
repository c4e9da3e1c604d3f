/**
 * The code example in docs/performance.md runs, and prints what its `// →` comments say.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';
import { useKernels } from './index.js';

const doc = readFileSync(new URL('../../../../docs/performance.md', import.meta.url), 'utf8');

afterEach(() => {
  vi.restoreAllMocks();
  useKernels('auto');
});

it('docs/performance.md: the example runs and prints the documented output', async () => {
  const code = /```ts\n([\s\S]*?)```/.exec(doc)?.[1];
  expect(code).toBeDefined();
  const expected = [...code!.matchAll(/\/\/ → (.*)$/gm)].map((m) => m[1]!.trim());
  expect(expected.length).toBeGreaterThanOrEqual(2);
  const file = join(mkdtempSync(join(tmpdir(), 'gradclip-doc-')), 'example.ts');
  writeFileSync(file, code!);
  useKernels('auto'); // the example documents the default choice (the JS-kernel suite forces 'js')
  const logged: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void logged.push(args.map(String).join(' ')));
  await import(/* @vite-ignore */ file);
  expect(logged).toEqual(expected);
});
