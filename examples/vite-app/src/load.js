// Loads the model index.html saved. Nothing from gradclip is used by name: the bare import
// registers the optimizer class with tf.serialization, and the bundler must keep it.
import * as tf from '@tensorflow/tfjs';
import 'gradclip/tfjs';
import { report } from './report.js';

report(async () => {
  await tf.setBackend('cpu');
  const model = await tf.loadLayersModel('indexeddb://gradclip-vite-example');
  const o = model.optimizer;
  // Training continues with the restored clipper: one more step moves the weights by ≤ 0.1.
  const before = model.getWeights().map((w) => w.dataSync().slice());
  await model.fit(tf.ones([16, 4]), tf.fill([16, 1], 1e4), { epochs: 1, batchSize: 16, verbose: 0 });
  const after = model.getWeights().map((w) => w.dataSync());
  const moved = Math.hypot(...after.flatMap((w, i) => Array.from(w, (x, j) => x - before[i][j])));
  return { optimizer: o.getClassName(), clipper: o.getConfig().clipper, steps: o.iterations, moved };
});
