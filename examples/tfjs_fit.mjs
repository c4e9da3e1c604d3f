// Gradient clipping inside model.fit with gradclip/tfjs.
//
// A small regression model is trained on data with heavy outliers (targets up to ±30,000),
// which makes gradients hundreds of times larger than usual. The optimizer is wrapped with
// withClipping so every update is clipped first — here to a global L2 norm of 1, Keras's
// `global_clipnorm`. Monitoring keeps each step's pre-clip norm on the device; it is read once,
// after training.
//
//   node examples/tfjs_fit.mjs
//
// With the umbrella package, `import * as tf from '@tensorflow/tfjs'` replaces the three
// @tensorflow imports below (and tf.sequential / tf.layers come from it).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { withClipping } from 'gradclip/tfjs';

await tf.setBackend('cpu');

// y = 3·x₀ − 2·x₁ + noise, with every 10th target replaced by a huge outlier.
const n = 512;
const xs = tf.randomUniform([n, 2], -1, 1, 'float32', 7);
const clean = tf.tidy(() => tf.matMul(xs, tf.tensor2d([[3], [-2]])));
const ys = tf.tidy(() => {
  const outlier = tf.reshape(tf.equal(tf.mod(tf.range(0, n), 10), 0), [n, 1]);
  return tf.where(outlier, tf.mul(tf.sign(clean), 30000), clean);
});

const model = tfl.sequential({
  layers: [tfl.layers.dense({ units: 16, activation: 'relu', inputShape: [2] }), tfl.layers.dense({ units: 1 })],
});

// The same network, same initial weights, trained without clipping for comparison.
const unclipped = tfl.sequential({
  layers: [tfl.layers.dense({ units: 16, activation: 'relu', inputShape: [2] }), tfl.layers.dense({ units: 1 })],
});
unclipped.setWeights(model.getWeights());

const lr = 0.01;
const maxNorm = 1;
const optimizer = withClipping(tf.train.sgd(lr), { globalClipnorm: maxNorm }, { monitor: true });
model.compile({ optimizer, loss: 'meanSquaredError' });

// Check the promise of clipping on every batch: with SGD, ‖Δw‖ = lr · ‖clipped g‖ ≤ lr · maxNorm.
const flat = () => tf.tidy(() => tf.concat(model.trainableWeights.map((w) => tf.reshape(w.read(), [-1]))));
let previous = flat();
let largestStep = 0;
const history = await model.fit(xs, ys, {
  epochs: 3,
  batchSize: 32,
  verbose: 0,
  callbacks: {
    onBatchEnd: async () => {
      const now = flat();
      const step = (await tf.norm(tf.sub(now, previous)).data())[0];
      largestStep = Math.max(largestStep, step);
      previous.dispose();
      previous = now;
    },
  },
});
previous.dispose();

unclipped.compile({ optimizer: tf.train.sgd(lr), loss: 'meanSquaredError' });
const plain = await unclipped.fit(xs, ys, { epochs: 3, batchSize: 32, verbose: 0 });

const records = await optimizer.monitor.read();
const norms = records.map((r) => r.norm).sort((a, b) => a - b);
const ratio = await optimizer.monitor.ratioClipped();
console.log(`steps: ${records.length}, clipped: ${(100 * ratio).toFixed(0)}%`);
console.log(`pre-clip gradient norm: median ${norms[norms.length >> 1].toFixed(1)}, max ${norms.at(-1).toFixed(1)}`);
console.log(`largest update ‖Δw‖ = ${largestStep.toExponential(3)} ≤ lr·maxNorm = ${(lr * maxNorm).toExponential(3)}`);
console.log(
  `final loss with clipping: ${history.history.loss.at(-1).toFixed(1)}; without: ${plain.history.loss.at(-1)}`,
);
if (!(largestStep <= lr * maxNorm * (1 + 1e-4))) throw new Error('an update exceeded lr · maxNorm');

tf.dispose([xs, clean, ys]);
model.dispose();
unclipped.dispose();
