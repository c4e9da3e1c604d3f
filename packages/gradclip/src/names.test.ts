import { describe, expect, it } from 'vitest';
import * as gradclip from './index.js';
import { typedOps } from './typed_ops.js';

describe('public names say what they give (issue 22 rename)', () => {
  it('globalNormRule / perTensorNormRule / valueRule are the rule factories', () => {
    for (const [rule, name] of [
      [gradclip.globalNormRule(1), 'globalNorm'],
      [gradclip.perTensorNormRule(1), 'perTensorNorm'],
      [gradclip.valueRule(1), 'value'],
    ] as const) {
      expect(rule.name).toBe(name);
      expect(typeof rule.apply).toBe('function');
      // Usable as written in the README: as a clipper's rule.
      const g = new Float32Array([3, 4]);
      gradclip.makeClipper(rule).clip(g);
      expect(Math.hypot(g[0]!, g[1]!)).toBeLessThanOrEqual(Math.SQRT2 + 1e-6);
    }
  });

  it('the generic apply functions are internal; the old factory names are deprecated aliases', () => {
    for (const internal of ['applyGlobalNorm', 'applyPerTensorNorm', 'applyValue']) {
      expect(internal in gradclip).toBe(false);
    }
    expect(gradclip.globalNormRuleOf).toBe(gradclip.globalNormRule);
    expect(gradclip.perTensorNormRuleOf).toBe(gradclip.perTensorNormRule);
    expect(gradclip.valueRuleOf).toBe(gradclip.valueRule);
  });

  it('called the old generic way (ops first), a factory says which argument is wrong', () => {
    expect(() => gradclip.globalNormRule(typedOps as never, [new Float32Array(1)] as never)).toThrow(
      /options must be an options object|maxNorm/,
    );
    expect(() => gradclip.valueRule(typedOps as never)).toThrow(/clipValue/);
  });
});
