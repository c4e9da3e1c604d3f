/**
 * The clipping methods the experiments compare, parsed from `--methods` specs such as
 * `none`, `global:1`, `value:0.05`, `agc:0.01`, `autoclip:10`, `zclip:2.5`, `adagc:1.05`.
 *
 * Every method's clipping comes from the gradclip library; this module only names the
 * methods, builds their clippers and turns a clipper into a training-loop step
 * (`makeClipStep`). Browser-safe.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  adaGCTensorClipper,
  agcTensorClipper,
  autoClipTensorClipper,
  globalNormTensorClipper,
  valueTensorClipper,
  zClipTensorClipper,
  type TensorClipper,
} from 'gradclip/tfjs';
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
export const DEFAULT_METHODS = [
  'none',
  'global:0.5',
  'global:1',
  'global:5',
  'value:0.05',
  'agc:0.05',
  'autoclip:10',
  'zclip:2.5',
  'adagc:1.05',
];

/** Parses one method spec; throws a RangeError naming the spec when it is not valid. */
export function parseMethod(spec: string): MethodSpec {
  const [rawKind, rawArg, extra] = spec.trim().toLowerCase().split(':');
  const kind = rawKind as MethodKind;
  // An own-property lookup: 'constructor', '__proto__' or 'toString' are not methods.
  if (!Object.hasOwn(DEFAULT_ARG, kind) || extra !== undefined) {
    throw new RangeError(
      `unknown method '${spec}': expected one of ${Object.keys(DEFAULT_ARG).join(', ')}, optionally with :value (e.g. global:1)`,
    );
  }
  if (kind === 'none' && rawArg !== undefined) throw new RangeError(`method 'none' takes no value, got '${spec}'`);
  let arg = DEFAULT_ARG[kind];
  if (rawArg !== undefined) {
    arg = Number(rawArg);
    if (rawArg === '' || !Number.isFinite(arg) || arg <= 0)
      throw new RangeError(`method '${spec}': ${ARG_NAME[kind]} must be a positive number, got '${rawArg}'`);
    if (kind === 'autoclip' && arg > 100)
      throw new RangeError(`method '${spec}': percentile must be at most 100, got '${rawArg}'`);
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
  const specs = list
    .split(',')
    .filter((s) => s.trim() !== '')
    .map(parseMethod);
  if (specs.length === 0) throw new RangeError(`--methods needs at least one method, got '${list}'`);
  const seen = new Set<string>();
  const twice = specs.find((m) => seen.size === seen.add(m.id).size);
  if (twice) throw new RangeError(`--methods: method '${twice.id}' given twice`);
  return specs;
}

/** How the run a clipper serves looks: the adaptive methods size their warm-up by it. */
export interface MethodContext {
  /** Training steps of the run (default 100). */
  steps?: number;
  /** Measure the cosine between the raw and the clipped gradient (default true; NaN when off). */
  cosine?: boolean;
}

/**
 * AdaGC's warm-up for a run of `steps` steps: a quarter of the run, at most the paper's
 * 100 and at least 5. Its default (100 steps) would cover a 100-step run entirely, and
 * during warm-up AdaGC is only global-norm clipping at lambdaAbs = 1.
 */
export const adaGCWarmup = (steps: number): number => Math.max(5, Math.min(100, Math.round(steps / 4)));

/**
 * ZClip's fixed cap. `null`: no cap, so after its 25-step warm-up ZClip's own z-score
 * threshold decides alone. (Its default cap, maxGradNorm = 1, would be the binding limit at
 * every step here and make it identical to global norm ≤ 1.) Without a cap ZClip does not
 * clip at all during warm-up.
 */
export const ZCLIP_MAX_GRAD_NORM: number | null = null;
/** ZClip's warm-up (its default, 25 steps). */
export const ZCLIP_WARMUP = 25;

/** The tensor clipper of a method, from gradclip/tfjs (`undefined` for 'none'). */
export function tensorClipperOf(m: MethodSpec, ctx: MethodContext = {}): TensorClipper | undefined {
  switch (m.kind) {
    case 'none':
      return undefined;
    case 'global':
      return globalNormTensorClipper(m.arg!);
    case 'value':
      return valueTensorClipper(m.arg!);
    case 'agc':
      return agcTensorClipper({ clipping: m.arg! });
    case 'autoclip':
      return autoClipTensorClipper({ percentile: m.arg! });
    case 'zclip':
      return zClipTensorClipper({ zThresh: m.arg!, maxGradNorm: ZCLIP_MAX_GRAD_NORM, warmupSteps: ZCLIP_WARMUP });
    case 'adagc':
      return adaGCTensorClipper({ lambdaRel: m.arg!, warmupSteps: adaGCWarmup(ctx.steps ?? 100) });
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

/**
 * The clipping step of a method: gradclip/tfjs's tensor clipper between computeGradients
 * and applyGradients. Everything stays on the device; the report (norm, threshold, clipped,
 * scale and the cosine between raw and clipped gradient) is read back in one transfer.
 */
export function makeClipStep(m: MethodSpec, ctx: MethodContext = {}): ClipStep {
  const clipper = tensorClipperOf(m, ctx);
  const fixedThreshold = m.kind === 'global' ? m.arg! : null;
  // Rules that scale the whole gradient by one factor: on a clipped step the threshold in
  // force is the post-clip norm ‖g‖·factor.
  const globalScaling = m.kind === 'autoclip' || m.kind === 'zclip';
  const step = (grads: Grads, params: RnnParams): { grads: Grads; report: ClipReport } => {
    const list = PARAM_NAMES.map((k) => grads[k]);
    if (clipper === undefined) {
      const n = tf.tidy(() => tf.sqrt(tf.addN(list.map((g) => tf.sum(tf.square(g))))));
      const norm = n.dataSync()[0]!;
      n.dispose();
      return { grads, report: { norm, threshold: null, clipped: false, scale: 1, cosine: 1 } };
    }
    const r = clipper.clip(list, clipper.rule.needsParams ? PARAM_NAMES.map((k) => params[k] as tf.Tensor) : undefined);
    const out = r.grads as tf.Tensor[];
    const packed = tf.tidy(() => {
      let cosine: tf.Tensor = tf.scalar(NaN);
      if (ctx.cosine !== false) {
        const dot = tf.addN(list.map((g, i) => tf.sum(tf.mul(g, out[i]!))));
        const nc = tf.sqrt(tf.addN(out.map((g) => tf.sum(tf.square(g)))));
        cosine = tf.div(dot, tf.mul(r.norm, nc));
      }
      return tf.stack([r.norm, tf.cast(r.clipped, 'float32'), r.scale, cosine, r.threshold ?? tf.scalar(NaN)]);
    });
    const [norm, clipped, scale, cosine, threshold] = Array.from(packed.dataSync());
    tf.dispose([packed, r.norm, r.clipped, r.scale, r.finite, ...(r.threshold ? [r.threshold] : []), ...list]);
    const clippedGrads = Object.fromEntries(PARAM_NAMES.map((k, i) => [k, out[i]!])) as Grads;
    return {
      grads: clippedGrads,
      report: {
        norm: norm!,
        threshold:
          fixedThreshold ??
          (Number.isFinite(threshold) ? threshold! : globalScaling && clipped === 1 ? norm! * scale! : null),
        clipped: clipped === 1,
        scale: scale!,
        // 0/0 when the gradient is all zero: the direction is trivially kept.
        cosine: ctx.cosine === false ? NaN : Number.isFinite(cosine) ? cosine! : 1,
      },
    };
  };
  return Object.assign(step, { dispose: () => clipper?.dispose() });
}
