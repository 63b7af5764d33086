import { normalizeRows, randomUnitRows, type DrawCounter } from '../linalg/rows.js';
import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng, toRng, type Seed } from '../core/rng.js';
import { assertFinite, assertInt, assertNumber, checkAborted } from '../core/validate.js';
import { chooseGradient, fista, meanNonzeros } from '../inference/fista.js';
import { lassoCD } from '../inference/lasso-cd.js';
import { checkSettings, hashFloat32, loadCheckpoint, restoreExtra, saveCheckpoint, saveExtra, type Checkpoint, type CheckpointExtra, type Settings } from './checkpoint.js';
import { ModSolver } from './mod.js';

/** Progress of a classical dictionary learner, reported once per outer step. */
export interface DictionaryProgress {
  step: number;
  total: number;
  /** mean per-sample objective 1/2||x − zD||² + λ||z||₁ of the latest codes */
  loss: number;
  /** mean number of nonzero codes per sample */
  l0: number;
  /** ||D_new − D_old||_F / ||D_old||_F of the latest dictionary update */
  relChange: number;
  /** the current dictionary [atoms x dim] (the learner's own buffer: copy it to keep it; do not modify) */
  D: Matrix;
}

export interface DlFistaOptions {
  atoms: number;
  /** L1 weight (default 0.1) */
  lambda?: number;
  /** warm-started FISTA iterations per outer step (default 100; coder 'fista') */
  fistaIters?: number;
  /**
   * how the codes are refreshed each outer step: 'fista' (default, the paper's DL-FISTA):
   * fistaIters warm-started FISTA iterations; 'lasso-cd': the lasso by warm-started working-set
   * coordinate descent (inference/lasso-cd.ts) to the change tolerance `codeTol`, at most
   * `codeIters` sweeps. Same objective; lasso-cd codes are (near-)exact and sparse, so each
   * outer step makes more progress for less work. The returned codes are always converged to
   * lassoCD's default tolerance (1e-6) with lasso-cd.
   */
  coder?: 'fista' | 'lasso-cd';
  /** coder 'lasso-cd': change tolerance of the per-step codes (default 1e-3) */
  codeTol?: number;
  /** coder 'lasso-cd': maximum coordinate sweeps per sample per outer step (default 100) */
  codeIters?: number;
  /**
   * over-relaxed MOD, ω in [0, 1] (default 0: plain MOD, the paper's DL-FISTA): after the MOD
   * update and renormalisation, D ← normalise(D_mod + ω·(D_mod − D_old)). Skipped for the next
   * step whenever the training loss of the latest codes rose. With more atoms than samples (the
   * dual MOD form) it has no effect. ω = 1 about halves the outer steps to a given error on
   * the bench world (bench/dl.ts); larger values diverge there, hence the cap.
   */
  extrapolate?: number;
  /** maximum outer steps (default 1000) */
  maxOuter?: number;
  /** stop when the relative change of D is below this (default 1e-5) */
  tol?: number;
  /** non-negative codes */
  nonneg?: boolean;
  /** ridge added to ZᵀZ in the MOD update (default 1e-6) */
  ridge?: number;
  /**
   * what becomes of an atom that no sample used in an outer step (its MOD row is exactly zero):
   * 'redraw' (default) draws it afresh, a seeded random unit direction that FISTA may use in the
   * next step; 'zero' leaves it at zero, where FISTA never uses it again, so the dictionary loses
   * it for good: the Stop-Probing reference code (its renormalisation clamps the norm at 1e-8), and
   * with it the relative change of D can reach the tolerance when more atoms than the data use
   * are asked for (with 'redraw', the fresh directions keep it near 1).
   */
  deadAtoms?: 'redraw' | 'zero';
  seed?: Seed | Rng;
  /** initial dictionary [atoms x dim] (rows are normalised; not modified) */
  init?: Matrix;
  onProgress?: (p: DictionaryProgress) => void;
  /**
   * an extra stopping rule, asked after each outer step with its number and the dictionary (the
   * learner's own buffer: do not modify); true ends the outer loop (result.stoppedBy 'rule'), as
   * `fit dl-fista --steps auto` does with a held-out FVU (dictionary/convergence.ts)
   */
  stop?: (step: number, D: Matrix) => boolean;
  signal?: AbortSignal;
  /**
   * code the rows in blocks that take about this many seconds each, yielding to the event loop
   * between blocks (default: all rows at once), so that `signal` is noticed within a block
   * instead of one outer step (the CLI's Ctrl-C). The first block has 256 rows, the next ones
   * as many as the rows so far suggest. Each row's codes depend only on that row, D and the
   * step size (the FISTA gradient form is chosen once for all rows), so the result does not
   * depend on the blocks, up to how the backend's GEMM rounds a row in a different block (the
   * js backend: exactly). An abort in the middle of a step discards that step's partial codes.
   */
  chunkSeconds?: number;
  /**
   * checkpoint/resume (DlFistaCheckpointOptions): the state after an outer step goes to
   * `dir/checkpoint.safetensors` (atomically), and a later call with the same data and options
   * continues from it, bit for bit as if it had never stopped
   */
  checkpoint?: DlFistaCheckpointOptions;
}

