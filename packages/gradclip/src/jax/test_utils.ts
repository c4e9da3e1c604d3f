// Test-only helpers for gradclip/jax (imported by *.test.ts, never by the library).
import { numpy as np } from '@jax-js/jax';
import { readdirSync } from 'node:fs';
import { vi } from 'vitest';

/**
 * jax-js's own accounting of device memory: every buffer ("slot") a backend allocates, with its
 * reference count, as the backend's malloc / incRef / decRef see it. `getBackend` is internal to
 * @jax-js/jax (not exported by its index): it is loaded from the package's backend chunk, the
 * same module instance the library itself uses.
 */
export async function slotCounter(device = 'wasm'): Promise<{ live(): number; stop(): void }> {
  const dir = new URL('.', import.meta.resolve('@jax-js/jax'));
  const chunk = readdirSync(dir).find((f) => /^backend-.*\.js$/.test(f));
  if (chunk === undefined) throw new Error('no backend chunk in @jax-js/jax/dist');
  const mod = (await import(new URL(chunk, dir).href)) as Record<string, unknown>;
  const getBackend = Object.values(mod).find((f) => typeof f === 'function' && f.name === 'getBackend') as (
    d: string,
  ) => { malloc(...a: unknown[]): number; incRef(s: number): void; decRef(s: number): void };
  np.array(0).dispose(); // make sure the backend is up
  const be = getBackend(device);
  const refs = new Map<number, number>();
  const { malloc, incRef, decRef } = be;
  be.malloc = (...a: unknown[]) => {
    const s = malloc.apply(be, a);
    refs.set(s, 1);
    return s;
  };
  be.incRef = (s: number) => {
    incRef.call(be, s);
    if (refs.has(s)) refs.set(s, refs.get(s)! + 1);
  };
  be.decRef = (s: number) => {
    decRef.call(be, s);
    const n = refs.get(s);
    if (n === undefined) return;
    if (n <= 1) refs.delete(s);
    else refs.set(s, n - 1);
  };
  return {
    live: () => refs.size,
    stop() {
      be.malloc = malloc;
      be.incRef = incRef;
      be.decRef = decRef;
    },
  };
}

/** Spies on every way to read a jax-js array back to the host; `count()` is how many calls were made. */
export function hostReadSpy(): { count(): number; restore(): void } {
  const proto = np.Array.prototype as unknown as Record<string | symbol, unknown>;
  const names = ['data', 'dataSync', 'js', 'jsAsync', 'item', Symbol.toPrimitive] as const;
  type Spy = { mock: { calls: unknown[] }; mockRestore(): void };
  const spies = names
    .filter((n) => typeof proto[n] === 'function')
    .map((n) => vi.spyOn(proto as never, n as never) as unknown as Spy);
  return {
    count: () => spies.reduce((a, s) => a + s.mock.calls.length, 0),
    restore: () => spies.forEach((s) => s.mockRestore()),
  };
}

/** A float32 jax-js array from numbers (flat values and a shape). */
export const arr = (values: readonly number[], shape: readonly number[] = [values.length]): np.Array =>
  np.array(Float32Array.from(values)).reshape([...shape]);

/** The values of an array as numbers (consumes a reference: pass `.ref` to keep the array). */
export const values = (a: np.Array): number[] => Array.from(a.dataSync() as Float32Array);
