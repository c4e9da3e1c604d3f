/**
 * End-to-end: the playground in real Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core), served on a free localhost port by Vite's dev server, and — second suite —
 * as the production build (`vite build`, served by `vite preview`), where the bundler's
 * tree-shaking applies: every clipping method must train there too. A person's
 * session: load the page, train without clipping (the gradient norm explodes), switch to
 * global-norm clipping and train again (every applied norm is at most τ, and exactly τ
 * whenever the raw norm was above it), switch language, check the URL carries the
 * settings, and save screenshots for the docs.
 */
import { mkdtempSync, rmSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { build, createServer, preview, type PreviewServer, type ViteDevServer } from 'vite';
import fc from 'fast-check';
import { fcGate } from '../../gradclip/test/fc_gate.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StepRecord } from '../src/train.js';
import { CHROMIUM, chromiumArgs, requireChromium } from '../../../scripts/chromium.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
// Screenshots go to a git-ignored folder on every run; `UPDATE_SCREENSHOTS=1 npm test`
// refreshes the ones the docs show.
const imgDir = fileURLToPath(
  new URL(process.env.UPDATE_SCREENSHOTS ? '../../../docs/img/' : '../test-output/', import.meta.url),
);

type Rec = StepRecord;

requireChromium('the playground e2e test');

/** Headless Chromium with a fresh profile; console errors and page errors go to `problems`. */
async function launch(
  problems: string[],
  extraArgs: readonly string[] = [],
): Promise<{ context: BrowserContext; page: Page; userDataDir: string }> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'gradclip-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: chromiumArgs({ disableGpu: true, extra: extraArgs }),
    viewport: { width: 1440, height: 1000 },
    deviceScaleFactor: 1,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return { context, page, userDataDir };
}

