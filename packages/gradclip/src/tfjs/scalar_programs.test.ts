import { describe, expect, it } from 'vitest';
import type { ScalarOps } from '../ops.js';
import { DIALECTS, Sym, traceBlock } from './scalar_programs.js';

// The tracing half of the scalar programs (the GPU half runs in Chromium: test/browser).
const block =
  (c: number) =>
  <S, B>(o: ScalarOps<S, B>, x: { s: { a: S }; b: { flag: B } }) => ({
    // y = a·c + c, z = flag ∧ (a > 0)
    s: { y: o.add(o.mul(x.s.a, o.scalar(c)), o.scalar(c)) },
    b: { z: o.and(x.b.flag, o.gt(x.s.a, o.scalar(0))) },
  });

describe('traceBlock', () => {
  it('writes one statement per operation, numbers as deduplicated uniforms, outputs by name and type', () => {
    const t = traceBlock(DIALECTS.glsl, ['a'], ['flag'], block(2));
    // mul, add, gt, and: four statements; the constants 2 (used twice) and 0.
    expect(t.lines).toEqual([
      'float t0 = getV0() * gcLit[0];',
      'float t1 = t0 + gcLit[0];',
      'bool t2 = gc_gt(getV0(), gcLit[1]);',
      'bool t3 = (getV1() != 0.0) && t2;',
    ]);
    expect(t.literals).toEqual([2, 0]);
    expect(t.values).toEqual([
      { kind: 'f', code: 't1' },
      { kind: 'b', code: 't3' },
    ]);
    expect(t.outputs).toEqual([
      { name: 'y', kind: 'f', slot: 0 },
      { name: 'z', kind: 'b', slot: 1 },
    ]);
  });

  it('a block whose constants change traces to the same code (one compiled program serves every step)', () => {
    const a = traceBlock(DIALECTS.wgsl(), ['a'], ['flag'], block(2));
    const b = traceBlock(DIALECTS.wgsl(), ['a'], ['flag'], block(1e-7));
    expect(b.lines).toEqual(a.lines);
    expect(b.literals).toEqual([1e-7, 0]);
    expect(a.lines[0]).toBe('let t0 = f32(v0[0]) * uniforms.l0;');
  });

  it('NaN, ±Infinity and −0 are constants like any other (never written into the code)', () => {
    const t = traceBlock(DIALECTS.wgsl(), [], [], (o) => ({
      s: { n: o.add(o.scalar(NaN), o.scalar(-0)), i: o.min(o.scalar(Infinity), o.scalar(0)) },
      b: {},
    }));
    expect(t.literals).toEqual([NaN, -0, Infinity, 0]);
    expect(t.lines.join(' ')).not.toMatch(/nan|inf|e\+/i);
  });

  it('pow: 1, 2 and 0.5 need no pow call; other exponents carry the sign a negative base gives', () => {
    const t = traceBlock(DIALECTS.glsl, ['a'], [], (o, x) => ({
      s: {
        p1: o.pow(x.s.a, 1),
        p2: o.pow(x.s.a, 2),
        r: o.pow(x.s.a, 0.5),
        c: o.pow(x.s.a, 3),
        f: o.pow(x.s.a, 1.5),
        e: o.pow(x.s.a, -4),
      },
      b: {},
    }));
    expect(t.values[t.outputs.find((o) => o.name === 'p1')!.slot]!.code).toBe('getV0()');
    expect(t.lines).toEqual([
      'float t0 = getV0() * getV0();',
      'float t1 = gc_sqrt(getV0());',
      'float t2 = gc_pow(getV0(), gcLit[0], -1.0);',
      'float t3 = gc_pow(getV0(), gcLit[1], 0.0);',
      'float t4 = gc_pow(getV0(), gcLit[2], 1.0);',
    ]);
  });

  it('WGSL reads inputs from packed buffers when a block has more than a dispatch binds', () => {
    const keys = Array.from({ length: 9 }, (_, i) => `x${i}`);
    const t = traceBlock(DIALECTS.wgsl(7), keys, ['c'], (o, x) => ({
      s: { y: o.where(x.b.c, x.s.x8!, x.s.x0!) },
      b: {},
    }));
    // input 9 (the flag) is value 2 of buffer 1; x8 value 1 of buffer 1; x0 value 0 of buffer 0.
    expect(t.lines).toEqual(['let t0 = select(v0[0], v1[1], (v1[2] != 0.0));']);
    expect(t.packed).toBe(7);
  });

  it('outputs that are the same value are computed once', () => {
    const t = traceBlock(DIALECTS.glsl, ['a'], [], (o, x) => {
      const f = o.min(x.s.a, o.scalar(1));
      return { s: { apply: f, scale: f, norm: x.s.a }, b: {} };
    });
    expect(t.values).toEqual([
      { kind: 'f', code: 't0' },
      { kind: 'f', code: 'getV0()' },
    ]);
    expect(t.outputs.map((o) => o.slot)).toEqual([0, 0, 1]);
  });

  it('a number used as a boolean (or the reverse) is a TypeError, not a shader that fails to compile', () => {
    const asBool = <S, B>(o: ScalarOps<S, B>, x: { s: { a: S }; b: Record<never, B> }) => ({
      s: {},
      b: { z: o.not(x.s.a as unknown as B) },
    });
    expect(() => traceBlock(DIALECTS.glsl, ['a'], [], asBool)).toThrow(TypeError);
    const mixed = <S, B>(o: ScalarOps<S, B>, x: { s: { a: S }; b: { c: B } }) => ({
      s: { y: o.where(x.b.c, x.s.a, x.b.c as unknown as S) },
      b: {},
    });
    expect(() => traceBlock(DIALECTS.glsl, ['a'], ['c'], mixed)).toThrow(/number and a boolean/);
    expect(new Sym('t0', 'f').kind).toBe('f');
  });
});
