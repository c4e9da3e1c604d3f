/**
 * Issue 12, items 4 and 5: the report never writes through a link in --out, and it is
 * replaced all at once — a write that fails (disk full) or a rename that fails leaves the old
 * report exactly as it was, with no staging folder behind.
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli.js';
import { pngSize } from '../src/render.js';
import { writeReportFiles } from '../src/report_files.js';

/** Faults injected into node:fs as the CLI's modules see it (armed per test). */
const fault = vi.hoisted(() => ({
  writesBeforeFull: Infinity,
  renamesBeforeFail: Infinity,
  renamesFailFrom: Infinity,
}));

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const enospc = () =>
    Object.assign(new Error('ENOSPC: no space left on device, write'), {
      code: 'ENOSPC',
      errno: -28,
      syscall: 'write',
    });
  // A full disk: the write that does not fit leaves half its data, then fails.
  const writeFileSync = ((
    file: fs.PathOrFileDescriptor,
    data: string | NodeJS.ArrayBufferView,
    options?: fs.WriteFileOptions,
  ) => {
    if (fault.writesBeforeFull-- <= 0) {
      const bytes =
        typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      real.writeFileSync(file, bytes.subarray(0, bytes.length >> 1));
      throw enospc();
    }
    real.writeFileSync(file, data, options);
  }) as typeof real.writeFileSync;
  const renameSync = ((from: fs.PathLike, to: fs.PathLike) => {
    // renamesBeforeFail: that one rename fails; renamesFailFrom: every one from then on
    if (fault.renamesBeforeFail-- === 0 || fault.renamesFailFrom-- <= 0)
      throw Object.assign(new Error(`EPERM: operation not permitted, rename '${String(from)}' -> '${String(to)}'`), {
        code: 'EPERM',
      });
    real.renameSync(from, to);
  }) as typeof real.renameSync;
  return { ...real, default: { ...real, writeFileSync, renameSync }, writeFileSync, renameSync };
});

