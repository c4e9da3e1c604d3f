import { applyRule, restoreState, type ClipRule, type StateTree } from './clipper.js';
import { describe, type Leaf } from './gradients.js';
import type { ArrayOps } from './ops.js';
import type { RuleOutput, StepOutput } from './rule.js';
import type { NonFinitePolicy } from './types.js';

/**
 * Rules applied in turn, as one rule (optax `chain`): rule i + 1 clips what rule i gave, e.g.
 * value clipping then a global-norm limit,
 *
 *     g₁ = clamp(g, −c, c),   g₂ = g₁ · min(1, τ / (‖g₁‖ + ε))
 *
 * Each rule keeps its own state (the chain's state is the list of them, in order) and its own
 * report: `steps[i]` of the chain's report is rule i's. The combined report has the norm of the
 * gradients as they came in (rule 0's pre-clip norm), the product of the factors applied, whether
 * any rule clipped, whether every rule saw finite gradients, and the last rule's threshold
 * (`threshold` if it reports a moving one, else its `fixedThreshold`).
 *
 * The chain needs the parameters when any rule does (each gets the same parameters), is
 * saveable (`config`) when every rule is, and follows 'skip' as a whole when any rule does (a
 * wrapped optimizer then keeps the whole update back), else the rules' common policy, else
 * 'propagate'. On typed arrays, a rule with `nonFinite: 'error'` after another throws once the
 * earlier rules have clipped in place: put it first to leave the gradients untouched.
 *
 * Usable wherever a rule is: `makeClipper`, `tensorClipper`, `withClipping` and `perGroup`.
 *
 * @example
 * const clipper = makeClipper(chainRule(valueRule(0.5), globalNormRule(1, { eps: 0 })));
 */
export function chainRule(...rules: ClipRule[]): ClipRule<StateTree<number>[]> {
  if (rules.length === 0) throw new RangeError('chainRule needs at least one rule, got none');
  rules.forEach((r, i) => {
    if (typeof r !== 'object' || r === null || typeof r.apply !== 'function' || typeof r.init !== 'function') {
      throw new TypeError(`chainRule: rules[${i}] must be a ClipRule (e.g. globalNormRule(1)), got ${describe(r)}`);
    }
  });
  const policies = rules.map((r) => r.nonFinite);
  const nonFinite: NonFinitePolicy = policies.includes('skip')
    ? 'skip'
    : policies.every((p) => p === policies[0])
      ? policies[0]!
      : 'propagate';
  const configs = rules.map((r) => r.config);
  const last = rules.at(-1)!;
  return {
    name: `chain(${rules.map((r) => r.name).join(', ')})`,
    needsParams: rules.some((r) => r.needsParams),
    nonFinite,
    config: configs.every((c) => c !== undefined) ? { kind: 'chain', args: configs } : undefined,
    fixedThreshold: last.fixedThreshold,
    init: (ops) => rules.map((r) => r.init(ops)),
    restore(state: unknown, arg = 'options.state'): StateTree<number>[] {
      if (!Array.isArray(state) || state.length !== rules.length) {
        throw new TypeError(
          `${arg} must be an array of ${rules.length} rule states (one per rule), got ${describe(state)}`,
        );
      }
      return rules.map((r, i) => restoreState(r, state[i], `${arg}[${i}]`));
    },
    apply<T, S, B>(
      ops: ArrayOps<T, S, B>,
      grads: readonly Leaf<T>[],
      params: readonly Leaf<T>[] | undefined,
      state: StateTree<S>,
    ): { out: RuleOutput<T, S, B>; state: StateTree<S> } {
      const states = state as readonly StateTree<S>[];
      let leaves = grads;
      const steps: RuleOutput<T, S, B>[] = [];
      const next: StateTree<S>[] = [];
      rules.forEach((r, i) => {
        const res = applyRule(r, ops, leaves, params, states[i]!);
        next.push(res.state);
        steps.push(res.out);
        leaves = leaves.map((l, j) => ({ name: l.name, shape: l.shape, values: res.out.grads[j]! }));
      });
      const first = steps[0]!;
      let scale = first.scale;
      let clipped = first.clipped;
      let finite = first.finite;
      const threshold = steps.at(-1)!.threshold;
      for (const s of steps.slice(1)) {
        scale = ops.mul(scale, s.scale);
        clipped = ops.or(clipped, s.clipped);
        finite = ops.and(finite, s.finite);
      }
      const out: RuleOutput<T, S, B> = {
        grads: leaves.map((l) => l.values),
        norm: first.norm,
        scale,
        clipped,
        finite,
        steps: steps.map(({ norm, scale, clipped, finite, threshold }): StepOutput<S, B> =>
          threshold === undefined ? { norm, scale, clipped, finite } : { norm, scale, clipped, finite, threshold },
        ),
      };
      if (threshold !== undefined) out.threshold = threshold;
      return { out, state: next };
    },
  };
}
