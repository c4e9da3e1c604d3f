#!/usr/bin/env node
// `npm run fuzz`: every property test of the repository (each test file that imports fast-check)
// with fresh seeds — GRADCLIP_FUZZ=1 makes fcGate drop the gate's fixed seeds — and
// GRADCLIP_FUZZ_SCALE (default 5) times the runs. `npm test` runs the same properties with
// fixed seeds (issue 22). A failure prints fast-check's `{ seed, path }` and counterexample; this
// script repeats them at the end. Make a found counterexample a named regression case:
//   fc.assert(property, fcGate({ seed: <seed>, path: '<path>', numRuns: … }))  or a plain test.
//
//   npm run fuzz                                  all property test files
//   npm run fuzz -- packages/gradclip/src/fuzz.test.ts   only these (vitest filters)
//   GRADCLIP_FUZZ_SCALE=20 npm run fuzz           longer
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const scale = process.env.GRADCLIP_FUZZ_SCALE ?? '5';
if (!(Number(scale) > 0) || !Number.isFinite(Number(scale))) {
  console.error(`fuzz: GRADCLIP_FUZZ_SCALE must be a positive number, got ${scale}`);
  process.exit(2);
}

function testFiles(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'dist') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) testFiles(p, out);
    else if (e.name.endsWith('.test.ts') && /from 'fast-check'/.test(readFileSync(p, 'utf8'))) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const files = args.length
  ? args
  : ['packages', 'bench'].flatMap((d) => testFiles(join(root, d))).map((f) => relative(root, f));
// Runs scale with GRADCLIP_FUZZ_SCALE, so do the default timeouts (tests that set their own keep them).
const timeout = String(Math.ceil(120_000 * Number(scale)));
console.log(`fuzz: ${files.length} property test file(s), fresh seeds, GRADCLIP_FUZZ_SCALE=${scale}`);

const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const child = spawn(
  process.execPath,
  [vitest, 'run', `--testTimeout=${timeout}`, `--hookTimeout=${timeout}`, ...files],
  {
    cwd: root,
    env: { ...process.env, GRADCLIP_FUZZ: '1', GRADCLIP_FUZZ_SCALE: scale },
    stdio: ['inherit', 'pipe', 'pipe'],
  },
);
let log = '';
const tee = (to) => (chunk) => {
  to.write(chunk);
  log += chunk.toString();
};
child.stdout.on('data', tee(process.stdout));
child.stderr.on('data', tee(process.stderr));
child.on('close', (code) => {
  // fast-check's report: "Property failed after N tests\n{ seed: S, path: "P", endOnFailure: true }"
  // eslint-disable-next-line no-control-regex
  const plain = log.replace(/\u001b\[[0-9;]*m/g, '');
  const found = [...plain.matchAll(/\{ seed: (-?\d+), path: "([^"]*)"[^}]*\}\s*\n\s*Counterexample: ([^\n]*)/g)];
  if (found.length) {
    console.log(`\nfuzz: ${found.length} counterexample(s) — replay with fcGate({ seed, path, … }):`);
    for (const [, seed, path, example] of new Map(found.map((m) => [m[0], m])).values())
      console.log(`  seed: ${seed}, path: "${path}"  counterexample: ${example}`);
  } else if (code !== 0) console.log('\nfuzz: failed, but no fast-check counterexample in the output (see above)');
  else console.log('\nfuzz: no counterexample found');
  process.exit(code ?? 1);
});
