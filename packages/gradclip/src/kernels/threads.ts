/**
 * Worker threads for a threaded gradient arena: the arena's WebAssembly memory is shared, each
 * worker runs its own instance of the kernels on it, and the arrays of one call are cut into
 * groups of jobs that every thread takes from a shared queue until none is left.
 * Clipping is memory-bound; on current CPUs one core cannot saturate the memory system, two
 * or more get closer (docs/performance.md has the measurements). Taking groups instead of
 * fixed shares means a thread the OS preempts delays the call by one group, not by its share.
 *
 * The public functions stay synchronous: the calling thread publishes a round of groups, takes
 * groups itself, then waits with Atomics.wait (allowed on Node's main thread, which is why this
 * is Node-only) for the groups that workers took. Until the workers have started (tens of
 * milliseconds) every kernel simply runs on the calling thread.
 *
 * Robustness (issue 12, items 12 and 15):
 * - Nothing a worker does is needed for a call to finish: a worker only ever takes a group by
 *   a compare-and-swap on a claim word that carries the round's number, so a dead, sleeping or
 *   late worker simply takes nothing and the calling thread does every group itself. The
 *   calling thread waits only for groups a worker did take, and each group's result lives in
 *   its own slot (which also makes the sum independent of which thread did what).
 * - While the calling thread blocks in Atomics.wait, Node cannot deliver a worker's 'exit'
 *   event. So a group that a worker took and has not finished after STALL_MS is taken as lost:
 *   the pool stops every worker for good (the arena runs on the calling thread from then on)
 *   and the calling thread redoes the lost groups of a read-only or idempotent kernel (norms,
 *   clamp), so the call still returns the right numbers. A scale cannot be redone (part of the
 *   group may already be scaled); the call finishes everything else and then throws an Error
 *   that names the values that may be partly scaled.
 * - Nothing the workers' event listeners or the FinalizationRegistry hold may reach the
 *   arena's memory: a worker object stays reachable while its thread runs, and the registry
 *   holds its values strongly, so either path would keep the memory (and thus the arena, the
 *   workers and the registry entry) alive for ever. Hence the listeners are made by `watch`
 *   and the stopper by `stopperOf` (module-level functions that close over nothing else),
 *   `startPool`, which has the memory, makes no closures (a plain loop builds the workers'
 *   data), and the pool's closures are made by `makePool`, which never sees the memory.
 *   threads.test.ts checks that disposed and undisposed arenas are collected.
 */

/** What a worker needs: the kernels compiled for shared memory, the memory, its queue. */
interface WorkerSetup {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  queue: SharedArrayBuffer;
  results: SharedArrayBuffer;
  header: number;
  id: number;
  names: readonly string[];
}

/** The part of node:worker_threads' Worker the pool uses. */
export interface NodeWorker {
  unref(): void;
  terminate(): Promise<number>;
  on(event: 'message' | 'error' | 'exit', f: (v: unknown) => void): void;
}
type WorkerCtor = new (code: string, opts: { eval: true; workerData: WorkerSetup }) => NodeWorker;

/** Kernels a worker can run, by index (the command word is index + 1). */
export const THREAD_KERNELS = [
  'pow2_f32',
  'pow2_f64',
  'pow1_f32',
  'pow1_f64',
  'scale_f32',
  'scale_f64',
  'clamp_f32',
  'clamp_f64',
] as const;
export type ThreadKernel = (typeof THREAD_KERNELS)[number];

// The queue shared by all threads of a pool (Int32 words):
const GEN = 0; // bumped for every round and for exit; idle workers sleep on it
const CLAIM = 1; // (round << GROUP_BITS) | next group to take
const COUNT = 2; // groups in the round
const CMD = 3; // kernel index + 1 of the round; -1: exit
const STATES = 8; // one word per worker: 0 starting, 1 ready, 2 gone
/** Jobs per round; a call with more is dispatched in several rounds. */
const QUEUE_JOBS = 8192;
const MAX_WORKERS = 256;
// For each group the index one past its last job, then for each group the round number once
// its result is written (0 before), then the jobs as (byte offset, length). A job is an array
// or a BLOCK-long piece of one; a group is a run of consecutive jobs with about BLOCK values in
// all, so 10,000 arrays of 1,000 values make 153 groups, not 10,000 turns at the claim word.
const ENDS = STATES + MAX_WORKERS;
const DONE = ENDS + QUEUE_JOBS;
const JOBS = DONE + QUEUE_JOBS;
const QUEUE_WORDS = JOBS + 2 * QUEUE_JOBS;
// The float64 results: the round's argument, then (sum, max) per group.
const ARG = 0;
const RES = 2;
/** Groups per round ≤ QUEUE_JOBS = 2^13 < 2^GROUP_BITS, so a next-group index fits. */
const GROUP_BITS = 14;
const GROUP_MASK = (1 << GROUP_BITS) - 1;
/** Round numbers cycle through 1..MAX_ROUND; (MAX_ROUND << GROUP_BITS) | GROUP_MASK < 2^31. */
const MAX_ROUND = 65535;

