/**
 * The clipping methods the experiments compare, parsed from `--methods` specs such as
 * `none`, `global:1`, `value:0.05`, `agc:0.01`, `autoclip:10`, `zclip:2.5`, `adagc:1.05`.
 *
 * Every method's clipping comes from the gradclip library; this module only names the
 * methods, builds their clippers and turns a clipper into a training-loop step
 * (`makeClipStep`). Browser-safe.
 */
import * as tf from '@tensorflow/tfjs-core';
import { globalNormClipper, valueClipper, type Clipper } from 'gradclip';
import { PARAM_NAMES, type ParamName, type RnnParams } from './rnn.js';

export type MethodKind = 'none' | 'global' | 'value' | 'agc' | 'autoclip' | 'zclip' | 'adagc';

export interface MethodSpec {
  /** The spec as written, e.g. 'global:1' — also the method's id in reports. */
  id: string;
  kind: MethodKind;
  /** The main hyperparameter (threshold, clip value, AGC λ, percentile, z threshold, λ_rel). */
  arg: number | undefined;
  /** Human-readable label for charts and tables. */
  label: string;
}

const DEFAULT_ARG: Record<MethodKind, number | undefined> = {
  none: undefined,
  global: 1,
  value: 0.05,
  agc: 0.01,
  autoclip: 10,
  zclip: 2.5,
  adagc: 1.05,
};

const ARG_NAME: Record<MethodKind, string> = {
  none: '',
  global: 'maxNorm',
  value: 'clipValue',
  agc: 'clipping',
  autoclip: 'percentile',
  zclip: 'zThresh',
  adagc: 'lambdaRel',
};

/** The methods `demo` runs by default. */
export const DEFAULT_METHODS = ['none', 'global:0.5', 'global:1', 'global:5', 'value:0.05', 'agc:0.05', 'autoclip:10', 'zclip:2.5', 'adagc:1.05'];

/** Parses one method spec; throws a RangeError naming the spec when it is not valid. */
export function parseMethod(spec: string): MethodSpec {
  const [rawKind, rawArg, extra] = spec.trim().toLowerCase().split(':');
  const kind = rawKind as MethodKind;
  if (!(kind in DEFAULT_ARG) || extra !== undefined) {
    throw new RangeError(`unknown method '${spec}': expected one of ${Object.keys(DEFAULT_ARG).join(', ')}, optionally with :value (e.g. global:1)`);
  }
  if (kind === 'none' && rawArg !== undefined) throw new RangeError(`method 'none' takes no value, got '${spec}'`);
  let arg = DEFAULT_ARG[kind];
  if (rawArg !== undefined) {
    arg = Number(rawArg);
    if (rawArg === '' || !Number.isFinite(arg) || arg <= 0) throw new RangeError(`method '${spec}': ${ARG_NAME[kind]} must be a positive number, got '${rawArg}'`);
  }
  const id = arg === undefined ? kind : `${kind}:${arg}`;
  const label = {
    none: 'no clipping',
    global: `global norm ≤ ${arg}`,
    value: `value |g| ≤ ${arg}`,
    agc: `AGC λ=${arg}`,
    autoclip: `AutoClip p${arg}`,
    zclip: `ZClip z=${arg}`,
    adagc: `AdaGC λrel=${arg}`,
  }[kind];
  return { id, kind, arg, label };
}

export function parseMethods(list: string): MethodSpec[] {
  const specs = list.split(',').filter((s) => s.trim() !== '').map(parseMethod);
  if (specs.length === 0) throw new RangeError(`--methods needs at least one method, got '${list}'`);
  return specs;
}

/** The library clipper for a method (typed-array form; `undefined` for 'none'). */
export function clipperOf(m: MethodSpec): Clipper | undefined {
  switch (m.kind) {
    case 'none':
      return undefined;
    case 'global':
      return globalNormClipper(m.arg!);
    case 'value':
      return valueClipper(m.arg!);
    default:
      throw new RangeError(`method ${m.id} is not available yet in this build of gradclip`);
  }
}

/** What one clipping step reports (numbers already read back). */
export interface ClipReport {
  /** Global L2 norm of the gradients before clipping. */
  norm: number;
  /** The threshold in force (fixed for global norm; adaptive methods report theirs; null when not defined). */
  threshold: number | null;
  clipped: boolean;
  /** Factor applied to the gradient (smallest factor for per-tensor / per-unit rules). */
  scale: number;
  /** Cosine between the clipped and the raw gradient: 1 = direction kept. */
  cosine: number;
}

export type Grads = Record<ParamName, tf.Tensor>;

/**
 * One training-loop clipping step: takes the raw gradients (which it may dispose) and
 * returns the gradients to apply plus the report. Stateful methods keep their state inside.
 */
export interface ClipStep {
  (grads: Grads, params: RnnParams): { grads: Grads; report: ClipReport };
  dispose(): void;
}

function globalNormOf(grads: Grads): tf.Scalar {
  return tf.tidy((): tf.Scalar => tf.sqrt(tf.addN(PARAM_NAMES.map((k) => tf.sum(tf.square(grads[k]))))) as tf.Scalar);
}

export function makeClipStep(m: MethodSpec): ClipStep {
  const clipper = clipperOf(m);
  const fixedThreshold = m.kind === 'global' ? m.arg! : null;
  const step = (grads: Grads, params: RnnParams): { grads: Grads; report: ClipReport } => {
    if (clipper === undefined) {
      const n = globalNormOf(grads);
      const norm = n.dataSync()[0]!;
      n.dispose();
      return { grads, report: { norm, threshold: null, clipped: false, scale: 1, cosine: 1 } };
    }
    // Gradients and parameters go to the host once, through the library's clipper, and back.
    const raw = PARAM_NAMES.map((k) => grads[k].dataSync() as Float32Array);
    const g = Object.fromEntries(PARAM_NAMES.map((k, i) => [k, { values: new Float32Array(raw[i]!), shape: grads[k].shape }]));
    const p = Object.fromEntries(PARAM_NAMES.map((k) => [k, { values: params[k].dataSync() as Float32Array, shape: params[k].shape }]));
    const r = clipper.clip(g, clipper.rule.needsParams ? p : undefined);
    let dot = 0;
    let nc = 0;
    PARAM_NAMES.forEach((k, i) => {
      const a = raw[i]!;
      const b = g[k]!.values;
      for (let j = 0; j < a.length; j++) {
        dot += a[j]! * b[j]!;
        nc += b[j]! * b[j]!;
      }
    });
    const out = {} as Grads;
    for (const k of PARAM_NAMES) {
      out[k] = tf.tensor(g[k]!.values, grads[k].shape);
      grads[k].dispose();
    }
    const cosine = r.norm > 0 && nc > 0 ? dot / (r.norm * Math.sqrt(nc)) : 1;
    return { grads: out, report: { norm: r.norm, threshold: fixedThreshold, clipped: r.clipped, scale: r.scale, cosine } };
  };
  return Object.assign(step, { dispose: () => undefined });
}
