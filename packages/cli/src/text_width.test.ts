/**
 * Text widths from DejaVu Sans' own advance widths (the font the report's PNGs are drawn
 * with). Expected values: the font's hmtx advances in font units over unitsPerEm = 2048
 * ('M' 1767, 'i' 569, ' ' 651 units: DejaVu Sans' hmtx advances).
 */
import { describe, expect, it } from 'vitest';
import { wrapText } from './render.js';
import { textWidth } from './text_width.js';

describe('textWidth', () => {
  it("is the sum of DejaVu Sans' advances: 'M' 1767/2048 em, 'i' 569/2048 em, space 651/2048 em", () => {
    expect(textWidth('M', 2048)).toBeCloseTo(1767, 6);
    expect(textWidth('i', 2048)).toBeCloseTo(569, 6);
    expect(textWidth('Mi i', 10)).toBeCloseTo((10 * (1767 + 2 * 569 + 651)) / 2048, 9);
  });

  it('has glyphs for the subscripts and symbols the charts use (no 0.6 em fallback)', () => {
    for (const ch of ['ₜ', '₋', '₁', '⁴', '‖', '∇', 'σ', '≤', '×'])
      expect(textWidth(ch, 100), ch).not.toBeCloseTo(60, 6);
  });

  it("is narrower than Vega's 0.8 em estimate for ordinary text (the cause of the blank margins)", () => {
    const s = 'Dots: seeds; line: median (diverged seeds count as +∞)';
    expect(textWidth(s, 11)).toBeLessThan(0.75 * 0.8 * 11 * s.length);
  });
});

describe('wrapText', () => {
  it('breaks at spaces so that no line is wider than the limit, keeping every word', () => {
    const s = 'the quick brown fox jumps over the lazy dog again and again';
    const lines = wrapText(s, 100, 11);
    expect(lines.length).toBeGreaterThan(1);
    for (const l of lines) expect(textWidth(l, 11)).toBeLessThanOrEqual(100);
    expect(lines.join(' ')).toBe(s);
  });

  it('a word wider than the limit stays whole on its own line', () => {
    expect(wrapText('a ' + 'x'.repeat(50) + ' b', 50, 11)).toEqual(['a', 'x'.repeat(50), 'b']);
  });
});
