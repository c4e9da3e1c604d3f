// Tree-shaking check (part of `npm run size -w gradclip`): bundles the built package the way an
// app's bundler does (esbuild, the package's sideEffects) and checks which clipper kinds each
// import carries. An adaptive clipper (AGC, AutoClip, ZClip, AdaGC) must come only with what
// uses it: `withClipping(opt, { globalClipnorm })` carries none, `zClipTensorClipper` carries
// ZClip alone. Each kind is registered where its rule factory is defined,
// `ruleKind("zClip", function zClipRule(…) …)`, which is what this looks for.
import assert from 'node:assert/strict';
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const ADAPTIVE = ['adaGC', 'agc', 'autoClip', 'zClip'];

async function kindsIn(code) {
  const r = await build({
    stdin: { contents: code, resolveDir: dir, loader: 'js' },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    external: ['@tensorflow/*'],
    logLevel: 'silent',
  });
  const out = r.outputFiles[0].text;
  return { out, kinds: [...new Set([...out.matchAll(/ruleKind\d*\(\s*"(\w+)"/g)].map((m) => m[1]))].sort() };
}

const cases = [
  ["import { clipByGlobalNorm } from '../dist/index.js'; console.log(clipByGlobalNorm);", []],
  ["import { withClipping } from '../dist/tfjs/index.js'; console.log(withClipping);", []],
  ["import '../dist/tfjs/index.js';", []],
  ["import { zClipTensorClipper } from '../dist/tfjs/index.js'; console.log(zClipTensorClipper);", ['zClip']],
  ["import { autoClip } from '../dist/index.js'; console.log(autoClip);", ['autoClip']],
  ["import * as g from '../dist/index.js'; console.log(g);", ADAPTIVE],
  ["import * as t from '../dist/tfjs/index.js'; console.log(t);", ADAPTIVE],
];
for (const [code, expected] of cases) {
  const { out, kinds } = await kindsIn(code);
  assert.deepEqual(
    kinds,
    expected,
    `${code}\n  carries the clipper kinds ${JSON.stringify(kinds)}, expected ${JSON.stringify(expected)}`,
  );
  if (code.includes('tfjs'))
    assert.match(out, /registerClass\(\s*ClippedOptimizer\d*\s*\)/, `${code}\n  lost the optimizer class registration`);
  console.log(`tree-shaking: ${code.replace(/;.*$/, '')} → ${kinds.length ? kinds.join(', ') : 'no adaptive clipper'}`);
}
