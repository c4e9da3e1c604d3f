// Issue 11 (3): the built package has exactly one copy of the core, in both module formats,
// so an error class thrown through `gradclip/tfjs` is the one exported by `gradclip`.
// Runs against dist/ (npm test builds the package first), as a consumer would load it.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const require = createRequire(import.meta.url);

function filesUnder(dir: string, ext: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith(ext))
    .map((f) => `${dir}${f}`);
}

describe('one core in the built package', () => {
  for (const ext of ['.cjs', '.js']) {
    it(`the ${ext} build defines the core's classes once`, () => {
      const defs = filesUnder(dist, ext).flatMap((f) =>
        [...readFileSync(f, 'utf8').matchAll(/NonFiniteGradientError = class\b|class NonFiniteGradientError\b/g)].map(
          () => f,
        ),
      );
      expect(defs).toHaveLength(1);
    });
  }

  it('CommonJS: an error thrown by gradclip/tfjs is instanceof gradclip.NonFiniteGradientError', () => {
    const tf = require('@tensorflow/tfjs-core') as typeof import('@tensorflow/tfjs-core');
    require('@tensorflow/tfjs-backend-cpu');
    const core = require(`${dist}index.cjs`) as typeof import('../src/index.js');
    const tfjs = require(`${dist}tfjs/index.cjs`) as typeof import('../src/tfjs/index.js');
    const clipper = tfjs.globalNormTensorClipper(1, { nonFinite: 'error' });
    const g = tf.tensor1d([NaN, 1]);
    let caught: unknown;
    try {
      clipper.clip([g]);
    } catch (e) {
      caught = e;
    }
    g.dispose();
    clipper.dispose();
    expect(caught).toBeInstanceOf(core.NonFiniteGradientError);
  });

  it('ESM: an error thrown by gradclip/tfjs is instanceof gradclip.NonFiniteGradientError', async () => {
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-cpu');
    const core = (await import(`${dist}index.js`)) as typeof import('../src/index.js');
    const tfjs = (await import(`${dist}tfjs/index.js`)) as typeof import('../src/tfjs/index.js');
    const clipper = tfjs.globalNormTensorClipper(1, { nonFinite: 'error' });
    const g = tf.tensor1d([Infinity, 1]);
    expect(() => clipper.clip([g])).toThrow(core.NonFiniteGradientError);
    g.dispose();
    clipper.dispose();
  });
});
