// gradclip from CommonJS: the core and gradclip/tfjs through require, and a model saved with
// its clipped optimizer and loaded back (the optimizer class registers on require).
/* global require */
/* eslint-disable @typescript-eslint/no-require-imports -- this example is CommonJS on purpose */
const tf = require('@tensorflow/tfjs');
const { clipByValue, NonFiniteGradientError } = require('gradclip');
const tfjs = require('gradclip/tfjs');

async function main() {
  const g = [new Float32Array([-3, 0.5, 7])];
  const r = clipByValue(g, 1);
  console.log(`typed: clipped ${r.clipped} values ${Array.from(g[0]).join(',')}`);
  console.log(`one core: ${typeof NonFiniteGradientError === 'function'}`);

  await tf.setBackend('cpu');
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [2] })] });
  // Keras clipnorm: each gradient tensor (kernel, bias) clipped to norm 0.5 on its own.
  model.compile({ optimizer: tfjs.withClipping(tf.train.sgd(0.1), { clipnorm: 0.5 }), loss: 'meanSquaredError' });
  const xs = tf.ones([4, 2]);
  const ys = tf.fill([4, 1], 100);
  await model.fit(xs, ys, { epochs: 2, verbose: 0 });

  let artifacts;
  await model.save(
    tf.io.withSaveHandler(
      async (a) => ((artifacts = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }),
    ),
    { includeOptimizer: true },
  );
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  const o = loaded.optimizer;
  console.log(
    `loaded: ${o instanceof tfjs.ClippedOptimizer ? o.getClassName() : 'not a ClippedOptimizer'} iterations ${o.iterations}`,
  );
  // The loaded optimizer keeps clipping: one SGD step moves kernel and bias by 0.1 · 0.5 each.
  const before = loaded.getWeights().map((w) => w.dataSync().slice());
  await loaded.fit(xs, ys, { epochs: 1, verbose: 0 });
  const moved = loaded.getWeights().map((w, i) => Math.hypot(...Array.from(w.dataSync(), (x, j) => x - before[i][j])));
  console.log(`moved after loading: ${moved.map((m) => m.toFixed(4)).join(',')}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
