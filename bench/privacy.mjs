#!/usr/bin/env node
// DP-SGD with ghost clipping (gradclip/tfjs clippedGradients) against the non-private step,
// side by side: peak tensor memory and time per step (issue 16).
//
//   non-private:   tf.variableGrads(mean loss) → optimizer.applyGradients
//   ghost:         clippedGradients(model, x, y, C) (ghost norms, re-weighted second backward
//                  pass) → + N(0, σ²C²) noise from crypto.getRandomValues → / B → applyGradients
//   microbatch:    the same with method 'microbatch' (B backward passes; only timed with --microbatch)
//
// Models (--models=sequential,functional): 'sequential', a two-layer dense network 784 → 256 (relu)
// → 10 (softmax); 'functional' (issue 21 item 5), a tf.model with a residual branch and a shared
// layer: h = Dense 256 (relu)(x), s = Dense 256 (tanh) called twice, out = Dense 10 (softmax)(h + s(s(h))).
// Batch 256 by default.
// Memory: tf.profile's peakBytes of one step, and the same minus the tensor bytes held before
// the step (weights, optimizer state, the batch): "extra" is what the step itself allocates.
// Materialising per-example gradients would need B × (number of parameters) × 4 bytes extra.
// Time: median over --reps alternating reps after a warm-up. Writes <out>/privacy.json.
//
// Accounting (issue 21): ε of Opacus's example (σ 1.5, q 0.04, 2,250 steps, δ 1e-5) by RDP and by
// PLD, and the σ each needs for ε = 8 (noiseMultiplierFor, Opacus's search), with the time of each call.
// Opacus publishes RDP 7.329 and PRV 6.777 for that example (issue 21, accountants_test.py).
//
// Flags: --batch=256 --hidden=256 --input=784 --reps=15 --backend=cpu,wasm --models=sequential,functional
//        --microbatch --out=bench-results
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { gaussianNoise, noiseMultiplierFor, privacySpent } from 'gradclip';
import { clippedGradients } from 'gradclip/tfjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({ strict: false });
const B = Number(args.batch ?? 256);
const hidden = Number(args.hidden ?? 256);
const input = Number(args.input ?? 784);
const reps = Number(args.reps ?? 15);
const backends = String(args.backend ?? 'cpu,wasm').split(',');
const models = String(args.models ?? 'sequential,functional').split(',');
const out = resolve(root, args.out ?? 'bench-results');
const C = 1;
const sigma = 1.1;

const require = createRequire(import.meta.url);
setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'))}/dist/`);
const median = (a) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
const f = (v, d = 2) => v.toFixed(d);

const glorot = (seed) => tfl.initializers.glorotUniform({ seed });
const builders = {
  sequential: () =>
    tfl.sequential({
      layers: [
        tfl.layers.dense({ inputShape: [input], units: hidden, activation: 'relu', kernelInitializer: glorot(1) }),
        tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: glorot(2) }),
      ],
    }),
  functional: () => {
    const x = tfl.input({ shape: [input] });
    const h = tfl.layers.dense({ units: hidden, activation: 'relu', kernelInitializer: glorot(1) }).apply(x);
    const shared = tfl.layers.dense({ units: hidden, activation: 'tanh', kernelInitializer: glorot(3) });
    const sum = tfl.layers.add().apply([h, shared.apply(shared.apply(h))]);
    const out = tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: glorot(2) }).apply(sum);
    return tfl.model({ inputs: x, outputs: out });
  },
};
const described = {
  sequential: `${input} → ${hidden} → 10 dense`,
  functional: `functional ${input} → ${hidden}, + shared ${hidden} → ${hidden} twice (residual), → 10`,
};

