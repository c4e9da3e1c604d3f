import * as tf from '@tensorflow/tfjs-core';

import {
  copyState,
  fromJson,
  globalNormRule,
  perTensorNormRule,
  safeRecord,
  valueRule,
  type Clipper,
  type ClipRule,
  type RuleConfig,
  type StateTree,
  ruleFactoryOf,
  ruleKind,
} from '../clipper.js';
import { chainRule } from '../chain.js';
import { describe } from '../gradients.js';
import { kerasClipRule, type KerasClipOptions } from '../keras.js';
import { knownOptions } from '../validate.js';
import { select } from './kernels.js';
import { ClipMonitor, type ClipMonitorOptions } from './monitor.js';
import { tensorClipper, type TensorClipper } from './tensor_clipper.js';

export type { KerasClipOptions };

export interface WithClippingOptions {
  /** Record each step's pre-clip norm, threshold and clipped flag on the device (off: no cost). */
  monitor?: boolean | ClipMonitorOptions;
}

/** A gradient with its variable's name, as tfjs passes it to applyGradients. */
type NamedTensor = { name: string; tensor: tf.Tensor };

const isTensorClipper = (c: object): c is TensorClipper => 'clip' in c && 'readState' in c && 'rule' in c;

/**
 * Builds the tensor clipper `withClipping` uses from whatever the caller passed. Whatever it
 * is, the non-finite policy, saved-model description and fixed threshold come from its rule.
 */
export function toTensorClipper(c: KerasClipOptions | TensorClipper | Clipper | ClipRule): TensorClipper {
  if (typeof c !== 'object' || c === null) {
    throw new TypeError(
      `clipping must be { clipnorm | clipvalue | globalClipnorm }, a clipper or a rule, got ${describe(c)}`,
    );
  }
  if (isTensorClipper(c)) return c;
  if ('apply' in c || 'clip' in c) return tensorClipper(c as ClipRule | Clipper);
  return tensorClipper(kerasClipRule(c));
}

/**
 * Runs `inner.applyGradients` so that, where `finite` is false, every variable it assigns —
 * weights, optimizer slots (Adam's moments and β-powers, momentum accumulators), and slots it
 * creates on this step — keeps its previous value. Zero-scaled gradients would not do: Adam
 * would still decay its moments and keep moving the weights by momentum. Selecting in every
 * `assign` works for any optimizer and needs no host read: it is a device-side `where`.
 */
function applyUnlessNonFinite(inner: tf.Optimizer, grads: NamedTensor[], finite: tf.Scalar): void {
  const proto = tf.Variable.prototype;
  const assign = Object.getOwnPropertyDescriptor(proto, 'assign')!;
  Object.defineProperty(proto, 'assign', {
    configurable: true,
    writable: true,
    value(this: tf.Variable, next: tf.Tensor) {
      const kept = select(finite, next, this);
      try {
        (assign.value as (v: tf.Tensor) => void).call(this, kept);
      } finally {
        kept.dispose();
      }
    },
  });
  try {
    inner.applyGradients(grads);
  } finally {
    Object.defineProperty(proto, 'assign', assign);
  }
}

const STATE_PREFIX = 'gradclip/';

/**
 * The state's tensors with their paths: keys joined by '/', each key URI-encoded so that
 * tfjs variable names (which contain '/') cannot be confused with the nesting.
 */
function stateLeaves(
  t: StateTree<tf.Variable>,
  path: string[] = [],
  out: [string, tf.Variable][] = [],
): [string, tf.Variable][] {
  if (t instanceof tf.Tensor) out.push([path.map(encodeURIComponent).join('/'), t as tf.Variable]);
  else if (Array.isArray(t)) t.forEach((x: StateTree<tf.Variable>, i) => stateLeaves(x, [...path, String(i)], out));
  else if (t !== null && typeof t === 'object') {
    for (const [k, v] of Object.entries(t as Record<string, StateTree<tf.Variable>>)) stateLeaves(v, [...path, k], out);
  }
  return out;
}

