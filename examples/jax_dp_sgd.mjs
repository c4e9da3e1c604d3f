// Differentially private training (DP-SGD) on jax-js with gradclip/jax.
//
// A logistic-regression model is trained on a synthetic two-class problem. Each step takes a
// Poisson-sampled batch, computes per-example gradients with vmap(grad(loss)), and hands them
// to dpSgdAggregate: each example is clipped to L2 norm C, Gaussian noise N(0, σ²C²) from a
// cryptographically secure source is added to the sum, and the result is divided by the
// expected batch size. A PLD accountant (privacy-loss distributions, the library's tightest and
// default accounting) records every step; the privacy spent (ε at δ = 1e-5) is printed at the
// end, with what the looser RDP accountant (Opacus's default) would report for the same steps.
//
//   node examples/jax_dp_sgd.mjs
import { grad, jit, numpy as np, tree, vmap } from '@jax-js/jax';
import { PLDAccountant, insecureSeededRandom, poissonSample, privacySpent, secureRandom } from 'gradclip';
import { dpSgdAggregate } from 'gradclip/jax';

const N = 512; // examples
const D = 4; // features
const q = 64 / N; // sampling rate: 64 examples per batch on average
const steps = 60;
const lr = 0.5;

// Data: label 1 when w*·x > 0 (from a fixed, non-secret generator: the data is not the secret here).
const dataRng = insecureSeededRandom(7);
const trueW = [1.5, -2, 0.5, 1];
const X = new Float32Array(N * D).map(() => dataRng.uniform() * 2 - 1);
const Y = new Float32Array(N).map((_, i) => (trueW.reduce((a, w, j) => a + w * X[i * D + j], 0) > 0 ? 1 : 0));

// Loss of one example: binary cross-entropy of sigmoid(w·x + b).
function loss(params, x, y) {
  const z = np.sum(params.w.mul(x)).add(params.b);
  // log(1 + e^z) − y·z, written with softplus for stability
  return np
    .log1p(np.exp(np.negative(np.abs(z.ref))))
    .add(np.maximum(z.ref, 0))
    .sub(z.mul(y));
}
// Compiled once per batch size (Poisson batches vary in size around 64).
const perExampleGrads = jit(vmap(grad(loss), [null, 0, 0]));

const accountant = new PLDAccountant();
const dp = dpSgdAggregate({ l2NormClip: 1, noiseMultiplier: 1.1, sampleRate: q, accountant });
let params = { w: np.zeros([D]), b: np.zeros([]) };
let state = dp.init(tree.ref(params));
const random = secureRandom();

for (let step = 0; step < steps; step++) {
  const idx = poissonSample(N, q, random);
  if (idx.length === 0) {
    accountant.step({ noiseMultiplier: 1.1, sampleRate: q }); // an empty batch still counts
    continue;
  }
  const xb = new Float32Array(idx.length * D);
  const yb = new Float32Array(idx.length);
  idx.forEach((i, k) => {
    xb.set(X.subarray(i * D, (i + 1) * D), k * D);
    yb[k] = Y[i];
  });
  const g = perExampleGrads(tree.ref(params), np.array(xb).reshape([idx.length, D]), np.array(yb));
  let updates;
  [updates, state] = dp.update(g, state);
  // dpSgdAggregate divides by the sampled batch size (optax's choice); SGD step:
  params = { w: params.w.sub(updates.w.mul(lr)), b: params.b.sub(updates.b.mul(lr)) };
}

// Accuracy on the training set (the model, not the data, would be released).
const logits = np.matmul(np.array(X).reshape([N, D]), params.w.ref).add(params.b.ref);
const predicted = Array.from(logits.dataSync(), (z) => (z > 0 ? 1 : 0));
const accuracy = predicted.filter((p, i) => p === Y[i]).length / N;
const { epsilon } = accountant.privacySpent(1e-5);
const rdp = privacySpent({
  noiseMultiplier: 1.1,
  sampleRate: q,
  steps: accountant.steps,
  delta: 1e-5,
  accounting: 'rdp',
});
console.log(`steps: ${steps}, accuracy: ${accuracy.toFixed(3)}`);
console.log(
  `privacy spent: ε = ${epsilon.toFixed(3)} at δ = 1e-5 (σ = 1.1, q = ${q}, PLD; RDP would report ${rdp.epsilon.toFixed(3)})`,
);
tree.dispose([params, state]);
perExampleGrads.dispose();
