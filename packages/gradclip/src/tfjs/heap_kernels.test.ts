import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import wabtInit from 'wabt';
import { heapKernelsBase64 } from './heap_kernels_wasm.generated.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

async function assemble(): Promise<string> {
  const wabt = await wabtInit();
  const mod = wabt.parseWat('heap_kernels.wat', readFileSync(here('./heap_kernels.wat'), 'utf8'), { simd: true });
  mod.validate();
  const { buffer } = mod.toBinary({ log: false, write_debug_names: false });
  mod.destroy();
  return Buffer.from(buffer).toString('base64');
}

describe('heap_kernels.wat', () => {
  it('the committed binary is the assembled source', async () => {
    const b64 = await assemble();
    if (process.env['GRADCLIP_REGENERATE_WASM'] === '1') {
      writeFileSync(
        here('./heap_kernels_wasm.generated.ts'),
        '// Generated from heap_kernels.wat by heap_kernels.test.ts (GRADCLIP_REGENERATE_WASM=1) — do not edit.\n' +
          `export const heapKernelsBase64 = '${b64}';\n`,
      );
      return;
    }
    expect(heapKernelsBase64).toBe(b64);
  });

  const instance = () => {
    const mod = new WebAssembly.Module(Buffer.from(heapKernelsBase64, 'base64'));
    const memory = new WebAssembly.Memory({ initial: 1 });
    const ex = new WebAssembly.Instance(mod, { env: { memory } }).exports as {
      scale_into(a: number, b: number, n: number, s: number): void;
      sumsq_max(p: number, n: number): number;
      last_max(): number;
    };
    return { memory, ex };
  };

  it('sumsq_max: Σx² within 2^-24 of the float64 sum and the NaN-ignoring max |x|, every length', () => {
    const { memory, ex } = instance();
    for (const n of [0, 1, 5, 8, 9, 31, 1000]) {
      const x = new Float32Array(memory.buffer, 128, n);
      x.forEach((_, i) => (x[i] = Math.sin(i * 12.9898) * 43758.5453 * (i % 7 === 3 ? 1e-3 : 1)));
      let want = 0;
      let max = 0;
      x.forEach((v) => ((want += v * v), (max = Math.max(max, Math.abs(v)))));
      const got = ex.sumsq_max(128, n);
      expect(Math.abs(got - want)).toBeLessThanOrEqual(want * 2 ** -24);
      expect(ex.last_max()).toBe(max);
      if (n > 2) {
        x[1] = NaN;
        expect(ex.sumsq_max(128, n)).toBeNaN();
        expect(ex.last_max()).toBe(
          Math.max(
            ...Array.from(x)
              .filter((v) => !Number.isNaN(v))
              .map(Math.abs),
          ),
        );
      }
    }
  });

  it('computes dst = src · s in float32 for every length (vector body and tail)', () => {
    const { memory, ex } = instance();
    for (const n of [0, 1, 7, 8, 9, 33]) {
      const src = new Float32Array(memory.buffer, 64, n);
      const dst = new Float32Array(memory.buffer, 4096, n + 1);
      src.forEach((_, i) => (src[i] = i % 5 === 3 ? NaN : (i - 4) * 1.1));
      dst.fill(7);
      ex.scale_into(64, 4096, n, Math.fround(0.3));
      src.forEach((v, i) => expect(dst[i]).toBe(Math.fround(v * Math.fround(0.3))));
      expect(dst[n]).toBe(7); // nothing written past the end
    }
  });
});