type Tree = StateTree<tf.Tensor>;

/** The keys of a saved weight's path, each URI-decoded; a malformed name is refused. */
function pathKeys(name: string): string[] {
  const path = name.slice(STATE_PREFIX.length);
  if (path === '') return [];
  return path.split('/').map((k) => {
    let key: string;
    try {
      key = decodeURIComponent(k);
    } catch {
      throw new TypeError(`saved optimizer weight '${name}' is malformed (bad URI escape in '${k}')`);
    }
    if (key === '') throw new TypeError(`saved optimizer weight '${name}' is malformed (empty path segment)`);
    return key;
  });
}

/**
 * A copy of the state's structure (leaves shared) with the saved tensors put in at their
 * paths. Records are built null-prototype and only own keys are followed, so a weight named
 * `gradclip/__proto__/isAdmin` lands in the copy as an ordinary key — where the rule's state
 * check then refuses it — and can never reach Object.prototype.
 */
function overlay(state: StateTree<tf.Variable>, saved: { name: string; tensor: tf.Tensor }[]): Tree {
  const root = safeRecord<Tree>([['state', copyState(state as Tree, (x): x is tf.Tensor => x instanceof tf.Tensor)]]);
  for (const { name, tensor } of saved) {
    const keys = ['state', ...pathKeys(name)];
    let node = root as Record<string, Tree>;
    keys.slice(0, -1).forEach((k) => {
      const child = Object.hasOwn(node, k) ? node[k] : undefined;
      // Entries a rule adds as it meets new tensors (AdaGC's γ per variable) are created here.
      if (typeof child !== 'object' || child === null || child instanceof tf.Tensor) node[k] = safeRecord<Tree>();
      node = node[k] as Record<string, Tree>;
    });
    node[keys.at(-1)!] = tensor;
  }
  return root['state']!;
}

type RuleFactory = (...args: never[]) => ClipRule;

/**
 * Rebuilds rules from a saved model's config (`ClipRule.config`): kind → rule factory. The
 * fixed-threshold kinds are always here; the adaptive ones (agc, autoClip, zClip, adaGC)
 * register where their factory is defined (`ruleKind` in the core), so that an app that uses
 * only `{ globalClipnorm }` does not carry them in its bundle.
 */
const factories = new Map<string, RuleFactory>([
  ['keras', kerasClipRule as RuleFactory],
  ['globalNorm', globalNormRule as RuleFactory],
  ['perTensorNorm', perTensorNormRule as RuleFactory],
  ['value', valueRule as RuleFactory],
]);

/**
 * Makes a rule kind of your own loadable from a saved model: give your rule a
 * `config: { kind, args }` and register the factory that takes those args.
 */
export function registerClipperKind(kind: string, factory: (...args: never[]) => ClipRule): void {
  ruleKind(kind, factory);
}

/** A saved config's field as it may appear in an error message: quoted, escaped and short. */
const shown = (x: unknown) =>
  typeof x === 'string' ? JSON.stringify(x.length > 60 ? `${x.slice(0, 60)}…` : x) : describe(x);

/** Saved chains nest rule configs; deeper than this is not a config gradclip wrote. */
const MAX_CONFIG_DEPTH = 16;

