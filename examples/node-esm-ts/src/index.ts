// gradclip from TypeScript in Node (ES module). Type-checks with moduleResolution node16,
// bundler and node10 (see the three tsconfig files), then runs.
import * as tf from '@tensorflow/tfjs';
import { clipByGlobalNorm, zClip, type ClipResult, type GradientSet } from 'gradclip';
import { ClippedOptimizer, withClipping, type KerasClipOptions } from 'gradclip/tfjs';

// Typed arrays: PyTorch's clip_grad_norm_, in place.
const grads: GradientSet = { w: new Float32Array([3, 4]), b: new Float64Array([0]) };
const r: ClipResult = clipByGlobalNorm(grads, 1);
console.log(
  `typed: norm ${r.norm} clipped ${r.clipped} w ${Array.from((grads as { w: Float32Array }).w, (x) => x.toFixed(3)).join(',')}`,
);

// Adaptive clippers keep plain-JSON state; passing it back resumes them exactly.
const z = zClip({ warmupSteps: 2 });
for (let i = 0; i < 3; i++) z.clip([new Float32Array([1 + i, 2])]);
const resumed = zClip({ warmupSteps: 2, state: JSON.parse(JSON.stringify(z.state)) });
console.log(`zClip: resumed ${JSON.stringify(resumed.state) === JSON.stringify(z.state)}`);

// TensorFlow.js: Keras global_clipnorm inside model.fit.
await tf.setBackend('cpu');
const clipping: KerasClipOptions = { globalClipnorm: 1 };
const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [3], kernelInitializer: 'zeros' })] });
model.compile({ optimizer: withClipping(tf.train.sgd(0.1), clipping), loss: 'meanSquaredError' });
await model.fit(tf.ones([8, 3]), tf.fill([8, 1], 1e4), { epochs: 1, batchSize: 8, verbose: 0 });
// One SGD step of lr 0.1 with the gradient clipped to norm 1 moves the weights by at most 0.1.
const moved = tf.norm(tf.concat(model.getWeights().map((w) => tf.reshape(w, [-1])))).dataSync()[0]!;
console.log(
  `tfjs: optimizer ${model.optimizer instanceof ClippedOptimizer ? 'ClippedOptimizer' : 'other'} moved ${moved.toFixed(4)}`,
);