/** Every file under `dir` (links not followed) with its content or link target. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = fs.lstatSync(p);
    out[name] = st.isSymbolicLink()
      ? `link → ${fs.readlinkSync(p)}`
      : st.isDirectory()
        ? 'folder'
        : fs.readFileSync(p).toString('base64');
  }
  return out;
}

/** Runs main with stdout/stderr captured. */
async function cli(argv: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const l = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  const c = vi.spyOn(console, 'error').mockImplementation((...a) => void (err += a.join(' ') + '\n'));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    return { code: await main(argv), err };
  } finally {
    l.mockRestore();
    c.mockRestore();
    e.mockRestore();
  }
}

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(join(tmpdir(), 'gradclip-atomic-'));
  fault.writesBeforeFull = Infinity;
  fault.renamesBeforeFail = Infinity;
  fault.renamesFailFrom = Infinity;
});
afterEach(() => {
  fault.writesBeforeFull = Infinity;
  fault.renamesBeforeFail = Infinity;
  fault.renamesFailFrom = Infinity;
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** An old report in `out`: what a previous `gradclip surface` left, plus a file of the user's. */
function oldReport(out: string): void {
  fs.mkdirSync(out, { recursive: true });
  for (const f of ['index.html', 'metrics.json', 'pascanu_surface.png', 'pascanu_loss.png', 'notes.txt'])
    fs.writeFileSync(join(out, f), `old ${f}`);
}

describe('links in --out are replaced, never written through (item 4)', () => {
  it('a link at index.html or metrics.json to a file outside: that file is untouched; a dangling link creates nothing', async () => {
    const out = join(tmp, 'report');
    fs.mkdirSync(out);
    const victim = join(tmp, 'victim.txt');
    fs.writeFileSync(victim, 'precious');
    fs.symlinkSync(victim, join(out, 'index.html'));
    fs.symlinkSync(victim, join(out, 'metrics.json'));
    const planted = join(tmp, 'planted.png');
    fs.symlinkSync(planted, join(out, 'pascanu_surface.png'));
    // a hard link is written through just the same by an in-place write
    const hard = join(tmp, 'hard.txt');
    fs.writeFileSync(hard, 'also precious');
    fs.linkSync(hard, join(out, 'pascanu_loss.png'));

    const r = await cli(['surface', '--no-progress', '--out', out]);
    expect(r.code).toBe(0);
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious');
    expect(fs.readFileSync(hard, 'utf8')).toBe('also precious');
    expect(fs.existsSync(planted)).toBe(false);
    for (const f of ['index.html', 'metrics.json', 'pascanu_surface.png', 'pascanu_loss.png'])
      expect(fs.lstatSync(join(out, f)).isFile(), f).toBe(true);
    expect(fs.readFileSync(join(out, 'index.html'), 'utf8')).toMatch(/^<!doctype html>/);
    expect(pngSize(fs.readFileSync(join(out, 'pascanu_surface.png'))).width).toBeGreaterThan(300);
    expect(fs.readdirSync(out).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('--out that is a link to nothing is refused before any work (exit 2, one line)', async () => {
    const out = join(tmp, 'report');
    fs.symlinkSync(join(tmp, 'elsewhere', 'report'), out);
    const r = await cli(['surface', '--no-progress', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe(
      `gradclip: error: --out ${out}: a symbolic link to nothing (the report is never written through a link)`,
    );
    expect(fs.existsSync(join(tmp, 'elsewhere'))).toBe(false);
  });

  it('--out that is a link to a folder writes into that folder (the user named it)', () => {
    const real = join(tmp, 'real');
    fs.mkdirSync(real);
    fs.symlinkSync(real, join(tmp, 'report'));
    writeReportFiles(join(tmp, 'report'), [
      ['a.txt', 'A'],
      ['index.html', 'I'],
    ]);
    expect(fs.readFileSync(join(real, 'index.html'), 'utf8')).toBe('I');
    expect(fs.lstatSync(join(tmp, 'report')).isSymbolicLink()).toBe(true);
  });
});

describe('the report is replaced all at once (item 5)', () => {
  it('disk full on the second chart: the old report is left byte for byte, nothing new, no staging folder (exit 1, one line)', async () => {
    const out = join(tmp, 'report');
    oldReport(out);
    const before = snapshot(out);
    fault.writesBeforeFull = 1; // the first file fits, the second does not
    const r = await cli(['surface', '--no-progress', '--out', out]);
    expect(r.code).toBe(1);
    expect(r.err.trim()).toMatch(/^gradclip: error: ENOSPC: no space left on device/);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(snapshot(out)).toEqual(before);
    expect(fs.readdirSync(tmp)).toEqual(['report']);
  });

  it('disk full while making a new --out folder: no folder and no staging folder left', async () => {
    const out = join(tmp, 'new', 'report');
    fs.mkdirSync(join(tmp, 'new'));
    fault.writesBeforeFull = 3;
    expect((await cli(['surface', '--no-progress', '--out', out])).code).toBe(1);
    expect(fs.readdirSync(join(tmp, 'new'))).toEqual([]);
  });

  it('a rename refused part-way: the files already replaced are put back', () => {
    const out = join(tmp, 'report');
    oldReport(out);
    const before = snapshot(out);
    const files: [string, string][] = [
      ['pascanu_surface.png', 'new png'],
      ['pascanu_loss.png', 'new loss'],
      ['fresh.csv', 'new file'],
      ['metrics.json', 'new metrics'],
      ['index.html', 'new index'],
    ];
    for (const n of [0, 1, 2, 3, 5, 8]) {
      fault.renamesBeforeFail = n;
      expect(() => writeReportFiles(out, files), `fail at rename ${n}`).toThrow(/EPERM/);
      fault.renamesBeforeFail = Infinity;
      expect(snapshot(out), `fail at rename ${n}`).toEqual(before);
    }
    // and without faults every file is replaced, the user's notes kept
    expect(writeReportFiles(out, files)).toEqual(files.map(([n]) => n));
    expect(fs.readFileSync(join(out, 'index.html'), 'utf8')).toBe('new index');
    expect(fs.readFileSync(join(out, 'fresh.csv'), 'utf8')).toBe('new file');
    expect(fs.readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('old notes.txt');
    expect(fs.readdirSync(out).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('when even putting back fails, the old files are kept and the error says where', () => {
    const out = join(tmp, 'report');
    oldReport(out);
    fault.renamesFailFrom = 2; // index.html moved aside, then no rename works any more
    let message = '';
    try {
      writeReportFiles(out, [
        ['index.html', 'new index'],
        ['metrics.json', 'new metrics'],
      ]);
    } catch (e) {
      message = (e as Error).message;
    }
    fault.renamesFailFrom = Infinity;
    const kept = /the old report files that could not be put back are in (\S+)\)$/.exec(message)?.[1];
    expect(kept, message).toBeDefined();
    expect(fs.readFileSync(join(kept!, 'index.html'), 'utf8')).toBe('old index.html');
    expect(fs.readFileSync(join(out, 'metrics.json'), 'utf8')).toBe('old metrics.json');
  });

  it('a folder where a report file goes: refused before anything is replaced', () => {
    const out = join(tmp, 'report');
    oldReport(out);
    fs.mkdirSync(join(out, 'steps.csv'));
    const before = snapshot(out);
    expect(() =>
      writeReportFiles(out, [
        ['index.html', 'new'],
        ['steps.csv', 'x'],
      ]),
    ).toThrow(/steps\.csv is a folder/);
    expect(snapshot(out)).toEqual(before);
  });

  it('file names with a folder part, hidden or repeated are refused', () => {
    const out = join(tmp, 'report');
    for (const bad of ['../x', 'a/b', '.old', '', '..', 'a\0b'])
      expect(() => writeReportFiles(out, [[bad, 'x']]), JSON.stringify(bad)).toThrow(RangeError);
    expect(() =>
      writeReportFiles(out, [
        ['a', 'x'],
        ['a', 'y'],
      ]),
    ).toThrow(/repeat/);
    expect(fs.existsSync(out)).toBe(false);
  });
});
