import { applyRule, restoreState, type Clipper, type ClipRule, type StateTree } from '../clipper.js';
import { describe, leavesOf, type Leaf } from '../gradients.js';
import type { ArrayOps } from '../ops.js';
import { toClipResult, type RuleOutput } from '../rule.js';
import { typedOps } from '../typed_ops.js';
import type { ClipResult, FloatArray, GradientSet } from '../types.js';
import { knownOptions, stateRecord } from '../validate.js';
import { totalNorm } from './common.js';

/** What clips a group: a rule, a clipper (its rule and current state are used), or null for no clipping. */
export type GroupClip = ClipRule | Clipper | null;

export interface GroupSpec {
  /** Glob pattern(s) over leaf names (record keys, or list positions as strings): `*` any run of characters, `?` one. */
  readonly match: string | readonly string[];
  /** The rule for this group (`null`: leave these gradients as they are). */
  readonly rule?: ClipRule | null;
  /** Or a clipper, whose rule and current state are taken over. */
  readonly clipper?: Clipper | null;
  /** Name in the reports. Default: the patterns joined with ','. */
  readonly name?: string;
  /**
   * The group may match no gradient (default false). A group that matches none on the first
   * call is usually a pattern written for other names — tfjs variables are named like
   * `dense_Dense1/kernel`, so `'*.bias'` matches nothing there and a pattern ending in `/bias` is meant — and
   * gets a one-time console warning naming the group and some of the gradients' names.
   */
  readonly optional?: boolean;
}

/** Per-group state: one entry per group, then the default's. */
export type PerGroupState = {
  readonly groups: readonly StateTree<number>[];
  readonly default: StateTree<number>;
};

/** The report of one group in the last call. */
export interface GroupReport {
  readonly name: string;
  /** Names of the leaves this group clipped. */
  readonly leaves: readonly string[];
  readonly result: ClipResult;
}

/**
 * A tiny glob: `*` matches any run of characters (dots included), `?` exactly one; everything
 * else literally. The classic two-pointer wildcard match: when a literal fails, resume just
 * after the last `*`, one character further on. O(pattern × name) at worst — never the
 * exponential backtracking a regular expression with many `*` can fall into.
 */
export function globMatch(pattern: string, name: string): boolean {
  const p = [...pattern];
  const s = [...name];
  let i = 0;
  let j = 0;
  let star = -1;
  let resume = 0;
  while (j < s.length) {
    if (i < p.length && p[i] !== '*' && (p[i] === '?' || p[i] === s[j])) {
      i++;
      j++;
    } else if (i < p.length && p[i] === '*') {
      star = i++;
      resume = j;
    } else if (star >= 0) {
      i = star + 1;
      j = ++resume;
    } else {
      return false;
    }
  }
  while (i < p.length && p[i] === '*') i++;
  return i === p.length;
}

interface Group {
  name: string;
  patterns: readonly string[];
  rule: ClipRule | null;
  optional: boolean;
}

function ruleOf(x: unknown, arg: string): { rule: ClipRule | null; state?: StateTree<number> } {
  if (x === null || x === undefined) return { rule: null };
  if (typeof x === 'object' && 'clip' in x && 'rule' in x && 'state' in x) {
    const c = x as Clipper;
    return { rule: c.rule, state: c.state };
  }
  if (typeof x === 'object' && 'apply' in x && 'init' in x) return { rule: x as ClipRule };
  throw new TypeError(`${arg} must be a ClipRule, a Clipper or null, got ${describe(x)}`);
}

/** Output of the per-group rule: the combined report plus one per group (index groups.length = default). */
export interface PerGroupOutput<T, S, B> extends RuleOutput<T, S, B> {
  readonly groups: readonly { index: number; leaves: readonly string[]; out: RuleOutput<T, S, B> | null }[];
}

/**
 * Builds the per-group rule and its initial typed state (clippers passed in bring their state).
 * Leaves go to the first group with a matching pattern, the rest to the default.
 */
function build(specs: readonly GroupSpec[], fallback: GroupClip | undefined) {
  if (!Array.isArray(specs))
    throw new TypeError(`groups must be an array of { match, rule | clipper }, got ${describe(specs)}`);
  const initial: (StateTree<number> | undefined)[] = [];
  const groups: Group[] = specs.map((spec: unknown, i) => {
    const arg = `groups[${i}]`;
    if (typeof spec !== 'object' || spec === null)
      throw new TypeError(`${arg} must be { match, rule | clipper }, got ${describe(spec)}`);
    knownOptions(arg, spec, ['match', 'rule', 'clipper', 'name', 'optional']);
    const g = spec as GroupSpec;
    const patterns = typeof g.match === 'string' ? [g.match] : g.match;
    if (!Array.isArray(patterns) || patterns.length === 0 || !patterns.every((p) => typeof p === 'string')) {
      throw new TypeError(`${arg}.match must be a glob string or a non-empty array of them, got ${describe(g.match)}`);
    }
    if ('rule' in g && 'clipper' in g) throw new TypeError(`${arg} has both rule and clipper: give one`);
    if (!('rule' in g) && !('clipper' in g))
      throw new TypeError(`${arg} needs a rule or a clipper (null for no clipping)`);
    if (g.optional !== undefined && typeof g.optional !== 'boolean')
      throw new TypeError(`${arg}.optional must be a boolean, got ${describe(g.optional)}`);
    const r = 'rule' in g ? ruleOf(g.rule, `${arg}.rule`) : ruleOf(g.clipper, `${arg}.clipper`);
    initial.push(r.state);
    return { name: g.name ?? patterns.join(','), patterns, rule: r.rule, optional: g.optional ?? false };
  });
  const d = ruleOf(fallback, 'defaultClip');
  groups.push({ name: 'default', patterns: [], rule: d.rule, optional: true });
  initial.push(d.state);
  return { groups, initial };
}

