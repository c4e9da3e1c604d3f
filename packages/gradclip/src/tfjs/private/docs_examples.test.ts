/**
 * The saving examples of docs/privacy.md ("Saving"), run as written: after a privateFit, with
 * `model` in scope, the imports bound to the packages under test, `indexeddb://` served from
 * memory (Node has no IndexedDB) and the Node example's folder moved to a temporary directory.
 */
import * as fs from 'node:fs/promises';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tfc from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as gradclipTfjs from '../index.js';
import { privateFit } from './private_fit.js';

/** What a router returns for a URL it does not serve (tfjs's typings omit the null). */
const NO_HANDLER = null as unknown as tfc.io.IOHandler;

const root = fileURLToPath(new URL('../../../../../', import.meta.url));

/** The ```js blocks of the docs section that starts at `heading`. */
async function blocksOf(heading: string): Promise<string[]> {
  const doc = await fs.readFile(join(root, 'docs', 'privacy.md'), 'utf8');
  const start = doc.indexOf(heading);
  expect(start).toBeGreaterThan(-1);
  const section = doc.slice(start, doc.indexOf('\n### ', start + heading.length));
  return [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** Runs a block as an async function body, its `import`s replaced by the given modules. */
async function run(code: string, modules: Record<string, object>, scope: Record<string, unknown>): Promise<string[]> {
  const logged: string[] = [];
  const body = code.replace(/^import (.+) from '([^']+)';$/gm, (_, what: string, from: string) => {
    if (!(from in modules)) throw new Error(`docs example imports ${from}, which the test does not provide`);
    const ns = what.startsWith('* as ') ? what.slice(5) : what;
    return `const ${ns} = __modules[${JSON.stringify(from)}];`;
  });
  const AsyncFunction = (async () => {}).constructor as new (...args: string[]) => (...a: unknown[]) => Promise<void>;
  const names = Object.keys(scope);
  const fn = new AsyncFunction('__modules', 'console', ...names, body);
  await fn(modules, { log: (...a: unknown[]) => logged.push(a.map(String).join(' ')) }, ...names.map((k) => scope[k]));
  return logged;
}

describe('docs/privacy.md saving examples', () => {
  const memory = new Map<string, tfc.io.ModelArtifacts>();
  const dir = mkdtempSync(join(tmpdir(), 'gradclip-docs-'));
  const tf = { ...tfc, ...tfl, io: tfc.io };
  const modules = { '@tensorflow/tfjs': tf, 'gradclip/tfjs': gradclipTfjs, 'node:fs/promises': fs };

  beforeAll(async () => {
    await tfc.setBackend('cpu');
    await tfc.ready();
    const scheme = 'indexeddb://';
    tfc.io.registerSaveRouter((url) =>
      typeof url === 'string' && url.startsWith(scheme)
        ? tfc.io.withSaveHandler(async (a) => {
            memory.set(url, a);
            return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
          })
        : NO_HANDLER,
    );
    tfc.io.registerLoadRouter((url) =>
      typeof url === 'string' && url.startsWith(scheme) ? { load: async () => memory.get(url)! } : NO_HANDLER,
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function trainedModel() {
    const model = tfl.sequential({
      layers: [tfl.layers.dense({ inputShape: [2], units: 2, activation: 'softmax' })],
    });
    model.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    const xs = tfc.tensor2d([1, 2, -1, -2, 2, 1, -2, -1], [4, 2]);
    const ys = tfc.tensor2d([1, 0, 0, 1, 1, 0, 0, 1], [4, 2]);
    await privateFit(model, xs, ys, { l2NormClip: 1, noiseMultiplier: 1, batchSize: 1, epochs: 2, insecureSeed: 1 });
    tfc.dispose([xs, ys]);
    return model; // 4 steps per epoch, 2 epochs
  }

  it('has the browser and the Node example', async () => {
    const blocks = await blocksOf('**Saving.**');
    expect(blocks).toHaveLength(2);
    expect(blocks[0]).toContain("'indexeddb://private-model'");
    expect(blocks[1]).toContain('tf.io.withSaveHandler');
  });

  it('the browser example restores the record and the optimizer state', async () => {
    const [browser] = await blocksOf('**Saving.**');
    expect(await run(browser!, modules, { model: await trainedModel() })).toEqual(['8 8']);
    expect(memory.has('indexeddb://private-model')).toBe(true);
  });

  it('the Node example writes model.json and weights.bin and restores both counts', async () => {
    const [, node] = await blocksOf('**Saving.**');
    const code = node!.replace(
      "const dir = 'private-model';",
      `const dir = ${JSON.stringify(join(dir, 'private-model'))};`,
    );
    expect(code).not.toBe(node);
    expect(await run(code, modules, { model: await trainedModel() })).toEqual(['8 8']);
    expect(readdirSync(join(dir, 'private-model')).sort()).toEqual(['model.json', 'weights.bin']);
  });
});
