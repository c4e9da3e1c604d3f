/**
 * Worker threads for a threaded gradient arena: the arena's WebAssembly memory is shared, each
 * worker runs its own instance of the kernels on it, and a large array is split into one part
 * per thread. Clipping is memory-bound; on current CPUs one core cannot saturate the memory
 * system, two or more get closer (docs/performance.md has the measurements).
 *
 * The public functions stay synchronous: the calling thread hands out the parts, runs its own,
 * then waits for the workers with Atomics.wait (allowed on Node's main thread, which is why this
 * is Node-only). Until the workers have started (tens of milliseconds) every kernel simply runs
 * on the calling thread.
 */

/** What a worker needs: the kernels compiled for shared memory, and the memory. */
interface WorkerSetup {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
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
const PTR = 2;
const LEN = 3;
const DONE = 4;
const ARG = 4; // float64 index
const RESULT = 5;
const MAX = 6;
const CONTROL_BYTES = 64;

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
const { module, memory, control, header, names } = workerData;
const ex = new WebAssembly.Instance(module, { env: { memory, header } }).exports;
const c = new Int32Array(control);
const f = new Float64Array(control);
const h = new Float64Array(memory.buffer, header, 1);
const fns = names.map((n) => ex[n]);
Atomics.store(c, ${STATE}, 1);
parentPort.postMessage('ready');
for (;;) {
  let cmd;
  for (let spin = 0; (cmd = Atomics.load(c, ${CMD})) === 0; spin++) if (spin > ${SPIN}) Atomics.wait(c, ${CMD}, 0);
  if (cmd < 0) break;
  const r = fns[cmd - 1](c[${PTR}], c[${LEN}], f[${ARG}]);
  f[${RESULT}] = r === undefined ? 0 : r;
  f[${MAX}] = h[0];
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
   * Runs a kernel over n elements at byte offset ptr, split between the calling thread (which
   * runs `self(ptr, n)` on its part) and the running workers. Returns the summed results and
   * the largest of the values the kernels left in their headers (max |x| for the pow kernels).
   */
  run(kernel: ThreadKernel, ptr: number, n: number, bytesPer: number, arg: number, self: (ptr: number, n: number) => { r: number; max: number }): { sum: number; max: number };
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
  const slots = Array.from({ length: workers }, (_, i) => {
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, control, header: headerOf(i), names: THREAD_KERNELS } });
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
    running: () => up().length,
    ready,
    run(kernel, ptr, n, bytesPer, arg, self) {
      const helpers = up();
      // Parts are multiples of 16 elements, so every part but the last runs whole vectors.
      const part = Math.ceil(n / (helpers.length + 1) / 16) * 16;
      const cmd = THREAD_KERNELS.indexOf(kernel) + 1;
      const busy: typeof helpers = [];
      let start = part;
      for (const s of helpers) {
        if (start >= n) break;
        s.c[PTR] = ptr + start * bytesPer;
        s.c[LEN] = Math.min(part, n - start);
        s.f[ARG] = arg;
        Atomics.store(s.c, DONE, 0);
        Atomics.store(s.c, CMD, cmd);
        Atomics.notify(s.c, CMD);
        busy.push(s);
        start += part;
      }
      const own = self(ptr, Math.min(part, n));
      let sum = own.r;
      let max = own.max;
      for (const s of busy) {
        join(s);
        sum += s.f[RESULT]!;
        const m = s.f[MAX]!;
        if (m > max) max = m;
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
