import { align, alignmentMetrics, type AlignmentMetric } from '../../alignment/index.js';
import { fail } from '../../core/errors.js';
import type { Command } from '../command.js';
import { readMatrixArg, TENSOR_OPTION } from '../inputs.js';

export const alignCommand: Command = {
  name: 'align',
  summary: 'compare two representations of the same samples (CKA, RSA, regression, matching, Procrustes)',
  usage: 'align --a A.npy --b B.npy --metric M [--rdm R] [--compare C] [--folds K] [--alpha a] [--seed S] [--json]',
  description:
    'A and B are 2-D .npy arrays or .safetensors tensors (--tensor NAME, or FILE.safetensors:NAME) [samples x units] with the same number of rows (the same samples, in the same order); ' +
    'their widths may differ. Prints the metric value and a few details (one JSON object with --json). ' +
    'regression predicts B from A (ridge, k-fold CV; value = mean Pearson r over B\'s columns, r2 = variance-weighted R²); ' +
    'semi-matching averages, over A\'s units, the best Pearson r with any unit of B; soft-matching is the optimal-transport ' +
    'version with uniform unit masses; procrustes is the orthogonal Procrustes similarity ‖AᵀB‖_* / (‖A‖‖B‖) after centring ' +
    '(the narrower side is zero-padded). rsa and rbf-cka build [samples x samples] matrices: memory grows as samples².',
  options: [
    { name: 'a', type: 'string', help: 'first representation, .npy [samples x p]', required: true, metavar: 'A.npy' },
    { name: 'b', type: 'string', help: 'second representation, .npy [samples x q]', required: true, metavar: 'B.npy' },
    { name: 'metric', type: 'string', help: 'alignment metric', required: true, choices: alignmentMetrics },
    { name: 'rdm', type: 'string', help: 'rsa: dissimilarity between samples', default: 'correlation', choices: ['correlation', 'euclidean', 'sqeuclidean'] },
    { name: 'compare', type: 'string', help: 'rsa: how to compare the two RDMs', default: 'spearman', choices: ['spearman', 'pearson'] },
    { name: 'folds', type: 'int', help: 'regression: cross-validation folds', default: 5 },
    { name: 'alpha', type: 'number', help: 'regression: ridge penalty', default: 1 },
    { name: 'seed', type: 'int', help: 'regression: seed of the fold assignment', default: 0 },
    { name: 'factor', type: 'number', help: 'rbf-cka: bandwidth = factor x median pairwise distance', default: 1 },
    { name: 'abs', type: 'boolean', help: 'semi-/soft-matching: match on |r| instead of r' },
    { name: 'json', type: 'boolean', help: 'print one JSON object' },
    TENSOR_OPTION,
  ],
  isolate: true,
  examples: [
    'sparsecode align --a netA.npy --b netB.npy --metric linear-cka',
    'sparsecode align --a netA.npy --b netB.npy --metric rsa --rdm euclidean --compare pearson --json',
    'sparsecode align --a codesA.npy --b codesB.npy --metric regression --folds 5 --alpha 10 --seed 1',
  ],
  async run(ctx) {
    const o = ctx.opts;
    const A = readMatrixArg(o.a, o.tensor, '--a');
    const B = readMatrixArg(o.b, o.tensor, '--b');
    if (A.rows !== B.rows) {
      fail('E_SHAPE', `--a ${o.a} has ${A.rows} samples (rows) but --b ${o.b} has ${B.rows}; both files must hold the same samples in the same order (shapes [${A.rows} x ${A.cols}] and [${B.rows} x ${B.cols}])`);
    }
    const metric = o.metric as AlignmentMetric;
    if ((metric === 'rsa' || metric === 'rbf-cka') && A.rows > 20000) {
      ctx.note(`note: ${metric} on ${A.rows} samples builds ${A.rows} x ${A.rows} matrices (about ${((A.rows * A.rows * 8 * 1.5) / 2 ** 30).toFixed(1)} GiB)`);
    }
    const t0 = performance.now();
    const r = align(A, B, metric, { rdm: o.rdm, compare: o.compare, folds: o.folds, alpha: o.alpha, seed: o.seed, factor: o.factor, abs: !!o.abs });
    const seconds = (performance.now() - t0) / 1000;
    if (o.json) {
      ctx.print(JSON.stringify({ metric: r.metric, value: r.value, ...r.details, seconds }));
      return;
    }
    ctx.print(`${r.metric}: ${r.value.toFixed(6)}`);
    for (const [k, v] of Object.entries(r.details)) ctx.print(`  ${k}: ${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(6) : String(v)}`);
  },
};
