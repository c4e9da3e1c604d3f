#!/usr/bin/env node
/**
 * Training throughput of the production playground over a long run (issue 12, item 17).
 *
 * Builds the site (`vite build` into a temporary folder), serves it with `vite preview`,
 * opens it in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core, the
 * same launch as test/e2e.test.ts), presses Start and reads
 * `window.playground.history().length` every `--interval` seconds, printing the steps per
 * second of each interval. A page that slows down as the run grows shows a falling rate.
 *
 *     node packages/playground/scripts/throughput.mjs                  # charts on (the page as shipped)
 *     node packages/playground/scripts/throughput.mjs --no-charts      # charts never updated, for comparison
 *     node packages/playground/scripts/throughput.mjs --budget 0,0.99  # redraw as often as the page can
 *     node packages/playground/scripts/throughput.mjs --seconds 150 --interval 10 \
 *       --query 'backend=cpu&steps=100000' --screenshot /tmp/playground-long.png
 *
 * `--no-charts` and `--budget` edit src/main.ts at build time (see `edits` below);
 * `--cpu-throttle N` slows the page's main thread N-fold (DevTools CPU throttling). The
 * machine's load average is printed at the start and the end: on a shared machine, compare
 * runs made back to back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { build, preview } from 'vite';
import { CHROMIUM, chromiumArgs } from '../../../scripts/chromium.mjs';

const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '150' },
    interval: { type: 'string', default: '10' },
    query: { type: 'string', default: 'backend=cpu&steps=100000' },
    'no-charts': { type: 'boolean', default: false },
    screenshot: { type: 'string' },
    'cpu-throttle': { type: 'string', default: '1' },
    budget: { type: 'string' },
  },
});
const seconds = Number(opts.seconds);
const interval = Number(opts.interval);
if (!(seconds > 0 && interval > 0)) throw new Error('--seconds and --interval must be positive numbers');

const root = fileURLToPath(new URL('..', import.meta.url));
const configFile = join(root, 'vite.config.ts');

/**
 * Build-time edits of src/main.ts for the comparison modes (the shipped code has no such
 * switches): --no-charts makes `flushSoon()` a no-op, so the page never flushes steps into
 * the charts; --budget MIN_MS,SHARE replaces the arguments of `redrawBudget(…)` (throttle.ts),
 * e.g. --budget 0,0.99 redraws whenever the previous redraw has finished.
 */
const budget = opts.budget?.split(',').map(Number);
if (budget !== undefined && !(budget.length === 2 && budget[0] >= 0 && budget[1] > 0 && budget[1] < 1))
  throw new Error('--budget takes MIN_MS,SHARE with MIN_MS ≥ 0 and 0 < SHARE < 1');
const edits = {
  name: 'throughput-edits',
  enforce: 'pre', // sees the TypeScript source, before esbuild strips the types
  transform(code, id) {
    if (!id.endsWith('/src/main.ts')) return null;
    let out = code;
    const edit = (pattern, replacement) => {
      if (!pattern.test(out)) throw new Error(`${pattern} not found in ${id}`);
      out = out.replace(pattern, replacement);
    };
    if (opts['no-charts']) edit(/function flushSoon\(\): void \{/, '$&\n  return;');
    if (budget !== undefined) edit(/redrawBudget\([^)]*\)/, `redrawBudget(${budget[0]}, ${budget[1]})`);
    return out;
  },
};

const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

const outDir = mkdtempSync(join(tmpdir(), 'gradclip-throughput-'));
const userDataDir = mkdtempSync(join(tmpdir(), 'gradclip-chromium-'));
let server;
let context;
try {
  const buildOptions = { outDir, emptyOutDir: true };
  await build({
    configFile,
    root,
    logLevel: 'error',
    build: buildOptions,
    plugins: [edits],
  });
  server = await preview({
    configFile,
    root,
    logLevel: 'error',
    build: buildOptions,
    preview: { port: 0, host: '127.0.0.1', strictPort: false },
  });
  const base = server.resolvedUrls.local[0];
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: chromiumArgs({ disableGpu: true }),
    viewport: { width: 1440, height: 1000 },
    deviceScaleFactor: 1,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = [];
  page.on('console', (m) => m.type() === 'error' && problems.push(`console.error: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  const throttle = Number(opts['cpu-throttle']);
  if (throttle !== 1) {
    // DevTools' CPU throttling: the page's main thread runs `throttle` times slower (a slower
    // machine), which makes per-point chart costs show up sooner.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: throttle });
  }
  await page.goto(`${base}?${opts.query}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
  const backend = await page.evaluate(() => window.playground.backend());
  console.log(
    `throughput: ${opts['no-charts'] ? 'charts never updated' : 'charts on'}` +
      `${budget ? `, redrawBudget(${budget[0]}, ${budget[1]})` : ''}, ?${opts.query}, ` +
      `backend ${backend}, CPU throttling ×${throttle}, ${seconds} s, load average ${load()}`,
  );
  const steps = () => page.evaluate(() => window.playground.history().length);
  await page.click('#start');
  const t0 = Date.now();
  const samples = [{ t: 0, steps: await steps() }];
  while (samples.at(-1).t < seconds) {
    await page.waitForTimeout(t0 + samples.length * interval * 1000 - Date.now());
    const s = { t: (Date.now() - t0) / 1000, steps: await steps() };
    const prev = samples.at(-1);
    const rate = (s.steps - prev.steps) / (s.t - prev.t);
    console.log(
      `${s.t.toFixed(0).padStart(4)} s  steps ${String(prev.steps).padStart(5)} → ${String(s.steps).padStart(5)}  ` +
        `${rate.toFixed(1).padStart(5)} steps/s`,
    );
    samples.push(s);
    if (await page.evaluate(() => window.playground.status() !== 'running')) break;
  }
  const rates = samples.slice(1).map((s, i) => ({
    from: samples[i].steps,
    to: s.steps,
    rate: (s.steps - samples[i].steps) / (s.t - samples[i].t),
  }));
  const at1300 = rates.find((r) => r.to >= 1300);
  console.log(
    `first interval ${rates[0].rate.toFixed(1)} steps/s; ` +
      (at1300
        ? `around step 1,300 (${at1300.from}–${at1300.to}) ${at1300.rate.toFixed(1)} steps/s ` +
          `(${((100 * at1300.rate) / rates[0].rate).toFixed(0)} % of the first); `
        : 'step 1,300 not reached; ') +
      `last interval ${rates.at(-1).rate.toFixed(1)} steps/s; load average ${load()}`,
  );
  if (opts.screenshot !== undefined) {
    await page.click('#start'); // pause, so the charts settle
    await page.waitForTimeout(2000);
    await page.screenshot({ path: opts.screenshot, fullPage: true });
    console.log(`screenshot: ${opts.screenshot}`);
  }
  if (problems.length > 0) {
    console.error(problems.join('\n'));
    process.exitCode = 1;
  }
} finally {
  await context?.close();
  await server?.close();
  rmSync(userDataDir, { recursive: true, force: true });
  rmSync(outDir, { recursive: true, force: true });
}
