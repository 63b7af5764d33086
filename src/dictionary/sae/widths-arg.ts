import { fail } from '../../core/errors.js';

/** Parse a `--widths 64,128,256` option (matryoshka-sae only); nesting is checked by the SAE config. */
export function parseWidths(text: string, kind: string): number[] {
  if (kind !== 'matryoshka') fail('E_USAGE', `--widths applies to matryoshka-sae, not to ${kind}-sae`);
  const parts = String(text).split(',').map((t) => t.trim());
  const w = parts.map((t) => Number(t));
  for (let g = 0; g < w.length; g++) {
    if (parts[g] === '' || !Number.isInteger(w[g]) || w[g] < 1) fail('E_USAGE', `--widths must be comma-separated positive integers like 64,128,256,512 (ending at --atoms), got "${text}"`);
  }
  return w;
}
