import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { cli: 'src/cli.ts' },
  format: ['esm'],
  dts: false,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // Dependencies stay external: gradclip resolves to the built library through the workspace link.
  skipNodeModulesBundle: true,
  // …except the shared experiment code (a private workspace package of TypeScript sources):
  // bundled in, so the published CLI needs nothing that is not on the registry.
  noExternal: ['@gradclip/experiments'],
});
