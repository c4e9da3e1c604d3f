import { describe, expect, it } from 'vitest';
import { globalNormClipper, valueClipper } from './clipper.js';
import { clipWatch, withWarnings, type NeverClippedWarning, type TinyScaleWarning } from './diagnostics.js';

const f32 = (xs: number[]) => Float32Array.from(xs);

describe('clip warnings (opt-in, once each)', () => {
  it('never clipped: N steps in a row with the same norm and nothing clipped (the clip ran before the gradients)', () => {
    const seen: NeverClippedWarning[] = [];
    const clipper = withWarnings(globalNormClipper(10), { onNeverClipped: (w) => seen.push(w), neverClippedSteps: 5 });
    // A stale all-zero buffer, clipped before backprop fills it: norm 0 every step.
    for (let step = 0; step < 4; step++) clipper.clip(f32([0, 0]));
    expect(seen).toHaveLength(0);
    clipper.clip(f32([0, 0]));
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ kind: 'neverClipped', firstStep: 0, steps: 5, norm: 0 });
    expect(seen[0]!.message).toMatch(
      /5 steps in a row \(from step 0\) clipped nothing.*norm 0: is the clip called before/,
    );
    for (let step = 0; step < 20; step++) clipper.clip(f32([0, 0]));
    expect(seen).toHaveLength(1);
  });

  it('real gradients (a changing norm) or clipping steps never trigger it; a run restarts after a change', () => {
    const seen: NeverClippedWarning[] = [];
    const watch = clipWatch({ onNeverClipped: (w) => seen.push(w), neverClippedSteps: 3 });
    const clipper = globalNormClipper(1);
    for (let step = 0; step < 50; step++) watch.observe(clipper.clip(f32([0.01 * (step % 7), 0.2])));
    // Norm 5 > 1: clipped every step, constant norm or not.
    for (let step = 0; step < 10; step++) watch.observe(clipper.clip(f32([3, 4])));
    expect(seen).toHaveLength(0);
    // Hand-made reports: norms 2, 2, 3, 3, 3 unclipped → the run of three 3s starts at step 2.
    for (const norm of [2, 2, 3, 3, 3]) watch.observe({ norm, scale: 1, clipped: false });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ firstStep: 62, steps: 3, norm: 3 });
  });

  it('tiny scale: a factor below the floor (default 1e-6) warns once, with the step', () => {
    const seen: TinyScaleWarning[] = [];
    const clipper = withWarnings(globalNormClipper(1e-7), { onTinyScale: (w) => seen.push(w) });
    // ‖[3, 4]‖ = 5: factor 1e-7 / (5 + 1e-6) ≈ 2e-8 < 1e-6.
    const r = clipper.clip(f32([3, 4]));
    expect(r.scale).toBeCloseTo(2e-8, 12);
    clipper.clip(f32([3, 4]));
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ kind: 'tinyScale', step: 0, floor: 1e-6 });
    expect(seen[0]!.scale).toBeCloseTo(2e-8, 12);
    expect(seen[0]!.message).toMatch(/step 0 scaled the gradients by \d\.\d*e-8 \(below 0\.000001\)/);
    // A lower floor: no warning for the same factor.
    const quiet: TinyScaleWarning[] = [];
    const c2 = withWarnings(globalNormClipper(1e-7), { onTinyScale: (w) => quiet.push(w), scaleFloor: 1e-9 });
    c2.clip(f32([3, 4]));
    expect(quiet).toHaveLength(0);
  });

  it('the wrapped clipper clips, reports and keeps state exactly as the clipper; no callback, no check', () => {
    const plain = valueClipper(1);
    const wrapped = withWarnings(valueClipper(1), {});
    const a = f32([3, -0.5]);
    const b = f32([3, -0.5]);
    expect(wrapped.clip(a)).toEqual(plain.clip(b));
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(wrapped.state).toEqual(plain.state);
    expect(wrapped.name).toBe('value');
    expect(clipWatch().active).toBe(false);
  });

  it('bad options are refused by name', () => {
    expect(() => clipWatch({ neverClippedSteps: 0 })).toThrow(
      /options\.neverClippedSteps must be an integer ≥ 1, got 0/,
    );
    expect(() => clipWatch({ scaleFloor: -1 })).toThrow(/options\.scaleFloor must be a number in \(0, 1\], got -1/);
    expect(() => clipWatch({ onTinyScale: 'warn' as never })).toThrow(/options\.onTinyScale must be a function/);
    expect(() => clipWatch({ onTinyscale: () => {} } as never)).toThrow(/unknown option 'onTinyscale'/);
    expect(() => withWarnings({} as never, {})).toThrow(/clipper must be a Clipper/);
  });
});
