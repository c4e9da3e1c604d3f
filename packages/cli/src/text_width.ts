/**
 * Text widths for chart layout in Node, from the advance widths of the font the PNGs are
 * drawn with (DejaVu Sans). Without a canvas, Vega estimates every character at 0.8 em —
 * about 1.4× DejaVu's real average — so a long subtitle made the canvas far wider than what
 * it drew (issue 23: 26–45 % blank right margins). Reads the TrueType `cmap` (format 4) and
 * `hmtx` tables; no kerning (a few per cent at most). Node only.
 */
import { readFileSync } from 'node:fs';

export interface FontWidths {
  /** Advance width of a code point in em, or undefined when the font has no glyph for it. */
  advance(codePoint: number): number | undefined;
}

/** Parses the advance widths of a TrueType font file (cmap format 4, hmtx). */
export function parseFontWidths(buf: Uint8Array): FontWidths {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const numTables = dv.getUint16(4);
  const tables = new Map<string, number>();
  for (let i = 0; i < numTables; i++) {
    const rec = 12 + 16 * i;
    const tag = String.fromCharCode(buf[rec]!, buf[rec + 1]!, buf[rec + 2]!, buf[rec + 3]!);
    tables.set(tag, dv.getUint32(rec + 8));
  }
  const need = (tag: string) => {
    const o = tables.get(tag);
    if (o === undefined) throw new RangeError(`font has no ${tag} table`);
    return o;
  };
  const unitsPerEm = dv.getUint16(need('head') + 18);
  const numberOfHMetrics = dv.getUint16(need('hhea') + 34);
  const hmtx = need('hmtx');
  const cmap = need('cmap');
  let sub = -1;
  for (let i = 0; i < dv.getUint16(cmap + 2); i++) {
    const rec = cmap + 4 + 8 * i;
    const platform = dv.getUint16(rec);
    const encoding = dv.getUint16(rec + 2);
    const off = cmap + dv.getUint32(rec + 4);
    if (((platform === 3 && encoding === 1) || platform === 0) && dv.getUint16(off) === 4) {
      sub = off;
      break;
    }
  }
  if (sub < 0) throw new RangeError('font has no cmap format 4 subtable');
  const segX2 = dv.getUint16(sub + 6);
  const ends = sub + 14;
  const starts = ends + segX2 + 2;
  const deltas = starts + segX2;
  const rangeOffsets = deltas + segX2;
  const glyphOf = (cp: number): number => {
    if (cp > 0xffff) return 0;
    for (let s = 0; s < segX2; s += 2) {
      if (dv.getUint16(ends + s) < cp) continue;
      const start = dv.getUint16(starts + s);
      if (start > cp) return 0;
      const delta = dv.getUint16(deltas + s);
      const ro = dv.getUint16(rangeOffsets + s);
      if (ro === 0) return (cp + delta) & 0xffff;
      const g = dv.getUint16(rangeOffsets + s + ro + 2 * (cp - start));
      return g === 0 ? 0 : (g + delta) & 0xffff;
    }
    return 0;
  };
  const cache = new Map<number, number | undefined>();
  return {
    advance(cp) {
      if (cache.has(cp)) return cache.get(cp);
      const g = glyphOf(cp);
      const w = g === 0 ? undefined : dv.getUint16(hmtx + 4 * Math.min(g, numberOfHMetrics - 1)) / unitsPerEm;
      cache.set(cp, w);
      return w;
    },
  };
}

const DEJAVU = '/usr/share/fonts/truetype/dejavu/';
let fonts: { normal: FontWidths | null; bold: FontWidths | null } | null = null;

function load(file: string): FontWidths | null {
  try {
    return parseFontWidths(readFileSync(DEJAVU + file));
  } catch {
    return null; // no DejaVu on this system: fall back to the estimate below
  }
}

/**
 * Width in px of `text` at `fontSize` px: DejaVu Sans (Bold for weights ≥ 600) where the
 * font is installed and has the glyph, else 0.6 em a character (DejaVu's average is ≈ 0.55).
 */
export function textWidth(text: string, fontSize: number, bold = false): number {
  fonts ??= { normal: load('DejaVuSans.ttf'), bold: load('DejaVuSans-Bold.ttf') };
  const f = (bold ? fonts.bold : fonts.normal) ?? fonts.normal;
  let em = 0;
  for (const ch of text) em += f?.advance(ch.codePointAt(0)!) ?? 0.6;
  return em * fontSize;
}
