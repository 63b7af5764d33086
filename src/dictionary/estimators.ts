import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import type { Seed } from '../core/rng.js';
import { matmul } from '../backend/index.js';
import { encode as inferCodes } from '../inference/index.js';
import { DEFAULT_INFERENCE, saveModel, type ModelSpec } from '../io/model.js';
import type { RowSource } from '../io/rows.js';
import { learnDictionaryFista, type DictionaryProgress, type DlFistaOptions, type DlFistaResult } from './dl-fista.js';
import { onlineDictionaryLearning, type OnlineDlOptions, type OnlineDlResult } from './online-dl.js';

/**
 * Classical dictionary learners as estimators with the surface every learner in sparsecode has
 * (the SAEs' too): configuration, seed included, in the constructor; `fit(X, {onProgress,
 * signal})` (async, cancellable); `encode` / `transform` (codes for new rows), `decode`
 * (Z·D), `fitTransform`, `save(dir)` (a model folder `loadModel` and `encode --model` read).
 *
 *   const dl = new DLFista({ atoms: 100, lambda: 0.1, nonneg: true, seed: 0 });
 *   await dl.fit(X);
 *   const Z = dl.encode(Xnew);            // the lasso, solved to convergence
 *
 * Codes come from the lasso min ½‖x − zD‖² + λ‖z‖₁ (z ≥ 0 with nonneg) on the learned dictionary,
 * solved by FISTA to the relative change `inferenceTol` (default 1e-6, at most 10⁴ iterations):
 * not the few warm-started steps of training, and the same solve a saved model's runtime runs.
 */
export interface DictionaryEstimatorConfig {
  atoms: number;
  /** L1 weight λ (default 0.1) */
  lambda?: number;
  nonneg?: boolean;
  seed: Seed;
  /** tolerance of the codes `encode` returns (default 1e-6) */
  inferenceTol?: number;
}

/** What `fit` of a dictionary estimator takes besides the data. */
export interface DictionaryFitOptions {
  onProgress?: (p: DictionaryProgress) => void;
  signal?: AbortSignal;
}

abstract class DictionaryEstimator<R> {
  protected D: Matrix | null = null;
  /** the last fit's result (steps, convergence) */
  result: R | null = null;

  constructor(readonly config: DictionaryEstimatorConfig) {
    if (!config || typeof config !== 'object') fail('E_ARG', 'give a configuration object, e.g. { atoms: 100, lambda: 0.1, seed: 0 }');
    if (!Number.isInteger(config.atoms) || config.atoms < 1) fail('E_ARG', `atoms must be a positive integer, got ${config.atoms}`);
    if (config.lambda !== undefined && !(config.lambda >= 0)) fail('E_ARG', `lambda must be >= 0, got ${config.lambda}`);
    if (config.seed === undefined) fail('E_ARG', 'give a seed (e.g. seed: 0): every random choice of fit flows from it');
  }

  abstract fit(X: Matrix, opts?: DictionaryFitOptions): Promise<R>;

  /** The learned dictionary [atoms x dim] (unit-norm rows); a copy. */
  get dictionary(): Matrix {
    return this.fitted().clone();
  }

  protected fitted(): Matrix {
    if (!this.D) fail('E_ARG', `this ${this.constructor.name} has no dictionary yet; call fit(X) first`);
    return this.D;
  }

  /** Codes Z [n x atoms] for X [n x dim]: the lasso on the learned dictionary, solved to convergence. */
  encode(X: Matrix): Matrix {
    const D = this.fitted();
    if (!(X instanceof Matrix)) fail('E_ARG', 'encode: X must be a Matrix');
    if (X.cols !== D.cols) fail('E_SHAPE', `shape mismatch: X has ${X.cols} columns, the dictionary has dim ${D.cols}`);
    // the same solve as a saved model's runtime (dictionary/model-runtime.ts), so save → loadModel → encode gives these codes
    return inferCodes(X, D, { method: 'fista', lambda: this.config.lambda ?? 0.1, nonneg: !!this.config.nonneg, iters: DEFAULT_INFERENCE.iters, tol: this.config.inferenceTol ?? DEFAULT_INFERENCE.tol }).Z;
  }

  /** Same as encode (scikit-learn naming). */
  transform(X: Matrix): Matrix {
    return this.encode(X);
  }

  /** Reconstructions Z·D [n x dim]. */
  decode(Z: Matrix): Matrix {
    const D = this.fitted();
    if (!(Z instanceof Matrix) || Z.cols !== D.rows) fail('E_SHAPE', `decode: Z must be a Matrix with ${D.rows} columns (one per atom)`);
    return matmul(Z, D);
  }

  /** fit, then the codes of X. */
  async fitTransform(X: Matrix, opts: DictionaryFitOptions = {}): Promise<Matrix> {
    await this.fit(X, opts);
    return this.encode(X);
  }

  protected abstract kind: 'dl-fista' | 'online-dl';

  /** Write a model folder (cfg.json + sae_weights.safetensors with W_dec and the inference settings). */
  save(dir: string): void {
    const spec: ModelSpec = {
      kind: this.kind,
      weights: { W_dec: this.fitted() },
      inference: { lambda: this.config.lambda ?? 0.1, nonneg: !!this.config.nonneg, iters: DEFAULT_INFERENCE.iters, tol: this.config.inferenceTol ?? DEFAULT_INFERENCE.tol },
      training: { seed: this.config.seed as number | string },
    };
    saveModel(dir, spec);
  }
}

/** DL-FISTA's own options besides those of every dictionary estimator (dl-fista.ts DlFistaOptions). */
export type DLFistaConfig = DictionaryEstimatorConfig & Omit<DlFistaOptions, 'atoms' | 'lambda' | 'nonneg' | 'seed' | 'onProgress' | 'signal'>;

/** Dictionary learning by alternating (warm-started) sparse coding and MOD updates (DL-FISTA). */
export class DLFista extends DictionaryEstimator<DlFistaResult> {
  protected kind = 'dl-fista' as const;
  constructor(override readonly config: DLFistaConfig) {
    super(config);
  }

  async fit(X: Matrix, opts: DictionaryFitOptions = {}): Promise<DlFistaResult> {
    const { inferenceTol: _tol, ...learn } = this.config;
    const r = await learnDictionaryFista(X, { ...learn, onProgress: opts.onProgress, signal: opts.signal });
    this.D = r.D;
    this.result = r;
    return r;
  }
}

/** Online dictionary learning's own options (online-dl.ts OnlineDlOptions). */
export type OnlineDLConfig = DictionaryEstimatorConfig & Omit<OnlineDlOptions, 'atoms' | 'lambda' | 'nonneg' | 'seed' | 'onProgress' | 'signal'>;

/** Online (minibatch) dictionary learning, Mairal et al. 2009; streams rows from disk when given a RowSource. */
export class OnlineDL extends DictionaryEstimator<OnlineDlResult> {
  protected kind = 'online-dl' as const;
  constructor(override readonly config: OnlineDLConfig) {
    super(config);
  }

  async fit(X: Matrix | RowSource, opts: DictionaryFitOptions = {}): Promise<OnlineDlResult> {
    const { inferenceTol: _tol, ...learn } = this.config;
    const r = await onlineDictionaryLearning(X, { ...learn, lambda: this.config.lambda ?? 0.1, onProgress: opts.onProgress, signal: opts.signal });
    this.D = r.D;
    this.result = r;
    return r;
  }
}
