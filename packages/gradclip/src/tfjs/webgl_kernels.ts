import type * as tf from '@tensorflow/tfjs-core';
import type { WebGLInternals, WebGLProgramSpec } from './backend_internals.js';
import { BLOCK, glslFold, glslFold2D, glslPairs } from './norm_pairs.js';

/**
 * Norm statistics of a set of float32 tensors on tfjs-backend-webgl, in fragment programs:
 *
 *   1. partials: one program reads up to `maxTextureUnits` tensors. Each output texel is one
 *      chunk of 1,024 values of one tensor, read once with the (m, s, nan, inf) accumulator of
 *      norm_pairs.ts. The output is a packed texture of logical shape [2·chunks, 2], so one
 *      fragment writes all four statistics of its chunk as one RGBA texel: (m, s) in row 2c,
 *      (nan, inf) in row 2c + 1.
 *   2. merge: a program merges the texels of every partials texture into [ref, sum, nan,
 *      inf] (unpacked, so the four scalars are shallow slices of it: no more programs). With
 *      more partials textures than texture units, intermediate merges produce one packed texel
 *      each first.
 *
 * Chunk sizes and tensor boundaries are compile-time constants: gradients have the same shapes
 * every step, so tfjs compiles each program once and then finds it in its cache.
 */

const CHUNK = 1024;

const units = (g: WebGLInternals) => Math.max(1, Math.min(g.maxTextureUnits, 16));

/** An input: its value count, and its texture's column count when it is read in place as 2-D. */
interface Input {
  size: number;
  cols: number | undefined;
}

function partialsProgram(inputs: readonly Input[], p: number): { program: WebGLProgramSpec; chunks: number } {
  let end = 0;
  const branches = inputs
    .map(({ size: n, cols }, j) => {
      const lo = end;
      end += Math.ceil(n / CHUNK);
      const fold = cols === undefined ? glslFold(p, (i) => `getX${j}(${i})`, 'start', 'stop') : glslFold2D(p, `getX${j}`, cols, 'start', 'stop');
      return `${j === 0 ? '' : 'else '}if (c < ${end}) {
      int start = (c - ${lo}) * ${CHUNK};
      int stop = min(start + ${CHUNK}, ${n});
      ${fold}
    }`;
    })
    .join(' ');
  return {
    chunks: end,
    program: {
      variableNames: inputs.map((_, j) => `x${j}`),
      outputShape: [2 * end, 2],
      packedInputs: false,
      packedOutput: true,
      userCode: `
${glslPairs(p)}
void main() {
  ivec2 rc = getOutputCoords();
  int c = rc.x / 2;
  vec4 acc = vec4(0.0);
  float blockVals[${BLOCK}];
  ${branches}
  setOutput(acc);
}`,
    },
  };
}

/** Merges packed partials textures (rows[j] accumulators each): final → unpacked [4], else one packed texel. */
function mergeProgram(rows: readonly number[], p: number, final: boolean): WebGLProgramSpec {
  const loops = rows
    .map((r, j) => `for (int i = 0; i < ${r}; i++) { acc = mergeAcc(acc, getP${j}(2 * i, 0)); }`)
    .join('\n  ');
  const out = final
    ? `int comp = getOutputCoords();
  setOutput(comp == 0 ? acc.x : comp == 1 ? acc.y : comp == 2 ? acc.z : acc.w);`
    : 'setOutput(acc);';
  return {
    variableNames: rows.map((_, j) => `p${j}`),
    outputShape: final ? [4] : [2, 2],
    packedInputs: true,
    packedOutput: !final,
    userCode: `
${glslPairs(p)}
void main() {
  vec4 acc = vec4(0.0);
  ${loops}
  ${out}
}`,
  };
}

/**
 * [ref, sum, nan, inf] of the float32 tensors `xs` as one new unpacked [4] TensorInfo.
 * Intermediate textures are released as soon as they are merged.
 */
export function webglSetNormStats(g: WebGLInternals, xs: readonly tf.TensorInfo[], p: number): tf.TensorInfo {
  // Each tensor is presented as its texture's [rows, cols] where tfjs allows (read in place,
  // no index arithmetic), else flat (tfjs unpacks packed textures and applies slice offsets).
  const inputs = xs
    .map((x) => {
      const size = x.shape.reduce((a, b) => a * b, 1);
      const tex = size > 0 ? g.texShape(x) : undefined;
      const shape = tex ?? [size];
      return { info: { dataId: x.dataId, shape, dtype: x.dtype }, size, cols: tex?.[1] };
    })
    .filter((x) => x.size > 0);
  const u = units(g);
  let level: { t: tf.TensorInfo; rows: number }[] = [];
  for (let i = 0; i < inputs.length; i += u) {
    const group = inputs.slice(i, i + u);
    const { program, chunks } = partialsProgram(group, p);
    level.push({ t: g.run(program, group.map((x) => x.info), 'float32'), rows: chunks });
  }
  // Merge levels until one program can read every partials texture.
  while (level.length > u) {
    const next: { t: tf.TensorInfo; rows: number }[] = [];
    for (let i = 0; i < level.length; i += u) {
      const group = level.slice(i, i + u);
      next.push({ t: g.run(mergeProgram(group.map((x) => x.rows), p, false), group.map((x) => x.t), 'float32'), rows: 1 });
      group.forEach((x) => g.free(x.t));
    }
    level = next;
  }
  const out = g.run(mergeProgram(level.map((x) => x.rows), p, true), level.map((x) => x.t), 'float32');
  level.forEach((x) => g.free(x.t));
  return out;
}