describe('playground in Chromium', () => {
  let server: ViteDevServer;
  let context: BrowserContext;
  let page: Page;
  let userDataDir: string;
  let base: string;
  const problems: string[] = [];

  beforeAll(async () => {
    server = await createServer({
      configFile: join(root, 'vite.config.ts'),
      root,
      logLevel: 'error',
      // No hot reload and no file watching: an edit elsewhere in the repository during the
      // test must not reload the page under it.
      server: { port: 0, host: '127.0.0.1', strictPort: false, hmr: false, watch: null },
    });
    await server.listen();
    base = server.resolvedUrls!.local[0]!;
    ({ context, page, userDataDir } = await launch(problems));
  });

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  const history = () => page.evaluate(() => window.playground.history()) as Promise<Rec[]>;
  const finished = () =>
    page.waitForFunction(() => ['done', 'diverged'].includes(window.playground.status()), null, {
      timeout: 40_000,
      polling: 100,
    });

  it('trains without and with clipping, live, with the norms the settings promise', async () => {
    await page.goto(`${base}?steps=25`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    const backend = await page.textContent('#backend');
    expect(['webgpu', 'webgl', 'cpu']).toContain(backend);
    expect(await page.evaluate(() => window.playground.backend())).toBe(backend);

    // The charts start empty; remember what the norm chart's canvas looks like.
    expect(await page.evaluate(() => window.playground.chartRows())).toEqual({ loss: 0, norm: 0, fraction: 0 });
    const emptyNormChart = await page.$eval('#chart-norm canvas', (c) => (c as HTMLCanvasElement).toDataURL());

    // 1. No clipping: with T = 30, lr 0.3 and recurrent scale 2 the gradient explodes.
    await page.selectOption('#method', 'none');
    await page.click('#start');
    await finished();
    const plain = await history();
    expect(plain.length).toBeGreaterThan(0);
    expect(plain.every((r) => !r.clipped)).toBe(true);
    const plainMax = Math.max(...plain.map((r) => (Number.isFinite(r.preNorm) ? r.preNorm : Infinity)));
    expect(plainMax).toBeGreaterThan(100);

    // 2. Global-norm clipping at τ = 0.5, through the controls.
    await page.selectOption('#method', 'globalNorm');
    await page.fill('#opt-threshold', '0.5');
    await page.press('#opt-threshold', 'Enter');
    await page.click('#reset');
    await page.click('#start');
    await finished();
    expect(await page.evaluate(() => window.playground.status())).toBe('done');
    const clipped = await history();
    expect(clipped.map((r) => r.step)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    const over = clipped.filter((r) => r.preNorm > 0.5);
    expect(over.length).toBeGreaterThan(10); // the raw gradient keeps exceeding τ…
    for (const r of over) {
      // …and what is applied is τ·‖g‖/(‖g‖ + 1e-6), i.e. τ up to float32 rounding.
      expect(r.clipped).toBe(true);
      expect(Math.abs(r.postNorm - 0.5)).toBeLessThan(1e-4);
      expect(r.threshold).toBe(0.5);
    }
    for (const r of clipped) {
      expect(Number.isFinite(r.loss)).toBe(true);
      expect(r.postNorm).toBeLessThanOrEqual(0.5 * (1 + 1e-5));
    }
    expect(Math.max(...clipped.map((r) => r.preNorm))).toBeGreaterThan(1);

    // The charts received every step (a run this short is drawn whole) and were redrawn.
    const rows = await page.evaluate(() => window.playground.chartRows());
    expect(rows.loss).toBe(25);
    expect(rows.norm).toBe(25 * 3); // before, applied, threshold
    expect(rows.fraction).toBe(25 * 2);
    expect(await page.evaluate(() => window.playground.chartSteps())).toEqual({ loss: 25, norm: 25, fraction: 25 });
    expect(await page.$eval('#chart-norm canvas', (c) => (c as HTMLCanvasElement).toDataURL())).not.toBe(
      emptyNormChart,
    );
    expect(Number(await page.textContent('#s-step'))).toBe(25);

    // Training continues where it stopped when more steps are allowed, without leaking tensors.
    const tensorsAt25 = await page.evaluate(() => window.playground.numTensors());
    await page.fill('#opt-maxSteps', '40');
    await page.press('#opt-maxSteps', 'Enter');
    await page.click('#start');
    await finished();
    expect((await history()).length).toBe(40);
    expect(await page.evaluate(() => window.playground.numTensors())).toBe(tensorsAt25);

    // The URL carries the settings, and loading it restores them.
    const url = new URL(page.url());
    expect(url.searchParams.get('tau')).toBe('0.5');
    expect(url.searchParams.get('steps')).toBe('40');
    expect(url.searchParams.has('method')).toBe(false); // globalNorm is the default

    if (!existsSync(imgDir)) mkdirSync(imgDir, { recursive: true });
    await page.screenshot({ path: join(imgDir, 'playground.png'), fullPage: true });

    // Training does not freeze the page: frames keep coming while it runs, and Pause stops it.
    await page.fill('#opt-maxSteps', '1000');
    await page.press('#opt-maxSteps', 'Enter');
    await page.click('#start');
    await page.waitForFunction(() => window.playground.history().length >= 45, null, { timeout: 20_000, polling: 50 });
    expect(await page.evaluate(() => window.playground.status())).toBe('running');
    const frames = await page.evaluate(
      () =>
        new Promise<number>((resolve) => {
          let n = 0;
          const t0 = performance.now();
          const tick = () => (performance.now() - t0 < 500 ? (n++, requestAnimationFrame(tick)) : resolve(n));
          requestAnimationFrame(tick);
        }),
    );
    expect(frames).toBeGreaterThan(5);
    await page.click('#start'); // the same button reads "Pause" while training
    expect(await page.evaluate(() => window.playground.status())).toBe('paused');
    await page.waitForTimeout(300); // a step that was in flight lands
    const stepsAtPause = (await history()).length;
    await page.waitForTimeout(500);
    expect((await history()).length).toBe(stepsAtPause);

    // Korean text, switchable.
    await page.click('button[data-lang="ko"]');
    expect(await page.textContent('h1')).toBe('gradclip 플레이그라운드');
    expect(await page.textContent('#start')).toBe('시작');
    expect(new URL(page.url()).searchParams.get('lang')).toBe('ko');
    await page.waitForTimeout(400); // the Pascanu panel redraws after a short debounce
    await page.screenshot({ path: join(imgDir, 'playground-ko.png'), fullPage: false });

    // Reloading the shared URL restores the settings; `backend=cpu` picks the cpu backend.
    await page.goto(`${page.url()}&backend=cpu`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    expect(await page.evaluate(() => window.playground.settings())).toMatchObject({
      method: 'globalNorm',
      threshold: 0.5,
      maxSteps: 1000,
      lang: 'ko',
      backend: 'cpu',
    });
    expect(await page.inputValue('#opt-threshold')).toBe('0.5');
    expect(await page.textContent('#backend')).toBe('cpu');

    // The "Clipping decides" preset sets its training settings and the page says what the run shows.
    expect(await page.isHidden('#preset-note')).toBe(true);
    await page.click('button[data-preset="decides"]');
    expect(await page.isVisible('#preset-note')).toBe(true);
    expect(await page.textContent('#preset-note')).toContain('0.2–0.3');
    expect(await page.evaluate(() => window.playground.settings())).toMatchObject({
      method: 'globalNorm',
      threshold: 1,
      learningRate: 0.3,
      seqLen: 5,
      maxSteps: 500,
    });
    expect(new URL(page.url()).searchParams.get('T')).toBe('5');

    expect(problems).toEqual([]);
  });
});

// The production build: the bundler tree-shakes here (sideEffects), which the dev server does
// not. A dropped registration (AutoClip's device history, issue 12 item 7) broke AutoClip
// only in the built site.
describe('playground production build (vite build + vite preview) in Chromium', () => {
  let server: PreviewServer;
  let context: BrowserContext;
  let page: Page;
  let userDataDir: string;
  let outDir: string;
  let base: string;
  const problems: string[] = [];

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'gradclip-playground-build-'));
    const build_ = { outDir, emptyOutDir: true };
    await build({ configFile: join(root, 'vite.config.ts'), root, logLevel: 'error', build: build_ });
    server = await preview({
      configFile: join(root, 'vite.config.ts'),
      root,
      logLevel: 'error',
      build: build_,
      preview: { port: 0, host: '127.0.0.1', strictPort: false },
    });
    base = server.resolvedUrls!.local[0]!;
    ({ context, page, userDataDir } = await launch(problems));
  });

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  const history = () => page.evaluate(() => window.playground.history()) as Promise<Rec[]>;
  const finished = () =>
    page.waitForFunction(() => ['done', 'diverged'].includes(window.playground.status()), null, {
      timeout: 40_000,
      polling: 100,
    });

  it('auto picks cpu on a software adapter (SwiftShader WebGPU + WebGL) and says why; ?backend=webgpu still runs WebGPU (issues 13, 23)', async () => {
    const gpuProblems: string[] = [];
    const gpu = await launch(gpuProblems, ['--enable-unsafe-webgpu']);
    try {
      // auto: this Chromium's only adapters are SwiftShader's (software): cpu is faster there.
      await gpu.page.goto(`${base}?steps=3`);
      await gpu.page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
      expect(await gpu.page.textContent('#backend')).toBe('cpu');
      expect(await gpu.page.evaluate(() => window.playground.backend())).toBe('cpu');
      const pick = await gpu.page.evaluate(() => window.playground.backendPick());
      expect(pick.reason).toBe('software');
      expect(pick.adapter!.toLowerCase()).toContain('swiftshader');
      expect(await gpu.page.textContent('#backend-why')).toContain('software (SwiftShader): cpu is faster');

      // forced: WebGPU runs and clips.
      await gpu.page.goto(`${base}?method=globalNorm&tau=1&steps=12&backend=webgpu`);
      await gpu.page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
      expect(await gpu.page.textContent('#backend')).toBe('webgpu');
      expect(await gpu.page.evaluate(() => window.playground.backend())).toBe('webgpu');
      expect(await gpu.page.textContent('#backend-why')).toContain('chosen in the URL');
      await gpu.page.click('#start');
      await gpu.page.waitForFunction(() => ['done', 'diverged'].includes(window.playground.status()), null, {
        timeout: 90_000,
        polling: 100,
      });
      const recs = (await gpu.page.evaluate(() => window.playground.history())) as Rec[];
      expect(recs).toHaveLength(12);
      for (const r of recs) expect(r.postNorm).toBeLessThanOrEqual(1 + 1e-4);
      expect(gpuProblems).toEqual([]);
    } finally {
      await gpu.context.close();
      rmSync(gpu.userDataDir, { recursive: true, force: true });
    }
  });

  it('compare runs: Reset keeps the last two runs as a faded overlay (loss and norm charts) named by their settings; legends uncut; share link and export (issue 23)', async () => {
    await page.goto(`${base}?method=none&steps=15&backend=cpu`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    expect(await page.evaluate(() => window.playground.previousRuns())).toEqual([]);
    await page.click('#start');
    await finished();
    await page.selectOption('#method', 'globalNorm');
    await page.click('#reset');
    expect(await page.evaluate(() => window.playground.previousRuns())).toEqual(['None · lr 0.3 · T 10']);
    await page.click('#start');
    await finished();
    await page.fill('#opt-threshold', '0.5');
    await page.press('#opt-threshold', 'Enter');
    await page.click('#reset');
    await page.click('#start');
    await finished();
    await page.click('#reset');
    // At most two: the oldest (None) has gone.
    expect(await page.evaluate(() => window.playground.previousRuns())).toEqual([
      'Global norm τ=1 · lr 0.3 · T 10',
      'Global norm τ=0.5 · lr 0.3 · T 10',
    ]);
    await page.waitForTimeout(300);
    const legends = await page.evaluate(() => window.playground.legendLayout());
    expect(legends.loss.map((l) => l.text)).toEqual([
      '② Global norm τ=1 · lr 0.3 · T 10',
      '① Global norm τ=0.5 · lr 0.3 · T 10',
    ]);
    // The norm chart draws the same two runs (their norm before clipping) under the current one.
    expect([...legends.norm.map((l) => l.text)].sort()).toEqual(
      [
        'before clipping',
        'applied',
        'threshold',
        '② Global norm τ=1 · lr 0.3 · T 10',
        '① Global norm τ=0.5 · lr 0.3 · T 10',
      ].sort(),
    );

    // Share link: the page's settings in the URL; export: the run as CSV.
    const href = await page.getAttribute('#share-link', 'href');
    expect(new URL(href!).searchParams.get('tau')).toBe('0.5');
    expect(new URL(href!).searchParams.get('steps')).toBe('15');
    await page.click('#start');
    await finished();
    const [csv] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
    expect(csv.suggestedFilename()).toBe('gradclip-run.csv');
    const lines = readFileSync((await csv.path())!, 'utf8')
      .trim()
      .split('\n');
    expect(lines[0]).toBe('step,loss,pre_norm,post_norm,threshold,clipped');
    expect(lines).toHaveLength(16);
    expect(lines[15]!.startsWith('15,')).toBe(true);
    const [json] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
    const run = JSON.parse(readFileSync((await json.path())!, 'utf8')) as { query: string; steps: unknown[] };
    expect(run.steps).toHaveLength(15);
    expect(run.query).toContain('tau=0.5');
    expect(problems).toEqual([]);
  });

  it.each([
    [1280, 900, 'en'],
    [390, 844, 'en'],
    [390, 844, 'ko'],
  ])(
    'at %i×%i px (%s): no legend label is cut (measured) and the formula is rendered; on a phone the loss chart and Start are on the first screen (issue 23)',
    async (width, height, lang) => {
      const ctx = await launch(problems);
      try {
        await ctx.page.setViewportSize({ width, height });
        await ctx.page.goto(`${base}?method=none&steps=8&backend=cpu&lang=${lang}`);
        await ctx.page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
        await ctx.page.click('#start');
        await ctx.page.waitForFunction(() => ['done', 'diverged'].includes(window.playground.status()), null, {
          timeout: 40_000,
        });
        await ctx.page.click('#reset'); // an overlay legend with a long label
        await ctx.page.waitForTimeout(300);
        const legends = await ctx.page.evaluate(() => window.playground.legendLayout());
        const canvases = await ctx.page.$$eval('.chart', (cs) =>
          cs.map((c) => ({ id: c.id, width: c.clientWidth, canvas: c.querySelector('canvas')!.clientWidth })),
        );
        for (const [key, id] of [
          ['loss', 'chart-loss'],
          ['norm', 'chart-norm'],
          ['fraction', 'chart-fraction'],
        ] as const) {
          const box = canvases.find((c) => c.id === id)!;
          expect(box.canvas, id).toBeLessThanOrEqual(box.width); // the canvas fits its panel
          expect(legends[key].length, id).toBeGreaterThan(0);
          for (const l of legends[key]) {
            expect(l.text, id).not.toContain('…');
            expect(l.right, `${id}: "${l.text}"`).toBeLessThanOrEqual(box.canvas);
          }
        }
        expect(await ctx.page.textContent('.pascanu .muted')).toContain('xₜ = w·σ(xₜ₋₁) + b');
        expect(await ctx.page.evaluate(() => document.body.textContent!.includes('_{'))).toBe(false);
        expect(await ctx.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
        if (width < 900) {
          const r = await ctx.page.$eval('#chart-loss', (e) => e.getBoundingClientRect().toJSON() as DOMRect);
          expect(r.bottom).toBeLessThanOrEqual(height);
          const start = await ctx.page.$eval('#start', (e) => e.getBoundingClientRect().toJSON() as DOMRect);
          expect(start.bottom).toBeLessThanOrEqual(r.top);
        }
        if (!existsSync(imgDir)) mkdirSync(imgDir, { recursive: true });
        await ctx.page.screenshot({ path: join(imgDir, `playground-${width}-${lang}.png`) });
      } finally {
        await ctx.context.close();
        rmSync(ctx.userDataDir, { recursive: true, force: true });
      }
    },
  );

  it('?method=autoClip loads and trains, clipping at the percentile threshold', async () => {
    await page.goto(`${base}?method=autoClip&steps=15&backend=cpu`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    expect(await page.evaluate(() => window.playground.settings())).toMatchObject({ method: 'autoClip', maxSteps: 15 });
    await page.click('#start');
    await finished();
    expect(await page.evaluate(() => window.playground.status())).toBe('done');
    const recs = await history();
    expect(recs.map((r) => r.step)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    for (const r of recs) {
      // The 10th percentile of the norms seen so far (this step's included): never above
      // the largest norm seen, and the applied norm never above it.
      expect(r.threshold).not.toBeNull();
      expect(r.threshold!).toBeGreaterThan(0);
      expect(r.threshold!).toBeLessThanOrEqual(
        Math.max(...recs.filter((q) => q.step <= r.step).map((q) => q.preNorm)) * (1 + 1e-6),
      );
      expect(r.postNorm).toBeLessThanOrEqual(r.threshold! * (1 + 1e-4));
      expect(Number.isFinite(r.loss)).toBe(true);
    }
    expect(recs.filter((r) => r.clipped).length).toBeGreaterThan(5);
    expect(problems).toEqual([]);
  });

  it('fuzz: hostile query strings never break the built page (issue 12)', async () => {
    const keys = [
      'method',
      'tau',
      'agc',
      'pct',
      'z',
      'ema',
      'warmup',
      'lrel',
      'lr',
      'T',
      'scale',
      'seed',
      'steps',
      'lang',
      'backend',
    ];
    const value = fc.oneof(
      fc.constantFrom(
        '__proto__',
        'constructor',
        'NaN',
        'Infinity',
        '-1',
        '1e308',
        '',
        '<img src=x onerror=alert(1)>',
        '%00',
        'webgpu',
      ),
      fc.string({ maxLength: 12 }),
      fc.double().map(String),
    );
    const queries = fc.sample(
      fc
        .array(fc.tuple(fc.constantFrom(...keys, 'toString', 'x'), value), { maxLength: 5 })
        .map((pairs) => new URLSearchParams(pairs).toString()),
      fcGate({ seed: 1211, numRuns: 8 }),
    );
    const protoSize = await page.evaluate(() => Object.getOwnPropertyNames(Object.prototype).length);
    for (const q of queries) {
      const before = problems.length;
      await page.goto(`${base}?${q}&backend=cpu`);
      await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
      const s = (await page.evaluate(() => window.playground.settings())) as unknown as Record<string, unknown>;
      // Every setting is a valid value (unknown or bad ones fall back to the defaults).
      expect(['none', 'globalNorm', 'value', 'perTensor', 'agc', 'autoClip', 'zClip', 'adaGC'], q).toContain(
        s['method'],
      );
      for (const k of ['threshold', 'learningRate', 'seqLen', 'maxSteps'])
        expect(Number.isFinite(s[k]), `${q}: ${k}`).toBe(true);
      expect(await page.evaluate(() => document.querySelectorAll('img[src="x"]').length), q).toBe(0);
      expect(await page.evaluate(() => Object.getOwnPropertyNames(Object.prototype).length), q).toBe(protoSize);
      expect(problems.slice(before), q).toEqual([]);
    }
  });

  it('a long run: the charts draw a bounded, thinned view up to the latest step; the history stays whole (issue 12, item 17)', async () => {
    // 600 steps > MAX_POINTS_PER_SERIES (500): every series is decimated (from ~250 points on).
    await page.goto(`${base}?steps=600&backend=cpu`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    await page.click('#start');
    await page.waitForFunction(() => ['done', 'diverged'].includes(window.playground.status()), null, {
      timeout: 110_000,
      polling: 250,
    });
    expect(await page.evaluate(() => window.playground.status())).toBe('done');
    const recs = await history();
    expect(recs.map((r) => r.step)).toEqual(Array.from({ length: 600 }, (_, i) => i + 1));
    expect(await page.textContent('#s-step')).toBe('600');
    const rows = await page.evaluate(() => window.playground.chartRows());
    // At most 500 points a series (loss: 1 series, norm: 3, fraction: 2), fewer than the run has…
    expect(rows.loss).toBeLessThanOrEqual(500);
    expect(rows.loss).toBeLessThan(600);
    expect(rows.norm).toBeLessThanOrEqual(3 * 500);
    expect(rows.fraction).toBeLessThanOrEqual(2 * 500);
    // …yet not thinned to a sketch (≥ 150 buckets of 4 steps here, each drawing its min and
    // max), and every chart reaches the latest step.
    expect(rows.loss).toBeGreaterThanOrEqual(150);
    expect(await page.evaluate(() => window.playground.chartSteps())).toEqual({ loss: 600, norm: 600, fraction: 600 });
    expect(problems).toEqual([]);
  });

  it('every method trains after switching to it in the controls', async () => {
    const methods = await page.$$eval('#method option', (os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(methods).toEqual(
      expect.arrayContaining(['none', 'globalNorm', 'value', 'perTensor', 'agc', 'autoClip', 'zClip', 'adaGC']),
    );
    await page.fill('#opt-maxSteps', '3');
    await page.press('#opt-maxSteps', 'Enter');
    let tau: number | null = null;
    for (const m of ['globalNorm', ...methods.filter((x) => x !== 'globalNorm')]) {
      await page.selectOption('#method', m);
      await page.click('#reset');
      await page.click('#start');
      await finished();
      const recs = await history();
      expect(recs.length, m).toBe(3);
      expect(
        recs.every((r) => Number.isFinite(r.preNorm)),
        m,
      ).toBe(true);
      // Each method clips by its own threshold: AutoClip's is not global-norm clipping's τ.
      if (m === 'globalNorm') tau = recs[0]!.threshold;
      if (m === 'autoClip') {
        expect(tau).toBeGreaterThan(0);
        for (const r of recs) expect(r.threshold).not.toBe(tau);
      }
    }
    expect(problems).toEqual([]);
  });
});
