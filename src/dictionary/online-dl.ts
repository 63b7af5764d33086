import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { toRng, type Rng, type Seed } from '../core/rng.js';
import { assertInt, assertNumber, checkAborted } from '../core/validate.js';
import { matmul } from '../backend/index.js';
import { fista } from '../inference/fista.js';
import { lassoCD } from '../inference/lasso-cd.js';
import { meanL0 } from '../inference/common.js';
import { checkData, checkIdentity, checkInitDictionary, nextTick, tensorInto, type DictionaryProgress, type DlFistaCheckpointOptions, type Identity } from './dl-fista.js';
import { hashFloat32, loadCheckpoint, restoreExtra, saveCheckpoint, saveExtra, type Checkpoint } from './checkpoint.js';
import { normalizeRows, randomUnitRows } from '../linalg/rows.js';
import type { RowSource } from '../io/rows.js';
import { isRowSource, RowStream } from './stream.js';

export interface OnlineDlOptions {
  atoms: number;
  /** L1 weight of the FISTA codes */
  lambda: number;
  /** samples per minibatch (default 256, at most the number of samples) */
  batch?: number;
  /** total minibatch steps (default: epochs · ceil(samples / batch)) */
  steps?: number;
  /** passes over the data when steps is not given (default 10) */
  epochs?: number;
  seed: Seed | Rng;
  /** initial dictionary [atoms x dim] (rows are normalised; not modified) */
  init?: Matrix;
  /** non-negative codes (default false) */
  nonneg?: boolean;
  /**
   * how each minibatch is coded: 'lasso-cd' (default), the exact lasso by working-set
   * coordinate descent (converged to tol 1e-6, as scikit-learn's lars/cd coders); 'fista',
   * fistaIters FISTA iterations (stopping earlier at relative change 1e-4). Same objective;
   * lasso-cd is an order of magnitude faster on sparse codes.
   */
  coder?: 'lasso-cd' | 'fista';
  /** FISTA iterations per minibatch with coder 'fista' (default 100) */
  fistaIters?: number;
  onProgress?: (p: DictionaryProgress) => void;
  /**
   * an extra stopping rule, asked after each step with its number and the dictionary (do not
   * modify it); true ends the run early (result.stopped true), as `fit online-dl --epochs auto`
   * does with a held-out FVU (dictionary/convergence.ts)
   */
  stop?: (step: number, D: Matrix) => boolean;
  signal?: AbortSignal;
  /** X is a RowSource: sizes of the chunked shuffle (io/rows.ts batches) [about 4 MiB chunks, 16 in the buffer] */
  stream?: { chunkRows?: number; bufferChunks?: number };
  /**
   * checkpoint/resume, as DL-FISTA's (DlFistaCheckpointOptions; everySteps counts minibatch
   * steps): a checkpoint holds D, the statistics A and B, the sample order and both generators'
   * states (or the stream position), so a resumed run continues bit for bit as if it had never
   * stopped; one of another problem or other options is refused with E_ARG. Also written when
   * `signal` aborts the run.
   */
  checkpoint?: OnlineDlCheckpointOptions;
}

/** Checkpoints of an online-DL run: the same options as DL-FISTA's. */
export type OnlineDlCheckpointOptions = DlFistaCheckpointOptions;

export interface OnlineDlResult {
  /** learned dictionary [atoms x dim], unit-norm rows */
  D: Matrix;
  /** minibatch steps run */
  steps: number;
  /** the `stop` rule ended the run before `steps` */
  stopped: boolean;
  /** the step the run resumed from (options.checkpoint), or null when it started afresh */
  resumedFrom: number | null;
}

