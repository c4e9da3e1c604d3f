import type * as tf from '@tensorflow/tfjs-core';
import type { ScalarBlock, ScalarOps, Scalars } from '../ops.js';
import type { WebGLInternals, WebGLProgramSpec, WebGPUInternals, WebGPUProgramSpec } from './backend_internals.js';

/**
 * Scalar blocks (`runScalars`) compiled into GPU programs.
 *
 * A rule's arithmetic between its statistics and its factor — the norm from (ref, sum), the
 * finiteness test, the guarded ratio, the policy — is a few dozen scalar operations. On webgl
 * and webgpu each tf op on a scalar is a program of its own (a draw call or a dispatch, with
 * its setup), and together they cost more than the statistics pass over the gradients. Here
 * the block is run once with symbolic scalar operations that write shader code instead of
 * computing, and the code becomes one program per output type (webgl: a float vector and a
 * bool vector, sliced without copies) or one dispatch per output (webgpu, where a dispatch
 * writes one buffer and slices are copies).
 *
 * The shader code keeps the IEEE semantics the rules rely on without trusting the shader
 * compiler with NaN and ±Infinity: NaN and finiteness are tested on the bits, min / max / the
 * comparisons propagate or reject NaN explicitly, division and square root handle zero,
 * Infinity and NaN operands by case. Numbers are uniforms, not literals, so a block whose
 * constants change between steps (a learning-rate-like schedule, a new threshold) reuses the
 * compiled program, and a literal cannot fall outside float32's range in WGSL.
 */

type Kind = 'f' | 'b';

/** A symbolic scalar: a shader expression (a variable name or a constant) and its type. */
export class Sym {
  constructor(
    readonly code: string,
    readonly kind: Kind,
  ) {}
}

interface Dialect {
  /** The helper functions (gc_nan, gc_fin, gc_min, gc_max, gc_div, gc_sqrt, gc_pow, gc_*cmp). */
  readonly helpers: string;
  decl(name: string, kind: Kind, expr: string): string;
  select(c: string, a: string, b: string): string;
  literal(index: number): string;
  input(index: number, kind: Kind): string;
  /** WGSL: inputs read from buffers of this many values (see `wgsl`). */
  readonly packed?: number | undefined;
}

/**
 * Helper bodies shared by both languages, written once with per-language spellings; a local
 * variable is declared as `{bool} x` / `{float} x`.
 */
function helpers(l: {
  fn: (name: string, args: string, ret: Kind, body: string) => string;
  bits: (x: string) => string;
  fromBits: (hex: string) => string;
  float: string;
}): string {
  const f = (a: string) => `${a} : ${l.float}`;
  // (statements that return the value)
  const nan = l.fromBits('0x7fc00000u');
  const inf = l.fromBits('0x7f800000u');
  return [
    l.fn('gc_nan', f('x'), 'b', `return (${l.bits('x')} & 0x7fffffffu) > 0x7f800000u;`),
    l.fn('gc_fin', f('x'), 'b', `return (${l.bits('x')} & 0x7f800000u) != 0x7f800000u;`),
    l.fn('gc_qnan', '', 'f', `${nan};`),
    l.fn('gc_inf', '', 'f', `${inf};`),
    l.fn('gc_min', `${f('a')}, ${f('b')}`, 'f', 'if (gc_nan(a) || gc_nan(b)) { return gc_qnan(); } return min(a, b);'),
    l.fn('gc_max', `${f('a')}, ${f('b')}`, 'f', 'if (gc_nan(a) || gc_nan(b)) { return gc_qnan(); } return max(a, b);'),
    l.fn('gc_gt', `${f('a')}, ${f('b')}`, 'b', 'return !gc_nan(a) && !gc_nan(b) && a > b;'),
    l.fn('gc_ge', `${f('a')}, ${f('b')}`, 'b', 'return !gc_nan(a) && !gc_nan(b) && a >= b;'),
    l.fn('gc_eq', `${f('a')}, ${f('b')}`, 'b', 'return !gc_nan(a) && !gc_nan(b) && a == b;'),
    // IEEE division by case: shader division of or by 0 and ±Infinity is not specified.
    l.fn(
      'gc_div',
      `${f('a')}, ${f('b')}`,
      'f',
      `if (gc_nan(a) || gc_nan(b)) { return gc_qnan(); }
  {bool} neg = (a < 0.0) != ((${l.bits('b')} & 0x80000000u) != 0u);
  if (b == 0.0) { if (a == 0.0) { return gc_qnan(); } if (neg) { return -gc_inf(); } return gc_inf(); }
  if (!gc_fin(b)) { if (!gc_fin(a)) { return gc_qnan(); } return 0.0; }
  if (!gc_fin(a)) { if (neg) { return -gc_inf(); } return gc_inf(); }
  return a / b;`,
    ),
    l.fn(
      'gc_sqrt',
      f('a'),
      'f',
      'if (gc_nan(a) || a < 0.0) { return gc_qnan(); } if (!gc_fin(a)) { return a; } return sqrt(a);',
    ),
    // Math.pow's cases, then exp2(e · log2 |a|) — what the GPU's own pow computes. `parity`
    // (known when the block is traced, e being a constant) is 0 for a non-integer e, 1 for an
    // even one, −1 for an odd one: the sign a negative base gives.
    l.fn(
      'gc_pow',
      `${f('a')}, ${f('e')}, ${f('parity')}`,
      'f',
      `if (e == 0.0) { return 1.0; }
  if (gc_nan(a) || gc_nan(e)) { return gc_qnan(); }
  if (a < 0.0 && parity == 0.0) { if (gc_fin(a)) { return gc_qnan(); } if (e > 0.0) { return gc_inf(); } return 0.0; }
  {float} m = abs(a);
  {float} r = 0.0;
  if (m == 0.0) { if (e < 0.0) { r = gc_inf(); } } else if (!gc_fin(m)) { if (e > 0.0) { r = gc_inf(); } } else { r = exp2(e * log2(m)); }
  if (a < 0.0) { return parity * r; }
  return r;`,
    ),
  ].join('\n');
}

