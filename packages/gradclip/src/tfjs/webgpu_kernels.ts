import type * as tf from '@tensorflow/tfjs-core';
import { WEBGPU_WORKGROUP, type WebGPUInternals, type WebGPUProgramSpec } from './backend_internals.js';
import { BLOCK, wgslFold, wgslPairs } from './norm_pairs.js';

/**
 * Norm statistics of a set of float32 tensors on tfjs-backend-webgpu, in compute shaders:
 *
 *   1. partials: every workgroup (64 invocations) reads one chunk of 64·256 = 16,384 values
 *      of one tensor once; each invocation carries the (m, s, nan, inf) accumulator of
 *      norm_pairs.ts and writes it as one row of a [rows, 4] buffer (no workgroup barrier: a
 *      tree in workgroup memory made the pass several times slower on SwiftShader). A dispatch binds at most `maxInputs` (7) tensors — a shader stage
 *      binds at most 8 storage buffers and the output is one of them — so a set of n tensors
 *      takes ⌈n/7⌉ dispatches, all writing into the same buffer at their own offset.
 *   2. fold (above 4,096 rows): each invocation merges 64 rows into one, in parallel.
 *   3. merge: one workgroup merges all rows; it runs once per output (ref, sum, nan, inf), so
 *      the four statistics come out as four scalars without any slicing.
 *
 * Workgroups of a dispatch map to tensors through prefix sums of their chunk counts, passed
 * as uniforms, so one compiled pipeline serves every set of sizes with the same tensor count.
 */

/**
 * Partials: 64 invocations per workgroup, 256 values each (a chunk of 16,384 values), one
 * row per invocation. Fewer, longer invocations than the 256 of the merge keep the rows few
 * (64 per chunk) for sets of many small tensors.
 */
const PARTIAL_GROUP = 64;
const PER_THREAD = 256;
const CHUNK = PARTIAL_GROUP * PER_THREAD;
/** Rows one invocation of the fold pass merges, and the row count above which it runs. */
const FOLD = 64;
const FOLD_ABOVE = 4096;

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

const flatWorkgroup =
  'i32(workgroupId.z * numWorkgroups.x * numWorkgroups.y + workgroupId.y * numWorkgroups.x + workgroupId.x)';