/** One backend and model: fresh model and batch on it, memory of one profiled step each, then timed reps. */
async function runOn(backend, modelName) {
  tf.env().set('IS_TEST', true); // silences the "install tfjs-node" banner
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend ${backend} failed to initialise`);
  await tf.ready();
  // …but not on wasm: under IS_TEST every kernel is checked for leaked data ids, and the wasm
  // backend's fused matMul (used by the layers' own forward pass) fails that check.
  tf.env().set('IS_TEST', backend !== 'wasm');

  const model = builders[modelName]();
  const optimizer = tf.train.sgd(0.01);
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const vars = model.trainableWeights.map((w) => w.read());
  const params = vars.reduce((n, v) => n + v.size, 0);
  const x = tf.randomNormal([B, input], 0, 1, 'float32', 7);
  const y = tf.cast(tf.oneHot(tf.randomUniform([B], 0, 10, 'int32', 8), 10), 'float32');
  const loss = model.model?.lossFunctions?.[0] ?? model.lossFunctions[0];

  const nonPrivate = () => {
    const { value, grads } = tf.variableGrads(() => tf.mean(loss(y, model.apply(x, { training: true }))), vars);
    optimizer.applyGradients(grads);
    tf.dispose([value, ...Object.values(grads)]);
  };
  const privateStep = (method) => {
    const r = clippedGradients(model, x, y, C, { method });
    const update = {};
    for (const v of vars) {
      const noise = Float32Array.from(gaussianNoise(v.size, sigma * C));
      update[v.name] = tf.tidy(() => tf.div(tf.add(r.grads[v.name], tf.tensor(noise, v.shape, 'float32')), B));
    }
    optimizer.applyGradients(update);
    tf.dispose([r.norms, r.lossSum, ...Object.values(r.grads), ...Object.values(update)]);
  };
  const candidates = [
    { name: 'non-private', run: nonPrivate },
    { name: 'ghost', run: () => privateStep('ghost') },
    ...(args.microbatch ? [{ name: 'microbatch', run: () => privateStep('microbatch') }] : []),
  ];

  // Memory: one profiled step each (after a warm-up step, so optimizer state already exists).
  const memory = {};
  for (const c of candidates) {
    c.run();
    const held = tf.memory().numBytes;
    const info = await tf.profile(() => c.run());
    memory[c.name] = {
      peakBytes: info.peakBytes,
      heldBytes: held,
      extraBytes: info.peakBytes - held,
      newTensors: info.kernels.reduce((n, k) => n + k.outputShapes.length, 0),
    };
  }
  // Time: alternate candidates rep by rep; each rep ends with a 4-byte read so async backends finish.
  const times = Object.fromEntries(candidates.map((c) => [c.name, []]));
  for (let r = 0; r < reps; r++) {
    for (const c of candidates) {
      const t0 = performance.now();
      c.run();
      vars[0].dataSync().at(0);
      times[c.name].push(performance.now() - t0);
    }
  }
  const rows = candidates.map((c) => ({
    name: c.name,
    medianMs: median(times[c.name]),
    peakMB: memory[c.name].peakBytes / 2 ** 20,
    extraMB: memory[c.name].extraBytes / 2 ** 20,
    tensorsAllocated: memory[c.name].newTensors,
  }));
  const ghost = rows.find((r) => r.name === 'ghost');
  const plain = rows.find((r) => r.name === 'non-private');
  const materialisedMB = (B * params * 4) / 2 ** 20;
  const targets = [
    {
      target: `${backend} ${modelName}: ghost peak memory ≤ 1.5× non-private (peak tf.memory().numBytes)`,
      value: ghost.peakMB / plain.peakMB,
      met: ghost.peakMB / plain.peakMB <= 1.5,
    },
    {
      target: `${backend} ${modelName}: ghost step-allocated memory ≤ 1.5× non-private (peak − held)`,
      value: ghost.extraMB / plain.extraMB,
      met: ghost.extraMB / plain.extraMB <= 1.5,
    },
    {
      target: `${backend} ${modelName}: ghost time ≤ 3× non-private`,
      value: ghost.medianMs / plain.medianMs,
      met: ghost.medianMs / plain.medianMs <= 3,
    },
  ];
  console.log(
    `DP-SGD step, ${described[modelName]}, batch ${B}, ${params.toLocaleString('en')} parameters, tfjs ${backend} backend, ${reps} reps`,
  );
  for (const r of rows) {
    console.log(
      `  ${r.name.padEnd(12)} ${f(r.medianMs, 1).padStart(8)} ms   peak ${f(r.peakMB, 1).padStart(7)} MB   step-allocated ${f(r.extraMB, 1).padStart(7)} MB   ${String(r.tensorsAllocated).padStart(6)} tensors allocated`,
    );
  }
  console.log(`  (materialised per-example gradients alone: ${f(materialisedMB, 1)} MB)`);
  for (const t of targets) console.log(`  ${t.met ? 'MET ' : 'MISS'}  ${t.target}: ${f(t.value)}`);
  tf.dispose([x, y]);
  model.dispose();
  return { backend, model: modelName, params, rows, materialisedMB, targets };
}

const results = [];
for (const b of backends) for (const m of models) results.push(await runOn(b, m));

// RDP against PLD on Opacus's example: ε at the same σ, σ at the same ε.
function accountingBench() {
  const mech = { sampleRate: 0.04, steps: 2250 };
  const timed = (fn) => {
    const t0 = performance.now();
    const value = fn();
    return { value, ms: performance.now() - t0 };
  };
  const row = (accounting) => {
    const eps = timed(() => privacySpent({ ...mech, noiseMultiplier: 1.5, delta: 1e-5, accounting }).epsilon);
    const sig = timed(() => noiseMultiplierFor({ ...mech, targetEpsilon: 8, delta: 1e-5, accounting }));
    return { accounting, epsilon: eps.value, epsilonMs: eps.ms, sigmaForEpsilon8: sig.value, sigmaMs: sig.ms };
  };
  const rows = [row('rdp'), row('pld')];
  const [rdp, pld] = rows;
  console.log('Privacy accounting, Opacus example: σ 1.5, q 0.04, 2,250 steps, δ 1e-5 (Opacus: RDP 7.329, PRV 6.777)');
  for (const r of rows) {
    console.log(
      `  ${r.accounting.toUpperCase().padEnd(4)} ε = ${f(r.epsilon, 3)} (${f(r.epsilonMs, 1)} ms)   σ for ε = 8: ${f(r.sigmaForEpsilon8, 4)} (${f(r.sigmaMs, 0)} ms)`,
    );
  }
  const gain = {
    epsilonLess: 1 - pld.epsilon / rdp.epsilon,
    sigmaLess: 1 - pld.sigmaForEpsilon8 / rdp.sigmaForEpsilon8,
  };
  console.log(
    `  PLD gain: ε ${f(100 * gain.epsilonLess, 1)} % smaller at the same σ, σ ${f(100 * gain.sigmaLess, 1)} % smaller at ε = 8`,
  );
  const targets = [
    {
      target: 'accounting: PLD ε ≤ RDP ε at the same σ',
      value: pld.epsilon / rdp.epsilon,
      met: pld.epsilon <= rdp.epsilon,
    },
    {
      // Opacus's PRV report rounds up (ε_upper + 0.01); PLD certifies a bound just below it (pld.test.ts).
      target: 'accounting: PLD ε in [PRV − 0.02, PRV] (Opacus PRV 6.777)',
      value: pld.epsilon,
      met: pld.epsilon <= 6.777395712150674 && pld.epsilon >= 6.757395712150674,
    },
  ];
  for (const t of targets) console.log(`  ${t.met ? 'MET ' : 'MISS'}  ${t.target}: ${f(t.value, 4)}`);
  return { rows, gain, targets };
}
const accounting = accountingBench();

mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, 'privacy.json'),
  JSON.stringify(
    {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version },
      B,
      input,
      hidden,
      reps,
      models,
      results,
      accounting,
      targets: [...results.flatMap((r) => r.targets), ...accounting.targets],
    },
    null,
    1,
  ),
);
