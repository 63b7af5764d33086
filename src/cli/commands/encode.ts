import { fail } from '../../core/errors.js';
import { checkOutFile } from '../out-path.js';
import type { Matrix } from '../../core/matrix.js';
import { backend } from '../../backend/index.js';
import { createNpyWriter, type NpyWriter } from '../../io/npy-writer.js';
import { batches } from '../../io/rows.js';
import { type LoadedModel, loadModel } from '../../dictionary/model-runtime.js';
import { modelDictionary } from '../../dictionary/model-dictionary.js';
import { encode, ENCODE_METHODS, type EncodeMethod } from '../../inference/index.js';
import type { Command } from '../command.js';
import { openRowsArg, readMatrixArg, TENSOR_OPTION } from '../inputs.js';
import type { Progress } from '../progress.js';
import { orphaned } from '../isolate.js';

const L1_METHODS = new Set<EncodeMethod>(['fista', 'ista', 'lasso-cd']);

/**
 * Where the codes come from:
 * - `--dictionary D.npy`: D [atoms x dim] with --method (default lasso-cd: converged, and faster than
 *   fixed-step FISTA on sparse solutions);
 * - `--model DIR` without --method: the model's own encoder (`loadModel(DIR).encode`: the SAE's
 *   encoder, or FISTA with the stored settings for classical dictionaries), on raw rows;
 * - `--model DIR --method M`: the model's decoder W_dec as the dictionary, on the rows
 *   `prepare(x) = u − b_dec` (u = x, whitened first when the model stores a whitening): the
 *   codes that reconstruct x through the model's decoder (see dictionary/model-dictionary.ts).
 * With a model, `model` is set and reconstructions (model.decode) give the FVU in raw space.
 */
interface CodeSource {
  /** the dictionary inference runs on ([atoms x dim]); W_dec for models */
  D: Matrix;
  /** how messages name it */
  source: string;
  /** the input width */
  dim: number;
  model?: LoadedModel;
  /** rows as the dictionary sees them (models with --method) */
  prepare?: (X: Matrix) => Matrix;
}

function loadDictionary(opts: Record<string, any>): CodeSource {
  if (opts.model !== undefined) {
    if (opts.dictionary !== undefined) fail('E_USAGE', 'give --dictionary D.npy or --model DIR, not both');
    const model = loadModel(opts.model, {
      ...(opts['fold-decoder-norm'] ? { foldDecoderNorm: true } : {}),
      ...(opts['activation-scale'] !== undefined ? { activationScale: opts['activation-scale'] } : {}),
    });
    const source = `--model ${opts.model}`;
    if (model.kind === 'topk-transcoder' && opts.method !== undefined) fail('E_USAGE', `${opts.model} is a transcoder: its W_dec writes the target space (d_out = ${model.dOut}), not a dictionary for the input; encode it with its own encoder (no --method)`);
    if (opts.method === undefined) return { D: model.weights.W_dec, source, dim: model.dim, model };
    const md = modelDictionary(model);
    return { D: md.D, source: `${source} (W_dec${md.whitened ? ', whitened inputs' : ''}${md.offset ? ', minus b_dec' : ''})`, dim: model.dim, model, prepare: md.prepare };
  }
  if (opts.dictionary === undefined) fail('E_USAGE', 'missing required option --dictionary (the dictionary [atoms x dim], .npy) or --model DIR (a model directory written by sparsecode fit, or SAELens)');
  const D = readMatrixArg(opts.dictionary, opts.tensor, '--dictionary');
  return { D, source: `--dictionary ${opts.dictionary}`, dim: D.cols };
}