/**
 * Online dictionary learning (Mairal, Bach, Ponce & Sapiro 2009, minibatch form):
 * for each minibatch, codes Z_b of the lasso on the current D (exact, by working-set coordinate
 * descent, or by FISTA with `coder: 'fista'`), then the sufficient statistics
 *     A ← β·A + Z_bᵀZ_b / b,    B ← β·B + Z_bᵀX_b / b        (A [atoms x atoms], B [atoms x dim])
 * and one pass of block-coordinate descent over the atoms,
 *     d_j ← d_j + (B_j − A_j·D) / A_jj,   d_j ← d_j / max(||d_j||, 1),
 * which minimises the surrogate 1/2 tr(D ᵀA D) − tr(DᵀB) atom by atom. The forgetting factor
 * β = (θ + 1 − b)/(θ + 1), θ = b·t for t < b − 1 else b² + t − b (t = step − 1), down-weights
 * the codes computed with early dictionaries, as in scikit-learn's MiniBatchDictionaryLearning.
 * An atom with A_jj < 1e-6 (practically unused) is re-drawn from a random sample of the batch.
 * The returned rows are normalised to unit norm.
 *
 * X may be a RowSource (a file larger than memory, `openRows(path)`): minibatches then come
 * from the chunked shuffle of io/rows.ts `batches()` (see dictionary/stream.ts RowStream)
 * instead of per-pass permutations; memory is the statistics A, B, D, one minibatch and the
 * shuffle buffer, whatever the number of rows. Same updates, different (seeded) sample order.
 */
