import { fail } from '../../core/errors.js';
import type { Matrix } from '../../core/matrix.js';
import { backend } from '../../backend/index.js';
import { createNpyWriter, type NpyWriter } from '../../io/npy-writer.js';
import { batches } from '../../io/rows.js';
import { encode, ENCODE_METHODS, type EncodeMethod } from '../../inference/index.js';
import type { Command } from '../command.js';
import { openRowsArg, readMatrixArg, TENSOR_OPTION } from '../inputs.js';
import type { Progress } from '../progress.js';

const L1_METHODS = new Set<EncodeMethod>(['fista', 'ista', 'lasso-cd']);

/** Where the dictionary comes from. (A saved model directory, --model, is planned to plug in here.) */
function loadDictionary(opts: Record<string, any>): { D: Matrix; source: string } {
  if (opts.dictionary === undefined) fail('E_USAGE', 'missing required option --dictionary (the dictionary [atoms x dim], .npy)');
  return { D: readMatrixArg(opts.dictionary, opts.tensor, '--dictionary'), source: `--dictionary ${opts.dictionary}` };
}

/** Default rows per batch: about 2^24 code values (64 MiB of float32 codes), within [256, 8192]. */
function defaultBatch(atoms: number): number {
  return Math.min(8192, Math.max(256, Math.floor(2 ** 24 / Math.max(1, atoms))));
}

export const encodeCommand: Command = {
  name: 'encode',
  summary: 'sparse codes for data from a fixed dictionary (FISTA, ISTA, coordinate-descent Lasso, OMP, matching pursuit)',
  usage: 'encode --dictionary D.npy --input X.npy --out Z.npy [--method fista|ista|lasso-cd|omp|mp] [--lambda L] [--iters T] [--k K] [--nonneg] [--tol T] [--batch B] [--tensor NAME] [--json]',
  description: [
    'X is [samples x dim], the dictionary D is [atoms x dim] (rows are atoms; unit-norm rows expected),',
    'the codes Z written to --out are [samples x atoms] (float32), with X ≈ Z·D.',
    'fista, ista, lasso-cd: per sample minimise 1/2||x − zD||² + λ||z||₁ (z >= 0 with --nonneg);',
    '  --iters caps iterations (fista/ista, default 100) or sweeps (lasso-cd, default 1000); --tol is the',
    '  relative change of the codes that counts as converged (0 runs exactly --iters iterations).',
    'omp: orthogonal matching pursuit, --k atoms per sample and/or stop when ||x − zD||² <= --tol.',
    'mp: matching pursuit, --k greedy steps.',
    'Prints one line: mean objective (1/2||x − zD||² + λ||z||₁ per sample), mean L0, iterations, time.',
    'X may be a .npy or a .safetensors tensor (--tensor NAME or FILE.safetensors:NAME) and is streamed',
    '--batch rows at a time: the codes are appended to --out as they are computed (renamed into place',
    'at the end), so memory is bounded by the batch size, not by the number of samples. Convergence',
    '(--tol) is checked per batch; iterations reports the largest count over the batches.',
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
    { name: 'batch', type: 'int', help: 'samples per batch [2^24/atoms, within 256..8192]', metavar: 'B' },
    TENSOR_OPTION,
    { name: 'json', type: 'boolean', help: 'print one JSON object instead of the summary line' },
  ],
  examples: [
    'sparsecode encode --dictionary D.npy --input X.npy --lambda 0.1 --out Z.npy',
    'sparsecode encode --dictionary D.npy --input X.npy --method fista --lambda 0.1 --iters 100 --nonneg --out Z.npy',
    'sparsecode encode --dictionary D.npy --input X.npy --method omp --k 10 --out Z.npy --json',
    'sparsecode encode --dictionary D.npy --input acts.safetensors --tensor layer6 --lambda 0.1 --batch 2048 --out Z.npy',
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
    if (o.batch !== undefined && o.batch < 1) fail('E_USAGE', `--batch must be >= 1, got ${o.batch}`);
    const { D, source } = loadDictionary(o);
    const X = openRowsArg(o.input, o.tensor, '--input', 'X');
    let writer: NpyWriter | null = null;
    let bar: Progress | null = null;
    const t0 = performance.now();
    let objSum = 0, nnz = 0, iterations = 0, converged = true, hasObjective = true;
    try {
      if (X.cols !== D.cols) {
        fail('E_SHAPE', `shape mismatch: X has ${X.cols} columns, dictionary has ${D.cols} (--input ${o.input} is [${X.rows} x ${X.cols}], ${source} is [${D.rows} x ${D.cols}]); the dictionary must be [atoms x ${X.cols}]`);
      }
      const batch = o.batch ?? defaultBatch(D.rows);
      writer = createNpyWriter(o.out, { rows: X.rows, cols: D.rows });
      if (X.rows > batch) bar = ctx.progress('encode', X.rows, 'samples');
      for (const b of batches(X, { batch, shuffle: 'none' })) {
        checkAbortedCli(ctx.signal);
        const r = encode(b.X, D, { method, lambda: o.lambda, iters: o.iters, k: o.k, nonneg: !!o.nonneg, tol: o.tol });
        writer.append(r.Z);
        if (r.objective === undefined) hasObjective = false;
        else objSum += r.objective * b.X.rows;
        for (let i = 0; i < r.Z.data.length; i++) if (r.Z.data[i] !== 0) nnz++;
        iterations = Math.max(iterations, r.iterations);
        converged &&= r.converged;
        bar?.update(writer.rowsWritten);
      }
      checkAbortedCli(ctx.signal);
      writer.finish();
      bar?.finish();
    } catch (e) {
      writer?.abort();
      throw e;
    } finally {
      X.close();
    }
    const seconds = (performance.now() - t0) / 1000;
    const r = { objective: hasObjective && X.rows > 0 ? objSum / X.rows : undefined, iterations, converged };
    const l0 = nnz / Math.max(1, X.rows);
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
