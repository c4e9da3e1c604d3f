import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import wabtInit from 'wabt';
import { scaleIntoBase64 } from './scale_into_wasm.generated.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

async function assemble(): Promise<string> {
  const wabt = await wabtInit();
  const mod = wabt.parseWat('scale_into.wat', readFileSync(here('./scale_into.wat'), 'utf8'), { simd: true });
  mod.validate();
  const { buffer } = mod.toBinary({ log: false, write_debug_names: false });
  mod.destroy();
  return Buffer.from(buffer).toString('base64');
}

describe('scale_into.wat', () => {
  it('the committed binary is the assembled source', async () => {
    const b64 = await assemble();
    if (process.env['GRADCLIP_REGENERATE_WASM'] === '1') {
      writeFileSync(
        here('./scale_into_wasm.generated.ts'),
        '// Generated from scale_into.wat by scale_into.test.ts (GRADCLIP_REGENERATE_WASM=1) — do not edit.\n' +
          `export const scaleIntoBase64 = '${b64}';\n`,
      );
      return;
    }
    expect(scaleIntoBase64).toBe(b64);
  });

  it('computes dst = src · s in float32 for every length (vector body and tail)', async () => {
    const mod = new WebAssembly.Module(Buffer.from(scaleIntoBase64, 'base64'));
    const memory = new WebAssembly.Memory({ initial: 1 });
    const ex = new WebAssembly.Instance(mod, { env: { memory } }).exports as { scale_into(a: number, b: number, n: number, s: number): void };
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
