import { fail } from '../../core/errors.js';
import { sigreg, SIGREG_DEFAULTS, sigregGaussianExpectation } from '../../objectives/sigreg.js';
import type { Command } from '../command.js';
import { readMatrixArg, TENSOR_OPTION } from '../inputs.js';

/** `sparsecode sigreg`: the SIGReg statistic of a matrix of embeddings. */
export const sigregCommand: Command = {
  name: 'sigreg',
  summary: "SIGReg, LeJEPA's sketched isotropic Gaussian test statistic, of a matrix of embeddings",
  usage: 'sigreg --input H.npy [--directions A.npy | --num-directions M --seed S] [--knots 17] [--t-max 3] [--json]',
  description: [
    'SIGReg as the LeJEPA reference code computes it (docs/lejepa.md): project the embeddings H [samples x dim] on M',
    'unit directions (columns of A [dim x M]; random N(0,1) columns normalised, or --directions), and for each direction',
    'the Epps-Pulley statistic N * sum_j W_j [(mean cos(t_j s) - exp(-t_j^2/2))^2 + (mean sin(t_j s))^2] over 17 knots',
    't_j on [0, 3] (trapezoid weights x exp(-t^2/2)); SIGReg is the mean over directions. Embeddings drawn from N(0, I)',
    `give ${sigregGaussianExpectation().toFixed(4)} in expectation whatever N is; all-zero embeddings give 0.40205 N. With --directions the`,
    'value is deterministic; otherwise the directions come from --seed.',
  ].join('\n'),
  options: [
    { name: 'input', type: 'string', help: 'embeddings H [samples x dim] (.npy or .safetensors)', required: true, metavar: 'H.npy' },
    { name: 'directions', type: 'string', help: 'directions A [dim x M] with unit-norm columns (.npy)', metavar: 'A.npy' },
    { name: 'num-directions', type: 'int', help: `number of random directions M (default ${SIGREG_DEFAULTS.numDirections})`, metavar: 'M' },
    { name: 'seed', type: 'int', help: 'seed of the random directions', default: 0 },
    { name: 'knots', type: 'int', help: 'number of knots K on [0, t-max]', default: SIGREG_DEFAULTS.knots },
    { name: 't-max', type: 'number', help: 'integration limit', default: SIGREG_DEFAULTS.tMax },
    { name: 'json', type: 'boolean', help: 'print {"value", "directions", "samples"} as one JSON object' },
    TENSOR_OPTION,
  ],
  examples: [
    'sparsecode sigreg --input embeddings.npy --json',
    'sparsecode sigreg --input embeddings.npy --num-directions 1024 --seed 3',
    'sparsecode sigreg --input embeddings.npy --directions directions.npy --json',
  ],
  async run(ctx) {
    const o = ctx.opts;
    if (o.directions !== undefined && o['num-directions'] !== undefined) {
      fail('E_USAGE', 'give either --directions A.npy or --num-directions M, not both (A fixes M = its number of columns)');
    }
    if (o['num-directions'] !== undefined && !(o['num-directions'] >= 1)) fail('E_USAGE', `--num-directions must be >= 1, got ${o['num-directions']}`);
    const H = readMatrixArg(o.input, o.tensor, '--input');
    const A = o.directions !== undefined ? readMatrixArg(o.directions, o.tensor, '--directions') : undefined;
    const r = sigreg(H, { directions: A, numDirections: o['num-directions'], seed: o.seed, knots: o.knots, tMax: o['t-max'] });
    if (o.json) {
      ctx.print(JSON.stringify({ value: r.value, directions: r.directions.cols, samples: r.samples }));
      return;
    }
    let lo = Infinity, hi = -Infinity;
    for (const v of r.perDirection) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    ctx.print(`SIGReg ${r.value.toPrecision(6)} over ${r.directions.cols} directions, ${r.samples} samples of dimension ${H.cols}`);
    ctx.print(`  per-direction statistic: min ${lo.toPrecision(4)}, max ${hi.toPrecision(4)} (N(0, I) embeddings: ${sigregGaussianExpectation().toFixed(4)} in expectation)`);
  },
};
