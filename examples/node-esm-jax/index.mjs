// gradclip/jax in a project of its own, next to @jax-js/jax (examples/check-consumers.mjs runs it
// against the packed tarball).
import { jit, numpy as np, tree } from '@jax-js/jax';
import { chain, clipByGlobalNorm, clipByValue, clipPerExample, zClip } from 'gradclip/jax';

const clip = chain(clipByValue(5), zClip({ warmupSteps: 2 }), clipByGlobalNorm(1));
const params = { w: np.array([0, 0]) };
let state = clip.init(tree.ref(params));
let updates;
[updates, state] = clip.update({ w: np.array([30, 40]) }, state, tree.ref(params));
const w = updates.w.js();
console.log(`jax: clipped ${w.map((x) => x.toFixed(3)).join(',')}`);

const r = clipPerExample(
  [
    np.array([
      [3, 4],
      [0.3, 0.4],
    ]),
  ],
  1,
);
console.log(
  `per-example: sum ${r.sum[0]
    .js()
    .map((x) => x.toFixed(2))
    .join(',')} clipped ${r.clipped.js()}`,
);
tree.dispose([params, state, r.norms]);

// The clip traced into the caller's own compiled step.
const g = clipByGlobalNorm(1);
const step = jit((u, s) => g.update(u, s));
const [jitted, jitState] = step({ w: np.array([3, 4]) }, g.init([]));
console.log(
  `jit: clipped ${jitted.w
    .js()
    .map((x) => x.toFixed(1))
    .join(',')}`,
);
tree.dispose(jitState);
step.dispose();