/**
 * Values per block: 256 KiB of float32, ~10 µs of streaming, so taking a group (one atomic
 * compare-and-swap) costs well under 1%, and a 10M-value call still has 150 groups to balance with.
 */
const BLOCK = 1 << 16;

/**
 * Spin iterations before a thread sleeps in Atomics.wait. Waking a sleeping thread costs tens
 * of microseconds; while it spins, the next part of a multi-tensor clip starts in about one.
 */
const SPIN = 1 << 16;
/**
 * A group a worker took and has not finished after this long is taken as lost. A group is at
 * most ~2 × BLOCK values (tens of microseconds of work), so only a dead worker, or one the OS
 * did not run for a whole second, gets here; the old 30-second wait froze the event loop for
 * that long on every call.
 */
export const STALL_MS = 1000;
/** Slices of the wait, so the stall deadline is checked without spinning. */
const WAIT_SLICE_MS = 20;

/**
 * Runs in each worker (evaluated by node:worker_threads: as CommonJS, or as an ES module when
 * Node runs with --input-type=module, hence no require and no top-level return).
 * A group is taken only by a compare-and-swap that still sees the claim word it read, so the
 * command, argument and count read before it belong to that round: the calling thread writes
 * a new round only after every group of the previous one is done, and it first locks the claim
 * word (next = GROUP_MASK, more than any count) so that no one takes a group while it writes.
 */
const WORKER_SOURCE = `
const { workerData, parentPort } = process.getBuiltinModule('node:worker_threads');
const { module, memory, queue, results, header, id, names } = workerData;
const ex = new WebAssembly.Instance(module, { env: { memory, header } }).exports;
const q = new Int32Array(queue);
const f = new Float64Array(results);
const h = new Float64Array(memory.buffer, header, 1);
const fns = names.map((n) => ex[n]);
Atomics.store(q, ${STATES} + id, 1);
parentPort.postMessage('ready');
main: for (;;) {
  const seen = Atomics.load(q, ${GEN});
  for (;;) {
    const w = Atomics.load(q, ${CLAIM});
    const cmd = Atomics.load(q, ${CMD});
    if (cmd < 0) break main;
    const g = w & ${GROUP_MASK};
    if (cmd === 0 || g >= Atomics.load(q, ${COUNT})) break;
    const arg = f[${ARG}];
    if (Atomics.compareExchange(q, ${CLAIM}, w, w + 1) !== w) continue;
    const fn = fns[cmd - 1];
    let sum = 0;
    let max = 0;
    for (let j = g === 0 ? 0 : q[${ENDS} + g - 1], end = q[${ENDS} + g]; j < end; j++) {
      const r = fn(q[${JOBS} + 2 * j], q[${JOBS} + 2 * j + 1], arg);
      if (r !== undefined) sum += r;
      const m = h[0];
      if (m > max) max = m;
    }
    f[${RES} + 2 * g] = sum;
    f[${RES} + 2 * g + 1] = max;
    Atomics.store(q, ${DONE} + g, w >>> ${GROUP_BITS});
    Atomics.notify(q, ${DONE} + g);
  }
  for (let spin = 0; Atomics.load(q, ${GEN}) === seen; spin++) if (spin > ${SPIN}) Atomics.wait(q, ${GEN}, seen);
}
Atomics.store(q, ${STATES} + id, 2);
`;

/** Where worker threads are available without importing anything (Node ≥ 20.16). */
function workerConstructor(): WorkerCtor | string {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof proc?.getBuiltinModule !== 'function') {
    return 'threads need Node.js ≥ 20.16 (node:worker_threads); browsers and older Node run arenas on one thread';
  }
  const wt = proc.getBuiltinModule('node:worker_threads') as { Worker?: WorkerCtor } | undefined;
  return typeof wt?.Worker === 'function' ? wt.Worker : 'node:worker_threads is not available';
}

