// The gate's seed policy, checked (issue 22): every property test in the repository runs through
// `fcGate` with a fixed seed, so `npm test` fails only when the code changed; `npm run fuzz`
// runs the same properties with fresh seeds.
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { GATE_SEED, fcGate, fuzzing } from './fc_gate.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** The fast-check runners whose parameters decide the inputs. */
const RUNNERS = new Set(['assert', 'check', 'sample']);

/**
 * Where `source` runs fast-check outside the seed policy: a runner called without
 * `fcGate({ seed: … })` as its parameters, a runner taken off `fc` without being called (an
 * alias), a named import of a runner, or a global configuration outside the setup file.
 */
export function ungatedCalls(source: string, fileName = 'file.ts'): string[] {
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const where = (n: ts.Node) => `${fileName}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1}`;
  const names = new Set<string>(); // local names of the fast-check module
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier) && n.moduleSpecifier.text === 'fast-check') {
      const clause = n.importClause;
      if (clause && !clause.isTypeOnly) {
        if (clause.name) names.add(clause.name.text);
        const bindings = clause.namedBindings;
        if (bindings && ts.isNamespaceImport(bindings)) names.add(bindings.name.text);
        if (bindings && ts.isNamedImports(bindings))
          for (const el of bindings.elements) {
            const imported = (el.propertyName ?? el.name).text;
            if (!el.isTypeOnly && (RUNNERS.has(imported) || imported === 'configureGlobal'))
              found.push(`${where(el)}: imports fast-check's ${imported} by name (use fc.${imported} with fcGate)`);
          }
      }
    }
    if (ts.isPropertyAccessExpression(n) && ts.isIdentifier(n.expression) && names.has(n.expression.text)) {
      const method = n.name.text;
      const call = ts.isCallExpression(n.parent) && n.parent.expression === n ? n.parent : undefined;
      if (method === 'configureGlobal' && !fileName.endsWith('fc_setup.ts'))
        found.push(`${where(n)}: fc.configureGlobal outside packages/gradclip/test/fc_setup.ts`);
      if (RUNNERS.has(method)) {
        if (!call) found.push(`${where(n)}: fc.${method} used without being called (an alias escapes the gate)`);
        else {
          const params = call.arguments[1];
          const gated =
            params !== undefined &&
            ts.isCallExpression(params) &&
            ts.isIdentifier(params.expression) &&
            params.expression.text === 'fcGate' &&
            params.arguments.length === 1 &&
            ts.isObjectLiteralExpression(params.arguments[0]!) &&
            params.arguments[0].properties.some((p) => p.name !== undefined && p.name.getText(sf) === 'seed');
          if (!gated) found.push(`${where(n)}: fc.${method} without fcGate({ seed: … }) as its parameters`);
        }
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

const SKIP = new Set(['node_modules', 'dist', '.git', 'report', 'bench-results', 'docs']);

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) sourceFiles(p, out);
    else if (/\.(c|m)?(t|j)sx?$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

describe('fcGate: the deterministic gate (issue 22)', () => {
  it('every fc.assert / fc.check / fc.sample in the repository runs through fcGate with a fixed seed', () => {
    const files = ['packages', 'bench', 'scripts', 'examples'].flatMap((d) => sourceFiles(join(root, d)));
    let runners = 0;
    const problems: string[] = [];
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      if (!text.includes('fast-check')) continue;
      runners += (text.match(/\bfc\.(assert|check|sample)\(/g) ?? []).length;
      problems.push(...ungatedCalls(text, relative(root, f)));
    }
    expect(problems).toEqual([]);
    // the walk found the property tests (about 40 when this was written)
    expect(runners).toBeGreaterThan(30);
  });

  it('the checker catches each way around the gate', () => {
    const head = "import fc from 'fast-check';\n";
    expect(ungatedCalls(head + 'fc.assert(p);')).toHaveLength(1);
    expect(ungatedCalls(head + 'fc.assert(p, { seed: 1, numRuns: 10 });')).toHaveLength(1);
    expect(ungatedCalls(head + 'await fc.check(p, fcGate({ numRuns: 10 }));')).toHaveLength(1);
    expect(ungatedCalls(head + 'fc.sample(a, fcGate(params));')).toHaveLength(1);
    expect(ungatedCalls(head + 'const run = fc.assert; run(p);')).toHaveLength(1);
    expect(ungatedCalls(head + 'fc.configureGlobal({ seed: 1 });')).toHaveLength(1);
    expect(ungatedCalls("import { assert } from 'fast-check';\nassert(p);")).toHaveLength(1);
    expect(ungatedCalls("import * as f from 'fast-check';\nf.assert(p);")).toHaveLength(1);
    // and passes the gated forms
    expect(ungatedCalls(head + 'fc.assert(p, fcGate({ seed: 3, numRuns: 10 }));')).toEqual([]);
    expect(ungatedCalls(head + 'await fc.assert(p, fcGate({ seed: SEED + 1 }));')).toEqual([]);
    expect(ungatedCalls("import type { Parameters } from 'fast-check';\nlet x: Parameters;")).toEqual([]);
  });

  it('the setup file fixes the global seed (the safety net); fcGate keeps the given seed, or drops it under npm run fuzz', () => {
    const params = fcGate({ seed: 5, numRuns: 7, path: '1:2' });
    if (!fuzzing) {
      expect(fc.readConfigureGlobal().seed).toBe(GATE_SEED);
      expect(params).toEqual({ seed: 5, numRuns: 7, path: '1:2' });
      // so a property gives the same inputs run after run
      const draw = () => fc.sample(fc.integer(), fcGate({ seed: 41, numRuns: 5 }));
      expect(draw()).toEqual(draw());
    } else {
      expect(fc.readConfigureGlobal().seed).toBeUndefined();
      expect(params.seed).toBeUndefined();
      expect(params.path).toBeUndefined();
      expect(params.numRuns).toBe(Math.ceil(7 * Number(process.env.GRADCLIP_FUZZ_SCALE ?? 1)));
    }
  });
});
