// Loads the model index.html saved with AutoClip. A bundle keeps a clipper only where the app
// uses it, so a page that loads adaptive-clipped models without training names the kinds it
// loads: registerClipperKind(kind, the core rule factory). (In this three-page build the
// chunk shared with index.html holds AutoClip anyway; an app of its own would not.)
import * as tf from '@tensorflow/tfjs';
import { autoClipRule } from 'gradclip';
import { registerClipperKind } from 'gradclip/tfjs';
import { report } from './report.js';

registerClipperKind('autoClip', autoClipRule);

report(async () => {
  await tf.setBackend('cpu');
  const model = await tf.loadLayersModel('indexeddb://gradclip-vite-autoclip');
  const o = model.optimizer;
  // The restored history (8 norms, from the saved state) and training goes on.
  await model.fit(tf.randomNormal([8, 4], 0, 1, 'float32', 3), tf.randomNormal([8, 1], 0, 100, 'float32', 4), {
    epochs: 1,
    verbose: 0,
  });
  const loss = model.evaluate(tf.ones([1, 4]), tf.zeros([1, 1])).dataSync()[0];
  return {
    optimizer: o.getClassName(),
    clipper: o.getConfig().clipper,
    steps: o.iterations,
    finite: Number.isFinite(loss),
  };
});
