import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const page = (p) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  // Two pages: index.html trains and saves, load.html only loads.
  build: { target: 'es2022', chunkSizeWarningLimit: 4000, rollupOptions: { input: { index: page('index.html'), load: page('load.html') } } },
});
