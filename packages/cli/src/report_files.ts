/**
 * Writing a report's files into `--out` all at once (issue 12, items 4 and 5). Node only.
 *
 * Every file is first written, complete and synced, into a fresh staging folder on the same
 * filesystem: created with O_EXCL ('wx') in a folder this process just made, so no write goes
 * through a symbolic link, hard link or anything else already in `--out`. Only then are the
 * files renamed into place, index last. A rename replaces the directory entry: a symbolic
 * link at `out/index.html` is replaced by the report, the file it pointed to is left alone.
 *
 * - `out` does not exist: the staging folder is made next to it and renamed to `out`.
 * - `out` exists: the staging folder is made inside it; each old file is moved into the
 *   staging folder and the new one renamed over its name. Other files in `out` stay.
 *
 * On any failure (disk full, a rename refused) the files already replaced are put back, the
 * staging folder is removed and the error is thrown: the old report stays as it was.
 */
import {
  closeSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  type Stats,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';

export type ReportFiles = ReadonlyArray<readonly [name: string, data: string | Uint8Array]>;

/** The prefix of staging folders (a folder left by a killed run can be deleted). */
export const STAGING_PREFIX = '.gradclip-staging-';

/** A plain file name: no folder part, not hidden (so never '.', '..', a staging folder or its '.old'). */
function checkName(name: string): void {
  if (name === '' || name.startsWith('.') || /[/\\\0]/.test(name)) {
    throw new RangeError(`report file name ${JSON.stringify(name)} is not a plain file name`);
  }
}

function lexists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/** Makes a new, empty folder `${parent}/${prefix}<random>` (mkdir never follows a link). */
function makeStaging(parent: string, prefix: string): string {
  for (let attempt = 0; ; attempt++) {
    const dir = join(parent, prefix + randomBytes(6).toString('hex'));
    try {
      mkdirSync(dir);
      return dir;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 10) throw e;
    }
  }
}

/** Writes one new file (O_CREAT | O_EXCL) and syncs it, so a full disk shows here, not later. */
function writeNew(path: string, data: string | Uint8Array): void {
  const fd = openSync(path, 'wx');
  try {
    writeFileSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `files` into the folder `out` (made if missing) so that either all of them replace
 * the old ones or, on failure, nothing in `out` changes. Files are renamed into place in the
 * order given: put the index last. Returns the names written.
 */
export function writeReportFiles(out: string, files: ReportFiles): string[] {
  const names = files.map(([name]) => name);
  for (const n of names) checkName(n);
  if (new Set(names).size !== names.length) throw new RangeError(`report file names repeat: ${names.join(', ')}`);
  const target = resolve(out);
  const fresh = !lexists(target);
  if (!fresh) {
    const st = statOrNull(target);
    if (st === null) throw Object.assign(new Error(`${out} is a symbolic link to nothing`), { code: 'ENOENT' });
    if (!st.isDirectory()) throw Object.assign(new Error(`${out} is not a folder`), { code: 'ENOTDIR' });
  }
  if (fresh) mkdirSync(dirname(target), { recursive: true });
  const staging = makeStaging(fresh ? dirname(target) : target, STAGING_PREFIX);
  let keep = false;
  try {
    for (const [name, data] of files) writeNew(join(staging, name), data);
    if (fresh) {
      try {
        renameSync(staging, target);
        return names;
      } catch (e) {
        // `out` appeared meanwhile: replace file by file below
        if (!lexists(target)) throw e;
      }
    }
    replaceFiles(target, staging, names);
    return names;
  } catch (e) {
    keep = (e as { oldFilesKept?: boolean }).oldFilesKept === true;
    throw e;
  } finally {
    if (!keep) rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * Renames `staging/<name>` over `out/<name>` for each name, keeping the old ones in
 * `staging/.old` until all are in. On failure puts the old ones back and throws; if even that
 * fails, the error says where the old files are (`oldFilesKept`: staging is not removed).
 */
function replaceFiles(out: string, staging: string, names: readonly string[]): void {
  for (const n of names) {
    const st = lstatOrNull(join(out, n));
    if (st?.isDirectory())
      throw Object.assign(new Error(`${join(out, n)} is a folder: the report's file cannot replace it`), {
        code: 'EISDIR',
      });
  }
  const old = join(staging, '.old');
  mkdirSync(old);
  const done: { name: string; hadOld: boolean }[] = [];
  try {
    for (const name of names) {
      const dest = join(out, name);
      const hadOld = lexists(dest);
      if (hadOld) renameSync(dest, join(old, name));
      done.push({ name, hadOld });
      renameSync(join(staging, name), dest);
    }
  } catch (e) {
    // put back what was there, newest first; the new files go back into staging (removed)
    let lost = false;
    for (const { name, hadOld } of done.reverse()) {
      const dest = join(out, name);
      try {
        if (lexists(join(staging, name))) {
          if (hadOld) renameSync(join(old, name), dest);
        } else {
          renameSync(dest, join(staging, name));
          if (hadOld) renameSync(join(old, name), dest);
        }
      } catch {
        lost = true; // keep restoring the others
      }
    }
    if (lost && e instanceof Error) {
      e.message += ` (the old report files that could not be put back are in ${old})`;
      Object.assign(e, { oldFilesKept: true });
    }
    throw e;
  }
}

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}

function statOrNull(p: string): Stats | null {
  try {
    return statSync(p);
  } catch {
    return null;
  }
}