export async function onlineDictionaryLearning(data: Matrix | RowSource, opts: OnlineDlOptions): Promise<OnlineDlResult> {
  const where = 'online dictionary learning';
  if (!opts || typeof opts !== 'object') fail('E_ARG', `${where}: options { atoms, lambda, seed, ... } are required`);
  const src = isRowSource(data) ? data : null;
  const X = src ? null : (data as Matrix);
  if (X) checkData(X, where);
  else if (data.rows === 0 || data.cols === 0) fail('E_SHAPE', `${where}: X is [${data.rows} x ${data.cols}]; it needs at least one sample and one column`);
  assertInt(`${where}: atoms`, opts.atoms, 1);
  if (typeof opts.lambda !== 'number') fail('E_ARG', `${where}: lambda (the L1 weight, e.g. 0.1) is required`);
  assertNumber(`${where}: lambda`, opts.lambda, 0);
  if (opts.seed === undefined) fail('E_ARG', `${where}: seed is required`);
  const n = data.rows;
  const d = data.cols;
  const atoms = opts.atoms;
  const lambda = opts.lambda;
  const batch = Math.min(opts.batch ?? 256, n);
  assertInt(`${where}: batch`, batch, 1);
  const epochs = opts.epochs ?? 10;
  assertInt(`${where}: epochs`, epochs, 1);
  const perEpoch = Math.ceil(n / batch);
  const steps = opts.steps ?? epochs * perEpoch;
  assertInt(`${where}: steps`, steps, 1);
  const fistaIters = opts.fistaIters ?? 100;
  assertInt(`${where}: fistaIters`, fistaIters, 1);
  const coder = opts.coder ?? 'lasso-cd';
  if (coder !== 'lasso-cd' && coder !== 'fista') fail('E_ARG', `${where}: coder must be 'lasso-cd' or 'fista', got ${JSON.stringify(coder)}`);
  checkInitDictionary(opts.init, atoms, d, where);
  const nonneg = !!opts.nonneg;
  const ckOpts = opts.checkpoint;
  if (ckOpts !== undefined) {
    if (!ckOpts || typeof ckOpts !== 'object' || typeof ckOpts.dir !== 'string' || ckOpts.dir === '') {
      fail('E_ARG', `${where}: checkpoint must be { dir: string, everySeconds?, everySteps?, resume? } with a non-empty dir`);
    }
    if (ckOpts.everySeconds !== undefined) assertNumber(`${where}: checkpoint.everySeconds`, ckOpts.everySeconds, 0);
    if (ckOpts.everySteps !== undefined) assertInt(`${where}: checkpoint.everySteps`, ckOpts.everySteps, 0);
  }
  const rng = toRng(opts.seed);
  const orderRng = rng.fork('order');
  const redrawRng = rng.fork('redraw');
  // checkpoint identity: everything that changes the trajectory (a stream is identified by its shape)
  const identity: Identity | null = ckOpts
    ? {
        algorithm: 'online-dl', samples: n, dim: d, data: X ? hashFloat32(X.data) : `stream:${data.rows}x${data.cols}`,
        atoms, lambda, batch, steps, coder, fistaIters: coder === 'fista' ? fistaIters : 0, nonneg,
        seed: rng.fork('checkpoint-identity').nextU32().toString(16),
        init: opts.init ? hashFloat32(opts.init.data) : 'random',
        chunkRows: opts.stream?.chunkRows ?? 0, bufferChunks: opts.stream?.bufferChunks ?? 0,
      }
    : null;

  const D = new Matrix(atoms, d);
  if (opts.init) {
    D.data.set(opts.init.data);
    normalizeRows(D, { redraw: rng.fork('init'), eps: 1e-10 });
  } else D.data.set(randomUnitRows(D.rows, D.cols, rng.fork('init')).data);

  const A = new Float64Array(atoms * atoms);
  const B = new Float64Array(atoms * d);
  const Xb = new Matrix(batch, d);
  const ZtZ = new Matrix(atoms, atoms);
  const ZtX = new Matrix(atoms, d);
  const u = new Float64Array(d);
  const Dold = new Float32Array(atoms * d);
  const streamSeed = rng.fork('stream').int(2 ** 30);
  let order = src ? new Int32Array(0) : orderRng.permutation(n);
  let pos = 0;
  let ran = steps;
  let stopped = false;
  let first = 1;
  let resumedFrom: number | null = null;
  let startRow = 0;
  let savedStep = 0;
  let stream: RowStream | null = null;
  const save = (done: number, finished: boolean) => {
    if (!ckOpts) return;
    const tensors: Checkpoint['tensors'] = {
      D: { shape: [atoms, d], data: D.data },
      A: { shape: [atoms, atoms], data: A },
      B: { shape: [atoms, d], data: B },
    };
    if (!src) tensors.order = { shape: [n], data: Float64Array.from(order) };
    const state: Record<string, unknown> = {
      identity, pos, orderRng: orderRng.getState(), redrawRng: redrawRng.getState(),
      streamRows: stream ? stream.consumed : 0, finished, stopped,
    };
    if (ckOpts.extra) saveExtra(ckOpts.extra, state, tensors);
    saveCheckpoint(ckOpts.dir, { step: done, state, tensors });
    savedStep = done;
  };
  const ck = ckOpts && ckOpts.resume !== false ? loadCheckpoint(ckOpts.dir) : null;
  if (ck) {
    const dir = ckOpts!.dir;
    checkIdentity(ck, identity!, dir, where);
    if (ck.step < 1 || ck.step > steps) fail('E_FORMAT', `${where}: the checkpoint in ${dir} is at step ${ck.step}, outside 1..${steps}`);
    tensorInto(ck, 'D', D.data, dir, where);
    // A and B are stored in float64: read them exactly
    const exact = (name: string, out: Float64Array) => {
      const t = ck.tensors[name];
      if (!t || t.data.length !== out.length) fail('E_FORMAT', `${where}: checkpoint tensor ${name} in ${dir} is missing or has the wrong size`);
      out.set(t.data);
    };
    exact('A', A);
    exact('B', B);
    if (!src) {
      const t = ck.tensors.order;
      if (!t || t.data.length !== n) fail('E_FORMAT', `${where}: checkpoint tensor order in ${dir} is missing or has the wrong size`);
      order = Int32Array.from(t.data);
    }
    pos = Number(ck.state.pos);
    startRow = Number(ck.state.streamRows);
    if (!Number.isSafeInteger(pos) || pos < 0 || pos > n || !Number.isSafeInteger(startRow) || startRow < 0) fail('E_FORMAT', `${where}: the checkpoint in ${dir} has a bad sample position`);
    orderRng.setState(ck.state.orderRng as number[]);
    redrawRng.setState(ck.state.redrawRng as number[]);
    if (ckOpts!.extra) restoreExtra(ckOpts!.extra, ck, dir, where);
    first = ck.step + 1;
    resumedFrom = ck.step;
    savedStep = ck.step;
    if (ck.state.finished === true) {
      first = steps + 1;
      ran = ck.step;
      stopped = ck.state.stopped === true;
    }
  }
  if (src) stream = new RowStream(src, { batch, seed: streamSeed, chunkRows: opts.stream?.chunkRows, bufferChunks: opts.stream?.bufferChunks, startRow });
  const everyMs = (ckOpts?.everySeconds ?? 60) * 1000;
  const everySteps = ckOpts?.everySteps ?? 0;
  let lastSave = performance.now();
  for (let step = first; step <= steps; step++) {
    if (opts.signal?.aborted) {
      if (ckOpts && step - 1 > savedStep) save(step - 1, false);
      checkAborted(opts.signal);
    }
    // the next minibatch, reshuffling at the end of each pass
    if (stream) stream.next(Xb.data, batch);
    else for (let r = 0; r < batch; r++) {
      if (pos === n) {
        order = orderRng.permutation(n);
        pos = 0;
      }
      Xb.data.set(X!.row(order[pos++]), r * d);
    }
    const res = coder === 'fista'
      ? fista(Xb, D, { lambda, iters: fistaIters, tol: 1e-4, nonneg, objective: !!opts.onProgress })
      : lassoCD(Xb, D, { lambda, nonneg, objective: !!opts.onProgress });
    const Z = res.Z;
    matmul(Z, Z, { transA: true, alpha: 1 / batch, out: ZtZ });
    matmul(Z, Xb, { transA: true, alpha: 1 / batch, out: ZtX });
    const t = step - 1;
    const theta = t < batch - 1 ? (t + 1) * batch : batch * batch + t + 1 - batch;
    const beta = (theta + 1 - batch) / (theta + 1);
    for (let i = 0; i < A.length; i++) A[i] = beta * A[i] + ZtZ.data[i];
    for (let i = 0; i < B.length; i++) B[i] = beta * B[i] + ZtX.data[i];

    // block-coordinate descent, one pass over the atoms
    Dold.set(D.data);
    const Dd = D.data;
    for (let j = 0; j < atoms; j++) {
      const ajj = A[j * atoms + j];
      const uj = j * d;
      if (ajj > 1e-6) {
        for (let c = 0; c < d; c++) u[c] = B[uj + c];
        const Aj = j * atoms;
        for (let l = 0; l < atoms; l++) {
          const al = A[Aj + l];
          if (al === 0) continue;
          const dl = l * d;
          for (let c = 0; c < d; c++) u[c] -= al * Dd[dl + c];
        }
        for (let c = 0; c < d; c++) u[c] = Dd[uj + c] + u[c] / ajj;
      } else {
        // practically unused: restart it from a random sample of this batch plus 1% noise
        const src = redrawRng.int(batch) * d;
        let s = 0;
        for (let c = 0; c < d; c++) s += Xb.data[src + c] * Xb.data[src + c];
        const noise = 0.01 * (Math.sqrt(s / d) || 1);
        for (let c = 0; c < d; c++) u[c] = Xb.data[src + c] + noise * redrawRng.normal();
      }
      let s = 0;
      for (let c = 0; c < d; c++) s += u[c] * u[c];
      const scale = 1 / Math.max(Math.sqrt(s), 1);
      for (let c = 0; c < d; c++) Dd[uj + c] = u[c] * scale;
    }
    // atoms that collapsed to zero cannot be scaled back to the unit ball; re-draw them
    for (let j = 0; j < atoms; j++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += Dd[j * d + c] * Dd[j * d + c];
      if (!(s > 1e-20)) {
        const row = D.row(j);
        redrawRng.fillNormal(row);
        let r2 = 0;
        for (let c = 0; c < d; c++) r2 += row[c] * row[c];
        const inv = 1 / Math.sqrt(r2);
        for (let c = 0; c < d; c++) row[c] *= inv;
      }
    }
    if (opts.onProgress) {
      let diff = 0;
      let base = 0;
      for (let i = 0; i < Dd.length; i++) {
        const v = Dd[i] - Dold[i];
        diff += v * v;
        base += Dold[i] * Dold[i];
      }
      opts.onProgress({ step, total: steps, loss: res.objective!, l0: meanL0(Z), relChange: Math.sqrt(diff / Math.max(base, 1e-300)), D });
    }
    if (opts.stop?.(step, D)) {
      ran = step;
      stopped = true;
      break;
    }
    if (ckOpts && step < steps) {
      const now = performance.now();
      if ((everySteps > 0 && step % everySteps === 0) || now - lastSave >= everyMs) {
        save(step, false);
        lastSave = performance.now();
      }
    }
    // every step with a signal to notice (a step is one minibatch: milliseconds)
    if (opts.signal || step % 16 === 0) await nextTick();
  }
  stream?.close();
  if (ckOpts && ckOpts.final !== false && first <= steps) save(ran, true);
  normalizeRows(D, { redraw: redrawRng, eps: 1e-10 });
  return { D, steps: ran, stopped, resumedFrom };
}
