import type * as tf from '@tensorflow/tfjs-core';
import { WEBGPU_WORKGROUP, type WebGPUInternals, type WebGPUProgramSpec } from './backend_internals.js';
import { BLOCK, wgslFold, wgslPairs } from './norm_pairs.js';

/**
 * Norm statistics of a set of float32 tensors on tfjs-backend-webgpu, in compute shaders:
 *
 *   1. partials: every workgroup (256 invocations) reads one chunk of 256·16 = 4,096 values of
 *      one tensor once, carries the (m, s, nan, inf) accumulator of norm_pairs.ts per
 *      invocation, merges the 256 of them in workgroup memory and writes one row of a
 *      [chunks, 4] buffer. A dispatch binds at most `maxInputs` (7) tensors — a shader stage
 *      binds at most 8 storage buffers and the output is one of them — so a set of n tensors
 *      takes ⌈n/7⌉ dispatches, all writing into the same buffer at their own offset.
 *   2. merge: one workgroup merges all rows; it runs once per output (ref, sum, nan, inf), so
 *      the four statistics come out as four scalars without any slicing.
 *
 * Workgroups of a dispatch map to tensors through prefix sums of their chunk counts, passed
 * as uniforms, so one compiled pipeline serves every set of sizes with the same tensor count.
 */

const PER_THREAD = 64;
const CHUNK = WEBGPU_WORKGROUP * PER_THREAD;

/** The shared-memory tree that merges the workgroup's 256 accumulators into slot 0. */
const TREE = `
  sm[lid] = acc.m; ss[lid] = acc.s; sn[lid] = acc.n; si[lid] = acc.i;
  workgroupBarrier();
  for (var w = ${WEBGPU_WORKGROUP / 2}; w > 0; w = w / 2) {
    if (lid < w) {
      let o = mergeAcc(Acc(sm[lid], ss[lid], sn[lid], si[lid]), Acc(sm[lid + w], ss[lid + w], sn[lid + w], si[lid + w]));
      sm[lid] = o.m; ss[lid] = o.s; sn[lid] = o.n; si[lid] = o.i;
    }
    workgroupBarrier();
  }`;

const SHARED = `
var<workgroup> sm : array<f32, ${WEBGPU_WORKGROUP}>;
var<workgroup> ss : array<f32, ${WEBGPU_WORKGROUP}>;
var<workgroup> sn : array<f32, ${WEBGPU_WORKGROUP}>;
var<workgroup> si : array<f32, ${WEBGPU_WORKGROUP}>;
`;

const flatWorkgroup = 'i32(workgroupId.z * numWorkgroups.x * numWorkgroups.y + workgroupId.y * numWorkgroups.x + workgroupId.x)';

function partialsProgram(k: number, p: number, workgroups: number): WebGPUProgramSpec {
  const names = Array.from({ length: k }, (_, j) => `x${j}`);
  // Tensor j owns workgroups [end(j-1), end(j)) of this dispatch.
  const branches = names
    .map((x, j) => {
      const lo = j === 0 ? '0' : `uniforms.end${j - 1}`;
      const fold = wgslFold(p, (i) => `${x}[${i}]`, 'start', WEBGPU_WORKGROUP, PER_THREAD / BLOCK, `uniforms.${x}Shape`);
      return `${j === 0 ? '' : 'else '}if (wg < uniforms.end${j}) {
    let start = (wg - ${lo}) * ${CHUNK} + lid;
    ${fold}
  }`;
    })
    .join(' ');
  return {
    variableNames: names,
    outputShape: [1, 4],
    shaderKey: `gradclipNormPartials_${k}_${p}`,
    dispatchLayout: { x: [0] },
    dispatch: [workgroups, 1, 1],
    workgroupSize: [WEBGPU_WORKGROUP, 1, 1],
    uniforms: ['base : i32,', ...names.map((_, j) => `end${j} : i32,`)].join(' '),
    getUserCode: () => `
${wgslPairs(p)}
${SHARED}
fn main(index : i32) {
  let wg = ${flatWorkgroup};
  let lid = i32(localIndex);
  var m = 0.0;
  var s = 0.0;
  var nn = 0.0;
  var ni = 0.0;
  var blockVals : array<f32, ${BLOCK}>;
  ${branches}
  // One row per invocation: no workgroup barrier (a tree in workgroup memory made the whole
  // pass several times slower on SwiftShader's WebGPU); the merge dispatch reads the rows.
  let row = ((uniforms.base + wg) * ${WEBGPU_WORKGROUP} + lid) * 4;
  result[row] = m; result[row + 1] = s; result[row + 2] = nn; result[row + 3] = ni;
}`,
  };
}

function mergeProgram(p: number): WebGPUProgramSpec {
  return {
    variableNames: ['partials'],
    outputShape: [],
    shaderKey: `gradclipNormMerge_${p}`,
    dispatchLayout: { x: [0] },
    dispatch: [1, 1, 1],
    workgroupSize: [WEBGPU_WORKGROUP, 1, 1],
    uniforms: 'rows : i32, comp : i32,',
    getUserCode: () => `
${wgslPairs(p)}
${SHARED}
fn main(index : i32) {
  let lid = i32(localIndex);
  var acc = Acc(0.0, 0.0, 0.0, 0.0);
  for (var r = lid; r < uniforms.rows; r = r + ${WEBGPU_WORKGROUP}) {
    acc = mergeAcc(acc, Acc(partials[r * 4], partials[r * 4 + 1], partials[r * 4 + 2], partials[r * 4 + 3]));
  }
  ${TREE}
  if (lid == 0) {
    var v = sm[0];
    if (uniforms.comp == 1) { v = ss[0]; } else if (uniforms.comp == 2) { v = sn[0]; } else if (uniforms.comp == 3) { v = si[0]; }
    result[0] = v;
  }
}`,
  };
}

const int = (x: number) => ({ type: 'int32' as const, data: [x] });

/**
 * [ref, sum, nan, inf] of the float32 tensors `xs` (any shapes; empty ones are skipped) as
 * four new scalar TensorInfos: ⌈n/7⌉ + 4 dispatches and one intermediate buffer, released
 * once the queued dispatches that use it have run.
 */
export function webgpuSetNormStats(g: WebGPUInternals, xs: readonly tf.TensorInfo[], p: number): tf.TensorInfo[] {
  const flat = xs.map((x) => ({ dataId: x.dataId, shape: [x.shape.reduce((a, b) => a * b, 1)], dtype: x.dtype })).filter((x) => x.shape[0]! > 0);
  const chunks = flat.map((x) => Math.ceil(x.shape[0]! / CHUNK));
  const rows = chunks.reduce((a, b) => a + b, 0);
  const partials = g.alloc([Math.max(rows * WEBGPU_WORKGROUP, 1), 4], 'float32');
  let base = 0;
  for (let i = 0; i < flat.length; i += g.maxInputs) {
    const group = flat.slice(i, i + g.maxInputs);
    const ends: number[] = [];
    let end = 0;
    for (let j = 0; j < group.length; j++) ends.push((end += chunks[i + j]!));
    g.run(partialsProgram(group.length, p, end), group, 'float32', [int(base), ...ends.map(int)], partials);
    base += end;
  }
  const out: tf.TensorInfo[] = [];
  for (let comp = 0; comp < 4; comp++) {
    // With no values at all, `rows` is 0: the merge loop runs zero times and writes zeros.
    out.push(g.run(mergeProgram(p), [partials], 'float32', [int(rows * WEBGPU_WORKGROUP), int(comp)]));
  }
  g.free(partials);
  return out;
}