/** Streaming column means and sums of squared deviations (Chan et al.'s pairwise merge), float64. */
class ColumnMoments {
  n = 0;
  readonly mean: Float64Array;
  readonly m2: Float64Array;
  private readonly bm: Float64Array;
  constructor(readonly d: number) {
    this.mean = new Float64Array(d);
    this.m2 = new Float64Array(d);
    this.bm = new Float64Array(d);
  }
  add(X: Matrix): void {
    const nb = X.rows, d = this.d, x = X.data, bm = this.bm;
    if (nb === 0) return;
    bm.fill(0);
    for (let i = 0; i < nb; i++) for (let j = 0; j < d; j++) bm[j] += x[i * d + j];
    for (let j = 0; j < d; j++) bm[j] /= nb;
    const n = this.n, tot = n + nb;
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let i = 0; i < nb; i++) s += (x[i * d + j] - bm[j]) ** 2;
      const delta = bm[j] - this.mean[j];
      this.m2[j] += s + (delta * delta * n * nb) / tot;
      this.mean[j] += (delta * nb) / tot;
    }
    this.n = tot;
  }
  total(): number {
    let t = 0;
    for (let j = 0; j < this.d; j++) t += this.m2[j];
    return t;
  }
}

/** Default rows per batch: about 2^24 code values (64 MiB of float32 codes), within [256, 8192]. */
function defaultBatch(atoms: number): number {
  return Math.min(8192, Math.max(256, Math.floor(2 ** 24 / Math.max(1, atoms))));
}