/**
 * The warning for groups that matched no gradient on a rule's first call (see
 * `GroupSpec.optional`), or undefined when every group matched.
 */
export function unmatchedGroupsWarning(
  groups: readonly { name: string; optional: boolean }[],
  members: readonly (readonly unknown[])[],
  names: readonly string[],
): string | undefined {
  const idle = groups.flatMap((g, i) => (!g.optional && members[i]!.length === 0 ? [`${i} ('${g.name}')`] : []));
  if (idle.length === 0) return undefined;
  const shown = names.slice(0, 4).map((n) => `'${n}'`);
  return (
    `gradclip perGroup: group ${idle.join(', ')} matched none of the ${names.length} gradients on the first call ` +
    `(names like ${shown.join(', ')}${names.length > 4 ? ', …' : ''}). tfjs variables are named like ` +
    `'dense_Dense1/bias': match them with '*/bias'. Give the group optional: true if it may match nothing.`
  );
}

function perGroupRuleFrom(groups: readonly Group[]): ClipRule<PerGroupState> {
  // Whether the first call with gradients has been checked for groups that match nothing.
  let checked = false;
  const pick = (name: string) => {
    const i = groups.findIndex((g) => g.patterns.some((pattern) => globMatch(pattern, name)));
    return i < 0 ? groups.length - 1 : i;
  };
  const policies = groups.flatMap((g) => (g.rule === null ? [] : [g.rule.nonFinite]));
  return {
    name: 'perGroup',
    needsParams: groups.some((g) => g.rule?.needsParams ?? false),
    // Each group applies its own policy; as a whole the rule asks for a skipped update when any
    // group does (a skipped group's gradients would otherwise still move the other groups'
    // weights and the optimizer's shared state), and is 'propagate' when the policies differ.
    nonFinite: policies.includes('skip')
      ? 'skip'
      : policies.every((p) => p === policies[0])
        ? (policies[0] ?? 'propagate')
        : 'propagate',
    init: (ops) => ({
      groups: groups.slice(0, -1).map((g) => g.rule?.init(ops) ?? null),
      default: groups.at(-1)!.rule?.init(ops) ?? null,
    }),
    // Each group's state is checked by its own rule; a group without a rule keeps null.
    restore(state: unknown, arg = 'options.state'): PerGroupState {
      const o = stateRecord(arg, state, 'perGroup', ['groups', 'default']);
      const list = o['groups'];
      if (!Array.isArray(list) || list.length !== groups.length - 1) {
        throw new TypeError(
          `${arg}.groups must be an array of ${groups.length - 1} group states, got ${describe(list)}`,
        );
      }
      const one = (g: Group, s: unknown, at: string): StateTree<number> => {
        if (g.rule === null) {
          if (s !== null && s !== undefined)
            throw new TypeError(`${at} must be null (the group has no rule), got ${describe(s)}`);
          return null;
        }
        return restoreState(g.rule, s, at);
      };
      return {
        groups: groups.slice(0, -1).map((g, i) => one(g, list[i], `${arg}.groups[${i}]`)),
        default: one(groups.at(-1)!, o['default'], `${arg}.default`),
      };
    },
    apply<T, S, B>(
      ops: ArrayOps<T, S, B>,
      grads: readonly Leaf<T>[],
      params: readonly Leaf<T>[] | undefined,
      state: StateTree<S>,
    ) {
      const st = state as { groups: StateTree<S>[]; default: StateTree<S> };
      const states = [...st.groups, st.default];
      const members: Leaf<T>[][] = groups.map(() => []);
      for (const leaf of grads) members[pick(leaf.name)]!.push(leaf);
      if (!checked && grads.length > 0) {
        checked = true;
        const warning = unmatchedGroupsWarning(
          groups,
          members,
          grads.map((l) => l.name),
        );
        if (warning !== undefined) console.warn(warning);
      }
      // The combined report's norm covers every gradient, including unclipped groups.
      const whole = totalNorm(
        ops,
        grads.map((l) => l.values),
      );
      const outGrads = new Map<Leaf<T>, T>();
      let scale = ops.scalar(1);
      let clipped = ops.bool(false);
      const reports: { index: number; leaves: string[]; out: RuleOutput<T, S, B> | null }[] = [];
      groups.forEach((g, i) => {
        const leaves = members[i]!;
        // A group with nothing to clip this step is not applied: a stateful rule must not
        // count an empty set (norm 0) as a step.
        if (leaves.length === 0) {
          reports.push({ index: i, leaves: [], out: null });
          return;
        }
        if (g.rule === null) {
          const t = totalNorm(
            ops,
            leaves.map((l) => l.values),
          );
          const out = { grads: [], norm: t.norm, scale: ops.scalar(1), clipped: ops.bool(false), finite: t.finite };
          reports.push({ index: i, leaves: leaves.map((l) => l.name), out });
          return;
        }
        const names = new Set(leaves.map((l) => l.name));
        const ps = params?.filter((p) => names.has(p.name));
        const r = applyRule(g.rule, ops, leaves, ps, states[i] as StateTree<S>);
        states[i] = r.state;
        leaves.forEach((l, j) => outGrads.set(l, r.out.grads[j]!));
        scale = ops.min(scale, r.out.scale);
        clipped = ops.or(clipped, r.out.clipped);
        reports.push({ index: i, leaves: leaves.map((l) => l.name), out: r.out });
      });
      const out: PerGroupOutput<T, S, B> = {
        grads: grads.map((l) => outGrads.get(l) ?? l.values),
        norm: whole.norm,
        scale,
        clipped,
        finite: whole.finite,
        groups: reports,
      };
      return { out, state: { groups: states.slice(0, -1), default: states.at(-1)! } };
    },
  } as ClipRule<PerGroupState>;
}

