/**
 * Kernel selection: WASM where WebAssembly SIMD works, the JS kernels otherwise — decided on
 * first use, never throwing at import. An engine without SIMD is simulated by replacing the
 * global WebAssembly with one whose validate() rejects the module and whose Module constructor
 * throws a CompileError, which is how such engines answer a SIMD module.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';

function noSimdWebAssembly(): typeof WebAssembly {
  const real = globalThis.WebAssembly;
  return {
    ...real,
    validate: () => false,
    Module: function Module() {
      throw new real.CompileError('invalid opcode 0xfd (SIMD)');
    },
  } as unknown as typeof WebAssembly;
}

afterEach(() => {
  vi.unstubAllGlobals();
  vi.resetModules();
});

describe('kernel selection', () => {
  it('picks the WASM kernels by default where SIMD is available', async () => {
    vi.resetModules();
    const k = await import('./index.js');
    expect(k.kernels().name).toBe('wasm');
    expect(k.useKernels('js').name).toBe('js');
    expect(k.kernels().name).toBe('js');
    expect(k.useKernels('auto').name).toBe('wasm');
    expect(k.useKernels('wasm').name).toBe('wasm');
  });

  it('falls back to the JS kernels when WebAssembly SIMD is absent', async () => {
    vi.stubGlobal('WebAssembly', noSimdWebAssembly());
    vi.resetModules();
    const k = await import('./index.js'); // importing must not throw
    expect(k.kernels().name).toBe('js');
    expect(() => k.useKernels('wasm')).toThrow(/useKernels\('wasm'\): WebAssembly SIMD is not supported/);
    expect(k.kernels().name).toBe('js');
    // The arena still works, on ordinary memory.
    const arena = k.gradientArena([4]);
    expect(arena.wasm).toBe(false);
    expect(arena.arrays[0]!.buffer).toBeInstanceOf(ArrayBuffer);
  });

  it('falls back to the JS kernels without WebAssembly at all', async () => {
    vi.stubGlobal('WebAssembly', undefined);
    vi.resetModules();
    const k = await import('./index.js');
    expect(k.kernels().name).toBe('js');
    expect(() => k.useKernels('wasm')).toThrow(/WebAssembly is not available/);
  });

  it('falls back when synchronous compilation is refused (browser main-thread size limit)', async () => {
    const real = globalThis.WebAssembly;
    vi.stubGlobal('WebAssembly', {
      ...real,
      validate: real.validate,
      Module: function Module() {
        throw new RangeError(
          'WebAssembly.Module is disallowed on the main thread, if the buffer size is larger than 4KB',
        );
      },
    });
    vi.resetModules();
    const k = await import('./index.js');
    expect(k.kernels().name).toBe('js');
    expect(() => k.useKernels('wasm')).toThrow(/disallowed on the main thread/);
  });

  it('the whole library clips with the JS fallback exactly as documented', async () => {
    vi.stubGlobal('WebAssembly', noSimdWebAssembly());
    vi.resetModules();
    const lib = await import('../index.js');
    const g = { w: new Float32Array([3, 4]), b: new Float32Array([0]) };
    const r = lib.clipByGlobalNorm(g, 1);
    expect(lib.kernels().name).toBe('js');
    // norm 5, scale = 1 / (5 + 1e-6): [3, 4] → ≈ [0.6, 0.8]
    expect(r.norm).toBe(5);
    expect(g.w[0]).toBeCloseTo(0.6, 6);
    expect(g.w[1]).toBeCloseTo(0.8, 6);
  });
});

describe('setKernels (issue 12: it accepted anything, and the next clip failed somewhere inside)', () => {
  it('refuses what is not a Kernels object, naming what is missing, and keeps the active kernels', async () => {
    vi.resetModules();
    const k = await import('./index.js');
    const lib = await import('../index.js');
    k.useKernels('js');
    expect(() => k.setKernels(null as never)).toThrow(
      /setKernels: k must be a Kernels object \(name, powSumMax, finiteMax, scaledPowSum, scale, clamp\), got null/,
    );
    expect(() => k.setKernels('wasm' as never)).toThrow(TypeError);
    expect(() => k.setKernels({} as never)).toThrow(
      /missing or wrong name \(a string, got undefined\); powSumMax \(a function, got undefined\); finiteMax .*; clamp \(a function, got undefined\)/,
    );
    const { clamp: _omit, ...noClamp } = k.jsKernels;
    expect(() => k.setKernels(noClamp as never)).toThrow(
      /^setKernels: k is not a Kernels object: missing or wrong clamp \(a function, got undefined\)$/,
    );
    expect(() => k.setKernels({ ...k.jsKernels, scaleSet: 3 } as never)).toThrow(
      /scaleSet \(optional, but a function if given, got 3\)/,
    );
    // Nothing changed: the clip still works, on the JS kernels.
    expect(k.kernels().name).toBe('js');
    const g = new Float32Array([3, 4]);
    expect(lib.clipByGlobalNorm(g, 1).norm).toBe(5);
    // A real implementation (also one without the optional set kernels) is taken.
    const { powSumMaxSet: _a, scaleSet: _b, ...basic } = k.jsKernels;
    k.setKernels({ ...basic, name: 'mine' });
    expect(k.kernels().name).toBe('mine');
    expect(lib.clipByGlobalNorm(new Float64Array([6, 8]), 1).norm).toBe(10);
    k.useKernels('auto');
  });
});
