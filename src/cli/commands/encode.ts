import { fail } from '../../core/errors.js';
import type { Matrix } from '../../core/matrix.js';
import { backend } from '../../backend/index.js';
import { readNpyMatrix, writeNpy } from '../../io/npy.js';
import { encode, ENCODE_METHODS, meanL0, type EncodeMethod } from '../../inference/index.js';
import type { Command } from '../command.js';

const L1_METHODS = new Set<EncodeMethod>(['fista', 'ista', 'lasso-cd']);

/** Where the dictionary comes from. (A saved model directory, --model, is planned to plug in here.) */
function loadDictionary(opts: Record<string, any>): { D: Matrix; source: string } {
  if (opts.dictionary === undefined) fail('E_USAGE', 'missing required option --dictionary (the dictionary [atoms x dim], .npy)');
  return { D: readNpyMatrix(opts.dictionary), source: `--dictionary ${opts.dictionary}` };
}

export const encodeCommand: Command = {
  name: 'encode',
  summary: 'sparse codes for data from a fixed dictionary (FISTA, ISTA, coordinate-descent Lasso, OMP, matching pursuit)',
  usage: 'encode --dictionary D.npy --input X.npy --out Z.npy [--method fista|ista|lasso-cd|omp|mp] [--lambda L] [--iters T] [--k K] [--nonneg] [--tol T] [--json]',
  description: [
    'X is [samples x dim], the dictionary D is [atoms x dim] (rows are atoms; unit-norm rows expected),',
    'the codes Z written to --out are [samples x atoms] (float32), with X ≈ Z·D.',
    'fista, ista, lasso-cd: per sample minimise 1/2||x − zD||² + λ||z||₁ (z >= 0 with --nonneg);',
    '  --iters caps iterations (fista/ista, default 100) or sweeps (lasso-cd, default 1000); --tol is the',
    '  relative change of the codes that counts as converged (0 runs exactly --iters iterations).',
    'omp: orthogonal matching pursuit, --k atoms per sample and/or stop when ||x − zD||² <= --tol.',
    'mp: matching pursuit, --k greedy steps.',
    'Prints one line: mean objective (1/2||x − zD||² + λ||z||₁ per sample), mean L0, iterations, time.',
  ].join('\n'),
  options: [
    { name: 'dictionary', type: 'string', help: 'dictionary [atoms x dim] (.npy)', metavar: 'D.npy' },
    { name: 'input', type: 'string', help: 'data [samples x dim] (.npy)', required: true, metavar: 'X.npy' },
    { name: 'out', type: 'string', help: 'where to write the codes [samples x atoms] (.npy, written atomically)', required: true, metavar: 'Z.npy' },
    { name: 'method', type: 'string', help: 'inference method', default: 'fista', choices: ENCODE_METHODS },
    { name: 'lambda', type: 'number', help: 'L1 weight λ (required for fista, ista, lasso-cd)', metavar: 'L' },
    { name: 'iters', type: 'int', help: 'iteration cap (fista/ista: iterations, lasso-cd: sweeps)', metavar: 'T' },
    { name: 'k', type: 'int', help: 'atoms per sample (omp; required for mp)', metavar: 'K' },
    { name: 'nonneg', type: 'boolean', help: 'non-negative codes (fista, ista, lasso-cd)' },
    { name: 'tol', type: 'number', help: 'stopping tolerance (omp: target squared residual)', metavar: 'T' },
    { name: 'json', type: 'boolean', help: 'print one JSON object instead of the summary line' },
  ],
  examples: [
    'sparsecode encode --dictionary D.npy --input X.npy --lambda 0.1 --out Z.npy',
    'sparsecode encode --dictionary D.npy --input X.npy --method fista --lambda 0.1 --iters 100 --nonneg --out Z.npy',
    'sparsecode encode --dictionary D.npy --input X.npy --method omp --k 10 --out Z.npy --json',
  ],
  async run(ctx) {
    const o = ctx.opts;
    const method = o.method as EncodeMethod;
    if (L1_METHODS.has(method)) {
      if (o.lambda === undefined) fail('E_USAGE', `--method ${method} needs --lambda L (the L1 weight, e.g. 0.1)`);
      if (o.k !== undefined) fail('E_USAGE', `--k applies to omp and mp; --method ${method} sets sparsity with --lambda`);
    } else {
      if (o.nonneg) fail('E_USAGE', `--nonneg applies to fista, ista and lasso-cd, not to --method ${method}`);
      if (o.iters !== undefined) fail('E_USAGE', `--iters applies to fista, ista and lasso-cd; --method ${method} takes --k`);
      if (method === 'mp' && o.k === undefined) fail('E_USAGE', '--method mp needs --k K (the number of greedy steps)');
    }
    const { D, source } = loadDictionary(o);
    const X = readNpyMatrix(o.input);
    if (X.cols !== D.cols) {
      fail('E_SHAPE', `shape mismatch: X has ${X.cols} columns, dictionary has ${D.cols} (--input ${o.input} is [${X.rows} x ${X.cols}], ${source} is [${D.rows} x ${D.cols}]); the dictionary must be [atoms x ${X.cols}]`);
    }
    checkAbortedCli(ctx.signal);
    const t0 = performance.now();
    const r = encode(X, D, { method, lambda: o.lambda, iters: o.iters, k: o.k, nonneg: !!o.nonneg, tol: o.tol });
    const seconds = (performance.now() - t0) / 1000;
    checkAbortedCli(ctx.signal);
    writeNpy(o.out, r.Z);
    const l0 = meanL0(r.Z);
    const summary = {
      method,
      samples: X.rows,
      atoms: D.rows,
      dim: D.cols,
      lambda: o.lambda ?? null,
      objective: r.objective ?? null,
      mean_l0: l0,
      iterations: r.iterations,
      converged: r.converged,
      seconds,
      backend: backend().name,
      out: o.out,
    };
    if (o.json) ctx.print(JSON.stringify(summary));
    else {
      const it = method === 'omp' || method === 'mp' ? `${r.iterations} atoms max` : `${r.iterations} iterations${r.converged ? ' (converged)' : ''}`;
      ctx.print(`${method}: ${X.rows} samples x ${D.rows} atoms, objective ${fmt(r.objective)}, mean L0 ${l0.toFixed(2)}, ${it}, ${seconds.toFixed(2)} s -> ${o.out}`);
    }
  },
};

function fmt(v: number | undefined): string {
  return v === undefined ? 'n/a' : Math.abs(v) >= 1e-3 && Math.abs(v) < 1e5 ? v.toPrecision(5) : v.toExponential(4);
}

function checkAbortedCli(signal: AbortSignal): void {
  if (signal.aborted) fail('E_CANCELLED', 'encode: interrupted; no codes were written');
}