function partialsProgram(k: number, p: number, workgroups: number): WebGPUProgramSpec {
  const names = Array.from({ length: k }, (_, j) => `x${j}`);
  // Tensor j owns workgroups [end(j-1), end(j)) of this dispatch.
  const branches = names
    .map((x, j) => {
      const lo = j === 0 ? '0' : `uniforms.end${j - 1}`;
      const fold = wgslFold(p, (i) => `${x}[${i}]`, 'start', PARTIAL_GROUP, PER_THREAD / BLOCK, `uniforms.${x}Shape`);
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
    workgroupSize: [PARTIAL_GROUP, 1, 1],
    uniforms: ['base : i32,', ...names.map((_, j) => `end${j} : i32,`)].join(' '),
    getUserCode: () => `
${wgslPairs(p)}
fn main(index : i32) {
  let wg = ${flatWorkgroup};
  let lid = i32(localIndex);
  var m = 0.0;
  var s = 0.0;
  var nn = 0.0;
  var ni = 0.0;
  var blockVals : array<f32, ${BLOCK}>;
  ${branches}
  let row = ((uniforms.base + wg) * ${PARTIAL_GROUP} + lid) * 4;
  result[row] = m; result[row + 1] = s; result[row + 2] = nn; result[row + 3] = ni;
}`,
  };
}

/** Each invocation merges FOLD consecutive rows into one (no barrier: rows / FOLD invocations in parallel). */
function foldProgram(p: number, groups: number): WebGPUProgramSpec {
  return {
    variableNames: ['partials'],
    outputShape: [1, 4],
    shaderKey: `gradclipNormFold_${p}`,
    dispatchLayout: { x: [0] },
    dispatch: [groups, 1, 1],
    workgroupSize: [PARTIAL_GROUP, 1, 1],
    uniforms: 'rows : i32,',
    getUserCode: () => `
${wgslPairs(p)}
fn main(index : i32) {
  let i = ${flatWorkgroup} * ${PARTIAL_GROUP} + i32(localIndex);
  var acc = Acc(0.0, 0.0, 0.0, 0.0);
  for (var r = i * ${FOLD}; r < min(i * ${FOLD} + ${FOLD}, uniforms.rows); r = r + 1) {
    acc = mergeAcc(acc, Acc(partials[r * 4], partials[r * 4 + 1], partials[r * 4 + 2], partials[r * 4 + 3]));
  }
  if (i * ${FOLD} < uniforms.rows) {
    result[i * 4] = acc.m; result[i * 4 + 1] = acc.s; result[i * 4 + 2] = acc.n; result[i * 4 + 3] = acc.i;
  }
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
 * four new scalar TensorInfos: ⌈n/7⌉ + 4 dispatches (+ 1 fold for more than 4,096 rows);
 * intermediate buffers are released once the queued dispatches that use them have run.
 */
export function webgpuSetNormStats(g: WebGPUInternals, xs: readonly tf.TensorInfo[], p: number): tf.TensorInfo[] {
  const flat = xs
    .map((x) => ({ dataId: x.dataId, shape: [x.shape.reduce((a, b) => a * b, 1)], dtype: x.dtype }))
    .filter((x) => x.shape[0]! > 0);
  const chunks = flat.map((x) => Math.ceil(x.shape[0]! / CHUNK));
  let rows = chunks.reduce((a, b) => a + b, 0) * PARTIAL_GROUP;
  let partials = g.alloc([Math.max(rows, 1), 4], 'float32');
  let base = 0;
  for (let i = 0; i < flat.length; i += g.maxInputs) {
    const group = flat.slice(i, i + g.maxInputs);
    const ends: number[] = [];
    let end = 0;
    for (let j = 0; j < group.length; j++) ends.push((end += chunks[i + j]!));
    g.run(partialsProgram(group.length, p, end), group, 'float32', [int(base), ...ends.map(int)], partials);
    base += end;
  }
  // Many rows (many tensors, or huge ones): fold them in parallel first, so the merge — one
  // workgroup — reads few.
  if (rows > FOLD_ABOVE) {
    const folded = Math.ceil(rows / FOLD);
    const next = g.alloc([folded, 4], 'float32');
    g.run(foldProgram(p, Math.ceil(folded / PARTIAL_GROUP)), [partials], 'float32', [int(rows)], next);
    g.free(partials);
    partials = next;
    rows = folded;
  }
  const out: tf.TensorInfo[] = [];
  for (let comp = 0; comp < 4; comp++) {
    // With no values at all, `rows` is 0: the merge loop runs zero times and writes zeros.
    out.push(g.run(mergeProgram(p), [partials], 'float32', [int(rows), int(comp)]));
  }
  g.free(partials);
  return out;
}

/**
 * [ref, sum, nan, inf] of every tensor of `xs` on its own (non-empty float32 tensors), as
 * [4, k] parts of at most 7 tensors (row r: statistic r of each tensor of the part): per part
 * one partials dispatch and one that merges each tensor's rows. The caller concatenates them.
 */
export function webgpuEachNormStats(g: WebGPUInternals, xs: readonly tf.TensorInfo[], p: number): tf.TensorInfo[] {
  const flat = xs.map((x) => ({ dataId: x.dataId, shape: [x.shape.reduce((a, b) => a * b, 1)], dtype: x.dtype }));
  if (flat.some((x) => x.shape[0] === 0)) throw new TypeError('gradclip: per-tensor statistics of an empty tensor');
  const parts: tf.TensorInfo[] = [];
  for (let i = 0; i < flat.length; i += g.maxInputs) {
    const group = flat.slice(i, i + g.maxInputs);
    const ends: number[] = [];
    let end = 0;
    for (const x of group) ends.push((end += Math.ceil(x.shape[0]! / CHUNK)));
    const partials = g.alloc([end * PARTIAL_GROUP, 4], 'float32');
    g.run(partialsProgram(group.length, p, end), group, 'float32', [int(0), ...ends.map(int)], partials);
    parts.push(g.run(mergeEachProgram(ends, p), [partials], 'float32'));
    g.free(partials);
  }
  return parts;
}

/** Invocation (stat, tensor) merges the tensor's rows: output [4, k]. */
function mergeEachProgram(ends: readonly number[], p: number): WebGPUProgramSpec {
  const k = ends.length;
  const ranges = ends
    .map(
      (end, j) =>
        `${j === 0 ? '' : 'else '}if (t == ${j}) { lo = ${(j === 0 ? 0 : ends[j - 1]!) * PARTIAL_GROUP}; hi = ${end * PARTIAL_GROUP}; }`,
    )
    .join(' ');
  return {
    variableNames: ['partials'],
    outputShape: [4, k],
    // The chunk ends are in the code: tfjs compiles once per set of shapes (the same every step).
    shaderKey: `gradclipNormMergeEach_${p}_${ends.join('_')}`,
    dispatchLayout: { x: [0] },
    dispatch: [1, 1, 1],
    workgroupSize: [4 * k, 1, 1],
    getUserCode: () => `
${wgslPairs(p)}
fn main(index : i32) {
  _ = uniforms.NAN; // tfjs binds its uniforms: the layout must include them
  let i = i32(localIndex);
  let t = i % ${k};
  let stat = i / ${k};
  var lo = 0;
  var hi = 0;
  ${ranges}
  var acc = Acc(0.0, 0.0, 0.0, 0.0);
  for (var r = lo; r < hi; r = r + 1) {
    acc = mergeAcc(acc, Acc(partials[r * 4], partials[r * 4 + 1], partials[r * 4 + 2], partials[r * 4 + 3]));
  }
  var v = acc.m;
  if (stat == 1) { v = acc.s; } else if (stat == 2) { v = acc.n; } else if (stat == 3) { v = acc.i; }
  result[i] = v;
}`,
  };
}