/**
 * Checkpoints of a DL-FISTA run. A checkpoint holds the dictionary D, the warm-start codes Z,
 * the outer step, how many draws the atom re-draw generator has made (replayed on resume, so
 * its stream continues where it stopped), the last training loss (over-relaxed MOD) and an
 * identity: the data's shape and a hash of its values, every option that changes the result,
 * the seed and the initial dictionary. A checkpoint whose identity differs from the run's is
 * refused with E_ARG (never silently ignored or overwritten): delete the folder, or use another.
 * A checkpoint is written when `everySeconds` have passed since the last one (after an outer
 * step), every `everySteps` outer steps, when `signal` aborts the run, and once the outer loop
 * has finished (so a resume after that skips straight to the final coding pass).
 */
export interface DlFistaCheckpointOptions {
  /** folder of checkpoint.safetensors (created when missing) */
  dir: string;
  /** seconds between checkpoints (default 60; 0: after every outer step) */
  everySeconds?: number;
  /** also a checkpoint every this many outer steps (default 0: by time only) */
  everySteps?: number;
  /** continue from the checkpoint in `dir` when there is one (default true) */
  resume?: boolean;
  /**
   * write a checkpoint once the outer loop has finished (default true); false leaves the last
   * periodic one (a caller that saves the result itself and deletes the checkpoint)
   */
  final?: boolean;
  /** more state to keep with each checkpoint, e.g. a stopping rule's history (checkpoint.ts) */
  extra?: CheckpointExtra;
}

export interface DlFistaResult {
  /** learned dictionary [atoms x dim], unit-norm rows */
  D: Matrix;
  /**
   * codes [samples x atoms] of X under the returned D (one more warm-started FISTA pass; with
   * coder 'lasso-cd' the lasso solved by warm-started coordinate descent to tol 1e-6)
   */
  Z: Matrix;
  /** outer steps run */
  iterations: number;
  /** true when the relative change of D fell below tol */
  converged: boolean;
  /** what ended the outer loop: the change tolerance, the `stop` rule, or maxOuter */
  stoppedBy: 'tol' | 'rule' | 'maxOuter';
  /** the outer step the run resumed from (options.checkpoint), or null when it started afresh */
  resumedFrom: number | null;
  /**
   * seconds of work the checkpoint resumed from had recorded (the earlier processes' time up to
   * their last checkpoint); 0 when the run started afresh or the checkpoint predates the field
   */
  resumedSeconds: number;
}

export function checkInitDictionary(init: Matrix | undefined, atoms: number, dim: number, where: string): void {
  if (init === undefined) return;
  if (!(init instanceof Matrix)) fail('E_ARG', `${where}: init must be a Matrix [atoms x dim]`);
  if (init.rows !== atoms || init.cols !== dim) {
    fail('E_SHAPE', `${where}: init dictionary is [${init.rows} x ${init.cols}], expected [${atoms} x ${dim}] (atoms x dim)`);
  }
  assertFinite('init dictionary', init);
}

