// HTML pieces every report page shares.

/** Text → HTML text (&, <, >). */
export const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A table in a wrapper that scrolls sideways, so a wide table never widens the page (phones). */
export function table(headers: string[], rows: (string | number)[][]): string {
  return `<div class="scroll"><table><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(String(c))}</td>`).join('')}</tr>`)
    .join('')}</tbody></table></div>`;
}
