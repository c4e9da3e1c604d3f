/**
 * The attack on the CLI's surface kept as a suite (issue 12): random argument vectors — real
 * flags with hostile values (`__proto__`, huge ranges, unicode, empty strings, control
 * characters), made-up flags and subcommands — through `main` in-process. Every call must
 * end with exit code 0 or 2, never print a stack trace, and return within a second of CPU time; whatever
 * it accepts must be options the experiments can run with. Runs stop where work would start
 * (`main`'s dry-run hook), so the whole suite takes a few seconds. Fixed seed.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import fc from 'fast-check';
import { fcGate, fuzzing } from '../../gradclip/test/fc_gate.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main, type CommonOptions, type DryRun } from '../src/cli.js';
import { parseMethod, tensorClipperOf } from '../src/methods.js';
import { TASKS } from '@gradclip/experiments/tasks';

const KINDS = ['none', 'global', 'value', 'agc', 'autoclip', 'zclip', 'adagc'];
const SUBCOMMANDS = ['demo', 'surface', 'sweep', 'vanishing', 'learning', 'privacy'];
const FLAGS = [
  '--quick',
  '--seeds',
  '--steps',
  '--methods',
  '--backend',
  '--task',
  '--out',
  '--no-progress',
  '--help',
  '--version',
  '-V',
  '-h',
];

const tmp = mkdtempSync(join(tmpdir(), 'gradclip-fuzz-'));
beforeAll(async () => {
  await tf.setBackend('cpu');
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Strings an attacker or a careless user would try. */
const hostile = fc.constantFrom(
  '',
  ' ',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'prototype',
  '1-200000000',
  '0-4294967297',
  '99999999999999999999',
  '9007199254740993',
  '5-1',
  '-1',
  '1e3',
  '0x10',
  'NaN',
  'Infinity',
  '-Infinity',
  '1,1',
  ',',
  '1-100,1-100',
  '1'.repeat(400),
  '1-100,'.repeat(2000),
  'global:1,'.repeat(500),
  'global:1e400',
  'global:1e-400',
  'autoclip:150',
  'none:1',
  '__proto__:1',
  'constructor:2',
  'global:1:2',
  'zclip:-0',
  '\u0000',
  'a\nb',
  '\u001b[2J',
  'ü\u0301',
  '🙂',
  '\uD800',
  '--',
  '-',
  '--out',
  'wasm',
  'cpu',
  'gpu',
  'adding',
  'temporal-order',
);

const num = fc.oneof(fc.integer({ min: -5, max: 200_000 }).map(String), fc.double({ noNaN: false }).map(String));
const seedSpec = fc
  .array(
    fc.oneof(
      fc.nat({ max: 3_000_000_000 }).map(String),
      fc.tuple(fc.nat({ max: 3_000_000_000 }), fc.nat({ max: 300 })).map(([a, n]) => `${a}-${a + n}`),
      fc.tuple(fc.nat({ max: 3_000_000_000 }), fc.nat({ max: 3_000_000_000 })).map(([a, b]) => `${a}-${b}`),
    ),
    { minLength: 1, maxLength: 6 },
  )
  .map((xs) => xs.join(','));
const methodSpec = fc
  .array(
    fc.tuple(
      fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...KINDS) },
        { weight: 1, arbitrary: fc.constantFrom('GLOBAL', 'Value', '__proto__', 'constructor', 'toString', '') },
      ),
      fc.option(fc.oneof(num, hostile), { nil: undefined, freq: 2 }),
    ),
    { minLength: 1, maxLength: 3 },
  )
  .map((xs) => xs.map(([k, a]) => (a === undefined ? k : `${k}:${a}`)).join(','));

const value = fc.oneof(
  { weight: 3, arbitrary: hostile },
  { weight: 2, arbitrary: seedSpec },
  { weight: 2, arbitrary: methodSpec },
  { weight: 2, arbitrary: num },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
);
const flag = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...FLAGS) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '--__proto__',
      '--constructor',
      '--toString',
      '--seeds=',
      '--out=',
      '--no-quick',
      '---',
      '--QUICK',
      '-x',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }).map((s) => `--${s}`) },
);
/** A folder for --out: mostly fresh under the temp folder, sometimes hostile. */
const outDir = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 10 })
      .map((s) => join(tmp, 'o', s.replace(/[/\0]/g, '_'))),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('', ' ', '/proc/x', '/dev/null', '/sys', join(tmp, 'a\0b'), join(tmp, 'x'.repeat(5000))),
  },
);

/** A flag with a value of its own kind (often valid, often hostile). */
const typedPair = fc.oneof(
  fc.tuple(fc.constant('--seeds'), fc.oneof(seedSpec, hostile)),
  fc.tuple(fc.constant('--methods'), fc.oneof({ weight: 3, arbitrary: methodSpec }, { weight: 1, arbitrary: hostile })),
  fc.tuple(fc.constant('--steps'), fc.oneof(num, hostile)),
  fc.tuple(fc.constant('--backend'), fc.oneof(fc.constantFrom('cpu', 'wasm'), hostile)),
  fc.tuple(fc.constant('--task'), fc.oneof(fc.constantFrom(...Object.keys(TASKS)), hostile)),
);

const argvArb = fc
  .tuple(
    fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(...SUBCOMMANDS) },
      { weight: 1, arbitrary: fc.oneof(hostile, fc.string({ maxLength: 6 })) },
    ),
    fc.array(
      fc.oneof(
        { weight: 4, arbitrary: typedPair.map(([f, v]) => [f, v]) },
        { weight: 2, arbitrary: fc.tuple(flag, value).map(([f, v]) => [f, v]) },
        { weight: 1, arbitrary: flag.map((f) => [f]) },
        { weight: 1, arbitrary: value.map((v) => [v]) },
      ),
      { maxLength: 4 },
    ),
    outDir,
    fc.boolean(),
  )
  .map(([sub, rest, out, withOut]) => [
    sub,
    ...rest.flat(),
    ...(withOut ? ['--out', out] : ['--out', join(tmp, 'default')]),
  ]);