export function checkData(X: Matrix, where: string): void {
  if (!(X instanceof Matrix)) fail('E_ARG', `${where}: X must be a Matrix [samples x dim]`);
  if (X.rows === 0 || X.cols === 0) fail('E_SHAPE', `${where}: X is [${X.rows} x ${X.cols}]; it needs at least one sample and one column`);
  assertFinite('X', X);
}

/**
 * ‖D‖₂² (the FISTA Lipschitz constant) through the small Gram matrix: G = DᵀD [dim x dim]
 * (or DDᵀ when there are fewer atoms than dims) accumulated in float64, then power iteration on
 * G with spectralNormSquared's start vector and stopping rule (relative change <= 1e-10).
 * Same value as spectralNormSquared(D) to ~1e-10 relative, but each power step costs dim²
 * instead of 2·atoms·dim: at 5000–10000 atoms the per-outer-iteration norm drops from seconds
 * to tens of milliseconds. `G` is a caller buffer of s² entries, s = min(atoms, dim).
 */
export function lipschitzViaGram(D: Matrix, G: Float64Array, tol = 1e-10, maxIter = 1000): number {
  const { rows, cols, data } = D;
  if (rows === 0 || cols === 0) return 0;
  const useCols = cols <= rows;
  const s = useCols ? cols : rows;
  if (G.length < s * s) fail('E_SHAPE', `lipschitzViaGram: G has ${G.length} entries, needs ${s * s}`);
  G.fill(0, 0, s * s);
  if (useCols) {
    for (let i = 0; i < rows; i++) {
      const o = i * cols;
      for (let a = 0; a < cols; a++) {
        const x = data[o + a];
        if (x === 0) continue;
        const ga = a * s;
        for (let b = 0; b <= a; b++) G[ga + b] += x * data[o + b];
      }
    }
  } else {
    for (let a = 0; a < rows; a++) {
      for (let b = 0; b <= a; b++) {
        let acc = 0;
        for (let c = 0; c < cols; c++) acc += data[a * cols + c] * data[b * cols + c];
        G[a * s + b] = acc;
      }
    }
  }
  for (let a = 0; a < s; a++) for (let b = 0; b < a; b++) G[b * s + a] = G[a * s + b];
  let v = new Float64Array(s);
  for (let i = 0; i < s; i++) v[i] = 1 + 0.1 * Math.sin(1.7 * i + 0.3);
  unitize(v);
  let nv = new Float64Array(s);
  let lambda = 0;
  for (let it = 0; it < maxIter; it++) {
    for (let a = 0; a < s; a++) {
      let acc = 0;
      const ga = a * s;
      for (let b = 0; b < s; b++) acc += G[ga + b] * v[b];
      nv[a] = acc;
    }
    let dot = 0;
    for (let i = 0; i < s; i++) dot += v[i] * nv[i];
    const norm = unitize(nv);
    if (!Number.isFinite(norm)) fail('E_NONFINITE', 'spectral norm: the dictionary has non-finite values');
    const done = Math.abs(norm - lambda) <= tol * Math.max(norm, 1e-300) && Math.abs(dot - norm) <= 1e-6 * norm;
    lambda = norm;
    const t = v;
    v = nv;
    nv = t;
    if (norm === 0 || done) break;
  }
  return lambda;
}

function unitize(v: Float64Array): number {
  let q = 0;
  for (let i = 0; i < v.length; i++) q += v[i] * v[i];
  const n = Math.sqrt(q);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i] /= n;
  return n;
}

function rowRange(from: number, to: number): Int32Array {
  const idx = new Int32Array(to - from);
  for (let i = 0; i < idx.length; i++) idx[i] = from + i;
  return idx;
}

export const nextTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The checkpoint identity fields: everything that changes the trajectory or where it stops. */
export type Identity = Settings;

