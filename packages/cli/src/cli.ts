/**
 * `gradclip` — the experiments CLI. Subcommands:
 *
 *   demo       everything: the RNN comparison, the threshold sweep, the vanishing-gradient
 *              measurement, Pascanu's Fig. 6 and Zhang et al.'s x⁴ (what `npm start` runs)
 *   surface    Pascanu et al. 2013 Fig. 6 only
 *   sweep      the threshold sweep only
 *   vanishing  the vanishing-gradient measurement only
 *   privacy    test accuracy of DP-SGD against ε on the UCI digits (its own report, privacy.html)
 *   learning   the learning-rate sweep, Zhang et al.'s smoothness correlation and the noise
 *              experiments (heavy-tailed noise, Koloskova et al.'s bias) only
 *
 * Bad usage — an unknown flag or one the subcommand does not use, a stray argument, a bad
 * value, an --out folder that cannot be written — prints one line and exits with code 2
 * before any work starts. `--version` prints the version.
 */
import { accessSync, constants, lstatSync, mkdtempSync, realpathSync, rmdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve, sep } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import cliProgress from 'cli-progress';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_METHODS, parseMethod, parseMethods, type MethodSpec } from './methods.js';
import {
  referenceNorm,
  runDemo,
  runSmoothness,
  runSurface,
  runSweep,
  runVanishing,
  SWEEP_MULTIPLES,
  type DemoResult,
  type Progress,
} from './experiments.js';
import {
  LEARNING_CONFIG,
  LEARNING_METHODS,
  LEARNING_RATES,
  runLearning,
  runSmoothnessCorrelation,
} from './learning.js';
import { BIAS_CONFIG, HEAVY_TAIL_CONFIG, runBias, runHeavyTail } from './noise.js';
import { addPrivacyCommand, type PrivacyCommandOptions } from './privacy_report.js';
import { writeReport, type ReportInput } from './report.js';
import { TASKS } from '@gradclip/experiments/tasks';
import { DEMO_CONFIG, trainRun, type TrainConfig } from './train.js';

export interface CommonOptions {
  quick: boolean;
  seeds: number[];
  steps: number | undefined;
  methods: MethodSpec[];
  backend: 'cpu' | 'wasm';
  out: string;
  task: string;
  progress: boolean;
}

/** The --quick (CI) configuration: smaller batch, fewer steps, fewer methods, same task. */
export const QUICK = {
  steps: 30,
  batchSize: 16,
  seeds: [1, 2, 3],
  methods: ['none', 'global:1', 'value:0.05', 'zclip:2.5'],
  sweepMultiples: [0.1, 1, 100],
  sweepSteps: 20,
  vanishingSteps: 8,
  surfaceGrid: 40,
  learning: { lrs: [0.1, 1, 10], methods: ['none', 'global:1'], seeds: 2, steps: 100, correlationSeeds: 1 },
  heavyTail: { seeds: 20, steps: 500 },
  bias: { seeds: 5, steps: 2000 },
};

const FULL = { seeds: [1, 2, 3], sweepSteps: 60, vanishingSteps: 30, surfaceGrid: 80 };

/** The largest seed: seeds are mixed as 32-bit integers, so larger ones would repeat smaller ones. */
const MAX_SEED = 2 ** 31 - 1;

function parseSeeds(v: string): number[] {
  const parts = v.split(',').map((s) => s.trim());
  const seeds: number[] = [];
  const tooMany = () => new InvalidArgumentError(`expected 1 to 100 seeds, got '${v}'`);
  for (const p of parts) {
    const range = /^(\d+)-(\d+)$/.exec(p) ?? /^(\d+)$/.exec(p);
    if (!range) throw new InvalidArgumentError(`expected seeds like 1,2,3 or 1-5, got '${v}'`);
    const [a, b] = [Number(range[1]), Number(range[2] ?? range[1])];
    if (a > MAX_SEED || b > MAX_SEED)
      throw new InvalidArgumentError(`expected seeds from 0 to ${MAX_SEED}, got '${v}'`);
    if (b < a) throw new InvalidArgumentError(`expected a seed range from low to high, got '${p}'`);
    // sized before expanding: nothing is allocated for a range that is too long
    if (seeds.length + (b - a + 1) > 100) throw tooMany();
    for (let i = a; i <= b; i++) {
      if (seeds.includes(i)) throw new InvalidArgumentError(`seed ${i} given twice in '${v}'`);
      seeds.push(i);
    }
  }
  if (seeds.length === 0) throw tooMany();
  return seeds;
}

