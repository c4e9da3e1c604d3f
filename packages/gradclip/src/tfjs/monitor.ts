import * as tf from '@tensorflow/tfjs-core';
import { CLIP_WARNING_OPTIONS, clipWatch, type ClipWarningOptions, type ClipWatch } from '../diagnostics.js';
import { knownOptions } from '../validate.js';

/**
 * Options of `ClipMonitor`. The warnings of `ClipWarningOptions` (`onNeverClipped`,
 * `onTinyScale`) are opt-in: with either callback the monitor reads each packed chunk back
 * asynchronously (as for `onRecords`), so a warning comes within `chunkSize` steps of its cause
 * (or at `read()`), and training never waits for it.
 */
export interface ClipMonitorOptions extends ClipWarningOptions {
  /** Steps kept as separate scalars before they are packed into one tensor. Default 256. */
  chunkSize?: number;
  /**
   * Called with each chunk of records once it is packed (every `chunkSize` steps, and the rest
   * when `read()` is called), after an asynchronous read (`await data()`), so training never
   * waits for it.
   */
  onRecords?: (records: ClipRecord[]) => void;
}

/** One step as read back from the device. */
export interface ClipRecord {
  /** 0-based index of the update since monitoring started (or was cleared). */
  step: number;
  /** Pre-clip norm. */
  norm: number;
  /**
   * Threshold in force: the fixed threshold (maxNorm, clipValue), the moving one AutoClip and
   * ZClip report, or NaN for rules without a single threshold (per-tensor AdaGC, AGC).
   */
  threshold: number;
  /** Factor applied (the smallest one for per-tensor / per-unit rules). */
  scale: number;
  clipped: boolean;
}

/**
 * Per-step clipping records kept on the device: nothing is read back while training runs, so
 * recording costs a few tiny device ops per step and no sync. Read them after training (or in
 * an epoch-end callback) with `read()`; `ratioClipped()` is brain.js's statistic, the share of
 * steps that were clipped.
 *
 * Steps are stacked into [chunkSize, 4] tensors (norm, threshold, scale, clipped) so that a long run
 * holds a handful of tensors, not three per step.
 */
export class ClipMonitor {
  private pending: tf.Tensor1D[] = [];
  private chunks: tf.Tensor2D[] = [];
  private callbackError: unknown = undefined;
  private readonly chunkSize: number;
  private readonly onRecords: ((records: ClipRecord[]) => void) | undefined;
  private readonly watch: ClipWatch;
  /** The chunks' reads for callbacks, in order (each observes its records after the previous). */
  private reading: Promise<void> = Promise.resolve();
  private count = 0;
  private packed = 0;

  constructor(options: ClipMonitorOptions = {}) {
    const c = options.chunkSize ?? 256;
    if (!Number.isInteger(c) || c < 1) throw new RangeError(`options.chunkSize must be an integer ≥ 1, got ${c}`);
    if (options.onRecords !== undefined && typeof options.onRecords !== 'function') {
      throw new TypeError(`options.onRecords must be a function, got ${typeof options.onRecords}`);
    }
    this.chunkSize = c;
    this.onRecords = options.onRecords;
    knownOptions('options', options, ['chunkSize', 'onRecords', ...CLIP_WARNING_OPTIONS]);
    const { chunkSize: _c, onRecords: _r, ...warnings } = options;
    this.watch = clipWatch(warnings);
  }

  /** Number of recorded steps. */
  get steps(): number {
    return this.count;
  }

  /** Records one step (called by the clipped optimizer; the tensors stay the caller's). */
  record(norm: tf.Scalar, threshold: tf.Scalar | number | undefined, scale: tf.Scalar, clipped: tf.Scalar): void {
    const row = tf.tidy(() =>
      tf.stack([
        tf.cast(norm, 'float32'),
        threshold instanceof tf.Tensor ? tf.cast(threshold, 'float32') : tf.scalar(threshold ?? NaN),
        tf.cast(scale, 'float32'),
        tf.cast(clipped, 'float32'),
      ]),
    ) as tf.Tensor1D;
    // `fit` runs each batch inside tf.tidy: keep the record past the end of the batch.
    this.pending.push(tf.keep(row));
    this.count++;
    if (this.pending.length >= this.chunkSize) this.pack();
  }

  private pack(): void {
    if (this.pending.length === 0) return;
    const chunk = tf.keep(tf.stack(this.pending) as tf.Tensor2D);
    tf.dispose(this.pending);
    this.pending = [];
    this.chunks.push(chunk);
    const first = this.packed;
    this.packed += chunk.shape[0];
    if (this.onRecords !== undefined || this.watch.active) {
      const notify = this.onRecords;
      const watch = this.watch;
      // The callbacks run detached from training: an error one throws (or a failed read) must
      // not become an unhandled rejection that ends the process. It is kept and rethrown by
      // the next read(), where the caller can handle it. Reads are chained so that the
      // warnings see the steps in order.
      // The read starts now, before a clear() could dispose the chunk.
      const data = chunk.data();
      data.catch(() => {}); // handled in the chain below
      this.reading = this.reading
        .then(() => data)
        .then((d) => {
          const records = toRecords(d, first);
          if (watch.active) for (const r of records) watch.observe(r, r.step);
          notify?.(records);
        })
        .catch((e: unknown) => {
          this.callbackError ??= e;
        });
    }
  }

  /**
   * All records so far (an async read: call it outside the training step). Rethrows, once, an
   * error that `onRecords` threw since the last read.
   */
  async read(): Promise<ClipRecord[]> {
    this.pack();
    await this.reading;
    if (this.callbackError !== undefined) {
      const e = this.callbackError;
      this.callbackError = undefined;
      throw new Error(`ClipMonitor: onRecords threw: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    const out: ClipRecord[] = [];
    for (const c of this.chunks) out.push(...toRecords(await c.data(), out.length));
    return out;
  }

  /** Share of recorded steps that were clipped (NaN before the first step). */
  async ratioClipped(): Promise<number> {
    const r = await this.read();
    return r.length === 0 ? NaN : r.filter((x) => x.clipped).length / r.length;
  }

  /** Forgets the records and frees their tensors. */
  clear(): void {
    tf.dispose(this.pending);
    tf.dispose(this.chunks);
    this.pending = [];
    this.chunks = [];
    this.count = 0;
    this.packed = 0;
  }

  dispose(): void {
    this.clear();
  }
}

function toRecords(d: ArrayLike<number>, first: number): ClipRecord[] {
  const out: ClipRecord[] = [];
  for (let i = 0; i < d.length; i += 4) {
    out.push({ step: first + i / 4, norm: d[i]!, threshold: d[i + 1]!, scale: d[i + 2]!, clipped: d[i + 3] !== 0 });
  }
  return out;
}
