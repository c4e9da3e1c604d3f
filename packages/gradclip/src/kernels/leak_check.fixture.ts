/**
 * Run by threads.test.ts in a `node --expose-gc` child (bundled with esbuild): makes four
 * threaded arenas of 64 MiB one after the other, fills and clips each, drops it (after
 * dispose() when argv[1] is 'true'), and reports whether each one's memory was collected and
 * how much RSS grew. Prints one line of JSON.
 */
import { clipByGlobalNorm } from '../clip_by_global_norm.js';
import { gradientArena } from './arena.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');
const dispose = process.argv[1] === 'true';
const tick = () => new Promise((r) => setTimeout(r, 20));

/**
 * Collects until done() (at most ~4 s). gc() runs in a later task than the last deref():
 * WeakRef.prototype.deref keeps its target alive until the end of the task that called it.
 */
async function collectUntil(done: () => boolean): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    await tick();
    gc!();
    await tick();
    if (done()) return true;
  }
  return false;
}

/** Made in its own function, so that no frame of the loop below keeps the arena. */
async function oneArena(): Promise<WeakRef<ArrayBufferLike>> {
  const a = gradientArena([1 << 24], { threads: 2 });
  if ((await a.ready) !== 2) throw new Error('the worker did not start');
  a.arrays[0]!.fill(1);
  if (clipByGlobalNorm(a.arrays, 1).norm !== 4096) throw new Error('wrong norm'); // √(2^24)
  if (dispose) a.dispose();
  return new WeakRef(a.arrays[0]!.buffer);
}

for (let i = 0; i < 3; i++) {
  gc();
  await tick();
}
const rss0 = process.memoryUsage().rss;
const collected: boolean[] = [];
for (let i = 0; i < 4; i++) {
  const ref = await oneArena();
  collected.push(await collectUntil(() => ref.deref() === undefined));
}
console.log(JSON.stringify({ collected, rssGrowthMB: Math.round((process.memoryUsage().rss - rss0) / 2 ** 20) }));
