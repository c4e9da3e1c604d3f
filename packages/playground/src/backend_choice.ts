/**
 * Which TF.js backend `auto` picks. A software WebGL / WebGPU adapter (SwiftShader, llvmpipe,
 * lavapipe, Microsoft Basic Render Driver) runs shaders on the CPU, slower than TF.js's own
 * cpu backend: measured on the dev machine (issue 23) 5.7 steps/s on software WebGL against
 * 42.5 on cpu. So `auto` takes a GPU backend only when its adapter is real hardware.
 * Pure: the page passes in what the browser reports.
 */

/** Adapter / renderer strings of software rasterisers. */
const SOFTWARE = /swiftshader|llvmpipe|softpipe|lavapipe|software|basic render driver|mesa offscreen/i;

/** Whether an adapter or renderer description names a software rasteriser. */
export function isSoftwareAdapter(description: string): boolean {
  return SOFTWARE.test(description);
}

export interface AdapterReport {
  /** WebGPU: null when no adapter; else its info (vendor, architecture, device, description) joined, and isFallbackAdapter. */
  webgpu: { info: string; fallback: boolean } | null;
  /** WebGL: null when no context; else the (unmasked where allowed) renderer string. */
  webgl: string | null;
}

export type BackendName = 'webgpu' | 'webgl' | 'cpu';

export interface BackendPick {
  /** Backends to try, in order (the page falls back along the list). */
  order: BackendName[];
  /** Why: 'gpu' (hardware adapter), 'software' (only a software adapter: cpu is faster), 'none' (no GPU API), 'forced' (?backend=). */
  reason: 'gpu' | 'software' | 'none' | 'forced';
  /** The software adapter's description, when that was the reason. */
  adapter?: string;
}

/** The order in which to try backends for a `?backend=` choice and what the browser reports. */
export function pickOrder(choice: 'auto' | BackendName, report: AdapterReport): BackendPick {
  if (choice !== 'auto') return { order: choice === 'cpu' ? ['cpu'] : [choice, 'cpu'], reason: 'forced' };
  const gpu = report.webgpu;
  const gpuReal = gpu !== null && !gpu.fallback && !isSoftwareAdapter(gpu.info);
  const glReal = report.webgl !== null && !isSoftwareAdapter(report.webgl);
  if (gpuReal) return { order: glReal ? ['webgpu', 'webgl', 'cpu'] : ['webgpu', 'cpu'], reason: 'gpu' };
  if (glReal) return { order: ['webgl', 'cpu'], reason: 'gpu' };
  const soft = gpu !== null ? gpu.info || 'fallback adapter' : report.webgl;
  return soft !== null ? { order: ['cpu'], reason: 'software', adapter: soft } : { order: ['cpu'], reason: 'none' };
}
