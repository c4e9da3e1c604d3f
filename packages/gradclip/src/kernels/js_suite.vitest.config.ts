// The typed-array suite (packages/gradclip) once more with the plain-JS kernels forced:
// `npm run test:js-kernels`. The default run (`npm test`) uses the WASM SIMD kernels.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import base from '../../../../vitest.config.js';

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    // Replaces (not extends) the root include list: only the typed-array library's tests.
    include: ['packages/gradclip/src/**/*.test.ts', 'packages/gradclip/test/**/*.test.ts'],
    // Not the code paths the kernels serve: tfjs and jax-js (their own array ops), the Chromium
    // tests (GPU kernels), and the privacy accountants (scalar math; per-example clipping stays).
    exclude: [
      'packages/gradclip/src/tfjs/**',
      'packages/gradclip/src/jax/**',
      'packages/gradclip/test/browser/**',
      'packages/gradclip/src/privacy/!(per_example).test.ts',
      '**/node_modules/**',
    ],
    setupFiles: [
      ...[base.test?.setupFiles ?? []].flat(),
      fileURLToPath(new URL('./js_suite.setup.ts', import.meta.url)),
    ],
  },
});