/** Runs `main` with every output captured; returns the exit code, what it printed and the options it would have run with. */
async function run(argv: string[]): Promise<{ code: number; out: string; err: string; ran: Parameters<DryRun>[] }> {
  let out = '';
  let err = '';
  const ran: Parameters<DryRun>[] = [];
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true)),
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true)),
    vi.spyOn(console, 'log').mockImplementation((...a) => void (out += a.join(' ') + '\n')),
    vi.spyOn(console, 'error').mockImplementation((...a) => void (err += a.join(' ') + '\n')),
  ];
  try {
    const code = await main(argv, (part, o) => void ran.push([part, o]));
    return { code, out, err, ran };
  } finally {
    for (const s of spies) s.mockRestore();
  }
}

/** What the experiments need of the options the CLI accepted. */
function checkAccepted(part: string, o: Parameters<DryRun>[1]): void {
  expect(SUBCOMMANDS).toContain(part);
  expect(o.out.trim()).not.toBe('');
  expect(
    resolve(o.out)
      .split(sep)
      .every((name) => Buffer.byteLength(name) <= 255),
  ).toBe(true);
  expect(o.seeds.length).toBeGreaterThanOrEqual(1);
  expect(o.seeds.length).toBeLessThanOrEqual(100);
  expect(new Set(o.seeds).size).toBe(o.seeds.length);
  for (const s of o.seeds) expect(Number.isInteger(s) && s >= 0 && s <= 2 ** 31 - 1, `seed ${s}`).toBe(true);
  expect(['cpu', 'wasm']).toContain(o.backend);
  if (part === 'privacy') return;
  const c = o as CommonOptions;
  expect(Object.keys(TASKS)).toContain(c.task);
  if (c.steps !== undefined) expect(Number.isInteger(c.steps) && c.steps >= 1 && c.steps <= 100_000).toBe(true);
  expect(new Set(c.methods.map((m) => m.id)).size).toBe(c.methods.length);
  for (const m of c.methods) {
    expect(KINDS).toContain(m.kind);
    expect(parseMethod(m.id)).toEqual(m);
    if (m.arg !== undefined) expect(Number.isFinite(m.arg) && m.arg > 0).toBe(true);
    // the method can be built: nothing accepted here fails once the experiment has started
    tensorClipperOf(m, { steps: c.steps ?? 100 })?.dispose();
  }
}

describe('gradclip CLI under random and hostile arguments', () => {
  it('exit 0 or 2, no stack trace, within a second; accepted options are runnable', async () => {
    let accepted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(argvArb, async (argv) => {
        // A hang guard, not a speed test: the CPU time this process spends on the call (user +
        // system), which other processes on a busy machine do not inflate as they do wall time.
        const t0 = process.cpuUsage();
        const r = await run(argv);
        const used = process.cpuUsage(t0);
        expect((used.user + used.system) / 1000, 'CPU milliseconds to answer').toBeLessThan(1000);
        expect([0, 2]).toContain(r.code);
        expect(r.err).not.toMatch(/\n\s+at .*[(:]\d+/); // a stack frame
        expect(r.err).not.toMatch(/\b(TypeError|ReferenceError|RangeError|Error):/);
        // arguments echoed in messages cannot move the cursor, clear the screen or fake a line
        // eslint-disable-next-line no-control-regex
        expect(r.err).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
        if (r.code === 2) {
          refused++;
          expect(r.err).toMatch(/^(gradclip: error: |error: |Usage: )/);
          expect(r.ran).toEqual([]);
        } else if (r.ran.length) {
          accepted++;
          expect(r.ran).toHaveLength(1);
          checkAccepted(...r.ran[0]!);
        } else {
          // help or version
          expect(argv.some((a) => ['--help', '-h', '--version', '-V'].includes(a))).toBe(true);
        }
      }),
      // All 3000 runs in the gate (7 s on the busy 2-core machine), so every run checks the same
      // inputs; under `npm run fuzz` (5 × the runs) a time limit keeps it inside the test's timeout.
      fcGate({ seed: 20_261_129, numRuns: 3000, ...(fuzzing ? { interruptAfterTimeLimit: 45_000 } : {}) }),
    );
    // the generators reach both sides
    expect(accepted).toBeGreaterThan(10);
    expect(refused).toBeGreaterThan(100);
    // the --out probe leaves nothing behind
    const leftovers = readdirSync(tmp, { recursive: true, encoding: 'utf8' }).filter((f) => f.includes('.gradclip-'));
    expect(leftovers).toEqual([]);
  }, 60_000);

  it.each([
    [['demo', '--methods', 'constructor']],
    [['demo', '--methods', '__proto__']],
    [['demo', '--methods', 'global:1,toString:2']],
    [['demo', '--methods', 'autoclip:150']],
    [['demo', '--methods', 'global:1,global:1.0']],
    [['demo', '--seeds', '1,1']],
    [['demo', '--seeds', '4294967297']],
    [['demo', '--seeds', '5-1']],
    [['demo', '--seeds', '1-60,61-120']],
    [['privacy', '--seeds', '1-200000000']],
    [['demo', '--out', '\0']],
  ])('%j: refused before any work', async (argv) => {
    const r = await run([...argv, ...(argv.includes('--out') ? [] : ['--out', join(tmp, 'r')])]);
    expect(r.code).toBe(2);
    expect(r.ran).toEqual([]);
    expect(r.err).toMatch(/error: /);
  });
});
