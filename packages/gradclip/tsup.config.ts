import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', 'tfjs/index': 'src/tfjs/index.ts', 'jax/index': 'src/jax/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  // One copy of the core for both entry points in both formats: without splitting, the CJS
  // build of gradclip/tfjs would bundle its own core (two NonFiniteGradientError classes,
  // kernels chosen twice).
  splitting: true,
  target: 'es2022',
  external: [/^@tensorflow\//, /^@jax-js\//],
});
