// Consumer checks (part of `npm test`): the library as a user gets it from the registry.
//
//   node examples/check-consumers.mjs [--keep]
//
// 1. `npm pack` packages/gradclip (built first: `npm run build -w gradclip`) and check what the
//    tarball holds: README, LICENSE, CHANGELOG, dist; no tests, no sources.
// 2. Install the tarball (and @gradclip/cli's), with @tensorflow/tfjs, typescript and vite, into a project in the
//    system temp folder (outside this repository, so nothing resolves to the workspace) with
//    `npm install --prefer-offline`: the root `npm install` has filled the npm cache with
//    the same versions, so this needs no network and takes seconds.
// 3. Run the example projects there, each against the installed tarball:
//    node-esm-ts  TypeScript type-checked with moduleResolution node16, bundler and node10,
//                 then run as a Node ES module;
//    node-cjs     require('gradclip') and require('gradclip/tfjs'), save and load a model;
//    node-esm-jax gradclip/jax next to @jax-js/jax (chain, clipByValue, zClip, clipByGlobalNorm, clipPerExample, inside jit);
//    vite-app     `vite build`, served by `vite preview`, in headless Chromium: index.html
//                 trains with a clipped optimizer and saves with includeOptimizer to IndexedDB,
//                 load.html only does `import 'gradclip/tfjs'` and tf.loadLayersModel;
//                 load-adaptive.html loads a model saved with AutoClip (registerClipperKind);
//    the `gradclip` command of the packed @gradclip/cli: --version, a bad --out, `surface`.
// Exits non-zero with the reason on the first failure.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CHROMIUM, chromiumArgs, requireChromium } from '../scripts/chromium.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const lib = join(root, 'packages/gradclip');
const keep = process.argv.includes('--keep');
const t0 = performance.now();
const log = (m) => console.log(`[consumers ${((performance.now() - t0) / 1000).toFixed(1)} s] ${m}`);