/** Why `threads > 1` cannot work here, or undefined when it can. */
export function threadsUnavailableReason(): string | undefined {
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object')
    return 'SharedArrayBuffer and Atomics are not available';
  const w = workerConstructor();
  return typeof w === 'string' ? w : undefined;
}

/** A node:process warning, where there is one (threads exist only in Node). */
function warn(message: string): void {
  const proc = (globalThis as { process?: { emitWarning?: (m: string, o: { code: string }) => void } }).process;
  proc?.emitWarning?.(message, { code: 'GRADCLIP_ARENA_THREAD' });
}

/** Life of a pool, shared by the pool and its workers' listeners (no reference to memory). */
interface Life {
  /** Why the workers were stopped: 'disposed', or what went wrong; undefined while they run. */
  stopped: string | undefined;
}

/** Stops a pool's workers; the only thing the arena's FinalizationRegistry holds. */
export interface PoolStopper {
  stop(why: string): void;
}

function stopperOf(q: Int32Array, workers: readonly NodeWorker[], life: Life): PoolStopper {
  return {
    stop(why) {
      if (life.stopped !== undefined) return;
      life.stopped = why;
      Atomics.store(q, CMD, -1);
      Atomics.add(q, GEN, 1);
      Atomics.notify(q, GEN);
      for (const w of workers) void w.terminate();
    },
  };
}

/**
 * The listeners of worker `id`. The worker stays referenced while it starts (so `await
 * arena.ready` keeps Node running), then is unreferenced: an arena nobody disposed must not
 * keep the process alive. (It is unreferenced after the 'message' listener is added, which
 * would reference it again.) A worker that exits or fails while the pool runs is marked gone
 * and reported once as a warning; the arena goes on with the threads left.
 */
function watch(worker: NodeWorker, q: Int32Array, id: number, life: Life): Promise<void> {
  return new Promise<void>((resolve) => {
    const started = () => {
      worker.unref();
      resolve();
    };
    const gone = (what: string) => {
      const wasUp = Atomics.exchange(q, STATES + id, 2) === 1;
      started();
      if (wasUp && life.stopped === undefined) {
        warn(
          `gradclip: worker thread ${id + 1} of a threaded gradient arena ${what}; the arena goes on with the threads left (the calling thread takes its share)`,
        );
      }
    };
    worker.on('message', started);
    worker.on('error', (e) => gone(`failed (${String(e)})`));
    worker.on('exit', (code) => gone(`exited (code ${String(code)})`));
  });
}

/**
 * What the pool hands to tests: the workers, and a hook run once a round is published, before
 * the workers are woken (`takeGroup` takes a group as a worker would). @internal
 */
export interface PoolTestHooks {
  readonly workers: readonly NodeWorker[];
  afterPublish: ((kernel: ThreadKernel, takeGroup: () => number) => void) | undefined;
}

export interface ThreadPool {
  /** Workers that are up (the calling thread is not counted). */
  running(): number;
  /** Resolves with the number of threads in use (workers up + the calling thread). */
  readonly ready: Promise<number>;
  /**
   * Runs a kernel over arrays of the arena (all of one element type), cut into groups of jobs
   * that the calling thread (through `self(ptr, n)` on its own instance, whose header max
   * `selfMax()` reads) and the running workers take in turn. Returns the summed results (in
   * group order, whoever ran them) and the largest of the values the kernels left in their
   * headers (max |x| for the pow kernels).
   */
  run(
    kernel: ThreadKernel,
    arrays: readonly Float32Array[] | readonly Float64Array[],
    arg: number,
    self: (ptr: number, n: number) => number,
    selfMax: () => number,
  ): { sum: number; max: number };
  /** Stops the workers; later calls run on the calling thread. */
  dispose(): void;
  /** For the arena's FinalizationRegistry: stops the workers, holds nothing else. */
  readonly stopper: PoolStopper;
  /** @internal */
  readonly testHooks: PoolTestHooks;
}

/**
 * Starts `workers` workers on a shared memory. `headerOf(i)` is the byte address of worker i's
 * 64-byte result header (the calling thread's own instance uses another).
 */
