import { fail } from '../../core/errors.js';
import { loadModel } from '../../dictionary/model-runtime.js';
import { dictionaryRecovery } from '../../metrics/dictionary.js';
import type { Command } from '../command.js';

/** Seed stability: match two models' decoder rows one-to-one (Hungarian on |cos|). */
export function compareDecoders(aDir: string, bDir: string): Record<string, unknown> {
  const A = loadModel(aDir), B = loadModel(bDir);
  if (A.dim !== B.dim) fail('E_SHAPE', `shape mismatch: ${aDir} has d_in = ${A.dim} and ${bDir} has d_in = ${B.dim}; compare models trained on the same activations`);
  const r = dictionaryRecovery(B.weights.W_dec, A.weights.W_dec, { threshold: 0.9 });
  const pairs = r.cosines.length;
  let above07 = 0;
  for (const c of r.cosines) if (c > 0.7) above07++;
  const matchedA = new Set<number>(), matchedB = new Set<number>();
  const matches: { a: number; b: number; cos: number }[] = [];
  for (let t = 0; t < pairs; t++) {
    matchedA.add(r.matching.truth[t]);
    matchedB.add(r.matching.learned[t]);
    matches.push({ a: r.matching.truth[t], b: r.matching.learned[t], cos: r.cosines[t] });
  }
  // unmatched: latents of either model with no partner above 0.7 (including those left over when widths differ)
  const unmatchedA: number[] = [], unmatchedB: number[] = [];
  for (const m of matches) if (!(m.cos > 0.7)) { unmatchedA.push(m.a); unmatchedB.push(m.b); }
  for (let i = 0; i < A.atoms; i++) if (!matchedA.has(i)) unmatchedA.push(i);
  for (let i = 0; i < B.atoms; i++) if (!matchedB.has(i)) unmatchedB.push(i);
  unmatchedA.sort((x, y) => x - y);
  unmatchedB.sort((x, y) => x - y);
  return {
    a: aDir, b: bDir, atoms_a: A.atoms, atoms_b: B.atoms, pairs,
    mean_cos: r.meanCos,
    frac_above_0_9: r.frac090,
    frac_above_0_7: above07 / pairs,
    unmatched_a: unmatchedA,
    unmatched_b: unmatchedB,
    matches,
  };
}

export const compareCommand: Command = {
  name: 'compare',
  summary: 'seed stability: match two models\' decoders (Hungarian on |cos|), fractions above 0.9 and 0.7, unmatched latents',
  usage: 'compare A/ B/ [--json]',
  description: [
    'Loads two model directories (any layout `inspect` reads), matches their decoder rows one-to-one to',
    'maximise the summed |cosine| (Hungarian), and reports the mean matched |cos|, the fraction of pairs',
    'above 0.9 and 0.7, and the unmatched latents of each model: those whose matched partner has',
    '|cos| <= 0.7, and those left without a partner when the widths differ.',
  ].join('\n'),
  positionals: [
    { name: 'a', help: 'first model directory', required: true },
    { name: 'b', help: 'second model directory', required: true },
  ],
  options: [
    { name: 'json', type: 'boolean', help: 'print one JSON object (with the full matching)' },
  ],
  examples: [
    'sparsecode compare runs/seed0/ runs/seed1/ --json',
  ],
  async run(ctx) {
    if (ctx.positionals.length !== 2) fail('E_USAGE', `compare needs exactly two model directories, got ${ctx.positionals.length}`);
    const r = compareDecoders(ctx.positionals[0], ctx.positionals[1]);
    if (ctx.opts.json) {
      ctx.print(JSON.stringify(r));
      return;
    }
    ctx.print(`${r.a} (${r.atoms_a} latents) vs ${r.b} (${r.atoms_b} latents): ${r.pairs} matched pairs`);
    ctx.print(`  mean matched |cos|   ${(r.mean_cos as number).toFixed(4)}`);
    ctx.print(`  pairs above 0.9      ${(100 * (r.frac_above_0_9 as number)).toFixed(1)}%`);
    ctx.print(`  pairs above 0.7      ${(100 * (r.frac_above_0_7 as number)).toFixed(1)}%`);
    ctx.print(`  unmatched            ${(r.unmatched_a as number[]).length} in A, ${(r.unmatched_b as number[]).length} in B`);
  },
};
