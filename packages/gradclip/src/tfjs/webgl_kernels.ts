import type * as tf from '@tensorflow/tfjs-core';
import type { WebGLInternals, WebGLProgramSpec } from './backend_internals.js';
import { BLOCK, glslFold, glslFold2D, glslFold4, glslPairs } from './norm_pairs.js';

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

/** Rows × columns of accumulators a partials texture holds (a roughly square grid). */
type Grid = [number, number];

/** An unpacked input: its value count, and its texture's column count when it is read in place as 2-D. */
interface Input {
  info: tf.TensorInfo;
  size: number;
  cols: number | undefined;
}

/** A packed input seen as [batch, rows, cols]: texel (b, 2i, 2j) holds rows 2i, 2i+1 × cols 2j, 2j+1. */
interface PackedInput {
  info: tf.TensorInfo;
  batch: number;
  rows: number;
  cols: number;
}

/** Texels a fragment reads from a packed texture (≈ CHUNK values). */
const TEXELS = CHUNK / 4;

/** A partials program, its grid, and where each input's chunks end in it (cumulative). */
interface Partials {
  program: WebGLProgramSpec;
  grid: Grid;
  ends: number[];
}

/** A square grid for `chunks` accumulators. */
function gridFor(chunks: number): Grid {
  const cols = Math.ceil(Math.sqrt(chunks));
  return [Math.ceil(chunks / cols), cols];
}

/**
 * A partials program over `inputs`: input j owns `chunks(j)` consecutive fragments (chunk
 * indices c), and `fold(j, lo, end)` is the GLSL that folds fragment c's chunk of it into
 * `acc`. Output: a square grid of packed texels, one per chunk — a square rather than one
 * column because SwiftShader shades 2×2 quads, and a one-texel-wide target would leave half of
 * every quad idle.
 */
function partials<I extends { info: tf.TensorInfo }>(
  inputs: readonly I[],
  p: number,
  packed: boolean,
  chunks: (x: I) => number,
  fold: (x: I, j: number, lo: number) => string,
): Partials {
  let end = 0;
  const ends: number[] = [];
  const branches = inputs
    .map((x, j) => {
      const lo = end;
      end += chunks(x);
      ends.push(end);
      return `${j === 0 ? '' : 'else '}if (c < ${end}) {\n      ${fold(x, j, lo)}\n    }`;
    })
    .join(' ');
  const grid = gridFor(end);
  return {
    grid,
    ends,
    program: {
      variableNames: inputs.map((_, j) => `x${j}`),
      outputShape: [2 * grid[0], 2 * grid[1]],
      packedInputs: packed,
      packedOutput: true,
      userCode: `
${glslPairs(p)}
${packed ? glslFold4(p) : ''}
void main() {
  ivec2 rc = getOutputCoords();
  int c = (rc.x / 2) * ${grid[1]} + rc.y / 2;
  vec4 acc = vec4(0.0);
  ${packed ? '' : `float blockVals[${BLOCK}];`}
  ${branches}
  setOutput(acc);
}`,
    },
  };
}

/**
 * Partials of packed textures: a fragment folds TEXELS texels of one tensor, four values at a
 * time (lanes outside the tensor — odd row or column counts — read as 0).
 */
function packedPartialsProgram(inputs: readonly PackedInput[], p: number): Partials {
  const texels = ({ batch, rows, cols }: PackedInput) => batch * Math.ceil(rows / 2) * Math.ceil(cols / 2);
  return partials(
    inputs,
    p,
    true,
    (x) => Math.ceil(texels(x) / TEXELS),
    (x, j, lo) => {
      const hc = Math.ceil(x.cols / 2);
      const plane = Math.ceil(x.rows / 2) * hc;
      return `int t0 = (c - ${lo}) * ${TEXELS};
      int t1 = min(t0 + ${TEXELS}, ${texels(x)});
      for (int t = t0; t < t1; t++) {
        int b = t / ${plane};
        int rem = t - b * ${plane};
        int row = 2 * (rem / ${hc});
        int col = 2 * (rem - (rem / ${hc}) * ${hc});
        vec4 v = getX${j}(b, row, col);
        bool right = col + 1 < ${x.cols};
        bool below = row + 1 < ${x.rows};
        acc = fold4(acc, vec4(v.x, right ? v.y : 0.0, below ? v.z : 0.0, right && below ? v.w : 0.0));
      }`;
    },
  );
}

/** Partials of unpacked textures: a fragment folds CHUNK values of one tensor. */
function partialsProgram(inputs: readonly Input[], p: number): Partials {
  return partials(
    inputs,
    p,
    false,
    (x) => Math.ceil(x.size / CHUNK),
    ({ size, cols }, j, lo) => `int start = (c - ${lo}) * ${CHUNK};
      int stop = min(start + ${CHUNK}, ${size});
      ${
        cols === undefined
          ? glslFold(p, (i) => `getX${j}(${i})`, 'start', 'stop')
          : glslFold2D(p, `getX${j}`, cols, 'start', 'stop')
      }`,
  );
}

/** Merges packed partials textures (a grid of accumulators each): final → unpacked [4], else one packed texel. */
function mergeProgram(grids: readonly Grid[], p: number, final: boolean): WebGLProgramSpec {
  // Texels past the last chunk hold zeros, which merge as nothing.
  const loops = grids
    .map(
      ([r, c], j) =>
        `for (int i = 0; i < ${r}; i++) { for (int k = 0; k < ${c}; k++) { acc = mergeAcc(acc, getP${j}(2 * i, 2 * k)); } }`,
    )
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
 * How a partials program reads a tensor: a packed texture as it is (tfjs would unpack it first:
 * a whole extra pass; batch dimensions fold into one, as a packed layout depends only on the
 * last two), an unpacked one as its texture's [rows, cols] where tfjs allows (read in place, no
 * index arithmetic), else flat (tfjs applies slice offsets). Undefined for an empty tensor.
 */
