// gradclip/jax in a jax-js training step (issue 20), run by `npm run bench` (or on its own:
// `node bench/jax_clip.mjs [--reps=30]`). On the default device (wasm in Node), for an MLP
// 256 → 512 → 512 → 10 (≈ 400k parameters, batch 64):
//   step          jit(grad(loss)) + SGD update, without clipping;
//   step + clip   the same with gradclip/jax's clipByGlobalNorm(1) between them;
//   clip alone    gradclip's clipByGlobalNorm vs the optax form written by hand with jax-js ops
//                 (g · min(1, τ/‖g‖), as jax-js's optax port composes it: eager), on the same tree.
// Every rep waits for its results (blockUntilReady); medians are reported with their ratios.
import { blockUntilReady, grad, jit, numpy as np, random, tree } from '@jax-js/jax';
import { clipByGlobalNorm } from 'gradclip/jax';

const reps = Number(process.argv.find((a) => a.startsWith('--reps='))?.slice(7) ?? 30);
const sizes = [256, 512, 512, 10];
const B = 64;
let key = random.key(0);
const normal = (shape, s) => {
  const [k1, k2] = random.split(key);
  key = k1;
  return random.normal(k2, shape).mul(s);
};
const layers = () =>
  sizes.slice(1).map((n, i) => ({ w: normal([sizes[i], n], 1 / Math.sqrt(sizes[i])), b: np.zeros([n]) }));
let params = layers();
const x = normal([B, sizes[0]], 1);
const y = normal([B, sizes.at(-1)], 1);

function loss(p, xb, yb) {
  let h = xb;
  p.forEach((l, i) => {
    h = np.matmul(h, l.w).add(l.b);
    if (i < p.length - 1) h = np.tanh(h);
  });
  return np.mean(np.square(h.sub(yb)));
}
const gradFn = jit(grad(loss));
const sgd = (p, g) => tree.map((a, b) => a.sub(b.mul(0.01)), p, g);

async function time(f) {
  for (let i = 0; i < 3; i++) await f(); // warm-up (compilation)
  const ts = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await f();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)];
}

const clip = clipByGlobalNorm(1);
let state = clip.init([]);
const plain = await time(async () => {
  const g = gradFn(tree.ref(params), x.ref, y.ref);
  params = sgd(params, g);
  await blockUntilReady(params);
});
const clipped = await time(async () => {
  let g = gradFn(tree.ref(params), x.ref, y.ref);
  [g, state] = clip.update(g, state);
  params = sgd(params, g);
  await blockUntilReady(params);
});

// The optax form by hand, eager as jax-js's optax port writes it.
function handClip(g, maxNorm) {
  const leaves = tree.leaves(g);
  const norm = np.sqrt(leaves.map((a) => np.sum(np.square(a.ref))).reduce((a, b) => a.add(b)));
  const trigger = np.less(norm.ref, maxNorm);
  const out = tree.map((t) => np.where(trigger.ref, t.ref, t.div(norm.ref).mul(maxNorm)), g);
  trigger.dispose();
  norm.dispose();
  return out;
}
const grads = gradFn(tree.ref(params), x.ref, y.ref);
await blockUntilReady(grads);
const ours = await time(async () => {
  const [u, s] = clip.update(tree.ref(grads), state);
  state = s;
  await blockUntilReady(u);
  tree.dispose(u);
});
const hand = await time(async () => {
  const u = handClip(tree.ref(grads), 1);
  await blockUntilReady(u);
  tree.dispose(u);
});
const n = tree.leaves(params).reduce((a, l) => a + l.size, 0);
console.log(
  `device ${np.array(0).device}, MLP ${sizes.join('→')} (${n} parameters), batch ${B}, ${reps} reps, medians:`,
);
console.log(
  `step ${plain.toFixed(2)} ms, step + clipByGlobalNorm ${clipped.toFixed(2)} ms: clipping ${(((clipped - plain) / clipped) * 100).toFixed(1)} % of the step`,
);
console.log(
  `clip alone: gradclip ${ours.toFixed(2)} ms, hand-written optax form ${hand.toFixed(2)} ms: ratio ${(ours / hand).toFixed(2)}x`,
);
tree.dispose([params, grads, x, y]);
clip.dispose();
