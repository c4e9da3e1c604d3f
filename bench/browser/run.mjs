#!/usr/bin/env node
// `npm run bench:browser`: gradclip/tfjs global-norm clipping against the naive tfjs
// composition on the webgl and webgpu backends, in headless Chromium (Debian's
// /usr/bin/chromium driven by playwright-core): SwiftShader WebGL 2 (--use-angle=swiftshader
// --enable-unsafe-swiftshader) and SwiftShader WebGPU (--enable-unsafe-webgpu), or the
// machine's GPU where it has one (--gpu). Page side: bench/browser/page.ts.
//
// Cases (float32, values ~ N(0, 1)): 20 × 50,000, 100 × 10,000, 4 × 250,000, 1,000 × 1,000;
// interleaved rounds, medians and ratios printed and written to <out>/browser.json; plus
// clipping's share of a training step (the playground's RNN, a small dense model).
// Software renderers: compare ratios within one run, never absolute times.
//
// Flags: --rounds=15  --train-rounds=30  --backends=webgl,webgpu  --cases=20x50000,...
//        --per-tensor-cases=20x50000,100x10000 (the per-tensor clip, Keras clipnorm; '' for none)
//        --batching-cases=100x10000 (AdaGC, per-tensor statistics batched vs tensor by tensor)
//        --gpu (use the hardware GPU: no SwiftShader flags)  --out=bench-results
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { CHROMIUM, chromiumArgs } from '../../scripts/chromium.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const { values: args } = parseArgs({ strict: false });
const rounds = Number(args.rounds ?? 15);
const trainRounds = Number(args['train-rounds'] ?? 30);
const backends = String(args.backends ?? 'webgl,webgpu').split(',');
const out = resolve(root, args.out ?? 'bench-results');
const parseCases = (x) =>
  String(x)
    .split(',')
    .filter((c) => c !== '')
    .map((c) => c.split('x').map(Number));
const cases = parseCases(args.cases ?? '20x50000,100x10000,4x250000,1000x1000');
const perTensorCases = parseCases(args['per-tensor-cases'] ?? '20x50000,100x10000');
const batchingCases = parseCases(args['batching-cases'] ?? '100x10000');

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const bundled = await build({
  entryPoints: [join(root, 'bench/browser/page.ts')],
  bundle: true,
  write: false,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  absWorkingDir: root,
  logLevel: 'error',
  define: { 'process.env.NODE_ENV': '"production"' },
});
const script = bundled.outputFiles[0].text;
const server = http.createServer((req, res) => {
  res.setHeader('content-type', req.url === '/entry.js' ? 'text/javascript' : 'text/html');
  res.end(
    req.url === '/entry.js'
      ? script
      : '<!doctype html><meta charset="utf-8"><script type="module" src="/entry.js"></script>',
  );
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/`;

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: chromiumArgs({ gpu: args.gpu ? 'hardware' : 'swiftshader', webgpu: true }),
});

const results = {
  date: new Date().toISOString(),
  machine: `${os.cpus()[0]?.model ?? '?'} × ${os.availableParallelism()}`,
  chromium: browser.version(),
  rounds,
  backends: {},
};
const fmt = (x) => (x < 10 ? x.toFixed(2) : x.toFixed(1));
try {
  for (const backend of backends) {
    // A fresh page per backend: nothing of one backend's state affects the other.
    const page = await browser.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(url);
    await page.waitForFunction(() => window.gradclipBench !== undefined, undefined, { timeout: 60_000 });
    const info = await page.evaluate((b) => window.gradclipBench.use(b), backend);
    console.log(`\n${backend}: gradclip kernels ${info.fused ?? 'none (composed ops)'}; ${info.adapter}`);
    const entry = { ...info, cases: [], perTensorCases: [], batchingCases: [], training: {} };
    for (const [kind, list] of [
      ['global', cases],
      ['perTensor', perTensorCases],
    ]) {
      if (list.length === 0) continue;
      console.log(
        kind === 'global'
          ? '  global norm         naive ms   gradclip ms   ratio   (norms agree)'
          : '  per tensor          naive ms   gradclip ms   ratio   (norms agree)',
      );
      for (const [tensors, size] of list) {
        const label = `${tensors} × ${size.toLocaleString('en')}`;
        const r = await page.evaluate(
          ([l, t, s, n, pt]) => window.gradclipBench.clipCase(l, t, s, n, pt),
          [label, tensors, size, rounds, kind === 'perTensor'],
        );
        const naive = median(r.times.naive);
        const ours = median(r.times.gradclip);
        const agree = Math.abs(r.norms.naive - r.norms.gradclip) / r.norms.gradclip < 1e-4;
        entry[kind === 'global' ? 'cases' : 'perTensorCases'].push({
          label,
          tensors,
          size,
          naiveMs: naive,
          gradclipMs: ours,
          ratio: ours / naive,
          normsAgree: agree,
          times: r.times,
        });
        console.log(
          `  ${label.padEnd(18)} ${fmt(naive).padStart(9)} ${fmt(ours).padStart(12)}   ${(ours / naive).toFixed(2)}×   ${agree ? 'yes' : `NO: ${r.norms.naive} vs ${r.norms.gradclip}`}`,
        );
      }
    }
    if (batchingCases.length > 0) console.log('  AdaGC step          per tensor ms   batched ms   ratio');
    for (const [tensors, size] of batchingCases) {
      const label = `${tensors} × ${size.toLocaleString('en')}`;
      const t = await page.evaluate(([n, s, r]) => window.gradclipBench.batchingCase(n, s, r), [tensors, size, rounds]);
      const per = median(t.perTensor);
      const batched = median(t.batched);
      entry.batchingCases.push({
        label,
        tensors,
        size,
        perTensorMs: per,
        batchedMs: batched,
        ratio: batched / per,
        times: t,
      });
      console.log(
        `  ${label.padEnd(18)} ${fmt(per).padStart(13)} ${fmt(batched).padStart(12)}   ${(batched / per).toFixed(2)}×`,
      );
    }
    for (const [name, fn] of [
      ['rnn', 'rnnShare'],
      ['dense', 'denseShare'],
    ]) {
      const r = await page.evaluate(([f, n]) => window.gradclipBench[f](n), [fn, trainRounds]);
      const none = median(r.times.none);
      const clip = median(r.times.gradclip);
      const naive = median(r.times.naive);
      // Clipping's share of a clipped step: the extra time over the unclipped step, taken per
      // round (the three steps of a round run back to back, so the machine's drift and load
      // cancel out) and then the median over the rounds.
      const paired = (xs) => median(xs.map((t, i) => (t - r.times.none[i]) / t));
      const share = paired(r.times.gradclip);
      const naiveShare = paired(r.times.naive);
      entry.training[name] = {
        stepMs: none,
        gradclipStepMs: clip,
        naiveStepMs: naive,
        clipShare: share,
        naiveShare,
        times: r.times,
      };
      console.log(
        `  ${name} training step: ${fmt(none)} ms unclipped, ${fmt(naive)} ms naive clip, ${fmt(clip)} ms gradclip: clipping ≈ ${(100 * share).toFixed(1)} % of the step (naive ${(100 * naiveShare).toFixed(1)} %)`,
      );
    }
    if (problems.length) console.log(`  page errors: ${problems.join(' | ')}`);
    entry.problems = problems;
    results.backends[backend] = entry;
    await page.close();
  }
} finally {
  await browser.close();
  server.close();
}
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'browser.json'), JSON.stringify(results, null, 2));
console.log(`\nwritten: ${join(out, 'browser.json')}`);
