/**
 * How the CLI treats the way it is called: bad usage fails fast (before any experiment runs)
 * with one line and exit code 2; `--version`; the `gradclip` bin as a user runs it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { checkOutDir, main, VERSION } from '../src/cli.js';
import { cpuMs } from '../../gradclip/test/cpu_time.js';

const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as {
  version: string;
};

/** Runs `main` and returns its exit code with everything it printed. */
async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  const l = vi.spyOn(console, 'log').mockImplementation((...a) => void (out += a.join(' ') + '\n'));
  const c = vi.spyOn(console, 'error').mockImplementation((...a) => void (err += a.join(' ') + '\n'));
  try {
    const code = await main(argv);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
    l.mockRestore();
    c.mockRestore();
  }
}

describe('--out is checked before any work', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'gradclip-args-'));
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it.each([
    ['/proc/x', /--out \/proc\/x: \/proc is a system folder/],
    ['/sys/kernel/x', /--out \/sys\/kernel\/x: \/sys\/kernel is a system folder/],
    ['/proc', /--out \/proc: \/proc is a system folder/],
  ])('%s: one line, exit 2, within a second', async (out, message) => {
    const t0 = process.cpuUsage();
    const r = await cli(['demo', '--out', out]);
    expect(cpuMs(t0)).toBeLessThan(1000);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('a file where the folder should be', async () => {
    const file = join(tmp, 'report');
    writeFileSync(file, 'x');
    const r = await cli(['surface', '--out', file]);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe(`gradclip: error: --out ${file}: not a folder`);
    const under = await cli(['surface', '--out', join(file, 'sub')]);
    expect(under.code).toBe(2);
    expect(under.err.trim()).toBe(`gradclip: error: --out ${join(file, 'sub')}: ${file} is not a folder`);
  });

  it('a creatable folder passes and nothing is left behind by the check', () => {
    const out = join(tmp, 'a', 'b', 'report');
    expect(() => checkOutDir(out)).not.toThrow();
    expect(existsSync(join(tmp, 'a'))).toBe(false);
    expect(readdirSync(tmp)).toEqual([]);
    expect(() => checkOutDir(tmp)).not.toThrow();
    expect(readdirSync(tmp)).toEqual([]);
  });
});

describe('stray arguments and flags the subcommand does not use', () => {
  it.each([
    [['demo', 'extra-arg'], /too many arguments/],
    [['surface', '--seeds', '7'], /unknown option '--seeds'/],
    [['surface', '--methods', 'none'], /unknown option '--methods'/],
    [['surface', '--steps', '5'], /unknown option '--steps'/],
    [['sweep', '--methods', 'none'], /unknown option '--methods'/],
    [['vanishing', '--methods', 'none'], /unknown option '--methods'/],
    [['demo', '--seeds', '1-200000000'], /expected 1 to 100 seeds/],
    [['nosuchcommand'], /unknown command/],
  ])('%j: exit 2 with a message', async (argv, message) => {
    const r = await cli(argv);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('no subcommand: the help on stderr, exit 2', async () => {
    const r = await cli([]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/Usage: gradclip/);
    expect(r.err).toMatch(/demo/);
  });

  it('--help lists only the flags a subcommand uses', async () => {
    const r = await cli(['surface', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/--quick/);
    expect(r.out).toMatch(/--out <dir>/);
    expect(r.out).not.toMatch(/--seeds|--methods|--steps|--task/);
  });
});

describe('--version', () => {
  it('prints the package version', async () => {
    expect(VERSION).toBe(pkg.version);
    const r = await cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(pkg.version);
  });

  it('works through the bin as a user runs it (built dist)', () => {
    const bin = fileURLToPath(new URL('../bin/gradclip.mjs', import.meta.url));
    if (!existsSync(fileURLToPath(new URL('../dist/cli.js', import.meta.url))))
      throw new Error('packages/cli/dist is missing: npm run build -w @gradclip/cli');
    const r = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
    const bad = spawnSync(process.execPath, [bin, 'demo', '--out', '/proc/x'], { encoding: 'utf8', timeout: 60_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toBe('gradclip: error: --out /proc/x: /proc is a system folder (/proc, /sys, /dev)');
  });
});
