#!/usr/bin/env node
// gradclip/tfjs global-norm clipping against the naive tfjs composition, side by side.
//
//   naive:    per tensor sum(square(t)), addN, sqrt, minimum(1, c / (norm + 1e-6)), mul
//   gradclip: globalNormTensorClipper(c).clip(ts) — fused one-pass kernels on cpu / wasm
//   composed: the same clipper with the fused kernels turned off (the path other backends take)
//
// 10M float32 values in 100 tensors, on the cpu AND wasm backends, alternating candidates rep
// by rep so drift hits all of them alike. Reports medians and ratios; writes
// bench-results/tfjs.json. Both backends compute synchronously, so a candidate's time ends
// when its ops return; each rep also reads the 4-byte norm back, the same for all.
//
// Flags: --reps=N (default 15)  --total=1e7  --tensors=100  --out=bench-results
//        --no-composed            skip the slow composed-ops candidate
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { globalNormTensorClipper, setFusedKernelsDisabled } from 'gradclip/tfjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Flags as written (`--name=value` or `--name`); node's own parser, no option schema needed.
const { values: args } = parseArgs({ strict: false });
const reps = Number(args.reps ?? 15);
const total = Number(args.total ?? 1e7);
const count = Number(args.tensors ?? 100);
const out = resolve(root, args.out ?? 'bench-results');
const maxNorm = 1;

const require = createRequire(import.meta.url);
setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'))}/dist/`);
tf.env().set('IS_TEST', true); // silences the "install tfjs-node" banner

function naive(ts) {
  return tf.tidy(() => {
    const sq = ts.map((t) => tf.sum(tf.square(t)));
    const norm = tf.sqrt(tf.addN(sq));
    const scale = tf.minimum(tf.scalar(1), tf.div(tf.scalar(maxNorm), tf.add(norm, tf.scalar(1e-6))));
    return { grads: ts.map((t) => tf.mul(t, scale)), norm };
  });
}

function gradclip(clipper) {
  return (ts) => {
    const r = clipper.clip(ts);
    tf.dispose([r.scale, r.clipped, r.finite]);
    return { grads: r.grads, norm: r.norm };
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const results = [];
for (const backend of ['cpu', 'wasm']) {
  await tf.setBackend(backend);
  await tf.ready();
  const per = Math.round(total / count);
  // Values ~N(0, 1): the norm is ≈ √total ≫ maxNorm, so every candidate really scales.
  const ts = Array.from({ length: count }, (_, i) => tf.randomNormal([per], 0, 1, 'float32', i + 1));
  const clipper = globalNormTensorClipper(maxNorm);
  const candidates = { naive, gradclip: gradclip(clipper) };
  if (!args['no-composed']) candidates.composed = gradclip(clipper);
  const times = Object.fromEntries(Object.keys(candidates).map((k) => [k, []]));
  const norms = {};
  const before = tf.memory().numTensors;
  const warmup = 3; // kernel compilation, JIT, allocator
  for (let rep = -warmup; rep < reps; rep++) {
    for (const [name, run] of Object.entries(candidates)) {
      setFusedKernelsDisabled(name === 'composed');
      const t0 = performance.now();
      const r = run(ts);
      const norm = r.norm.dataSync()[0];
      const ms = performance.now() - t0;
      setFusedKernelsDisabled(false);
      norms[name] = norm;
      tf.dispose([...r.grads, r.norm]);
      if (rep >= 0) times[name].push(ms);
    }
  }
  if (tf.memory().numTensors !== before) throw new Error(`${backend}: the benchmark leaked tensors`);
  const rel = Math.abs(norms.gradclip / norms.naive - 1);
  if (!(rel < 1e-3)) throw new Error(`${backend}: norms disagree: gradclip ${norms.gradclip}, naive ${norms.naive}`);
  tf.dispose(ts);
  const med = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  const row = {
    backend,
    total: per * count,
    tensors: count,
    reps,
    medianMs: med,
    speedup: med.naive / med.gradclip,
    ...(med.composed === undefined ? {} : { composedVsNaive: med.naive / med.composed }),
    norm: norms.gradclip,
    normNaive: norms.naive,
    target: backend === 'cpu' ? 3 : 2,
  };
  results.push(row);
  const composed = med.composed === undefined ? '' : `, composed ops ${med.composed.toFixed(1)} ms`;
  console.log(
    `${backend.padEnd(4)}  ${per * count} values in ${count} tensors: naive ${med.naive.toFixed(1)} ms, ` +
      `gradclip ${med.gradclip.toFixed(1)} ms${composed} → ${row.speedup.toFixed(2)}× (target ≥ ${row.target}×)`,
  );
}

mkdirSync(out, { recursive: true });
const machine = { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, tfjs: tf.version_core };
writeFileSync(join(out, 'tfjs.json'), JSON.stringify({ date: new Date().toISOString(), machine, results }, null, 1));
console.log(`wrote ${join(out, 'tfjs.json')}`);
