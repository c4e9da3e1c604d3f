// Setup file of js_suite.vitest.config.ts: every test file of the typed-array suite runs with
// the plain-JS kernels forced, so the whole suite checks the fallback path too.
import { beforeEach } from 'vitest';
import { kernels, useKernels } from './index.js';

useKernels('js');
beforeEach(() => {
  // A test may switch kernels (e.g. to compare both); each test starts on the JS path.
  if (kernels().name !== 'js') useKernels('js');
});