function run(cmd, args, cwd, env = {}) {
  try {
    return execFileSync(cmd, args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
      timeout: 300_000,
    });
  } catch (e) {
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** The version of a package installed in this repository (so the consumer install hits the npm cache). */
function installedVersion(name, from = root) {
  return JSON.parse(readFileSync(createRequire(join(from, 'x.js')).resolve(`${name}/package.json`), 'utf8')).version;
}

if (!existsSync(join(lib, 'dist/tfjs/index.js')))
  throw new Error('packages/gradclip/dist is missing: run `npm run build -w gradclip` first');
requireChromium('the Vite consumer check');

const work = mkdtempSync(join(tmpdir(), 'gradclip-consumers-'));

/** `npm pack --json` into `work` (a prepack script may print before the JSON). */
function pack(dir) {
  const out = run('npm', ['pack', '--json', '--pack-destination', work], dir);
  return JSON.parse(out.slice(out.search(/^\[/m)));
}
try {
  // 1. The tarball.
  const [packed] = pack(lib);
  const files = packed.files.map((f) => f.path);
  log(
    `packed ${packed.filename}: ${files.length} files, ${(packed.size / 1e3).toFixed(1)} kB (${(packed.unpackedSize / 1e3).toFixed(1)} kB unpacked)`,
  );
  for (const f of [
    'README.md',
    'LICENSE',
    'CHANGELOG.md',
    'package.json',
    'dist/index.js',
    'dist/index.cjs',
    'dist/index.d.ts',
    'dist/tfjs/index.js',
    'dist/tfjs/index.cjs',
    'dist/tfjs/index.d.ts',
    'dist/jax/index.js',
    'dist/jax/index.cjs',
    'dist/jax/index.d.ts',
  ]) {
    assert.ok(files.includes(f), `the tarball lacks ${f}`);
  }
  assert.deepEqual(
    files.filter((f) => /\.test\.|(^|\/)test\/|^src\//.test(f)),
    [],
    'the tarball ships tests or sources',
  );
  // 2.6 MB: gradclip/jax added 215 kB (ESM + CJS + maps + types); the rest was 2.18 MB by then.
  assert.ok(packed.unpackedSize < 2.6e6, `the package unpacks to ${packed.unpackedSize} bytes`);
  const [cliPacked] = pack(join(root, 'packages/cli'));
  const cliFiles = cliPacked.files.map((f) => f.path);
  for (const f of ['LICENSE', 'README.md', 'package.json', 'bin/gradclip.mjs', 'dist/cli.js'])
    assert.ok(cliFiles.includes(f), `the CLI tarball lacks ${f}`);
  assert.deepEqual(
    cliFiles.filter((f) => /\.test\.|(^|\/)test\/|^src\//.test(f)),
    [],
    'the CLI tarball ships tests or sources',
  );

  // 2. One install for all the example projects (each also lists its own dependencies).
  const deps = {
    gradclip: `file:${join(work, packed.filename)}`,
    '@gradclip/cli': `file:${join(work, cliPacked.filename)}`,
    '@tensorflow/tfjs': installedVersion('@tensorflow/tfjs'),
    // @jax-js/jax's exports map does not expose its package.json: read it from node_modules.
    '@jax-js/jax': JSON.parse(readFileSync(join(root, 'node_modules/@jax-js/jax/package.json'), 'utf8')).version,
    typescript: installedVersion('typescript'),
    vite: installedVersion('vite', join(root, 'packages/playground')),
  };
  writeFileSync(
    join(work, 'package.json'),
    JSON.stringify({ name: 'gradclip-consumers', private: true, dependencies: deps }, null, 2),
  );
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'], work);
  log(
    `installed ${Object.entries(deps)
      .map(([k, v]) => `${k}@${v.startsWith('file:') ? 'tarball' : v}`)
      .join(', ')}`,
  );
  for (const ex of ['node-esm-ts', 'node-cjs', 'node-esm-jax', 'vite-app']) {
    cpSync(join(root, 'examples', ex), join(work, ex), {
      recursive: true,
      filter: (p) => !/(node_modules|dist)$/.test(p),
    });
  }

  // 3a. TypeScript in three resolution modes, then Node ESM.
  const esm = join(work, 'node-esm-ts');
  const tsc = join(work, 'node_modules/typescript/bin/tsc');
  for (const cfg of ['tsconfig.json', 'tsconfig.bundler.json', 'tsconfig.node10.json'])
    run(process.execPath, [tsc, '-p', cfg], esm);
  const esmOut = run(process.execPath, ['dist/index.js'], esm);
  assert.match(esmOut, /^typed: norm 5 clipped true w 0\.600,0\.800$/m);
  assert.match(esmOut, /^zClip: resumed true$/m);
  const moved = /^tfjs: optimizer ClippedOptimizer moved (\S+)$/m.exec(esmOut);
  assert.ok(moved, esmOut);
  assert.ok(
    Number(moved[1]) > 0.09 && Number(moved[1]) <= 0.1 + 1e-4,
    `one clipped SGD step moved ${moved[1]}, expected 0.1`,
  );
  log('node-esm-ts: type-checks with node16, bundler and node10 resolution; runs');

  // 3a'. gradclip/jax next to @jax-js/jax, as a Node ES module.
  const jaxOut = run(process.execPath, ['index.mjs'], join(work, 'node-esm-jax'));
  assert.match(jaxOut, /^jax: clipped 0\.707,0\.707$/m);
  assert.match(jaxOut, /^per-example: sum 0\.90,1\.20 clipped 1$/m);
  assert.match(jaxOut, /^jit: clipped 0\.6,0\.8$/m);
  log(
    'node-esm-jax: gradclip/jax (chain, clipByValue, zClip, clipByGlobalNorm, clipPerExample, inside jit) runs with @jax-js/jax',
  );

  // 3b. CommonJS.
  const cjsOut = run(process.execPath, ['index.js'], join(work, 'node-cjs'));
  assert.match(cjsOut, /^typed: clipped true values -1,0\.5,1$/m);
  assert.match(cjsOut, /^one core: true$/m);
  assert.match(cjsOut, /^loaded: GradclipClippedOptimizer iterations 2$/m);
  assert.match(cjsOut, /^moved after loading: 0\.0500,0\.0500$/m);
  log('node-cjs: require works, a saved model loads with its clipped optimizer');

  // 3c. Vite production build in Chromium.
  const app = join(work, 'vite-app');
  const vite = await import(pathToFileURL(createRequire(join(app, 'x.js')).resolve('vite')).href);
  await vite.build({ root: app, logLevel: 'error' });
  const server = await vite.preview({
    root: app,
    logLevel: 'error',
    preview: { port: 0, host: '127.0.0.1', strictPort: false },
  });
  const base = server.resolvedUrls.local[0];
  const { chromium } = await import('playwright-core');
  const userDataDir = mkdtempSync(join(tmpdir(), 'gradclip-consumer-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: chromiumArgs({ disableGpu: true }),
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const problems = [];
    page.on('pageerror', (e) => problems.push(e.message));
    const result = async (path) => {
      await page.goto(new URL(path, base).href);
      await page.waitForFunction(() => document.body.dataset.result || document.body.dataset.error, null, {
        timeout: 60_000,
      });
      const error = await page.evaluate(() => document.body.dataset.error);
      assert.equal(error, undefined, `${path}: ${error}`);
      return JSON.parse(await page.evaluate(() => document.body.dataset.result));
    };
    const trained = await result('index.html');
    assert.equal(trained.steps, 3);
    assert.equal(trained.adaptiveSteps, 20);
    assert.ok(
      trained.moved > 0.29 && trained.moved <= 0.3 + 1e-4,
      `3 clipped SGD steps moved ${trained.moved}, expected 0.3`,
    );
    const loaded = await result('load.html');
    assert.equal(loaded.optimizer, 'GradclipClippedOptimizer');
    assert.match(JSON.stringify(loaded.clipper), /\b1\b/, 'the saved clipper config has the threshold 1');
    assert.equal(loaded.steps, 4);
    assert.ok(
      loaded.moved > 0.09 && loaded.moved <= 0.1 + 1e-4,
      `a clipped step after loading moved ${loaded.moved}, expected 0.1`,
    );
    const adaptive = await result('load-adaptive.html');
    assert.equal(adaptive.optimizer, 'GradclipClippedOptimizer');
    assert.equal(adaptive.clipper.kind, 'autoClip');
    assert.equal(adaptive.steps, trained.adaptiveSteps + 1);
    assert.equal(adaptive.finite, true);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
    await server.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
  log(
    'vite-app: production build trains and saves in Chromium; a page with only `import "gradclip/tfjs"` loads the model and keeps clipping',
  );

  // 3d. The gradclip command from the packed CLI (depending on the packed library).
  const bin = join(work, 'node_modules/.bin/gradclip');
  assert.equal(
    run(bin, ['--version'], work).trim(),
    JSON.parse(readFileSync(join(root, 'packages/cli/package.json'), 'utf8')).version,
  );
  assert.throws(() => run(bin, ['demo', '--out', '/proc/x'], work), /--out \/proc\/x: \/proc is a system folder/);
  assert.match(run(bin, ['surface', '--quick', '--out', join(work, 'report')], work), /Report written to/);
  assert.ok(existsSync(join(work, 'report/pascanu_surface.png')));
  log('@gradclip/cli: the gradclip bin runs from the packed package');
} finally {
  if (keep) log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
