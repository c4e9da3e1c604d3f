/**
 * Worker threads for a threaded gradient arena: the arena's WebAssembly memory is shared, each
 * worker runs its own instance of the kernels on it, and the arrays of one call are cut into
 * blocks that every thread takes from a shared queue (an atomic counter) until none is left.
 * Clipping is memory-bound; on current CPUs one core cannot saturate the memory system, two
 * or more get closer (docs/performance.md has the measurements). Taking blocks instead of
 * fixed shares means a thread the OS preempts delays the call by one block, not by its share.
 *
 * The public functions stay synchronous: the calling thread publishes the blocks, takes blocks
 * itself, then waits for the workers with Atomics.wait (allowed on Node's main thread, which is
 * why this is Node-only). Until the workers have started (tens of milliseconds) every kernel
 * simply runs on the calling thread.
 */

/** What a worker needs: the kernels compiled for shared memory, and the memory. */
interface WorkerSetup {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  queue: SharedArrayBuffer;
  header: number;
  names: readonly string[];
}

/** The part of node:worker_threads the pool uses. */
interface NodeWorker {
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

// Control block of one worker (Int32 words; float64 slots at byte 32).
const STATE = 0; // 0 starting, 1 ready, 2 gone
const CMD = 1; // 0 idle, k + 1 run kernel k, -1 exit
const DONE = 4;
const ARG = 4; // float64 index
const RESULT = 5;
const MAX = 6;
const CONTROL_BYTES = 64;

// The work queue shared by all threads of a pool (Int32 words): the next group to take, the
// number of groups, then for each group the index one past its last job, then the jobs as
// (byte offset, length). A job is an array or a BLOCK-long piece of one; a group is a run of
// consecutive jobs with about BLOCK values in all, so 10,000 arrays of 1,000 values make 153
// groups, not 10,000 turns at the shared counter.
const NEXT = 0;
const COUNT = 1;
const ENDS = 2;
/** Jobs per dispatch; a call with more is dispatched in several rounds. */
const QUEUE_JOBS = 8192;
const JOBS = ENDS + QUEUE_JOBS;
/**
 * Values per block: 256 KiB of float32, ~10 µs of streaming, so taking a group (one atomic
 * add) costs well under 1%, and a 10M-value call still has 150 groups to balance with.
 */
const BLOCK = 1 << 16;

/**
 * Spin iterations before a thread sleeps in Atomics.wait. Waking a sleeping thread costs tens
 * of microseconds; while it spins, the next part of a multi-tensor clip starts in about one.
 */
const SPIN = 1 << 16;
/** A worker that has not answered after this long is treated as lost (an Error, not a hang). */
const JOIN_TIMEOUT_MS = 30_000;

/**
 * Runs in each worker (evaluated by node:worker_threads: as CommonJS, or as an ES module when
 * Node runs with --input-type=module, hence no require).
 */
const WORKER_SOURCE = `
const { workerData, parentPort } = process.getBuiltinModule('node:worker_threads');
const { module, memory, control, queue, header, names } = workerData;
const ex = new WebAssembly.Instance(module, { env: { memory, header } }).exports;
const c = new Int32Array(control);
const f = new Float64Array(control);
const q = new Int32Array(queue);
const h = new Float64Array(memory.buffer, header, 1);
const fns = names.map((n) => ex[n]);
Atomics.store(c, ${STATE}, 1);
parentPort.postMessage('ready');
for (;;) {
  let cmd;
  for (let spin = 0; (cmd = Atomics.load(c, ${CMD})) === 0; spin++) if (spin > ${SPIN}) Atomics.wait(c, ${CMD}, 0);
  if (cmd < 0) break;
  const fn = fns[cmd - 1];
  const arg = f[${ARG}];
  const count = q[${COUNT}];
  let sum = 0;
  let max = 0;
  for (let g; (g = Atomics.add(q, ${NEXT}, 1)) < count; ) {
    for (let j = g === 0 ? 0 : q[${ENDS} + g - 1], end = q[${ENDS} + g]; j < end; j++) {
      const r = fn(q[${JOBS} + 2 * j], q[${JOBS} + 2 * j + 1], arg);
      if (r !== undefined) sum += r;
      const m = h[0];
      if (m > max) max = m;
    }
  }
  f[${RESULT}] = sum;
  f[${MAX}] = max;
  Atomics.store(c, ${CMD}, 0);
  Atomics.store(c, ${DONE}, 1);
  Atomics.notify(c, ${DONE});
}
Atomics.store(c, ${STATE}, 2);
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
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object') return 'SharedArrayBuffer and Atomics are not available';
  const w = workerConstructor();
  return typeof w === 'string' ? w : undefined;
}

export interface ThreadPool {
  /** Workers that are up (the calling thread is not counted). */
  running(): number;
  /** Resolves with the number of threads in use (workers up + the calling thread). */
  readonly ready: Promise<number>;
  /**
   * Runs a kernel over arrays of the arena (all of one element type), cut into groups of jobs
   * that the calling thread (through `self(ptr, n)` on its own instance, whose header max
   * `selfMax()` reads) and the running workers take in turn. Returns the summed results and
   * the largest of the values the kernels left in their headers (max |x| for the pow kernels).
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
}

/**
 * Starts `workers` workers on a shared memory. `headerOf(i)` is the byte address of worker i's
 * 64-byte result header (the calling thread's own instance uses another).
 */
export function startPool(module: WebAssembly.Module, memory: WebAssembly.Memory, workers: number, headerOf: (i: number) => number): ThreadPool {
  const Worker = workerConstructor();
  if (typeof Worker === 'string') throw new Error(Worker);
  const queue = new Int32Array(new SharedArrayBuffer(4 * (JOBS + 2 * QUEUE_JOBS)));
  const slots = Array.from({ length: workers }, (_, i) => {
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, control, queue: queue.buffer, header: headerOf(i), names: THREAD_KERNELS } });
    const c = new Int32Array(control);
    // The worker stays referenced while it starts (so `await arena.ready` keeps Node running),
    // then is unreferenced: an arena nobody disposed must not keep the process alive. (It is
    // unreferenced after the 'message' listener is added, which would reference it again.)
    const started = new Promise<void>((resolve) => {
      const done = () => {
        worker.unref();
        resolve();
      };
      worker.on('message', done);
      worker.on('error', () => {
        Atomics.store(c, STATE, 2);
        done();
      });
      worker.on('exit', () => {
        Atomics.store(c, STATE, 2);
        done();
      });
    });
    return { worker, c, f: new Float64Array(control), started };
  });
  const ready = Promise.all(slots.map((s) => s.started)).then(() => 1 + slots.filter((s) => Atomics.load(s.c, STATE) === 1).length);
  let disposed = false;
  const up = () => (disposed ? [] : slots.filter((s) => Atomics.load(s.c, STATE) === 1));

  function join(s: (typeof slots)[number]): void {
    const deadline = performance.now() + JOIN_TIMEOUT_MS;
    for (let spin = 0; Atomics.load(s.c, DONE) === 0; spin++) {
      if (spin < SPIN) continue;
      Atomics.wait(s.c, DONE, 0, 100);
      if (Atomics.load(s.c, DONE) === 0 && (Atomics.load(s.c, STATE) !== 1 || performance.now() > deadline)) {
        throw new Error('gradclip: a gradient arena worker thread stopped answering (the arena cannot be used any more)');
      }
    }
  }

  return {
    running() {
      let n = 0;
      if (!disposed) for (const s of slots) if (Atomics.load(s.c, STATE) === 1) n++;
      return n;
    },
    ready,
    run(kernel, arrays, arg, self, selfMax) {
      const helpers = up();
      const cmd = THREAD_KERNELS.indexOf(kernel) + 1;
      let sum = 0;
      let max = 0;
      let a = 0; // next array
      let at = 0; // next element in it
      while (a < arrays.length) {
        // Publish up to QUEUE_JOBS jobs in groups of about BLOCK values, then let every thread
        // take groups.
        let jobs = 0;
        let groups = 0;
        let inGroup = 0;
        for (; a < arrays.length && jobs < QUEUE_JOBS; jobs++) {
          const x = arrays[a]!;
          const n = Math.min(BLOCK, x.length - at);
          queue[JOBS + 2 * jobs] = x.byteOffset + at * x.BYTES_PER_ELEMENT;
          queue[JOBS + 2 * jobs + 1] = n;
          at += n;
          if (at >= x.length) {
            a++;
            at = 0;
          }
          inGroup += n;
          if (inGroup >= BLOCK) {
            queue[ENDS + groups++] = jobs + 1;
            inGroup = 0;
          }
        }
        if (inGroup > 0 || groups === 0 || queue[ENDS + groups - 1] !== jobs) queue[ENDS + groups++] = jobs;
        queue[COUNT] = groups;
        Atomics.store(queue, NEXT, 0);
        for (const s of helpers) {
          s.f[ARG] = arg;
          Atomics.store(s.c, DONE, 0);
          Atomics.store(s.c, CMD, cmd);
          Atomics.notify(s.c, CMD);
        }
        for (let g; (g = Atomics.add(queue, NEXT, 1)) < groups; ) {
          for (let j = g === 0 ? 0 : queue[ENDS + g - 1]!, end = queue[ENDS + g]!; j < end; j++) {
            sum += self(queue[JOBS + 2 * j]!, queue[JOBS + 2 * j + 1]!);
            const m = selfMax();
            if (m > max) max = m;
          }
        }
        for (const s of helpers) {
          join(s);
          sum += s.f[RESULT]!;
          const m = s.f[MAX]!;
          if (m > max) max = m;
        }
      }
      return { sum, max };
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const s of slots) {
        Atomics.store(s.c, CMD, -1);
        Atomics.notify(s.c, CMD);
        void s.worker.terminate();
      }
    },
  };
}
