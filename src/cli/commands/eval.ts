import { fail } from '../../core/errors.js';
import { deadLatents, dictionaryRecovery, l0, mcc } from '../../metrics/index.js';
import type { Command } from '../command.js';
import { readMatrixArg, TENSOR_OPTION } from '../inputs.js';

export const evalCommand: Command = {
  name: 'eval',
  summary: 'score recovered codes (and dictionaries) against the ground truth: MCC, dictionary recovery, L0',
  usage: 'eval --codes Z.npy --truth ZTRUE.npy [--dictionary D.npy --true-dictionary A.npy] [--ood] [--json]',
  description: [
    'MCC: mean |Pearson r| between code columns and true latent columns after a one-to-one (Hungarian)',
    'matching. Latents that never vary are left out and the narrower side is padded with noise columns',
    '(--pad none averages over the matched pairs only). --ood applies the OOD rule: keep the latents',
    'active in this set and the same number of code columns of largest variance.',
    'Dictionaries are [atoms x dim] (rows are atoms): Hungarian matching on |cosine|, mean matched cosine',
    'and the fraction of matched atoms above 0.9.',
  ].join('\n'),
  options: [
    { name: 'codes', type: 'string', help: 'recovered codes [samples x atoms] (.npy)', required: true, metavar: 'Z.npy' },
    { name: 'truth', type: 'string', help: 'true latents [samples x latents] (.npy), same samples in the same order', required: true, metavar: 'ZTRUE.npy' },
    { name: 'dictionary', type: 'string', help: 'learned dictionary [atoms x dim] (.npy)', metavar: 'D.npy' },
    { name: 'true-dictionary', type: 'string', help: 'true dictionary / mixing [latents x dim] (.npy)', metavar: 'A.npy' },
    { name: 'ood', type: 'boolean', help: 'OOD rule for MCC (active latents only, highest-variance code columns)' },
    { name: 'pad', type: 'string', help: 'how MCC treats unequal widths', default: 'noise', choices: ['noise', 'none'] },
    { name: 'seed', type: 'int', help: 'seed of the MCC padding noise', default: 42 },
    { name: 'tol', type: 'number', help: 'a code counts as active when |z| > tol (L0, dead latents)', default: 0 },
    { name: 'json', type: 'boolean', help: 'print one JSON object' },
    TENSOR_OPTION,
  ],
  isolate: true,
  examples: [
    'sparsecode eval --codes codes_val.npy --truth worlds/n100/val_z.npy --json',
    'sparsecode eval --codes codes_ood.npy --truth worlds/n100/ood_z.npy --ood --dictionary D.npy --true-dictionary worlds/n100/mixing.npy',
  ],
  async run(ctx) {
    const o = ctx.opts;
    if ((o.dictionary === undefined) !== (o['true-dictionary'] === undefined)) {
      fail('E_USAGE', 'dictionary recovery needs both --dictionary and --true-dictionary');
    }
    const codes = readMatrixArg(o.codes, o.tensor, '--codes');
    const truth = readMatrixArg(o.truth, o.tensor, '--truth');
    if (codes.rows !== truth.rows) {
      fail('E_SHAPE', `shape mismatch: --codes ${o.codes} has ${codes.rows} rows, --truth ${o.truth} has ${truth.rows}; both must hold the same samples in the same order`);
    }
    const m = mcc(codes, truth, { ood: !!o.ood, pad: o.pad, seed: o.seed });
    const out: Record<string, number | string | boolean> = {
      mcc: m.mcc,
      mcc_pairs: m.pairs,
      mcc_latents_used: m.latentsUsed.length,
      mcc_rule: o.ood ? 'ood' : 'id',
      samples: codes.rows,
      code_cols: codes.cols,
      truth_cols: truth.cols,
      l0: l0(codes, o.tol),
      true_l0: l0(truth, o.tol),
      dead_fraction: deadLatents(codes, o.tol),
    };
    if (o.dictionary !== undefined) {
      const D = readMatrixArg(o.dictionary, o.tensor, '--dictionary');
      const A = readMatrixArg(o['true-dictionary'], o.tensor, '--true-dictionary');
      const r = dictionaryRecovery(D, A);
      out.dict_mean_cos = r.meanCos;
      out.dict_frac_090 = r.frac090;
      out.dict_pairs = r.cosines.length;
    }
    if (o.json) {
      ctx.print(JSON.stringify(out));
      return;
    }
    const fmt = (v: number | string | boolean) => (typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(4) : String(v));
    const rows: [string, string][] = [
      [`MCC (${out.mcc_rule}, ${out.mcc_pairs} pairs)`, fmt(out.mcc)],
      ['L0 codes / truth', `${fmt(out.l0)} / ${fmt(out.true_l0)}`],
      ['dead code columns', `${(100 * (out.dead_fraction as number)).toFixed(1)}%`],
    ];
    if (out.dict_mean_cos !== undefined) {
      rows.push([`dictionary mean |cos| (${out.dict_pairs} pairs)`, fmt(out.dict_mean_cos)]);
      rows.push(['dictionary atoms with |cos| > 0.9', `${(100 * (out.dict_frac_090 as number)).toFixed(1)}%`]);
    }
    const w = Math.max(...rows.map((r) => r[0].length)) + 2;
    ctx.print(`${codes.rows} samples, ${codes.cols} code columns, ${truth.cols} true latents`);
    for (const [k, v] of rows) ctx.print(`  ${k.padEnd(w)}${v}`);
  },
};