/** identity fields added after checkpoints were first written, with the value those older checkpoints ran with */
const IDENTITY_ADDED: Record<string, unknown> = { deadAtoms: 'redraw' };

export function checkIdentity(ck: Checkpoint, identity: Identity, dir: string, where: string): void {
  const was = ck.state.identity as Record<string, unknown> | undefined;
  if (!was || typeof was !== 'object') fail('E_ARG', `${where}: the checkpoint in ${dir} is not a DL-FISTA checkpoint (no identity); delete ${dir} or use another checkpoint folder`);
  const added = Object.fromEntries(Object.entries(IDENTITY_ADDED).filter(([k]) => Object.hasOwn(identity, k)));
  checkSettings({ ...added, ...was }, identity, { dir, where });
}

export function tensorInto(ck: Checkpoint, name: string, out: Float32Array, dir: string, where: string): void {
  const t = ck.tensors[name];
  if (!t || t.data.length !== out.length) fail('E_FORMAT', `${where}: checkpoint tensor ${name} in ${dir} is missing or has ${t ? t.data.length : 0} values, expected ${out.length}`);
  out.set(t.data);
}

/**
 * Dictionary learning by alternating FISTA and MOD (docs/papers.md §1, "DL-FISTA"):
 * random unit-norm D; repeat up to maxOuter times: fistaIters FISTA steps warm-started from the
 * previous codes, then D ← (ZᵀZ + ridge·I)⁻¹ZᵀX (method of optimal directions, Engan et al.
 * 1999), renormalise rows (atoms that went to zero are re-drawn, seeded, or with deadAtoms 'zero'
 * stay zero); stop when
 * ||D_new − D_old||_F / ||D_old||_F < tol. The returned codes come from one more warm-started
 * FISTA pass on the final dictionary, so X ≈ Z·D holds for the pair returned.
 * With `checkpoint`, long runs survive a kill: see DlFistaCheckpointOptions.
 */