const GLSL_HELPERS = helpers({
  fn: (name, args, ret, body) =>
    `${ret === 'f' ? 'float' : 'bool'} ${name}(${args.replace(/(\w+) : float/g, 'float $1')}) {\n  ${body.replace(/\{(bool|float)\}/g, '$1')}\n}`,
  bits: (x) => `floatBitsToUint(${x})`,
  fromBits: (hex) => `return uintBitsToFloat(${hex})`,
  float: 'float',
});

const WGSL_HELPERS = helpers({
  fn: (name, args, ret, body) =>
    `fn ${name}(${args}) -> ${ret === 'f' ? 'f32' : 'bool'} {\n  ${body.replace(/\{(bool|float)\}/g, 'var')}\n}`,
  bits: (x) => `bitcast<u32>(${x})`,
  // Through a variable: WGSL refuses a constant expression whose value is NaN or ±Infinity.
  fromBits: (hex) => `var bits = ${hex}; return bitcast<f32>(bits)`,
  float: 'f32',
});

const GLSL: Dialect = {
  helpers: GLSL_HELPERS,
  decl: (name, kind, expr) => `${kind === 'f' ? 'float' : 'bool'} ${name} = ${expr};`,
  select: (c, a, b) => `(${c} ? ${a} : ${b})`,
  literal: (i) => `gcLit[${i}]`,
  input: (i, kind) => (kind === 'f' ? `getV${i}()` : `(getV${i}() != 0.0)`),
};

/**
 * WGSL. `packed` inputs: a dispatch binds at most 7 inputs, so a block with more reads them
 * from float buffers of `packed` values each, which `webgpuScalars` fills first (one dispatch
 * per buffer).
 */
function wgsl(packed?: number): Dialect {
  const value = (i: number) => (packed === undefined ? `f32(v${i}[0])` : `v${Math.floor(i / packed)}[${i % packed}]`);
  return {
    helpers: WGSL_HELPERS,
    decl: (name, _kind, expr) => `let ${name} = ${expr};`,
    select: (c, a, b) => `select(${b}, ${a}, ${c})`,
    literal: (i) => `uniforms.l${i}`,
    input: (i, kind) => (kind === 'f' ? value(i) : `(${value(i)} != 0.0)`),
    packed,
  };
}

/** A block traced into shader code: its statements, its numbers, its outputs. */
export interface TracedBlock {
  readonly lines: readonly string[];
  readonly literals: readonly number[];
  /** Every output, by name: `slot` indexes `values`. */
  readonly outputs: readonly { name: string; kind: Kind; slot: number }[];
  /**
   * The distinct values the program computes, numbers first (outputs that are the same
   * expression — a factor that is also the reported scale — share one).
   */
  readonly values: readonly { kind: Kind; code: string }[];
  /** WGSL: the inputs are packed, this many per buffer. */
  readonly packed?: number | undefined;
}

/**
 * Runs `block` with symbolic scalar operations: every operation appends one statement and
 * returns the variable it assigns. Inputs are the program's inputs in order (numbers first).
 */
