import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const lib = (p: string) => fileURLToPath(new URL(`../gradclip/src/${p}`, import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  // Relative asset paths: the built site works from any sub-path (GitHub Pages, a file server).
  base: './',
  resolve: {
    // The playground runs on the library's source, so it never waits for (or goes stale
    // against) the library's dist build.
    alias: [
      { find: /^gradclip\/tfjs$/, replacement: lib('tfjs/index.ts') },
      { find: /^gradclip$/, replacement: lib('index.ts') },
    ],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // TF.js and Vega are large; one chunk each keeps caching sensible.
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      output: {
        manualChunks(id) {
          if (id.includes('@tensorflow')) return 'tfjs';
          if (id.includes('vega') || id.includes('d3-')) return 'vega';
          return undefined;
        },
      },
    },
  },
  // Pre-bundled at server start, so that the dev server never discovers a dependency late
  // and reloads the page (which would also break the e2e test mid-run).
  optimizeDeps: {
    include: [
      '@tensorflow/tfjs-core',
      '@tensorflow/tfjs-core/dist/register_all_gradients',
      '@tensorflow/tfjs-backend-webgl',
      '@tensorflow/tfjs-backend-cpu',
      'vega',
      'vega-lite',
    ],
  },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
});
