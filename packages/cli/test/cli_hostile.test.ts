/**
 * Issue 12, item 14: what the attack on the CLI broke — method names that are Object
 * properties, seed lists that exhaust memory, a hidden cursor after Ctrl-C, no subcommand.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli.js';
import { parseMethod, parseMethods } from '../src/methods.js';
import { cpuMs } from '../../gradclip/test/cpu_time.js';

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true)),
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true)),
    vi.spyOn(console, 'log').mockImplementation((...a) => void (out += a.join(' ') + '\n')),
    vi.spyOn(console, 'error').mockImplementation((...a) => void (err += a.join(' ') + '\n')),
  ];
  try {
    return { code: await main(argv), out, err };
  } finally {
    for (const s of spies) s.mockRestore();
  }
}

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'gradclip-hostile-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

describe('method names are looked up as own properties', () => {
  it.each(['constructor', '__proto__', 'constructor:1', '__proto__:2', 'hasownproperty', 'valueof'])(
    '%s is an unknown method',
    (spec) => {
      expect(() => parseMethod(spec)).toThrow(/unknown method/);
    },
  );

  it('--methods constructor: exit 2 at once, no experiment run, no report', async () => {
    const out = join(tmp, 'report');
    const t0 = process.cpuUsage();
    const r = await cli([
      'demo',
      '--quick',
      '--steps',
      '1',
      '--seeds',
      '1',
      '--no-progress',
      '--methods',
      'none,constructor',
      '--out',
      out,
    ]);
    expect(cpuMs(t0)).toBeLessThan(1000);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown method 'constructor'/);
    expect(r.err).not.toMatch(/\n\s+at /);
    expect(existsSync(out)).toBe(false);
  });

  it('a percentile over 100 and a method given twice are refused with the flag', () => {
    expect(() => parseMethod('autoclip:150')).toThrow(/percentile must be at most 100/);
    expect(parseMethod('autoclip:100').arg).toBe(100);
    expect(() => parseMethods('global:1,global:1.0')).toThrow(/'global:1' given twice/);
  });
});

describe('--seeds is sized before it is expanded', () => {
  it.each([
    ['1-200000000', /expected 1 to 100 seeds/],
    ['1-60,61-120', /expected 1 to 100 seeds/],
    ['1,1', /seed 1 given twice/],
    ['4294967297', /expected seeds from 0 to 2147483647/],
    ['5-1', /from low to high/],
  ])('%s: exit 2 with a message', async (seeds, message) => {
    const r = await cli([
      'sweep',
      '--quick',
      '--steps',
      '1',
      '--backend',
      'cpu',
      '--no-progress',
      '--seeds',
      seeds,
      '--out',
      join(tmp, 'r'),
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('a million ranges of 100 are refused at the second, without building the list', async () => {
    const seeds = '1-100,'.repeat(1_000_000) + '1';
    const t0 = process.cpuUsage();
    const r = await cli(['sweep', '--seeds', seeds, '--out', join(tmp, 'r')]);
    expect(cpuMs(t0)).toBeLessThan(2000);
    expect(r.code).toBe(2);
  });
});

describe('the progress bars leave the cursor alone (Ctrl-C cannot leave it hidden)', () => {
  it('a run on a terminal never hides the cursor', async () => {
    const desc = Object.getOwnPropertyDescriptor(process.stderr, 'isTTY');
    Object.defineProperty(process.stderr, 'isTTY', { value: true, configurable: true });
    try {
      const r = await cli([
        'sweep',
        '--quick',
        '--steps',
        '2',
        '--seeds',
        '1',
        '--backend',
        'cpu',
        '--out',
        join(tmp, 'r'),
      ]);
      expect(r.code).toBe(0);
      expect(r.err).toMatch(/sweep {6}\[/); // the bar was drawn
      expect(r.err).not.toContain('\u001b[?25l');
    } finally {
      if (desc) Object.defineProperty(process.stderr, 'isTTY', desc);
      else delete (process.stderr as { isTTY?: boolean }).isTTY;
    }
  });

  it('SIGINT stops a run in the middle of its training at once, with the signal (exit 130 in a shell)', async () => {
    const bin = fileURLToPath(new URL('../bin/gradclip.mjs', import.meta.url));
    if (!existsSync(fileURLToPath(new URL('../dist/cli.js', import.meta.url))))
      throw new Error('packages/cli/dist is missing: npm run build -w @gradclip/cli');
    const out = join(tmp, 'r');
    const child = spawn(process.execPath, [bin, 'demo', '--backend', 'cpu', '--out', out], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    await new Promise((r) => setTimeout(r, 2500)); // loaded and training (a full demo takes minutes)
    const t0 = performance.now();
    child.kill('SIGINT');
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) =>
      child.on('exit', (c, s) => r([c, s])),
    );
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(code === 130 || signal === 'SIGINT', `code ${code} signal ${signal}`).toBe(true);
    expect(err).not.toContain('\u001b[?25l');
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
  });
});

describe('messages that echo an argument', () => {
  it('write its control characters as escapes, on one line', async () => {
    const out = join(tmp, 'file\u001b[2J\nfake line');
    writeFileSync(out, 'x');
    const r = await cli(['surface', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`gradclip: error: --out ${join(tmp, 'file\\u001b[2J\\u000afake line')}: not a folder\n`);
    const m = await cli(['demo', '--methods', 'a\u001b]0;title\u0007']);
    expect(m.code).toBe(2);
    expect(m.err).toContain("'a\\u001b]0;title\\u0007'");
    // eslint-disable-next-line no-control-regex
    expect(m.err).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
  });
});

describe('no subcommand', () => {
  it('prints the help on stderr and exits 2', async () => {
    const r = await cli([]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/Usage: gradclip/);
  });
});