function parseSteps(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 100000)
    throw new InvalidArgumentError(`expected a whole number of steps from 1 to 100000, got '${v}'`);
  return n;
}

function parseMethodsOption(v: string): MethodSpec[] {
  try {
    return parseMethods(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

/** The experiment flags; each subcommand takes only those it uses (`--out` and `--no-progress` always). */
export const EXPERIMENT_FLAGS = ['quick', 'seeds', 'steps', 'methods', 'backend', 'task'] as const;
type ExperimentFlag = (typeof EXPERIMENT_FLAGS)[number];

function addCommon(cmd: Command, uses: readonly ExperimentFlag[]): Command {
  const all: Record<ExperimentFlag, Option> = {
    quick: new Option('--quick', 'CI-sized run (under 30 s)').default(false),
    seeds: new Option('--seeds <list>', 'seeds, e.g. 1,2,3 or 1-5 (default 1,2,3)').argParser(parseSeeds),
    steps: new Option('--steps <n>', 'training steps per run (default 100; 30 with --quick)').argParser(parseSteps),
    methods: new Option('--methods <list>', `comma-separated methods (default ${DEFAULT_METHODS.join(',')})`).argParser(
      parseMethodsOption,
    ),
    backend: new Option('--backend <name>', 'TensorFlow.js backend').choices(['cpu', 'wasm']).default('wasm'),
    task: new Option('--task <name>', 'long-range task').choices(Object.keys(TASKS)).default('adding'),
  };
  for (const f of EXPERIMENT_FLAGS) if (uses.includes(f)) cmd.addOption(all[f]);
  return cmd
    .option('--out <dir>', 'output folder', 'report')
    .option('--no-progress', 'no progress bars')
    .allowExcessArguments(false);
}

interface RawOptions {
  quick?: boolean;
  seeds?: number[];
  steps?: number;
  methods?: MethodSpec[];
  backend?: 'cpu' | 'wasm';
  task?: string;
  out: string;
  progress: boolean;
}

function normalise(o: RawOptions): CommonOptions {
  const quick = o.quick ?? false;
  return {
    quick,
    seeds: o.seeds ?? (quick ? QUICK.seeds : FULL.seeds),
    steps: o.steps,
    methods: o.methods ?? (quick ? QUICK.methods : DEFAULT_METHODS).map(parseMethod),
    backend: o.backend ?? 'wasm',
    out: o.out,
    task: o.task ?? 'adding',
    progress: o.progress,
  };
}

/** A mistake in how the CLI was called: one line on stderr, exit code 2. */
export class UsageError extends Error {}

/** Directories nothing is written into (writing there hangs or changes the system). */
const FORBIDDEN_ROOTS = ['/proc', '/sys', '/dev'];

/**
 * Checks, before any work, that the report can be written to `out`: a folder that exists and
 * is writable, or can be created (its nearest existing ancestor is a writable folder), and
 * that is not inside /proc, /sys or /dev. Creates nothing: a probe folder is made and removed.
 */
export function checkOutDir(out: string): void {
  const fail = (why: string): never => {
    throw new UsageError(`--out ${out}: ${why}`);
  };
  if (out.trim() === '') fail('empty path');
  if (out.includes('\0')) fail('a path cannot hold a NUL character');
  if (isDanglingLink(resolve(out))) fail('a symbolic link to nothing (the report is never written through a link)');
  if (
    resolve(out)
      .split(sep)
      .some((name) => Buffer.byteLength(name) > 255)
  )
    fail('a folder name longer than 255 bytes');
  let dir = resolve(out);
  while (!exists(dir)) {
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  const real = realpathSync(dir);
  if (FORBIDDEN_ROOTS.some((r) => real === r || real.startsWith(r + sep)))
    fail(`${real} is a system folder (/proc, /sys, /dev)`);
  if (!statSync(real).isDirectory()) fail(real === resolve(out) ? 'not a folder' : `${real} is not a folder`);
  try {
    accessSync(real, constants.W_OK | constants.X_OK);
    rmdirSync(mkdtempSync(`${real}${sep}.gradclip-probe-`));
  } catch (e) {
    fail(`${real} is not writable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

function isDanglingLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink() && !exists(p);
  } catch {
    return false;
  }
}

function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** This package's version (package.json is one folder up from both src/ and dist/). */
export const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

export function trainConfig(o: CommonOptions): TrainConfig {
  return {
    ...DEMO_CONFIG,
    task: TASKS[o.task]!,
    steps: o.steps ?? (o.quick ? QUICK.steps : DEMO_CONFIG.steps),
    batchSize: o.quick ? QUICK.batchSize : DEMO_CONFIG.batchSize,
    evalSize: o.quick ? 64 : DEMO_CONFIG.evalSize,
  };
}

async function setBackend(name: string): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`TensorFlow.js backend '${name}' failed to initialise`);
  await tf.ready();
}

/**
 * A progress bar over `runs × steps` for one experiment (silent without a TTY). The cursor
 * stays visible: the experiments run synchronously, so no signal handler could restore a
 * hidden cursor on Ctrl-C (and one would keep Ctrl-C from stopping the run at once).
 */
export function progressFor(title: string, total: number, enabled: boolean): { progress: Progress; stop: () => void } {
  if (!enabled || !process.stderr.isTTY) return { progress: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    {
      format: `${title.padEnd(10)} [{bar}] {percentage}% | {value}/{total} steps | {run}`,
      hideCursor: false,
      clearOnComplete: false,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { run: '' });
  let done = 0;
  let lastRun = -1;
  let lastStep = 0;
  return {
    progress: (run, _count, step, label) => {
      if (run !== lastRun) {
        lastRun = run;
        lastStep = -1;
      }
      done += step - lastStep;
      lastStep = step;
      bar.update(done, { run: label });
    },
    stop: () => {
      bar.update(total);
      bar.stop();
    },
  };
}

function settingsOf(
  o: CommonOptions,
  cfg: TrainConfig,
  sweepSteps: number,
  vanishingSteps: number,
): ReportInput['settings'] {
  const { task, ...rest } = cfg;
  return {
    backend: o.backend,
    seeds: o.seeds,
    steps: cfg.steps,
    quick: o.quick,
    config: { ...rest, task: task.name },
    chanceLoss: task.chanceLoss,
    sweepSteps,
    vanishingSteps,
  };
}

function printSummary(
  demo: DemoResult | undefined,
  verdicts: { claim: string; verdict: string }[],
  out: string,
  seconds: number,
): void {
  if (demo) {
    const rows = demo.summary.map((s) => ({
      method: s.label,
      diverged: `${s.diverged}/${s.seeds}`,
      'median loss': s.medianEvalLoss === null ? '—' : s.medianEvalLoss.toPrecision(3),
      'clipped steps': `${(100 * s.clipFraction).toFixed(0)}%`,
      'median ‖g‖': Number.isFinite(s.medianNorm) ? s.medianNorm.toPrecision(3) : '—',
    }));
    const cols = Object.keys(rows[0]!) as (keyof (typeof rows)[number])[];
    const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => r[c].length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padEnd(w[i]!)).join('  ');
    console.log('\n' + line(cols as string[]));
    console.log(w.map((n) => '─'.repeat(n)).join('  '));
    for (const r of rows) console.log(line(cols.map((c) => r[c])));
  }
  if (verdicts.length) {
    console.log('');
    for (const v of verdicts) console.log(`${v.verdict.toUpperCase().padEnd(13)} ${v.claim}`);
  }
  console.log(`\nReport written to ${out}/index.html (${seconds.toFixed(0)} s)`);
}

type Part = 'demo' | 'surface' | 'sweep' | 'vanishing' | 'learning';

/** The learning-rate sweep, the smoothness correlation and the noise experiments (issue 15). */
function runLearningParts(o: CommonOptions, input: ReportInput, lap: (name: string) => void): void {
  const q = o.quick ? QUICK.learning : undefined;
  const cfg = {
    ...LEARNING_CONFIG,
    steps: q?.steps ?? LEARNING_CONFIG.steps,
    evalSize: q ? 128 : LEARNING_CONFIG.evalSize,
  };
  const lrs = q?.lrs ?? LEARNING_RATES;
  const methods = (q?.methods ?? LEARNING_METHODS).map(parseMethod);
  const seeds = q ? o.seeds.slice(0, q.seeds) : o.seeds;
  const p = progressFor('lr sweep', methods.length * lrs.length * seeds.length * cfg.steps, o.progress);
  input.learning = runLearning(cfg, lrs, methods, seeds, p.progress);
  p.stop();
  lap('learning');
  const cSeeds = q ? o.seeds.slice(0, q.correlationSeeds) : o.seeds;
  const pc = progressFor('smoothness', cSeeds.length * cfg.steps, o.progress);
  input.smoothnessCorrelation = runSmoothnessCorrelation(cfg, 'global:1', 0.3, cSeeds, pc.progress);
  pc.stop();
  lap('smoothnessCorrelation');
  input.heavyTail = runHeavyTail(o.quick ? { ...HEAVY_TAIL_CONFIG, ...QUICK.heavyTail } : HEAVY_TAIL_CONFIG);
  lap('heavyTail');
  input.bias = runBias(o.quick ? { ...BIAS_CONFIG, ...QUICK.bias } : BIAS_CONFIG);
  lap('bias');
}

/** Records wall and CPU seconds of each part into `input.timings` (not used in any verdict). */
function stopwatch(input: ReportInput): (name: string) => void {
  const timings = (input.timings ??= {});
  let wall = performance.now();
  let cpu = process.cpuUsage();
  return (name) => {
    const c = process.cpuUsage(cpu);
    timings[name] = {
      wall: Math.round(performance.now() - wall) / 1000,
      cpu: Math.round((c.user + c.system) / 1000) / 1000,
    };
    wall = performance.now();
    cpu = process.cpuUsage();
  };
}

export async function runCommand(part: Part, o: CommonOptions): Promise<ReportInput> {
  const t0 = performance.now();
  await setBackend(o.backend);
  const cfg = trainConfig(o);
  const sweepSteps = o.steps ?? (o.quick ? QUICK.sweepSteps : FULL.sweepSteps);
  const vanishingSteps = o.steps ?? (o.quick ? QUICK.vanishingSteps : FULL.vanishingSteps);
  const input: ReportInput = { settings: settingsOf(o, cfg, sweepSteps, vanishingSteps), seconds: 0 };
  const lap = stopwatch(input);
  if (part === 'demo' || part === 'surface') {
    input.surface = runSurface(o.quick ? QUICK.surfaceGrid : FULL.surfaceGrid);
    if (part === 'demo') input.smoothness = runSmoothness();
    lap('surface');
  }
  if (part === 'demo') {
    const p = progressFor('demo', o.methods.length * o.seeds.length * cfg.steps, o.progress);
    input.demo = runDemo(cfg, o.methods, o.seeds, p.progress);
    p.stop();
    lap('demo');
  }
  if (part === 'demo' || part === 'sweep') {
    let refRuns = input.demo?.runs.filter((r) => r.method.startsWith('global:') && !r.diverged) ?? [];
    if (refRuns.length === 0) {
      // The reference norm comes from stable global-norm training (see referenceNorm).
      const p = progressFor('reference', o.seeds.length * sweepSteps, o.progress);
      refRuns = o.seeds.map((seed, i) =>
        trainRun({ ...cfg, steps: sweepSteps }, parseMethod('global:1'), seed, {
          onStep: (s) => p.progress(i, o.seeds.length, s, `global norm ≤ 1 seed ${seed}`),
        }),
      );
      p.stop();
    }
    const multiples = o.quick ? QUICK.sweepMultiples : SWEEP_MULTIPLES;
    const p = progressFor(
      'sweep',
      multiples.length * (o.quick ? Math.min(2, o.seeds.length) : o.seeds.length) * sweepSteps,
      o.progress,
    );
    const sweepSeeds = o.quick ? o.seeds.slice(0, 2) : o.seeds;
    input.sweep = runSweep({ ...cfg, steps: sweepSteps }, referenceNorm(refRuns), sweepSeeds, multiples, p.progress);
    p.stop();
    lap('sweep');
  }
  if (part === 'demo' || part === 'vanishing') {
    const seeds = o.quick ? o.seeds.slice(0, 2) : o.seeds;
    const p = progressFor('vanishing', 3 * seeds.length * vanishingSteps, o.progress);
    input.vanishing = runVanishing({ ...cfg, steps: vanishingSteps }, seeds, undefined, p.progress);
    p.stop();
    lap('vanishing');
  }
  if (part === 'demo' || part === 'learning') runLearningParts(o, input, lap);
  input.seconds = (performance.now() - t0) / 1000;
  const written = await writeReport(o.out, input);
  printSummary(input.demo, written.verdicts, o.out, input.seconds);
  return input;
}

/**
 * Instead of running a subcommand, hands its checked options over (for tests of the argument
 * handling: everything up to the point where work would start, in milliseconds).
 */
export type DryRun = (
  part: Part | 'privacy',
  options: CommonOptions | (PrivacyCommandOptions & { backend: string }),
) => void;

export function buildProgram(dryRun?: DryRun): Command {
  const program = new Command('gradclip')
    .description('gradclip experiments: what gradient clipping does and does not do, measured')
    .version(VERSION, '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    // commander's messages may hold a second line of their own ('(Did you mean --seeds?)')
    .configureOutput({ outputError: (str, write) => write(str.split('\n').map(oneLine).join('\n')) })
    .allowExcessArguments(false)
    .exitOverride();
  const sub = (name: Part, desc: string, uses: readonly ExperimentFlag[] = EXPERIMENT_FLAGS) => {
    const c = addCommon(program.command(name).description(desc), uses).exitOverride();
    c.action(async (raw: RawOptions) => {
      checkOutDir(raw.out);
      if (dryRun) return dryRun(name, normalise(raw));
      await runCommand(name, normalise(raw));
    });
  };
  sub('demo', 'every experiment and the full report (what npm start runs)');
  sub('surface', 'Pascanu et al. 2013 Fig. 6: the error-surface cliff and clipped / unclipped GD', ['quick']);
  sub('sweep', 'threshold sensitivity of global-norm clipping', ['quick', 'seeds', 'steps', 'backend', 'task']);
  sub('vanishing', 'per-time-step gradient norms with and without clipping', [
    'quick',
    'seeds',
    'steps',
    'backend',
    'task',
  ]);
  sub(
    'learning',
    'final loss against learning rate per clipping method, smoothness against gradient norm, heavy-tailed noise, clipping bias',
    ['quick', 'seeds', 'backend'],
  );
  addPrivacyCommand(
    program,
    (cmd) => addCommon(cmd, ['quick', 'seeds', 'backend']),
    checkOutDir,
    setBackend,
    dryRun && ((o) => dryRun('privacy', o)),
  );
  return program;
}

/** An error message as one line: control characters from the arguments (newlines, terminal escapes) written as escapes. */
function oneLine(message: string): string {
  // eslint-disable-next-line no-control-regex
  const control = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
  return message.replace(control, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Runs the CLI; resolves to the exit code (0 ok, 2 bad usage, 1 failure). `dryRun`: see {@link DryRun}. */
export async function main(argv: readonly string[], dryRun?: DryRun): Promise<number> {
  const program = buildProgram(dryRun);
  if (argv.length === 0) {
    // No subcommand: say what there is, and fail (a script that forgot it should notice).
    program.outputHelp({ error: true });
    return 2;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander has printed the message already
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version')
        return 0;
      return 2;
    }
    if (e instanceof UsageError) {
      console.error(`gradclip: error: ${oneLine(e.message)}`);
      return 2;
    }
    // A system error (disk full, permissions) is not a bug: its message says enough.
    const code = (e as NodeJS.ErrnoException | undefined)?.code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
      console.error(`gradclip: error: ${oneLine((e as Error).message)}`);
      return 1;
    }
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    return 1;
  }
}
