/**
 * Runs page.ts (or another entry) in headless Chromium on a GPU backend of tfjs: Debian's
 * /usr/bin/chromium driven by playwright-core, the entry bundled with esbuild and served from
 * a localhost port (WebGPU needs a secure context; localhost is one).
 *
 * Both GPUs are software here — SwiftShader behind ANGLE for WebGL, and the SwiftShader
 * Vulkan adapter that --enable-unsafe-webgpu exposes for WebGPU — so the tests check
 * behaviour, and benchmarks compare ratios within one run, never absolute times.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, chromiumArgs, requireChromium } from '../../../../scripts/chromium.mjs';

/** Chromium flags: SwiftShader WebGL, and the unsafe-WebGPU switch for WebGPU. */
export const CHROMIUM_ARGS = chromiumArgs({ webgpu: true });

const root = fileURLToPath(new URL('../../../../', import.meta.url));

/** Bundles an entry for the browser (tfjs and the library from source). */
export async function bundle(entry: string): Promise<string> {
  const r = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    absWorkingDir: root,
    logLevel: 'error',
    // tfjs checks `process.env` in a few places; the page has none.
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  return r.outputFiles[0]!.text;
}

export interface BrowserPage {
  page: Page;
  /** Messages the page logged as errors, and uncaught exceptions. */
  problems: string[];
  close(): Promise<void>;
}

/**
 * Serves `script` as a module on a page and opens it in Chromium. `global` names the object the
 * script sets on window when it has loaded.
 */
export async function openPage(script: string, global: string): Promise<BrowserPage> {
  requireChromium('the browser tests');
  const server = http.createServer((req, res) => {
    if (req.url === '/entry.js') {
      res.setHeader('content-type', 'text/javascript');
      res.end(script);
    } else {
      res.setHeader('content-type', 'text/html');
      res.end(
        '<!doctype html><meta charset="utf-8"><title>gradclip</title><script type="module" src="/entry.js"></script>',
      );
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(url);
    await page.waitForFunction((g) => (window as unknown as Record<string, unknown>)[g] !== undefined, global, {
      timeout: 60_000,
    });
    const b = browser;
    return {
      page,
      problems,
      async close() {
        await b.close();
        await new Promise((r) => server.close(r));
      },
    };
  } catch (e) {
    await browser?.close();
    server.close();
    throw e;
  }
}