function ruleFromConfig(c: unknown, depth = 0): ClipRule {
  if (
    typeof c !== 'object' ||
    c === null ||
    typeof (c as RuleConfig).kind !== 'string' ||
    !Array.isArray((c as RuleConfig).args)
  ) {
    throw new TypeError(`the saved optimizer config's clipper must be { kind: string, args: [] }, got ${describe(c)}`);
  }
  const { kind, args } = c as RuleConfig;
  if (kind === 'chain') {
    if (depth >= MAX_CONFIG_DEPTH) {
      throw new RangeError(`the saved optimizer config nests chains deeper than ${MAX_CONFIG_DEPTH} levels`);
    }
    // A chain's arguments are its rules' configs, rebuilt the same way.
    return chainRule(...args.map((a) => ruleFromConfig(a, depth + 1)));
  }
  // Own entries only: a kind named 'constructor' or '__proto__' is just unknown.
  const f = factories.get(kind) ?? ruleFactoryOf(kind);
  if (f === undefined) {
    const safe = /^[A-Za-z_$][\w$]*$/.test(kind) ? kind : 'kind';
    throw new TypeError(
      `unknown gradclip clipper kind ${shown(kind)} in the saved optimizer config (a bundled app keeps a clipper only where it ` +
        `uses it: use its factory, or registerClipperKind(${shown(kind)}, ${safe}Rule) before loading)`,
    );
  }
  return f(...(fromJson(args) as never[]));
}

function clipperFromConfig(c: unknown): TensorClipper {
  return tensorClipper(ruleFromConfig(c));
}

/**
 * An optimizer that clips the gradients before every update of the wrapped one. tfjs calls
 * `applyGradients` from `minimize`, `LayersModel.fit`, `fitDataset` and `trainOnBatch`, so
 * clipping happens in all of them; the clipping runs on the device without reading anything
 * back to the host, and every tensor it makes is disposed (`fit` tidies each batch, the
 * others do not).
 */
export class ClippedOptimizer extends tf.Optimizer {
  /** The class name a saved model records; registered with tf.serialization. */
  static get className(): string {
    return 'GradclipClippedOptimizer';
  }

  /** Per-step records when monitoring is on, else undefined. */
  readonly monitor: ClipMonitor | undefined;

  constructor(
    readonly optimizer: tf.Optimizer,
    readonly clipper: TensorClipper,
    options: WithClippingOptions = {},
  ) {
    super();
    const m = options.monitor;
    this.monitor = m === undefined || m === false ? undefined : new ClipMonitor(m === true ? {} : m);
  }

  override get iterations(): number {
    return this.optimizer.iterations;
  }

  override computeGradients(
    f: () => tf.Scalar,
    varList?: tf.Variable[],
  ): { value: tf.Scalar; grads: tf.NamedTensorMap } {
    return this.optimizer.computeGradients(f, varList);
  }

  /**
   * tfjs's `minimize`, except that the gradients and the cost are disposed also when
   * `applyGradients` throws (a clipper with `nonFinite: 'error'` throws there; tfjs's own
   * minimize would leak them on every such step when it is not run inside tf.tidy).
   */
  override minimize(f: () => tf.Scalar, returnCost = false, varList?: tf.Variable[]): tf.Scalar | null {
    const { value, grads } = this.computeGradients(f, varList);
    try {
      this.applyGradients(
        varList === undefined ? grads : varList.map((v) => ({ name: v.name, tensor: grads[v.name]! })),
      );
    } catch (e) {
      tf.dispose(grads);
      value.dispose();
      throw e;
    }
    tf.dispose(grads);
    if (returnCost) return value;
    value.dispose();
    return null;
  }

  applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const list: NamedTensor[] = Array.isArray(variableGradients)
      ? variableGradients
      : Object.entries(variableGradients).map(([name, tensor]) => ({ name, tensor }));
    let params: NamedTensor[] | undefined;
    if (this.clipper.rule.needsParams) {
      const vars = tf.engine().registeredVariables;
      params = list.filter((g) => g.tensor != null).map((g) => ({ name: g.name, tensor: vars[g.name]! }));
    }
    const r = this.clipper.clip(list, params);
    try {
      const grads = r.grads as NamedTensor[];
      if (this.clipper.rule.nonFinite === 'skip') applyUnlessNonFinite(this.optimizer, grads, r.finite);
      else this.optimizer.applyGradients(grads);
      this.monitor?.record(r.norm, r.threshold ?? this.clipper.rule.fixedThreshold, r.scale, r.clipped);
    } finally {
      tf.dispose([r.norm, r.scale, r.clipped, r.finite, ...(r.threshold ? [r.threshold] : [])]);
      for (const g of r.grads as { tensor: tf.Tensor | null }[]) g.tensor?.dispose();
    }
  }

  override async getWeights(): Promise<NamedTensor[]> {
    // 'gradclip/mean', 'gradclip/gamma/dense_Dense1%2Fkernel', …
    const own = stateLeaves(this.clipper.state).map(([path, v]) => ({ name: `${STATE_PREFIX}${path}`, tensor: v }));
    return [...(await this.optimizer.getWeights()), ...own];
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const own = weightValues.filter((w) => w.name.startsWith(STATE_PREFIX));
    await this.optimizer.setWeights(weightValues.filter((w) => !w.name.startsWith(STATE_PREFIX)));
    if (own.length > 0) {
      this.clipper.setState(overlay(this.clipper.state, own));
    }
  }

  override dispose(): void {
    this.optimizer.dispose();
    this.clipper.dispose();
    this.monitor?.dispose();
  }

  override getConfig(): tf.serialization.ConfigDict {
    const c = this.clipper.rule.config;
    if (c === undefined) {
      throw new TypeError(
        `the ${this.clipper.name} clipper cannot be saved with the model: its rule has no config (give it config: { kind, args } and registerClipperKind(kind, factory))`,
      );
    }
    return {
      optimizer: { className: this.optimizer.getClassName(), config: this.optimizer.getConfig() },
      clipper: { kind: c.kind, args: c.args as tf.serialization.ConfigDictArray },
    };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    const o = config['optimizer'] as { className?: unknown; config?: unknown } | null | undefined;
    if (
      typeof o !== 'object' ||
      o === null ||
      typeof o.className !== 'string' ||
      typeof o.config !== 'object' ||
      o.config === null
    ) {
      throw new TypeError(`the saved optimizer config must hold optimizer: { className, config }, got ${describe(o)}`);
    }
    const map = tf.serialization.SerializationMap.getMap().classNameMap;
    const entry = Object.hasOwn(map, o.className) ? map[o.className] : undefined;
    if (entry === undefined) throw new TypeError(`unknown optimizer class ${shown(o.className)} in the saved config`);
    const [innerCls, fromConfig] = entry;
    const inner = fromConfig(innerCls, o.config as tf.serialization.ConfigDict) as unknown as tf.Optimizer;
    const clipper = clipperFromConfig(config['clipper']);
    return new (cls as unknown as new (o: tf.Optimizer, c: TensorClipper) => T)(inner, clipper);
  }
}

tf.serialization.registerClass(ClippedOptimizer);

/**
 * Wraps a tfjs optimizer so that every update clips the gradients first.
 *
 * @param optimizer any tf.Optimizer (tf.train.sgd / momentum / adam / rmsprop / …).
 * @param clipping `{ clipnorm }`, `{ clipvalue }` or `{ globalClipnorm }` (only one, as in
 *   Keras 3), or any clipper: a gradclip/tfjs tensor clipper, a typed-array `Clipper`, or a
 *   `ClipRule`.
 *
 * @example
 * model.compile({ optimizer: withClipping(tf.train.adam(1e-3), { globalClipnorm: 1 }), loss: 'meanSquaredError' });
 */
export function withClipping(
  optimizer: tf.Optimizer,
  clipping: KerasClipOptions | TensorClipper | Clipper | ClipRule,
  options: WithClippingOptions = {},
): ClippedOptimizer {
  if (!(optimizer instanceof tf.Optimizer))
    throw new TypeError(`optimizer must be a tf.Optimizer, got ${describe(optimizer)}`);
  knownOptions('options', options, ['monitor']);
  return new ClippedOptimizer(optimizer, toTensorClipper(clipping), options);
}

export type { StateTree };
