import type * as tf from '@tensorflow/tfjs-core';
import type { WebGLInternals, WebGLProgramSpec } from './backend_internals.js';
import { BLOCK, glslFold, glslFold2D, glslPairs } from './norm_pairs.js';

/**
 * Norm statistics of a set of float32 tensors on tfjs-backend-webgl, in fragment programs:
 *
 *   1. partials: one program reads up to `maxTextureUnits` tensors. Each output texel is one
 *      chunk of 1,024 values of one tensor, read once with the (m, s, nan, inf) accumulator of
 *      norm_pairs.ts. The output is a packed texture (a square grid of RGBA texels), so one
 *      fragment writes all four statistics of its chunk as one texel: (m, s) in its first
 *      logical row, (nan, inf) in its second.
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

/** Rows × columns of accumulators a partials texture holds (a roughly square grid). */
type Grid = [number, number];

function partialsProgram(inputs: readonly Input[], p: number): { program: WebGLProgramSpec; grid: Grid } {
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
  // A square grid of texels rather than one column: SwiftShader shades 2×2 quads, and a
  // one-texel-wide target would leave half of every quad idle.
  const cols = Math.ceil(Math.sqrt(end));
  const grid: Grid = [Math.ceil(end / cols), cols];
  return {
    grid,
    program: {
      variableNames: inputs.map((_, j) => `x${j}`),
      outputShape: [2 * grid[0], 2 * grid[1]],
      packedInputs: false,
      packedOutput: true,
      userCode: `
${glslPairs(p)}
void main() {
  ivec2 rc = getOutputCoords();
  int c = (rc.x / 2) * ${grid[1]} + rc.y / 2;
  vec4 acc = vec4(0.0);
  float blockVals[${BLOCK}];
  ${branches}
  setOutput(acc);
}`,
    },
  };
}

/** Merges packed partials textures (a grid of accumulators each): final → unpacked [4], else one packed texel. */
function mergeProgram(grids: readonly Grid[], p: number, final: boolean): WebGLProgramSpec {
  // Texels past the last chunk hold zeros, which merge as nothing.
  const loops = grids
    .map(([r, c], j) => `for (int i = 0; i < ${r}; i++) { for (int k = 0; k < ${c}; k++) { acc = mergeAcc(acc, getP${j}(2 * i, 2 * k)); } }`)
    .join('\n  ');
  const out = final
    ? `int comp = getOutputCoords();
  setOutput(comp == 0 ? acc.x : comp == 1 ? acc.y : comp == 2 ? acc.z : acc.w);`
    : 'setOutput(acc);';
  return {
    variableNames: grids.map((_, j) => `p${j}`),
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
  let level: { t: tf.TensorInfo; grid: Grid }[] = [];
  for (let i = 0; i < inputs.length; i += u) {
    const group = inputs.slice(i, i + u);
    const { program, grid } = partialsProgram(group, p);
    level.push({ t: g.run(program, group.map((x) => x.info), 'float32'), grid });
  }
  // Merge levels until one program can read every partials texture.
  while (level.length > u) {
    const next: { t: tf.TensorInfo; grid: Grid }[] = [];
    for (let i = 0; i < level.length; i += u) {
      const group = level.slice(i, i + u);
      next.push({ t: g.run(mergeProgram(group.map((x) => x.grid), p, false), group.map((x) => x.t), 'float32'), grid: [1, 1] });
      group.forEach((x) => g.free(x.t));
    }
    level = next;
  }
  const out = g.run(mergeProgram(level.map((x) => x.grid), p, true), level.map((x) => x.t), 'float32');
  level.forEach((x) => g.free(x.t));
  return out;
}

/**
 * x · s for a float32 tensor x and a float32 scalar s, in the layout x already has. tf.mul
 * on webgl runs a packed program (WEBGL_PACK_BINARY_OPERATIONS) and so first repacks an
 * unpacked x — a whole extra pass over it; this program reads x as it is: packed x gives a
 * packed result (four values per texel), unpacked x an unpacked one.
 */
export function webglScale(g: WebGLInternals, x: tf.TensorInfo, s: tf.TensorInfo): tf.TensorInfo {
  const packed = g.isPacked(x) === true;
  const program: WebGLProgramSpec = {
    variableNames: ['x', 's'],
    outputShape: [...x.shape],
    packedInputs: packed,
    packedOutput: packed,
    userCode: packed
      ? 'void main() { setOutput(getXAtOutCoords() * getS().x); }'
      : 'void main() { setOutput(getXAtOutCoords() * getS()); }',
  };
  return g.run(program, [x, s], 'float32');
}