export function startPool(
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
  workers: number,
  headerOf: (i: number) => number,
): ThreadPool {
  const Worker = workerConstructor();
  if (typeof Worker === 'string') throw new Error(Worker);
  if (workers > MAX_WORKERS) throw new RangeError(`workers must be at most ${MAX_WORKERS}, got ${workers}`);
  const q = new Int32Array(new SharedArrayBuffer(4 * QUEUE_WORDS));
  const f = new Float64Array(new SharedArrayBuffer(8 * (RES + 2 * QUEUE_JOBS)));
  const life: Life = { stopped: undefined };
  // A plain loop, not a callback: a closure that mentioned `memory` would put it in the
  // context every closure of this function shares (see the file comment).
  const list: NodeWorker[] = [];
  const started: Promise<void>[] = [];
  for (let id = 0; id < workers; id++) {
    const setup: WorkerSetup = {
      module,
      memory,
      queue: q.buffer as SharedArrayBuffer,
      results: f.buffer as SharedArrayBuffer,
      header: headerOf(id),
      id,
      names: THREAD_KERNELS,
    };
    let w: NodeWorker;
    try {
      w = new Worker(WORKER_SOURCE, { eval: true, workerData: setup });
    } catch (e) {
      // (Node reports most failures later, as an 'error' event; this is the synchronous rest.)
      for (const started of list) void started.terminate();
      throw new Error(`gradientArena: could not start worker thread ${id + 1} of ${workers}: ${String(e)}`, {
        cause: e,
      });
    }
    list.push(w);
    started.push(watch(w, q, id, life));
  }
  return makePool(q, f, list, started, life);
}