/**
 * The per-group rule: different rules (or none) for the parameters selected by name.
 * `init` gives fresh states for every group; use `perGroup` to start from clippers' states.
 */
export function perGroupRule(groups: readonly GroupSpec[], defaultClip: GroupClip = null): ClipRule<PerGroupState> {
  return perGroupRuleFrom(build(groups, defaultClip).groups);
}

/** A per-group clipper; `reports` describes each group's part of the last `clip` call. */
export interface PerGroupClipper extends Clipper<PerGroupState> {
  readonly reports: readonly GroupReport[];
}

/**
 * Per-group thresholds: each group of parameters, selected by glob patterns over their names,
 * gets its own rule and state — e.g. no clipping for biases and a tight global-norm limit for
 * the embedding — and everything else goes to `defaultClip` (`null`: not clipped). The first
 * matching group wins. The combined report has the pre-clip L2 norm of all gradients, the
 * smallest scale of any group, whether any group clipped and whether all were finite.
 *
 * @example
 * const clipper = perGroup(
 *   [
 *     { match: 'dense_Dense?/bias', rule: null },
 *     { match: 'embedding*', clipper: globalNormClipper(0.1) },
 *   ],
 *   globalNormClipper(1),
 * );
 * clipper.clip({ 'dense_Dense1/kernel': gk, 'dense_Dense1/bias': gb, embedding_Embedding1: ge });
 */
export function perGroup(
  groups: readonly GroupSpec[],
  defaultClip: GroupClip = null,
  options: { state?: PerGroupState } = {},
): PerGroupClipper {
  knownOptions('options', options, ['state']);
  const built = build(groups, defaultClip);
  const rule = perGroupRuleFrom(built.groups);
  let state: StateTree<number>;
  if (options.state !== undefined) {
    state = restoreState(rule as ClipRule, options.state);
  } else {
    const fresh = rule.init(typedOps) as { groups: StateTree<number>[]; default: StateTree<number> };
    const all = [...fresh.groups, fresh.default].map((s, i) => built.initial[i] ?? s);
    state = { groups: all.slice(0, -1), default: all.at(-1)! };
  }
  let current: StateTree<number> = state;
  let reports: GroupReport[] = [];
  return {
    name: rule.name,
    rule: rule as ClipRule,
    get state() {
      return restoreState(rule as ClipRule, current) as PerGroupState;
    },
    get reports() {
      return reports;
    },
    clip(grads: GradientSet, params?: GradientSet): ClipResult {
      // Run through the typed rule directly to keep the group reports.
      const g: Leaf<FloatArray>[] = leavesOf(grads, 'grads');
      const p = params === undefined ? undefined : leavesOf(params, 'params');
      if (rule.needsParams && p === undefined)
        throw new TypeError('perGroup needs the parameters (a group uses AGC): call clip(grads, params)');
      const r = rule.apply(typedOps, g, p, current);
      current = r.state;
      const out = r.out as PerGroupOutput<FloatArray, number, boolean>;
      reports = out.groups.map((x) => ({
        name: built.groups[x.index]!.name,
        leaves: x.leaves,
        result: x.out === null ? { norm: 0, scale: 1, clipped: false, finite: true } : toClipResult(x.out),
      }));
      return toClipResult(out);
    },
  };
}
