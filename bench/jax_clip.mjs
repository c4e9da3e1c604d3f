// gradclip/jax in a jax-js training step (issue 20), run by `npm run bench` (or on its own:
// `node bench/jax_clip.mjs [--reps=20] [--model=gpt|mlp|both]`). On the default device (wasm in
// Node), two models:
//   gpt  a small GPT-style decoder (the model): vocabulary 64, width 128, 4 heads,
//        2 blocks (pre-LayerNorm, causal self-attention, GELU MLP ×4), context 64, batch 8
//        (512 tokens a step), ≈ 420k parameters in 22 arrays;
//   mlp  an MLP 256 → 512 → 512 → 10 (≈ 400k parameters, batch 64): as many parameters with
//        ~10× less work a step, the hard case for clipping's share.
// For each:
//   jit(grad) + eager update   jit(grad(loss)) then the SGD update eagerly, with and without
//                 gradclip/jax's clipByGlobalNorm(1) between them (the two interleaved rep by
//                 rep, order alternating, so drift hits both); and the clipped step in phases,
//                 waiting after each, which gives the clip's own time inside the step;
//   jit(whole step)   grad, clip and update in one compiled step (optax's usual form), with and
//                 without the clip, interleaved the same way;
//   clip alone    gradclip's clipByGlobalNorm vs the optax form written by hand with jax-js ops
//                 (g · min(1, τ/‖g‖), as jax-js's optax port composes it: eager), on the same tree.
// Every rep waits for its results (blockUntilReady); medians are reported with their ratios.
import { blockUntilReady, grad, jit, nn, numpy as np, random, tree } from '@jax-js/jax';
import { clipByGlobalNorm } from 'gradclip/jax';

const arg = (name, def) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;
const reps = Number(arg('reps', 20));
const which = arg('model', 'both');
if (!(reps >= 1)) throw new RangeError(`--reps must be a number ≥ 1, got ${arg('reps')}`);
if (!['gpt', 'mlp', 'both'].includes(which)) throw new RangeError(`--model must be gpt, mlp or both, got ${which}`);