export async function learnDictionaryFista(X: Matrix, opts: DlFistaOptions): Promise<DlFistaResult> {
  const where = 'dictionary learning (DL-FISTA)';
  if (!opts || typeof opts !== 'object') fail('E_ARG', `${where}: options { atoms, ... } are required`);
  checkData(X, where);
  assertInt(`${where}: atoms`, opts.atoms, 1);
  const atoms = opts.atoms;
  const lambda = opts.lambda ?? 0.1;
  assertNumber(`${where}: lambda`, lambda, 0);
  const fistaIters = opts.fistaIters ?? 100;
  assertInt(`${where}: fistaIters`, fistaIters, 1);
  const maxOuter = opts.maxOuter ?? 1000;
  assertInt(`${where}: maxOuter`, maxOuter, 1);
  const tol = opts.tol ?? 1e-5;
  assertNumber(`${where}: tol`, tol, 0);
  const ridge = opts.ridge ?? 1e-6;
  assertNumber(`${where}: ridge`, ridge, 0);
  const coder = opts.coder ?? 'fista';
  if (coder !== 'fista' && coder !== 'lasso-cd') fail('E_ARG', `${where}: coder must be 'fista' or 'lasso-cd', got ${JSON.stringify(coder)}`);
  const codeTol = opts.codeTol ?? 1e-3;
  assertNumber(`${where}: codeTol`, codeTol, 0);
  const codeIters = opts.codeIters ?? 100;
  assertInt(`${where}: codeIters`, codeIters, 1);
  const extrapolate = opts.extrapolate ?? 0;
  assertNumber(`${where}: extrapolate`, extrapolate, 0, 1);
  const deadAtoms = opts.deadAtoms ?? 'redraw';
  if (deadAtoms !== 'redraw' && deadAtoms !== 'zero') fail('E_ARG', `${where}: deadAtoms must be 'redraw' or 'zero', got ${JSON.stringify(deadAtoms)}`);
  if (deadAtoms === 'zero' && coder !== 'fista') fail('E_ARG', `${where}: deadAtoms 'zero' needs coder 'fista' (lasso-cd divides by each atom's norm); use deadAtoms 'redraw' with lasso-cd`);
  const allowZeroAtoms = deadAtoms === 'zero';
  checkInitDictionary(opts.init, atoms, X.cols, where);
  const ckOpts = opts.checkpoint;
  if (ckOpts !== undefined) {
    if (!ckOpts || typeof ckOpts !== 'object' || typeof ckOpts.dir !== 'string' || ckOpts.dir === '') {
      fail('E_ARG', `${where}: checkpoint must be { dir: string, everySeconds?, everySteps?, resume? } with a non-empty dir`);
    }
    if (ckOpts.everySeconds !== undefined) assertNumber(`${where}: checkpoint.everySeconds`, ckOpts.everySeconds, 0);
    if (ckOpts.everySteps !== undefined) assertInt(`${where}: checkpoint.everySteps`, ckOpts.everySteps, 0);
  }
  if (opts.chunkSeconds !== undefined) assertNumber(`${where}: chunkSeconds`, opts.chunkSeconds, 0);
  const chunked = opts.chunkSeconds !== undefined && X.rows > 256;
  /** code all rows in blocks of about chunkSeconds each, noticing an abort between them */
  const inBlocks = async (code: (Xb: Matrix, Zb: Matrix | undefined) => Matrix, onAbort: () => void): Promise<Matrix> => {
    const out = new Matrix(X.rows, atoms);
    let rows = 256;
    for (let r0 = 0; r0 < X.rows;) {
      const r1 = Math.min(X.rows, r0 + rows);
      const idx = rowRange(r0, r1);
      const t0 = performance.now();
      out.data.set(code(X.takeRows(idx), Z?.takeRows(idx)).data, r0 * atoms);
      const secPerRow = (performance.now() - t0) / 1000 / (r1 - r0);
      rows = Math.max(64, Math.min(X.rows, Math.round(opts.chunkSeconds! / Math.max(secPerRow, 1e-9))));
      r0 = r1;
      await nextTick();
      if (opts.signal?.aborted) onAbort();
    }
    return out;
  };
  const nonneg = !!opts.nonneg;
  const rng = toRng(opts.seed);
  const redrawRng = rng.fork('redraw');
  const redraws: DrawCounter = { draws: 0 };
  const d = X.cols;

  let D = new Matrix(atoms, d);
  let Z: Matrix | undefined;
  let prevLoss = Infinity;
  let iterations = 0;
  let converged = false;
  let stoppedByRule = false;
  let finished = false;
  let resumedFrom: number | null = null;
  let resumedSeconds = 0;
  let savedStep = 0;
  const started = performance.now();

  // checkpoint identity: everything that changes the trajectory or where it stops
  const identity: Identity | null = ckOpts
    ? {
        algorithm: 'dl-fista',
        samples: X.rows,
        dim: d,
        data: hashFloat32(X.data),
        atoms,
        lambda,
        coder,
        fistaIters: coder === 'fista' ? fistaIters : 0,
        codeTol: coder === 'lasso-cd' ? codeTol : 0,
        codeIters: coder === 'lasso-cd' ? codeIters : 0,
        extrapolate,
        maxOuter,
        tol,
        nonneg,
        ridge,
        // the generator's identity, without advancing it (fork does not)
        seed: rng.fork('checkpoint-identity').nextU32().toString(16),
        init: opts.init ? hashFloat32(opts.init.data) : 'random',
        deadAtoms,
      }
    : null;
  const save = (step: number) => {
    if (!ckOpts) return;
    const tensors: Checkpoint['tensors'] = { D: { shape: [atoms, d], data: D.data } };
    if (Z) tensors.Z = { shape: [Z.rows, Z.cols], data: Z.data };
    const state: Record<string, unknown> = {
      identity, redrawDraws: redraws.draws, prevLoss: Number.isFinite(prevLoss) ? prevLoss : null, finished, converged, stoppedByRule,
      seconds: resumedSeconds + (performance.now() - started) / 1000,
    };
    if (ckOpts.extra) saveExtra(ckOpts.extra, state, tensors);
    saveCheckpoint(ckOpts.dir, { step, state, tensors });
    savedStep = step;
  };

  const ck = ckOpts && ckOpts.resume !== false ? loadCheckpoint(ckOpts.dir) : null;
  if (ck) {
    checkIdentity(ck, identity!, ckOpts!.dir, where);
    if (ck.step < 1 || ck.step > maxOuter) fail('E_FORMAT', `${where}: the checkpoint in ${ckOpts!.dir} is at outer step ${ck.step}, outside 1..${maxOuter}`);
    tensorInto(ck, 'D', D.data, ckOpts!.dir, where);
    Z = new Matrix(X.rows, atoms);
    tensorInto(ck, 'Z', Z.data, ckOpts!.dir, where);
    const draws = Number(ck.state.redrawDraws);
    if (!Number.isSafeInteger(draws) || draws < 0) fail('E_FORMAT', `${where}: the checkpoint in ${ckOpts!.dir} has a bad redrawDraws (${ck.state.redrawDraws})`);
    // replay the re-draw stream to where it stopped (its state is a function of the draws made)
    const scratch = new Float32Array(d);
    for (let i = 0; i < draws; i++) redrawRng.fillNormal(scratch);
    redraws.draws = draws;
    prevLoss = ck.state.prevLoss === null || ck.state.prevLoss === undefined ? Infinity : Number(ck.state.prevLoss);
    finished = ck.state.finished === true;
    converged = ck.state.converged === true;
    stoppedByRule = ck.state.stoppedByRule === true;
    iterations = ck.step;
    resumedFrom = ck.step;
    const secs = Number(ck.state.seconds);
    resumedSeconds = Number.isFinite(secs) && secs > 0 ? secs : 0;
    savedStep = ck.step;
    if (ckOpts!.extra) restoreExtra(ckOpts!.extra, ck, ckOpts!.dir, where);
  } else if (opts.init) {
    D.data.set(opts.init.data);
    normalizeRows(D, { redraw: rng.fork('init'), eps: 1e-10 });
  } else D.data.set(randomUnitRows(atoms, d, rng.fork('init')).data);

  const mod = new ModSolver(X.rows, atoms, d, ridge);
  const gramBuf = new Float64Array(Math.min(atoms, d) ** 2);
  // the training loss of the latest codes: for progress, and for over-relaxation (primal only)
  const wantLoss = !!opts.onProgress || (extrapolate > 0 && !mod.dual);
  let Dnew = new Matrix(atoms, d);
  // after each MOD update: unit rows; a zero row (an atom no sample used) re-drawn or kept
  const renormalise = deadAtoms === 'redraw' ? { redraw: redrawRng, eps: 1e-10, counter: redraws } : { eps: 1e-10 };
  const everyMs = (ckOpts?.everySeconds ?? 60) * 1000;
  const everySteps = ckOpts?.everySteps ?? 0;
  let lastSave = performance.now();
  for (let outer = iterations + 1; !finished && outer <= maxOuter; outer++) {
    if (opts.signal?.aborted) {
      // keep the work done so far
      if (ckOpts && iterations > savedStep) save(iterations);
      checkAborted(opts.signal);
    }
    const L = coder === 'fista' ? lipschitzViaGram(D, gramBuf) : 0;
    // the FISTA gradient form of the whole problem (what 'auto' picks for all rows at once)
    const gradient = coder === 'fista' ? chooseGradient(X.rows, atoms, d, fistaIters, Z ? meanNonzeros(Z) : undefined) : undefined;
    const codeBlock = (Xb: Matrix, Zb: Matrix | undefined) => (coder === 'fista'
      ? fista(Xb, D, { lambda, iters: fistaIters, tol: 0, nonneg, init: Zb, objective: false, lipschitz: L, gradient, allowZeroAtoms })
      : lassoCD(Xb, D, { lambda, tol: codeTol, iters: codeIters, nonneg, init: Zb, objective: false })).Z;
    // in blocks: an abort between them keeps the last finished step (this step's codes are dropped)
    Z = chunked
      ? await inBlocks(codeBlock, () => {
          if (ckOpts && iterations > savedStep) save(iterations);
          checkAborted(opts.signal);
        })
      : codeBlock(X, Z);
    const stats = wantLoss ? mod.loss(Z, D, X, lambda) : null;
    // MOD: D ← (ZᵀZ + ridge·I)⁻¹ ZᵀX
    if (!mod.update(Z, X, Dnew)) {
      fail('E_ARG', `${where}: the MOD update is singular or not finite (some atoms, or with more atoms than samples some samples, have no nonzero code); use ridge > 0 (default 1e-6)`);
    }
    normalizeRows(Dnew, renormalise);
    if (extrapolate > 0 && !mod.dual && stats && stats.loss <= prevLoss) {
      // over-relaxed MOD: step past the MOD solution along D_mod − D_old (skipped after a step
      // whose loss rose)
      const dn = Dnew.data, dold = D.data;
      for (let a = 0; a < atoms; a++) {
        const o = a * d;
        // a dead atom stays dead ('zero'): no step past a zero row
        if (deadAtoms === 'zero' && isZeroRow(dn, o, d)) continue;
        for (let i = o; i < o + d; i++) dn[i] += extrapolate * (dn[i] - dold[i]);
      }
      normalizeRows(Dnew, renormalise);
    }
    if (stats) prevLoss = stats.loss;
    let diff = 0;
    let base = 0;
    for (let i = 0; i < Dnew.data.length; i++) {
      const v = Dnew.data[i] - D.data[i];
      diff += v * v;
      base += D.data[i] * D.data[i];
    }
    const relChange = Math.sqrt(diff / Math.max(base, 1e-300));
    const tmp = D;
    D = Dnew;
    Dnew = tmp;
    iterations = outer;
    opts.onProgress?.({ step: outer, total: maxOuter, loss: stats!.loss, l0: stats!.l0, relChange, D });
    if (relChange < tol) {
      converged = true;
      break;
    }
    if (opts.stop?.(outer, D)) {
      stoppedByRule = true;
      break;
    }
    if (ckOpts && outer < maxOuter) {
      const now = performance.now();
      if ((everySteps > 0 && outer % everySteps === 0) || now - lastSave >= everyMs) {
        save(outer);
        lastSave = performance.now();
      }
    }
    await nextTick();
  }
  if (ckOpts && !finished && ckOpts.final !== false) {
    // the outer loop is done: a resume from here runs only the final coding pass
    finished = true;
    save(iterations);
  }
  const onAbort = () => {
    // the outer loop is done: keep that, a resume runs only the final coding pass
    if (ckOpts && !(finished && savedStep === iterations)) {
      finished = true;
      save(iterations);
    }
    checkAborted(opts.signal);
  };
  if (opts.signal?.aborted) onAbort();
  const Lf = coder === 'fista' ? lipschitzViaGram(D, gramBuf) : 0;
  const gf = coder === 'fista' ? chooseGradient(X.rows, atoms, d, fistaIters, Z ? meanNonzeros(Z) : undefined) : undefined;
  const finalBlock = (Xb: Matrix, Zb: Matrix | undefined) => (coder === 'fista'
    ? fista(Xb, D, { lambda, iters: fistaIters, tol: 0, nonneg, init: Zb, objective: false, lipschitz: Lf, gradient: gf, allowZeroAtoms })
    : lassoCD(Xb, D, { lambda, nonneg, init: Zb, objective: false })).Z;
  const Zfinal = chunked ? await inBlocks(finalBlock, onAbort) : finalBlock(X, Z);
  return { D, Z: Zfinal, iterations, converged, stoppedBy: converged ? 'tol' : stoppedByRule ? 'rule' : 'maxOuter', resumedFrom, resumedSeconds };
}

function isZeroRow(a: Float32Array, o: number, n: number): boolean {
  for (let i = o; i < o + n; i++) if (a[i] !== 0) return false;
  return true;
}
