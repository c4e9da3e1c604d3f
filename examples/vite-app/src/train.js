// Trains a small model with a clipped optimizer (Keras global_clipnorm) and saves it to
// IndexedDB together with the optimizer (includeOptimizer), for load.html.
import * as tf from '@tensorflow/tfjs';
import { withClipping } from 'gradclip/tfjs';
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
  return { backend: tf.getBackend(), steps: model.optimizer.iterations, moved };
});