export const encodeCommand: Command = {
  name: 'encode',
  summary: 'sparse codes for data from a fixed dictionary (FISTA, ISTA, coordinate-descent Lasso, OMP, matching pursuit) or a saved model',
  usage: 'encode (--dictionary D.npy | --model DIR) --input X.npy --out Z.npy [--method fista|ista|lasso-cd|omp|mp] [--lambda L] [--iters T] [--k K] [--nonneg] [--tol T] [--batch B] [--tensor NAME] [--json]',
  description: [
    'X is [samples x dim], the dictionary D is [atoms x dim] (rows are atoms; unit-norm rows expected),',
    'the codes Z written to --out are [samples x atoms] (float32), with X ≈ Z·D.',
    'fista, ista, lasso-cd: per sample minimise 1/2||x − zD||² + λ||z||₁ (z >= 0 with --nonneg);',
    '  the default is lasso-cd (coordinate descent on active sets, run to convergence): on sparse',
    '  solutions it is several times faster than 100 FISTA steps and gives the exact optimum (10^4 x 256',
    '  rows on 2000 atoms: 12 s converged vs 99 s for FISTA, same objective). Pick fista for fixed,',
    '  comparable iteration counts (the papers\' protocol).',
    '  --iters caps iterations (fista/ista, default 100) or sweeps (lasso-cd, default 1000); --tol is the',
    '  relative change of the codes that counts as converged (0 runs exactly --iters iterations).',
    'omp: orthogonal matching pursuit, --k atoms per sample and/or stop when ||x − zD||² <= --tol.',
    'mp: matching pursuit, --k greedy steps.',
    '--model DIR (written by sparsecode fit, or any layout "sparsecode inspect" reads: SAELens v6 and pre-v6,',
    '  Gemma Scope params.npz / params.safetensors, sparsify, Llama Scope)',
    '  instead of --dictionary: without --method the model encodes with its own encoder (an SAE\'s',
    '  encoder; FISTA with the stored settings for classical dictionaries). With --method the model\'s',
    '  decoder W_dec is the dictionary and the codes are inferred for u − b_dec, u = x (or the whitened x',
    '  when the model stores a whitening), so that x ≈ model.decode(z). With a model the summary also',
    '  reports the FVU of the reconstructions in the raw space.',
    'Prints one line: mean objective (1/2||x − zD||² + λ||z||₁ per sample), mean L0, iterations, time.',
    'X may be a .npy or a .safetensors tensor (--tensor NAME or FILE.safetensors:NAME) and is streamed',
    '--batch rows at a time: the codes are appended to --out as they are computed (renamed into place',
    'at the end), so memory is bounded by the batch size, not by the number of samples. Convergence',
    '(--tol) is checked per batch; iterations reports the largest count over the batches.',
  ].join('\n'),
  options: [
    { name: 'dictionary', type: 'string', help: 'dictionary [atoms x dim] (.npy)', metavar: 'D.npy' },
    { name: 'model', type: 'string', help: 'a model (sparsecode fit output, SAELens, Gemma Scope, sparsify, Llama Scope) instead of --dictionary', metavar: 'DIR' },
    { name: 'input', type: 'string', help: 'data [samples x dim] (.npy)', required: true, metavar: 'X.npy' },
    { name: 'out', type: 'string', help: 'where to write the codes [samples x atoms] (.npy, written atomically)', required: true, metavar: 'Z.npy' },
    { name: 'method', type: 'string', help: "inference method [lasso-cd; with --model: the model's own encoder]", choices: ENCODE_METHODS },
    { name: 'lambda', type: 'number', help: 'L1 weight λ (required for fista, ista, lasso-cd)', metavar: 'L' },
    { name: 'iters', type: 'int', help: 'iteration cap (fista/ista: iterations, lasso-cd: sweeps)', metavar: 'T' },
    { name: 'k', type: 'int', help: 'atoms per sample (omp; required for mp)', metavar: 'K' },
    { name: 'nonneg', type: 'boolean', help: 'non-negative codes (fista, ista, lasso-cd)' },
    { name: 'tol', type: 'number', help: 'stopping tolerance (omp: target squared residual)', metavar: 'T' },
    { name: 'batch', type: 'int', help: 'samples per batch [2^24/atoms, within 256..8192]', metavar: 'B' },
    { name: 'fold-decoder-norm', type: 'boolean', help: 'with --model: fold decoder norms into the encoder first (unit-norm W_dec rows; codes scaled by the norms; not for TopK)' },
    { name: 'activation-scale', type: 'number', help: 'with --model: the scaling factor of a SAELens model saved with normalize_activations expected_average_only_in and no activation_scaler.json', metavar: 'S' },
    TENSOR_OPTION,
    { name: 'json', type: 'boolean', help: 'print one JSON object instead of the summary line' },
  ],
  isolate: true,
  examples: [
    'sparsecode encode --dictionary D.npy --input X.npy --lambda 0.1 --out Z.npy',
    'sparsecode encode --dictionary D.npy --input X.npy --method fista --lambda 0.1 --iters 100 --nonneg --out Z.npy',
    'sparsecode encode --dictionary D.npy --input X.npy --method omp --k 10 --out Z.npy --json',
    'sparsecode encode --dictionary D.npy --input acts.safetensors --tensor layer6 --lambda 0.1 --batch 2048 --out Z.npy',
    'sparsecode encode --model sae/ --input acts.npy --out Z.npy',
    'sparsecode encode --model sae/ --input acts.npy --method fista --lambda 0.05 --nonneg --out Z_fista.npy',
  ],
  async run(ctx) {
    const o = ctx.opts;
    const own = o.model !== undefined && o.method === undefined;
    const method: EncodeMethod = o.method ?? 'lasso-cd';
    if (own) {
      for (const f of ['lambda', 'iters', 'k', 'tol', 'nonneg'] as const) {
        if (o[f] !== undefined && o[f] !== false) fail('E_USAGE', `--${f} does not apply to the model's own encoder; add --method fista|ista|lasso-cd|omp|mp to infer codes on its decoder W_dec instead`);
      }
    } else if (L1_METHODS.has(method)) {
      if (o.lambda === undefined) fail('E_USAGE', `--method ${method} needs --lambda L (the L1 weight, e.g. 0.1)`);
      if (o.k !== undefined) fail('E_USAGE', `--k applies to omp and mp; --method ${method} sets sparsity with --lambda`);
    } else {
      if (o.nonneg) fail('E_USAGE', `--nonneg applies to fista, ista and lasso-cd, not to --method ${method}`);
      if (o.iters !== undefined) fail('E_USAGE', `--iters applies to fista, ista and lasso-cd; --method ${method} takes --k`);
      if (method === 'mp' && o.k === undefined) fail('E_USAGE', '--method mp needs --k K (the number of greedy steps)');
    }
    if (o.batch !== undefined && o.batch < 1) fail('E_USAGE', `--batch must be >= 1, got ${o.batch}`);
    const creates = checkOutFile(o.out, '--out', 'encode', 'Z.npy');
    if (creates) ctx.note(creates);
    const { D, source, dim, model, prepare } = loadDictionary(o);
    const label = own ? `model:${model!.kind}` : method;
    if (model && model.layout.name !== 'sparsecode') ctx.note(`encode: ${o.model} read as ${model.layout.description}${model.layout.notes.length ? `; ${model.layout.notes.join('; ')}` : ''}`);
    const X = openRowsArg(o.input, o.tensor, '--input', 'X');
    let writer: NpyWriter | null = null;
    let bar: Progress | null = null;
    const t0 = performance.now();
    let objSum = 0, nnz = 0, iterations = 0, converged = true, hasObjective = !own;
    let sse = 0;
    // the input's FVU under the model's reconstruction (a transcoder reconstructs another space: none)
    const recon = model && model.kind !== 'topk-transcoder' ? model : null;
    const moments = recon ? new ColumnMoments(dim) : null;
    try {
      if (X.cols !== dim) {
        fail('E_SHAPE', `shape mismatch: X has ${X.cols} columns, ${model ? `the model expects d_in = ${dim}` : `dictionary has ${D.cols}`} (--input ${o.input} is [${X.rows} x ${X.cols}], ${source} is [${D.rows} x ${D.cols}]); the ${model ? 'input' : 'dictionary'} must be [${model ? `samples x ${dim}` : `atoms x ${X.cols}`}]`);
      }
      const batch = o.batch ?? defaultBatch(D.rows);
      writer = createNpyWriter(o.out, { rows: X.rows, cols: D.rows });
      if (X.rows > batch) bar = ctx.progress('encode', X.rows, 'samples');
      for (const b of batches(X, { batch, shuffle: 'none' })) {
        checkAbortedCli(ctx.signal);
        let Z: Matrix;
        if (own) Z = model!.encode(b.X);
        else {
          const r = encode(prepare ? prepare(b.X) : b.X, D, { method, lambda: o.lambda, iters: o.iters, k: o.k, nonneg: !!o.nonneg, tol: o.tol });
          Z = r.Z;
          if (r.objective === undefined) hasObjective = false;
          else objSum += r.objective * b.X.rows;
          iterations = Math.max(iterations, r.iterations);
          converged &&= r.converged;
        }
        writer.append(Z);
        for (let i = 0; i < Z.data.length; i++) if (Z.data[i] !== 0) nnz++;
        if (recon) {
          const R = recon.decode(Z);
          const x = b.X.data, rd = R.data;
          for (let i = 0; i < x.length; i++) sse += (x[i] - rd[i]) ** 2;
          moments!.add(b.X);
        }
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
    const tv = moments ? moments.total() : 0;
    const fvu = recon && tv > 0 ? sse / tv : null;
    const summary = {
      method: label,
      samples: X.rows,
      atoms: D.rows,
      dim: D.cols,
      lambda: own ? null : o.lambda ?? null,
      objective: r.objective ?? null,
      mean_l0: l0,
      iterations: r.iterations,
      converged: r.converged,
      ...(model ? { model: o.model, model_kind: model.kind, model_layout: model.layout.name, fvu } : {}),
      seconds,
      backend: backend().name,
      out: o.out,
    };
    if (o.json) ctx.print(JSON.stringify(summary));
    else if (own) {
      ctx.print(`${label}: ${X.rows} samples x ${D.rows} atoms, FVU ${fmt(fvu ?? undefined)}, mean L0 ${l0.toFixed(2)}, ${seconds.toFixed(2)} s -> ${o.out}`);
    } else {
      const it = method === 'omp' || method === 'mp' ? `${r.iterations} atoms max` : `${r.iterations} iterations${r.converged ? ' (converged)' : ''}`;
      ctx.print(`${method}: ${X.rows} samples x ${D.rows} atoms, objective ${fmt(r.objective)}${model ? `, FVU ${fmt(fvu ?? undefined)}` : ''}, mean L0 ${l0.toFixed(2)}, ${it}, ${seconds.toFixed(2)} s -> ${o.out}`);
    }
  },
};

function fmt(v: number | undefined): string {
  return v === undefined ? 'n/a' : Math.abs(v) >= 1e-3 && Math.abs(v) < 1e5 ? v.toPrecision(5) : v.toExponential(4);
}

function checkAbortedCli(signal: AbortSignal): void {
  if (signal.aborted || orphaned()) fail('E_CANCELLED', 'encode: interrupted; no codes were written');
}