/** The pool proper (a separate function, so none of its closures can see the memory). */
function makePool(
  q: Int32Array,
  f: Float64Array,
  workers: readonly NodeWorker[],
  started: readonly Promise<void>[],
  life: Life,
): ThreadPool {
  const stopper = stopperOf(q, workers, life);
  const hooks: PoolTestHooks = { workers, afterPublish: undefined };
  let round = 0;
  const ready = Promise.all(started).then(() => {
    let n = 1;
    for (let i = 0; i < workers.length; i++) if (Atomics.load(q, STATES + i) === 1) n++;
    return n;
  });

  /** Takes the next group of the current round, or returns -1 when none is left. */
  function take(): number {
    for (;;) {
      const w = Atomics.load(q, CLAIM);
      const g = w & GROUP_MASK;
      if (g >= q[COUNT]!) return -1;
      if (Atomics.compareExchange(q, CLAIM, w, w + 1) === w) return g;
    }
  }

  /** Runs group g on the calling thread and records its result. */
  function runGroup(g: number, self: (ptr: number, n: number) => number, selfMax: () => number): void {
    let sum = 0;
    let max = 0;
    for (let j = g === 0 ? 0 : q[ENDS + g - 1]!, end = q[ENDS + g]!; j < end; j++) {
      sum += self(q[JOBS + 2 * j]!, q[JOBS + 2 * j + 1]!);
      const m = selfMax();
      if (m > max) max = m;
    }
    f[RES + 2 * g] = sum;
    f[RES + 2 * g + 1] = max;
    q[DONE + g] = round;
  }

  /**
   * Waits until every group of the round is done. Returns the groups still not done after one
   * of them made the caller wait STALL_MS (their workers are taken as lost), else [].
   */
  function awaitGroups(groups: number): number[] {
    for (let g = 0; g < groups; g++) {
      if (Atomics.load(q, DONE + g) === round) continue;
      const deadline = performance.now() + STALL_MS;
      for (let spin = 0; Atomics.load(q, DONE + g) !== round; spin++) {
        if (spin < SPIN) continue;
        Atomics.wait(q, DONE + g, 0, WAIT_SLICE_MS);
        if (Atomics.load(q, DONE + g) !== round && performance.now() > deadline) {
          const lost: number[] = [];
          for (let h = g; h < groups; h++) if (Atomics.load(q, DONE + h) !== round) lost.push(h);
          return lost;
        }
      }
    }
    return [];
  }

  return {
    running() {
      if (life.stopped !== undefined) return 0;
      let n = 0;
      for (let i = 0; i < workers.length; i++) if (Atomics.load(q, STATES + i) === 1) n++;
      return n;
    },
    ready,
    stopper,
    testHooks: hooks,
    run(kernel, arrays, arg, self, selfMax) {
      const cmd = THREAD_KERNELS.indexOf(kernel) + 1;
      let sum = 0;
      let max = 0;
      let a = 0; // next array
      let at = 0; // next element in it
      /** Where each job of the round starts: (array index, element index), for error messages. */
      const jobArray: number[] = [];
      const jobStart: number[] = [];
      /** Values that a lost worker may have partly scaled: "arrays[i][from, to)". */
      const unsure: string[] = [];
      while (a < arrays.length) {
        if (life.stopped !== undefined) {
          // The workers were lost earlier in this call: the rest runs here, array by array.
          for (; a < arrays.length; a++, at = 0) {
            const x = arrays[a]!;
            sum += self(x.byteOffset + at * x.BYTES_PER_ELEMENT, x.length - at);
            const m = selfMax();
            if (m > max) max = m;
          }
          break;
        }
        round = (round % MAX_ROUND) + 1;
        // Lock the claim word (next = GROUP_MASK is more than any count) while the round is
        // written, so that no thread takes a group of a half-written round.
        Atomics.store(q, CLAIM, (round << GROUP_BITS) | GROUP_MASK);
        // Publish up to QUEUE_JOBS jobs in groups of about BLOCK values.
        let jobs = 0;
        let groups = 0;
        let inGroup = 0;
        for (; a < arrays.length && jobs < QUEUE_JOBS; jobs++) {
          const x = arrays[a]!;
          const n = Math.min(BLOCK, x.length - at);
          q[JOBS + 2 * jobs] = x.byteOffset + at * x.BYTES_PER_ELEMENT;
          q[JOBS + 2 * jobs + 1] = n;
          jobArray[jobs] = a;
          jobStart[jobs] = at;
          at += n;
          if (at >= x.length) {
            a++;
            at = 0;
          }
          inGroup += n;
          if (inGroup >= BLOCK) {
            q[ENDS + groups++] = jobs + 1;
            inGroup = 0;
          }
        }
        if (inGroup > 0 || groups === 0 || q[ENDS + groups - 1] !== jobs) q[ENDS + groups++] = jobs;
        for (let g = 0; g < groups; g++) q[DONE + g] = 0;
        q[COUNT] = groups;
        f[ARG] = arg;
        Atomics.store(q, CMD, cmd);
        Atomics.store(q, CLAIM, round << GROUP_BITS);
        // (Before the workers are woken, so that a test can take a group first, deterministically.)
        hooks.afterPublish?.(kernel, take);
        Atomics.add(q, GEN, 1);
        Atomics.notify(q, GEN);
        for (let g; (g = take()) >= 0;) runGroup(g, self, selfMax);
        const lost = awaitGroups(groups);
        if (lost.length > 0) {
          stopper.stop(`a worker thread took part of a call and did not finish it within ${STALL_MS} ms`);
          warn(
            `gradclip: a worker thread of a threaded gradient arena stopped answering (a part of the work it took was not done after ${STALL_MS} ms); its workers are stopped and the arena runs on the calling thread from now on`,
          );
          for (const g of lost) {
            if (kernel.startsWith('scale')) {
              // Part of the group may already be scaled, and scaling again would scale it twice.
              const from = g === 0 ? 0 : q[ENDS + g - 1]!;
              for (let j = from; j < q[ENDS + g]!; j++) {
                unsure.push(`arrays[${jobArray[j]!}][${jobStart[j]!}, ${jobStart[j]! + q[JOBS + 2 * j + 1]!})`);
              }
              f[RES + 2 * g] = 0;
              f[RES + 2 * g + 1] = 0;
            } else {
              // Norms only read, and clamping twice gives what clamping once gives.
              runGroup(g, self, selfMax);
            }
          }
        }
        for (let g = 0; g < groups; g++) {
          sum += f[RES + 2 * g]!;
          const m = f[RES + 2 * g + 1]!;
          if (m > max) max = m;
        }
      }
      if (unsure.length > 0) {
        throw new Error(
          `gradclip: a worker thread of a threaded gradient arena stopped while scaling (no answer after ${STALL_MS} ms); ` +
            `every value was scaled except ${unsure.join(', ')} (indices into the arrays of this call), which may be partly scaled. ` +
            'Recompute those gradients (or skip this step). The arena is still usable: it runs on the calling thread from now on.',
        );
      }
      return { sum, max };
    },
    dispose() {
      stopper.stop('disposed');
    },
  };
}
