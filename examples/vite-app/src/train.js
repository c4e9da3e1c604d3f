// Trains a small model with a clipped optimizer (Keras global_clipnorm) and saves it to
// IndexedDB together with the optimizer (includeOptimizer), for load.html.
import * as tf from '@tensorflow/tfjs';
import { autoClipTensorClipper, withClipping } from 'gradclip/tfjs';
import { report } from './report.js';

report(async () => {
  await tf.setBackend('cpu');
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [4], kernelInitializer: 'zeros' })] });
  model.compile({ optimizer: withClipping(tf.train.sgd(0.1), { globalClipnorm: 1 }), loss: 'meanSquaredError' });
  const before = model.getWeights().map((w) => w.dataSync().slice());
  // Targets of 1e4 give gradients of norm ~1e5: clipped to 1, each SGD step moves ≤ 0.1.
  await model.fit(tf.ones([16, 4]), tf.fill([16, 1], 1e4), { epochs: 3, batchSize: 16, verbose: 0 });
  const after = model.getWeights().map((w) => w.dataSync());
  const moved = Math.hypot(...after.flatMap((w, i) => Array.from(w, (x, j) => x - before[i][j])));
  await model.save('indexeddb://gradclip-vite-example', { includeOptimizer: true });

  // An adaptive clipper (AutoClip: the threshold is a percentile of the norms seen so far,
  // kept on the device) saves its state with the model too.
  const adaptive = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [4] })] });
  adaptive.compile({
    optimizer: withClipping(tf.train.sgd(0.01), autoClipTensorClipper({ percentile: 50, historySize: 8 })),
    loss: 'meanSquaredError',
  });
  await adaptive.fit(tf.randomNormal([32, 4], 0, 1, 'float32', 1), tf.randomNormal([32, 1], 0, 100, 'float32', 2), {
    epochs: 5,
    batchSize: 8,
    verbose: 0,
  });
  await adaptive.save('indexeddb://gradclip-vite-autoclip', { includeOptimizer: true });
  return {
    backend: tf.getBackend(),
    steps: model.optimizer.iterations,
    moved,
    adaptiveSteps: adaptive.optimizer.iterations,
  };
});
