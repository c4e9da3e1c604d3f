import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(`./packages/gradclip/src/${p}`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the library's source; `npm run check-package` checks the built package.
    alias: [
      { find: /^gradclip\/tfjs$/, replacement: src('tfjs/index.ts') },
      { find: /^gradclip\/jax$/, replacement: src('jax/index.ts') },
      { find: /^gradclip$/, replacement: src('index.ts') },
    ],
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'bench/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two test files at a time on the 2-core machine the suite is sized for (Vitest's default
    // there is one: the whole suite ran serially). Browser and worker timeouts are sized for a
    // busy machine, so the second file is just another busy process beside each.
    maxWorkers: 2,
    // A fixed fast-check seed for every test file (none under `npm run fuzz`): issue 22.
    setupFiles: [fileURLToPath(new URL('./packages/gradclip/test/fc_setup.ts', import.meta.url))],
  },
});
