// One JavaScript candidate of `npm run bench`, in its own process (so its peak memory is its
// own): node bench/run_js.mjs <candidate> <total> <tensors> <ops,…> <budgetMs> <maxReps>
// Prints one JSON object: { [op]: { times, norm?, sum, sumAbs, first, last } , maxRssKB }.
// Each rep restores the gradients from a pristine copy (not timed), then times one clip.
import os from 'node:os';
import { OPS, fillTensor, summarise } from './data.mjs';

const [name, totalS, tensorsS, opsS, budgetS, maxRepsS] = process.argv.slice(2);
const total = Number(totalS);
const tensors = Number(tensorsS);
const per = total / tensors;
const ops = opsS.split(',');
const budget = Number(budgetS);
const maxReps = Number(maxRepsS);

const pristine = Array.from({ length: tensors }, (_, t) => fillTensor(new Float32Array(per), t));

/**
 * Times `run` after `restore`. Warm-up (untimed) lasts up to 20 reps or 100 ms, so the JIT has
 * optimised the code before timing starts; then as many reps as the budget allows.
 */
function measure(restore, run) {
  const warmStart = performance.now();
  let first = Infinity;
  for (let w = 0; w < 20 && (w === 0 || performance.now() - warmStart < 100); w++) {
    restore();
    const t = performance.now();
    run();
    first = Math.min(first, performance.now() - t);
  }
  let t0;
  const reps = Math.max(3, Math.min(maxReps, Math.floor(budget / Math.max(first, 1e-3))));
  const times = [];
  let out;
  for (let r = 0; r < reps; r++) {
    restore();
    t0 = performance.now();
    out = run();
    times.push(performance.now() - t0);
  }
  return { times, out };
}

async function typedCandidate(kind) {
  const lib = await import('gradclip');
  let grads;
  if (kind === 'arena' || kind === 'arena-mt') {
    // arena-mt: one thread per core the machine offers (the calling thread included).
    const threads = kind === 'arena-mt' ? os.availableParallelism() : 1;
    const arena = lib.gradientArena(new Array(tensors).fill(per), { threads });
    if (!arena.wasm) throw new Error('the gradient arena is not WASM-backed here');
    if ((await arena.ready) !== threads)
      throw new Error(`only ${await arena.ready} of ${threads} arena threads started`);
    grads = arena.arrays;
  } else {
    grads = pristine.map((a) => new Float32Array(a.length));
  }
  lib.useKernels(kind === 'js' ? 'js' : 'wasm');
  const restore = () => grads.forEach((g, t) => g.set(pristine[t]));
  return {
    restore,
    grads: () => grads,
    global: () => lib.clipByGlobalNorm(grads, OPS.global.threshold).norm,
    value: () => void lib.clipByValue(grads, OPS.value.threshold),
    pertensor: () => void lib.clipByNorm(grads, OPS.pertensor.threshold),
  };
}

function plainCandidate() {
  const grads = pristine.map((a) => new Float32Array(a.length));
  return {
    restore: () => grads.forEach((g, t) => g.set(pristine[t])),
    grads: () => grads,
    global() {
      let acc = 0;
      for (const g of grads) for (let i = 0; i < g.length; i++) acc += g[i] * g[i];
      const norm = Math.sqrt(acc);
      const s = OPS.global.threshold / (norm + 1e-6);
      if (s < 1) for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= s;
      return norm;
    },
    value() {
      const c = OPS.value.threshold;
      for (const g of grads) {
        for (let i = 0; i < g.length; i++) {
          const v = g[i];
          g[i] = v > c ? c : v < -c ? -c : v;
        }
      }
    },
    pertensor() {
      const c = OPS.pertensor.threshold;
      for (const g of grads) {
        let acc = 0;
        for (let i = 0; i < g.length; i++) acc += g[i] * g[i];
        const n = Math.sqrt(acc);
        if (n > c) for (let i = 0; i < g.length; i++) g[i] *= c / n;
      }
    },
  };
}

/**
 * The naive tfjs composition a user writes today (tfjs has no clipping helper): per-tensor
 * sum(square), addN, sqrt, minimum, mul — new tensors out, inputs unchanged, so no restore.
 */
async function tfjsCandidate(backend) {
  const tf = await import('@tensorflow/tfjs-core');
  if (backend === 'cpu') await import('@tensorflow/tfjs-backend-cpu');
  else await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend ${backend} unavailable`);
  await tf.ready();
  const ts = pristine.map((a) => tf.tensor1d(a));
  let out = [];
  const keep = (o) => {
    for (const t of out) t.dispose();
    out = o;
  };
  return {
    restore: () => {},
    grads: () => out.map((t) => t.dataSync()),
    global() {
      let normT;
      keep(
        tf.tidy(() => {
          const norm = tf.sqrt(tf.addN(ts.map((t) => tf.sum(tf.square(t)))));
          const coef = tf.minimum(1, tf.div(OPS.global.threshold, tf.add(norm, 1e-6)));
          normT = tf.keep(norm);
          return ts.map((t) => tf.mul(t, coef));
        }),
      );
      const norm = normT.dataSync()[0];
      normT.dispose();
      return norm;
    },
    value: () => keep(ts.map((t) => tf.clipByValue(t, -OPS.value.threshold, OPS.value.threshold))),
    pertensor() {
      const c = OPS.pertensor.threshold;
      keep(tf.tidy(() => ts.map((t) => tf.mul(t, tf.div(c, tf.maximum(tf.norm(t), c))))));
      out.forEach((t) => t.dataSync()); // wait for the results like every other candidate
    },
  };
}

const make = {
  'gradclip-wasm': () => typedCandidate('wasm'),
  'gradclip-wasm-arena': () => typedCandidate('arena'),
  'gradclip-wasm-arena-mt': () => typedCandidate('arena-mt'),
  'gradclip-js': () => typedCandidate('js'),
  'plain-js': () => plainCandidate(),
  'tfjs-cpu': () => tfjsCandidate('cpu'),
  'tfjs-wasm': () => tfjsCandidate('wasm'),
}[name];
if (!make) throw new Error(`unknown candidate ${name}`);
const cand = await make();
const result = {};
for (const op of ops) {
  const { times, out } = measure(cand.restore, cand[op]);
  result[op] = { times, ...(op === 'global' ? { norm: out } : {}), ...summarise(cand.grads()) };
}
result.maxRssKB = process.resourceUsage().maxRSS;
console.log(JSON.stringify(result));
process.exit(0);