let key = random.key(0);
const normal = (shape, s) => {
  const [k1, k2] = random.split(key);
  key = k1;
  return random.normal(k2, shape).mul(s);
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The MLP: params, and loss(params, x, y) = mean squared error. */
function mlp() {
  const sizes = [256, 512, 512, 10];
  const B = 64;
  const params = sizes
    .slice(1)
    .map((n, i) => ({ w: normal([sizes[i], n], 1 / Math.sqrt(sizes[i])), b: np.zeros([n]) }));
  const loss = (p, xb, yb) => {
    let h = xb;
    p.forEach((l, i) => {
      h = np.matmul(h, l.w).add(l.b);
      if (i < p.length - 1) h = np.tanh(h);
    });
    return np.mean(np.square(h.sub(yb)));
  };
  return { name: `MLP ${sizes.join('→')}, batch ${B}`, params, loss, x: normal([B, 256], 1), y: normal([B, 10], 1) };
}

/** The GPT-style decoder: params, and loss = next-token cross-entropy. */
function gpt() {
  const V = 64;
  const D = 128;
  const H = 4;
  const NL = 2;
  const L = 64;
  const B = 8;
  const ln = () => ({ g: np.ones([D]), b: np.zeros([D]) });
  const params = {
    tok: normal([V, D], 0.02),
    pos: normal([L, D], 0.02),
    blocks: Array.from({ length: NL }, () => ({
      ln1: ln(),
      qkv: normal([D, 3 * D], 0.02),
      proj: normal([D, D], 0.02),
      ln2: ln(),
      fc: normal([D, 4 * D], 0.02),
      fcb: np.zeros([4 * D]),
      out: normal([4 * D, D], 0.02),
      outb: np.zeros([D]),
    })),
    lnf: ln(),
    head: normal([D, V], 0.02),
  };
  const layerNorm = (x, p) => {
    const xc = x.ref.sub(np.mean(x, -1, { keepdims: true }));
    const v = np.mean(np.square(xc.ref), -1, { keepdims: true });
    return xc
      .div(np.sqrt(v.add(1e-5)))
      .mul(p.g)
      .add(p.b);
  };
  const causal = np.tril(np.ones([L, L])).astype(np.bool);
  // Attention written with matmul (jax-js's nn.dotProductAttention uses iterator helpers that
  // Node 20 lacks).
  const loss = (p, xs, ys) => {
    let h = np.take(p.tok, xs, 0).add(p.pos); // [B, L, D]
    for (const blk of p.blocks) {
      const qkv = np.matmul(layerNorm(h.ref, blk.ln1), blk.qkv).reshape([B, L, 3, H, D / H]);
      const heads = (i) => np.transpose(qkv.ref.slice([], [], i), [0, 2, 1, 3]); // [B, H, L, D/H]
      const [q, k, v] = [heads(0), heads(1), heads(2)];
      qkv.dispose();
      const scores = np.matmul(q, np.transpose(k, [0, 1, 3, 2])).mul(1 / Math.sqrt(D / H));
      const att = np.matmul(nn.softmax(np.where(causal.ref, scores, -1e9), -1), v);
      h = h.add(np.matmul(np.transpose(att, [0, 2, 1, 3]).reshape([B, L, D]), blk.proj));
      const m = np.matmul(layerNorm(h.ref, blk.ln2), blk.fc).add(blk.fcb);
      h = h.add(np.matmul(nn.gelu(m), blk.out).add(blk.outb));
    }
    const logits = np.matmul(layerNorm(h, p.lnf), p.head);
    return np.mean(np.sum(nn.logSoftmax(logits, -1).mul(nn.oneHot(ys, V)), -1)).mul(-1);
  };
  // A fixed token stream: the model learns to predict i*7+3 → next (the numbers do not matter).
  const tokens = (k) => np.array(Int32Array.from({ length: B * L }, (_, i) => (i * 7 + k) % V)).reshape([B, L]);
  return {
    name: `GPT-style decoder (vocab ${V}, width ${D}, ${H} heads, ${NL} blocks, context ${L}, batch ${B})`,
    params,
    loss,
    x: tokens(3),
    y: tokens(10),
    dispose: () => causal.dispose(),
  };
}

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

async function timeOne(f) {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

/** Medians of f alone, after 3 warm-up calls. */
async function time(f) {
  for (let i = 0; i < 3; i++) await f();
  const ts = [];
  for (let i = 0; i < reps; i++) ts.push(await timeOne(f));
  return median(ts);
}

/**
 * Two step functions timed rep by rep, alternating which runs first: their medians, and the
 * median of the paired differences b − a (each pair ran back to back, so slow drift of the
 * machine cancels in it).
 */
async function interleaved(a, b) {
  for (let i = 0; i < 3; i++) {
    await a();
    await b();
  }
  const ta = [];
  const tb = [];
  for (let i = 0; i < reps; i++) {
    if (i % 2 === 0) {
      ta.push(await timeOne(a));
      tb.push(await timeOne(b));
    } else {
      tb.push(await timeOne(b));
      ta.push(await timeOne(a));
    }
  }
  return [median(ta), median(tb), median(ta.map((t, i) => tb[i] - t))];
}

const pct = (part, whole) => `${((part / whole) * 100).toFixed(1)} %`;

async function bench(model) {
  let { params } = model;
  const { x, y } = model;
  const gradOf = grad(model.loss);
  const gradFn = jit(gradOf);
  const sgd = (p, g) => tree.map((a, b) => a.sub(b.mul(0.01)), p, g);
  const clip = clipByGlobalNorm(1);
  let state = clip.init([]);

  // 1. The step as jax-js's examples write it: jit(grad), then the update eagerly.
  const plainStep = async () => {
    const g = gradFn(tree.ref(params), x.ref, y.ref);
    params = sgd(params, g);
    await blockUntilReady(params);
  };
  const clippedStep = async () => {
    let g = gradFn(tree.ref(params), x.ref, y.ref);
    [g, state] = clip.update(g, state);
    params = sgd(params, g);
    await blockUntilReady(params);
  };
  const [p1, c1, d1] = await interleaved(plainStep, clippedStep);
  // The clipped step in phases (waiting after each): the clip's own time inside the step.
  const phases = { grad: [], clip: [], update: [] };
  for (let i = 0; i < reps; i++) {
    let t = performance.now();
    let g = gradFn(tree.ref(params), x.ref, y.ref);
    await blockUntilReady(g);
    phases.grad.push(performance.now() - t);
    t = performance.now();
    [g, state] = clip.update(g, state);
    await blockUntilReady(g);
    phases.clip.push(performance.now() - t);
    t = performance.now();
    params = sgd(params, g);
    await blockUntilReady(params);
    phases.update.push(performance.now() - t);
  }
  const [pg, pc, pu] = [median(phases.grad), median(phases.clip), median(phases.update)];

  // 2. The whole step compiled (optax's usual form): jit over grad, clip and update.
  const plainJit = jit((p, xb, yb) => sgd(tree.ref(p), gradOf(p, xb, yb)));
  const clippedJit = jit((p, s, xb, yb) => {
    const [g, next] = clip.update(gradOf(tree.ref(p), xb, yb), s);
    return [sgd(p, g), next];
  });
  const [p2, c2, d2] = await interleaved(
    async () => {
      params = plainJit(params, x.ref, y.ref);
      await blockUntilReady(params);
    },
    async () => {
      [params, state] = clippedJit(params, state, x.ref, y.ref);
      await blockUntilReady(params);
    },
  );

  // 3. The clip alone, against the optax form written by hand.
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

  const leaves = tree.leaves(params);
  const n = leaves.reduce((a, l) => a + l.size, 0);
  console.log(`${model.name}: ${n} parameters in ${leaves.length} arrays, ${reps} reps, medians:`);
  console.log(
    `  jit(grad) + eager update: step ${p1.toFixed(2)} ms, with clipByGlobalNorm ${c1.toFixed(2)} ms; ` +
      `paired difference ${d1.toFixed(2)} ms = ${pct(d1, c1)} of the step`,
  );
  console.log(
    `    in phases: grad ${pg.toFixed(2)} + clip ${pc.toFixed(2)} + update ${pu.toFixed(2)} ms: clip ${pct(pc, pg + pc + pu)} of the step`,
  );
  console.log(
    `  jit(whole step): step ${p2.toFixed(2)} ms, with clipByGlobalNorm inside ${c2.toFixed(2)} ms; ` +
      `paired difference ${d2.toFixed(2)} ms = ${pct(d2, c2)} of the step`,
  );
  console.log(
    `  clip alone: gradclip ${ours.toFixed(2)} ms, hand-written optax form ${hand.toFixed(2)} ms: ratio ${(ours / hand).toFixed(2)}x`,
  );
  tree.dispose([params, grads, x, y, state]);
  clip.dispose();
  gradFn.dispose();
  plainJit.dispose();
  clippedJit.dispose();
  model.dispose?.();
}

console.log(`device ${np.array(0).device}`);
if (which !== 'mlp') await bench(gpt());
if (which !== 'gpt') await bench(mlp());