export function traceBlock<I extends string, J extends string, O extends string, P extends string>(
  d: Dialect,
  numberInputs: readonly I[],
  boolInputs: readonly J[],
  block: ScalarBlock<I, J, O, P>,
): TracedBlock {
  const lines: string[] = [];
  const literals: number[] = [];
  let n = 0;
  const emit = (kind: Kind, expr: string): Sym => {
    const name = `t${n++}`;
    lines.push(d.decl(name, kind, expr));
    return new Sym(name, kind);
  };
  const f = (x: Sym) => {
    if (x.kind !== 'f') throw new TypeError(`gradclip: a scalar block used a boolean as a number (${x.code})`);
    return x.code;
  };
  const b = (x: Sym) => {
    if (x.kind !== 'b') throw new TypeError(`gradclip: a scalar block used a number as a boolean (${x.code})`);
    return x.code;
  };
  const literal = (x: number): Sym => {
    let i = literals.findIndex((l) => Object.is(l, x));
    if (i < 0) i = literals.push(x) - 1;
    return new Sym(d.literal(i), 'f');
  };
  const ops: ScalarOps<Sym, Sym> = {
    scalar: literal,
    add: (x, y) => emit('f', `${f(x)} + ${f(y)}`),
    sub: (x, y) => emit('f', `${f(x)} - ${f(y)}`),
    mul: (x, y) => emit('f', `${f(x)} * ${f(y)}`),
    div: (x, y) => emit('f', `gc_div(${f(x)}, ${f(y)})`),
    min: (x, y) => emit('f', `gc_min(${f(x)}, ${f(y)})`),
    max: (x, y) => emit('f', `gc_max(${f(x)}, ${f(y)})`),
    pow: (x, e) =>
      e === 1
        ? x
        : e === 2
          ? emit('f', `${f(x)} * ${f(x)}`)
          : e === 0.5
            ? emit('f', `gc_sqrt(${f(x)})`)
            : emit(
                'f',
                `gc_pow(${f(x)}, ${literal(e).code}, ${Number.isInteger(e) ? (e % 2 === 0 ? '1.0' : '-1.0') : '0.0'})`,
              ),
    sqrt: (x) => emit('f', `gc_sqrt(${f(x)})`),
    gt: (x, y) => emit('b', `gc_gt(${f(x)}, ${f(y)})`),
    ge: (x, y) => emit('b', `gc_ge(${f(x)}, ${f(y)})`),
    eq: (x, y) => emit('b', `gc_eq(${f(x)}, ${f(y)})`),
    and: (x, y) => emit('b', `${b(x)} && ${b(y)}`),
    or: (x, y) => emit('b', `${b(x)} || ${b(y)}`),
    not: (x) => emit('b', `!${b(x)}`),
    bool: (x) => new Sym(x ? 'true' : 'false', 'b'),
    isFinite: (x) => emit('b', `gc_fin(${f(x)})`),
    isNaN: (x) => emit('b', `gc_nan(${f(x)})`),
    where: (c, x, y) => {
      if (x.kind !== y.kind) throw new TypeError('gradclip: a scalar block selected between a number and a boolean');
      return emit(x.kind, d.select(b(c), x.code, y.code));
    },
  };
  const s = {} as Record<I, Sym>;
  numberInputs.forEach((k, i) => (s[k] = new Sym(d.input(i, 'f'), 'f')));
  const bs = {} as Record<J, Sym>;
  boolInputs.forEach((k, i) => (bs[k] = new Sym(d.input(numberInputs.length + i, 'b'), 'b')));
  const out = block(ops, { s, b: bs });
  const named = [
    ...Object.entries<Sym>(out.s).map(([name, v]) => ({ name, kind: 'f' as const, code: f(v) })),
    ...Object.entries<Sym>(out.b).map(([name, v]) => ({ name, kind: 'b' as const, code: b(v) })),
  ];
  const values: { kind: Kind; code: string }[] = [];
  const outputs = named.map(({ name, kind, code }) => {
    let slot = values.findIndex((v) => v.kind === kind && v.code === code);
    if (slot < 0) slot = values.push({ kind, code }) - 1;
    return { name, kind, slot };
  });
  return { lines, literals, outputs, values, packed: d.packed };
}

/**
 * webgl: one program per output type, writing a vector of that type's outputs. Returns the
 * float vector and the bool vector (either may be absent), to be split by `tf.unstack`
 * (shallow slices of an unpacked texture: no more programs).
 */
export function webglScalars(g: WebGLInternals, t: TracedBlock, inputs: tf.TensorInfo[]): tf.TensorInfo[] {
  const results: tf.TensorInfo[] = [];
  for (const kind of ['f', 'b'] as const) {
    const outs = t.values.filter((o) => o.kind === kind);
    if (outs.length === 0) continue;
    const value = (code: string) => (kind === 'f' ? code : `(${code} ? 1.0 : 0.0)`);
    const pick = outs.map((o, i) => `if (i == ${i}) { r = ${value(o.code)}; }`).join(' ');
    const program: WebGLProgramSpec = {
      variableNames: inputs.map((_, i) => `v${i}`),
      outputShape: [outs.length],
      packedInputs: false,
      packedOutput: false,
      ...(t.literals.length > 0 && {
        customUniforms: [{ name: 'gcLit', arrayIndex: t.literals.length, type: 'float' }],
      }),
      userCode: `
${GLSL_HELPERS}
void main() {
  ${t.lines.join('\n  ')}
  int i = getOutputCoords();
  float r = 0.0;
  ${pick}
  setOutput(r);
}`,
    };
    results.push(
      g.run(program, inputs, kind === 'f' ? 'float32' : 'bool', t.literals.length > 0 ? [[...t.literals]] : undefined),
    );
  }
  return results;
}

