import { describe, expect, it } from 'vitest';
import { isSoftwareAdapter, pickOrder } from '../src/backend_choice.js';
import { runLabel, runToCSV, runToJSON } from '../src/run_export.js';
import { DEFAULTS } from '../src/settings.js';

// Renderer strings as browsers report them (Chromium's SwiftShader through ANGLE, Mesa's
// llvmpipe, a real NVIDIA GPU through ANGLE, Chromium's WebGPU adapter info for SwiftShader).
const SWIFTSHADER_GL = 'ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)';
const LLVMPIPE_GL = 'llvmpipe (LLVM 15.0.6, 256 bits)';
const NVIDIA_GL = 'ANGLE (NVIDIA, NVIDIA GeForce RTX 3060 (0x00002503) Direct3D11 vs_5_0 ps_5_0, D3D11)';

describe('auto backend choice (issue 23)', () => {
  it('recognises software rasterisers and not real GPUs', () => {
    expect(isSoftwareAdapter(SWIFTSHADER_GL)).toBe(true);
    expect(isSoftwareAdapter(LLVMPIPE_GL)).toBe(true);
    expect(isSoftwareAdapter('google swiftshader')).toBe(true);
    expect(isSoftwareAdapter('Microsoft Basic Render Driver')).toBe(true);
    expect(isSoftwareAdapter(NVIDIA_GL)).toBe(false);
    expect(isSoftwareAdapter('apple metal-3 Apple M2')).toBe(false);
  });

  it('a software WebGPU and WebGL adapter: cpu, and says so', () => {
    const p = pickOrder('auto', { webgpu: { info: 'google swiftshader', fallback: false }, webgl: SWIFTSHADER_GL });
    expect(p).toEqual({ order: ['cpu'], reason: 'software', adapter: 'google swiftshader' });
    expect(pickOrder('auto', { webgpu: null, webgl: LLVMPIPE_GL })).toMatchObject({
      order: ['cpu'],
      reason: 'software',
    });
    // a fallback adapter is software whatever its name
    expect(pickOrder('auto', { webgpu: { info: 'x', fallback: true }, webgl: null }).order).toEqual(['cpu']);
  });

  it('real GPUs keep WebGPU / WebGL; nothing at all: cpu', () => {
    expect(pickOrder('auto', { webgpu: { info: 'nvidia ampere', fallback: false }, webgl: NVIDIA_GL })).toEqual({
      order: ['webgpu', 'webgl', 'cpu'],
      reason: 'gpu',
    });
    expect(pickOrder('auto', { webgpu: null, webgl: NVIDIA_GL })).toEqual({ order: ['webgl', 'cpu'], reason: 'gpu' });
    // a software WebGPU adapter next to a real WebGL one: WebGL
    expect(pickOrder('auto', { webgpu: { info: 'swiftshader', fallback: false }, webgl: NVIDIA_GL }).order).toEqual([
      'webgl',
      'cpu',
    ]);
    expect(pickOrder('auto', { webgpu: null, webgl: null })).toEqual({ order: ['cpu'], reason: 'none' });
  });

  it('?backend= forces the choice, cpu as the fallback', () => {
    expect(pickOrder('webgpu', { webgpu: null, webgl: null })).toEqual({ order: ['webgpu', 'cpu'], reason: 'forced' });
    expect(pickOrder('cpu', { webgpu: null, webgl: NVIDIA_GL }).order).toEqual(['cpu']);
  });
});

describe('run export and labels', () => {
  const recs = [
    { step: 1, loss: 0.5, preNorm: 3, postNorm: 1, threshold: 1, clipped: true },
    { step: 2, loss: NaN, preNorm: Infinity, postNorm: 1, threshold: null, clipped: false },
  ];
  it('CSV: a header and one row per step; no threshold is an empty cell', () => {
    expect(runToCSV(recs)).toBe('step,loss,pre_norm,post_norm,threshold,clipped\n1,0.5,3,1,1,1\n2,NaN,Infinity,1,,0\n');
  });

  it('JSON: settings, the query that reproduces them and every step, non-finite numbers as strings', () => {
    const s = { ...DEFAULTS, method: 'none' as const, learningRate: 1 };
    const j = JSON.parse(runToJSON(s, recs)) as { settings: unknown; query: string; steps: { loss: unknown }[] };
    expect(j.settings).toEqual(s);
    expect(j.query).toBe('?method=none&lr=1');
    expect(j.steps.map((r) => r.loss)).toEqual([0.5, 'NaN']);
  });

  it("a run's label names its method, the method's option and the training settings", () => {
    expect(runLabel({ ...DEFAULTS, threshold: 0.5 }, 'Global norm')).toBe('Global norm τ=0.5 · lr 0.3 · T 10');
    expect(runLabel({ ...DEFAULTS, method: 'none' }, 'None')).toBe('None · lr 0.3 · T 10');
    expect(runLabel({ ...DEFAULTS, method: 'zClip' })).toBe('zClip z=2.5 τ=1 · lr 0.3 · T 10');
  });
});
