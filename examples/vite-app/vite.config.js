import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const page = (p) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  // index.html trains and saves; load.html and load-adaptive.html only load.
  build: {
    target: 'es2022',
    chunkSizeWarningLimit: 4000,
    rollupOptions: {
      input: { index: page('index.html'), load: page('load.html'), loadAdaptive: page('load-adaptive.html') },
    },
  },
});