/** webgpu: one dispatch per output (the output picked by a uniform: one pipeline per block). */
/**
 * `_ = x` uses a binding: one the code does not use (a block that ignores an input, a program
 * without numbers of its own that never reads tfjs's uniforms) is left out of the pipeline's
 * layout, and tfjs's bind group, which binds every input and the uniforms, fails.
 */
const USE_UNIFORMS = '_ = uniforms.NAN;';

export function webgpuScalars(g: WebGPUInternals, t: TracedBlock, inputs: tf.TensorInfo[]): tf.TensorInfo[] {
  const bound = t.packed === undefined ? inputs : pack(g, inputs, t.packed);
  const body = [USE_UNIFORMS, ...bound.map((_, i) => `_ = v${i}[0];`), ...t.lines].join('\n  ');
  const uniforms = t.literals.map((_, i) => `l${i} : f32,`).join(' ');
  const literalData = t.literals.map((x) => ({ type: 'float32' as const, data: [x] }));
  const out = t.values.map((o) => {
    const write = o.kind === 'f' ? o.code : `select(0, 1, ${o.code})`;
    const program: WebGPUProgramSpec = {
      variableNames: bound.map((_, i) => `v${i}`),
      outputShape: [],
      // The code is the key: tfjs compiles each distinct block once and caches the pipeline.
      shaderKey: `gradclipScalars_${o.kind}_${body}_${o.code}`,
      dispatchLayout: { x: [0] },
      dispatch: [1, 1, 1],
      workgroupSize: [1, 1, 1],
      ...(uniforms !== '' && { uniforms }),
      getUserCode: () => `
${WGSL_HELPERS}
fn main(index : i32) {
  ${body}
  result[0] = ${write};
}`,
    };
    return g.run(program, bound, o.kind === 'f' ? 'float32' : 'bool', literalData);
  });
  if (bound !== inputs) bound.forEach((b) => g.free(b));
  return out;
}

/** Copies scalar inputs into float buffers of `per` values each: one dispatch per buffer. */
function pack(g: WebGPUInternals, inputs: readonly tf.TensorInfo[], per: number): tf.TensorInfo[] {
  const buffers: tf.TensorInfo[] = [];
  for (let i = 0; i < inputs.length; i += per) {
    const group = inputs.slice(i, i + per);
    const program: WebGPUProgramSpec = {
      variableNames: group.map((_, j) => `p${j}`),
      outputShape: [group.length],
      shaderKey: `gradclipPack_${group.map((x) => x.dtype).join('_')}`,
      dispatchLayout: { x: [0] },
      dispatch: [1, 1, 1],
      workgroupSize: [1, 1, 1],
      getUserCode: () => `
fn main(index : i32) {
  ${USE_UNIFORMS}
  ${group.map((_, j) => `result[${j}] = f32(p${j}[0]);`).join('\n  ')}
}`,
    };
    buffers.push(g.run(program, group, 'float32'));
  }
  return buffers;
}

export const DIALECTS = {
  glsl: GLSL,
  /** WGSL; inputs packed `packed` per buffer when a block has more than a dispatch can bind. */
  wgsl: (packed?: number) => wgsl(packed),
} as const;

/**
 * The block's outputs, by name, from the program's values (`TracedBlock.values` order; on
 * webgl the split vectors). A value that is several outputs is cloned (tf.clone: no copy, no
 * program), so that each output is a tensor of its own that the caller may dispose.
 */
export function namedOutputs<O extends string, P extends string>(
  t: TracedBlock,
  values: readonly tf.Scalar[],
  clone: (x: tf.Scalar) => tf.Scalar,
): Scalars<tf.Scalar, tf.Scalar, O, P> {
  const s = {} as Record<O, tf.Scalar>;
  const b = {} as Record<P, tf.Scalar>;
  const used = new Set<number>();
  for (const o of t.outputs) {
    const v = values[o.slot]!;
    const x = used.has(o.slot) ? clone(v) : v;
    used.add(o.slot);
    if (o.kind === 'f') s[o.name as O] = x;
    else b[o.name as P] = x;
  }
  return { s, b };
}