function asInput(g: WebGLInternals, x: tf.TensorInfo): Input | PackedInput | undefined {
  const size = x.shape.reduce((a, b) => a * b, 1);
  if (size === 0) return undefined;
  if (g.isPacked(x) === true) {
    const r = x.shape.length >= 2 ? x.shape[x.shape.length - 2]! : 1;
    const c = x.shape[x.shape.length - 1] ?? 1;
    return {
      info: { dataId: x.dataId, shape: [size / (r * c), r, c], dtype: x.dtype },
      batch: size / (r * c),
      rows: r,
      cols: c,
    };
  }
  const tex = g.texShape(x);
  return { info: { dataId: x.dataId, shape: tex ?? [size], dtype: x.dtype }, size, cols: tex?.[1] };
}

/**
 * [ref, sum, nan, inf] of every tensor of `xs` on its own (non-empty float32 tensors), as
 * [4, k] parts (row r: statistic r of each tensor of the part), in order: consecutive tensors
 * of the same layout share a partials program (≤ texture units), and one program per part
 * merges each tensor's chunks. The caller concatenates the parts.
 */
export function webglEachNormStats(g: WebGLInternals, xs: readonly tf.TensorInfo[], p: number): tf.TensorInfo[] {
  const inputs = xs.map((x) => asInput(g, x));
  if (inputs.some((i) => i === undefined)) throw new TypeError('gradclip: per-tensor statistics of an empty tensor');
  const u = units(g);
  const parts: tf.TensorInfo[] = [];
  let i = 0;
  while (i < inputs.length) {
    const isPacked = 'batch' in inputs[i]!;
    let j = i + 1;
    while (j < inputs.length && j - i < u && 'batch' in inputs[j]! === isPacked) j++;
    const group = inputs.slice(i, j) as (Input | PackedInput)[];
    const { program, grid, ends } = isPacked
      ? packedPartialsProgram(group as PackedInput[], p)
      : partialsProgram(group as Input[], p);
    const partials = g.run(
      program,
      group.map((x) => x.info),
      'float32',
    );
    parts.push(g.run(mergeEachProgram(grid, ends, p), [partials], 'float32'));
    g.free(partials);
    i = j;
  }
  return parts;
}

/** Merges the chunks of each tensor of a partials texture: output [4, k], fragment (stat, tensor). */
function mergeEachProgram([, cols]: Grid, ends: readonly number[], p: number): WebGLProgramSpec {
  const ranges = ends
    .map((end, j) => `${j === 0 ? '' : 'else '}if (t == ${j}) { lo = ${j === 0 ? 0 : ends[j - 1]}; hi = ${end}; }`)
    .join(' ');
  return {
    variableNames: ['p0'],
    outputShape: [4, ends.length],
    packedInputs: true,
    packedOutput: false,
    userCode: `
${glslPairs(p)}
void main() {
  ivec2 rc = getOutputCoords();
  int t = rc.y;
  int lo = 0;
  int hi = 0;
  ${ranges}
  vec4 acc = vec4(0.0);
  for (int c = lo; c < hi; c++) { acc = mergeAcc(acc, getP0(2 * (c / ${cols}), 2 * (c - (c / ${cols}) * ${cols}))); }
  setOutput(rc.x == 0 ? acc.x : rc.x == 1 ? acc.y : rc.x == 2 ? acc.z : acc.w);
}`,
  };
}

/**
 * [ref, sum, nan, inf] of the float32 tensors `xs` as one new unpacked [4] TensorInfo.
 * Intermediate textures are released as soon as they are merged.
 */
export function webglSetNormStats(g: WebGLInternals, xs: readonly tf.TensorInfo[], p: number): tf.TensorInfo {
  const unpacked: Input[] = [];
  const packed: PackedInput[] = [];
  for (const x of xs) {
    const i = asInput(g, x);
    if (i === undefined) continue;
    if ('batch' in i) packed.push(i);
    else unpacked.push(i);
  }
  const u = units(g);
  let level: { t: tf.TensorInfo; grid: Grid }[] = [];
  for (let i = 0; i < unpacked.length; i += u) {
    const group = unpacked.slice(i, i + u);
    const { program, grid } = partialsProgram(group, p);
    level.push({
      t: g.run(
        program,
        group.map((x) => x.info),
        'float32',
      ),
      grid,
    });
  }
  for (let i = 0; i < packed.length; i += u) {
    const group = packed.slice(i, i + u);
    const { program, grid } = packedPartialsProgram(group, p);
    level.push({
      t: g.run(
        program,
        group.map((x) => x.info),
        'float32',
      ),
      grid,
    });
  }
  // Merge levels until one program can read every partials texture.
  while (level.length > u) {
    const next: { t: tf.TensorInfo; grid: Grid }[] = [];
    for (let i = 0; i < level.length; i += u) {
      const group = level.slice(i, i + u);
      next.push({
        t: g.run(
          mergeProgram(
            group.map((x) => x.grid),
            p,
            false,
          ),
          group.map((x) => x.t),
          'float32',
        ),
        grid: [1, 1],
      });
      group.forEach((x) => g.free(x.t));
    }
    level = next;
  }
  const out = g.run(
    mergeProgram(
      level.map((x) => x.grid),
      p,
      true,
    ),
    level.map((x) => x.t),
    'float32',
  );
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
