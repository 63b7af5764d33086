import { backend, matmul } from '../../backend/index.js';
import { Matrix } from '../../core/matrix.js';
import { ENCODE_CHUNK_ROWS, type LatentActivity, SparseAutoencoder, type SAEWeights, type StepStats } from './base.js';
import type { SAEConfig } from './config.js';

/** The Gram matrix D D^T is kept for at most this many atoms (atoms² floats: 256 MiB at 8192). */
const GRAM_MAX_ATOMS = 8192;

/**
 * Whether the pursuit on n rows updates its correlations through the Gram matrix (one
 * atoms × atoms × dim product per call, then atoms flops per row and step) rather than
 * recomputing them (one n × atoms × dim product per step after the first).
 */
function useGram(atoms: number, n: number, k: number): boolean {
  return atoms <= GRAM_MAX_ATOMS && atoms < (k - 1) * n;
}

/** Rows of the Gram matrix computed per GEMM block (the upper triangle from the block's diagonal on). */
const GRAM_BLOCK = 512;

/**
 * gram = D D^T for D [atoms x dim]: the upper triangle by row blocks (one GEMM per block, from
 * the block's diagonal to the last column: about half the flops of the full product), then
 * mirrored to the lower triangle tile by tile. Each entry below the diagonal is the float32
 * product computed for its mirror, so the result is exactly symmetric.
 */
export function symmetricGram(D: Matrix, gram: Matrix): void {
  const A = D.rows, d = D.cols, b = backend(), G = gram.data, W = D.data;
  for (let i0 = 0; i0 < A; i0 += GRAM_BLOCK) {
    const nb = Math.min(GRAM_BLOCK, A - i0), w = W.subarray(i0 * d);
    b.sgemm(false, true, nb, A - i0, d, 1, w, d, w, d, 0, G.subarray(i0 * A + i0), A);
  }
  const T = 64;
  for (let i0 = 0; i0 < A; i0 += T) {
    const i1 = Math.min(A, i0 + T);
    for (let j0 = 0; j0 <= i0; j0 += T) {
      const j1 = Math.min(A, j0 + T);
      for (let i = i0; i < i1; i++) {
        const io = i * A;
        for (let j = j0; j < j1 && j < i; j++) G[io + j] = G[j * A + i];
      }
    }
  }
}

/**
 * Matching-pursuit SAE (Costa et al. 2025): the encoder is k greedy steps of matching pursuit
 * with the decoder itself. With r_0 = x - b_dec, at each step t the atom j with the largest
 * correlation c_j = d_j . r_t is chosen (the code is non-negative: a row stops once no
 * correlation is positive), alpha_t = d_j . r_t, r_{t+1} = r_t - alpha_t d_j, z_j += alpha_t;
 * xhat = z W_dec + b_dec. The backward pass runs the k steps in reverse (the residuals are
 * recomputed, not stored): with u = dL/dxhat - dL/dr_{t+1},
 *   dL/dalpha_t = d_j . u,   dL/dd_j += alpha_t u + (dL/dalpha_t) r_t,   dL/dr_t = dL/dr_{t+1} + (dL/dalpha_t) d_j,
 * and dL/db_dec = dL/dxhat summed - dL/dr_0 summed. There are no encoder weights: saved models
 * carry W_enc = W_dec^T and b_enc = 0.
 */
export class MatchingPursuitSAE extends SparseAutoencoder {
  private idx = new Int32Array(0);
  private val = new Float32Array(0);
  private corr = new Matrix(0, 0);
  private resid = new Matrix(0, 0);
  private gram = new Matrix(0, 0);
  private tmpR = new Float64Array(0);
  private tmpU = new Float64Array(0);
  private tmpG = new Float64Array(0);
  private done = new Uint8Array(0);
  /** D D^T for the chunks of one encode call (null outside it) */
  private encodeGram: Matrix | null = null;
  /**
   * Whether the native backend's pursuit and reverse-pass kernels (`mpPursueGram`, `mpBackward`)
   * run when present; false runs the JavaScript loops they replace (tests and benchmarks compare
   * the two). Not part of the model or its checkpoint.
   */
  nativeKernels = true;

  constructor(config: SAEConfig) {
    super('mp', config);
  }

  override paramList() {
    return super.paramList().filter((p) => p.name === 'W_dec' || p.name === 'b_dec');
  }

  protected override onWorkspace(n: number): void {
    const k = this.config.k, A = this.atoms, d = this.dim;
    this.idx = new Int32Array(n * k);
    this.val = new Float32Array(n * k);
    this.corr = new Matrix(n, A);
    this.resid = new Matrix(n, d);
    if (useGram(A, n, k) && this.gram.rows !== A) this.gram = new Matrix(A, A);
    this.tmpR = new Float64Array(d);
    this.tmpU = new Float64Array(d);
    this.tmpG = new Float64Array(d);
  }

  /**
   * Greedy pursuit on the rows of r (overwritten by the final residuals); fills idx/val [rows x k].
   * `gram`: D D^T of the current decoder (computed by the caller, once for every chunk that
   * shares it), or null to recompute the correlations by a GEMM per step.
   */
  private pursue(r: Matrix, c: Matrix, idx: Int32Array, val: Float32Array, gram: Matrix | null): void {
    matmul(r, this.Wdec, { transB: true, out: c });
    if (!gram) return this.pursueSteps(r, c, idx, val);
    const native = this.nativeKernels ? backend().mpPursueGram : undefined;
    if (native) native(r.data, r.rows, this.dim, c.data, this.atoms, this.Wdec.data, gram.data, this.config.k, idx, val);
    else this.pursueGram(r, c, idx, val, gram);
  }

  /**
   * The pursuit with the correlations updated through the Gram matrix, row by row: step t's
   * update of a row's correlations also finds its best atom for step t + 1 (one pass over them
   * per step).
   */
  private pursueGram(r: Matrix, c: Matrix, idx: Int32Array, val: Float32Array, gram: Matrix): void {
    const n = r.rows, d = this.dim, A = this.atoms, k = this.config.k;
    const D = this.Wdec.data, rd = r.data, cd = c.data, g = gram.data;
    for (let i = 0; i < n; i++) {
      const o = i * A, ro = i * d;
      let best = 0, bj = -1;
      for (let a = 0; a < A; a++) {
        if (cd[o + a] > best) {
          best = cd[o + a];
          bj = a;
        }
      }
      for (let t = 0; t < k; t++) {
        const slot = i * k + t;
        if (bj < 0) {
          // no positive correlation is left (the code is non-negative): the row is done
          idx.fill(-1, slot, (i + 1) * k);
          val.fill(0, slot, (i + 1) * k);
          break;
        }
        const alpha = this.takeAtom(rd, ro, bj);
        idx[slot] = bj;
        val[slot] = alpha;
        if (t + 1 === k) break;
        const go = bj * A;
        best = 0;
        bj = -1;
        for (let a = 0; a < A; a++) {
          const v = Math.fround(cd[o + a] - alpha * g[go + a]); // compared as stored (float32)
          cd[o + a] = v;
          if (v > best) {
            best = v;
            bj = a;
          }
        }
      }
    }
  }

  /** The pursuit step by step over all rows, the correlations recomputed by a GEMM after each step. */
  private pursueSteps(r: Matrix, c: Matrix, idx: Int32Array, val: Float32Array): void {
    const n = r.rows, A = this.atoms, k = this.config.k, rd = r.data, cd = c.data;
    if (this.done.length < n) this.done = new Uint8Array(n);
    const done = this.done;
    done.fill(0, 0, n);
    for (let t = 0; t < k; t++) {
      if (t > 0) matmul(r, this.Wdec, { transB: true, out: c });
      for (let i = 0; i < n; i++) {
        const slot = i * k + t;
        let bj = -1;
        if (!done[i]) {
          const o = i * A;
          let best = 0;
          for (let a = 0; a < A; a++) {
            if (cd[o + a] > best) {
              best = cd[o + a];
              bj = a;
            }
          }
        }
        if (bj < 0) {
          done[i] = 1;
          idx[slot] = -1;
          val[slot] = 0;
          continue;
        }
        idx[slot] = bj;
        val[slot] = this.takeAtom(rd, i * this.dim, bj);
      }
    }
  }

  /** alpha = d_j . r (recomputed exactly rather than trusting running correlations); r -= alpha d_j. */
  private takeAtom(rd: Float32Array, ro: number, j: number): number {
    const d = this.dim, D = this.Wdec.data, dj = j * d;
    let alpha = 0;
    for (let q = 0; q < d; q++) alpha += D[dj + q] * rd[ro + q];
    for (let q = 0; q < d; q++) rd[ro + q] -= alpha * D[dj + q];
    return alpha;
  }

  forwardBackward(xb: Matrix, activity?: LatentActivity): StepStats {
    const n = xb.rows, d = this.dim, k = this.config.k;
    const ws = this.workspace(n);
    const b = backend();
    const r = this.resid;
    r.data.set(xb.data);
    b.addRowVector(r.data, n, d, this.bdec, -1);
    const gram = useGram(this.atoms, n, k) ? this.gram : null;
    if (gram) symmetricGram(this.Wdec, gram);
    this.pursue(r, this.corr, this.idx, this.val, gram);
    b.gatherDecode(this.idx, this.val, n, k, this.Wdec.data, d, 0, ws.xhat.data);
    b.addRowVector(ws.xhat.data, n, d, this.bdec, 1);
    const sqErr = this.reconstructionGrad(xb, ws.xhat, ws.gx);
    const nnz = this.markFiredSparse(this.idx, this.val, n, k, this.firedOut(activity));
    // reverse pass
    const D = this.Wdec.data, gD = this.gWdec.data, gx = ws.gx.data, rd = r.data;
    gD.fill(0);
    this.gbdec.fill(0);
    if (this.nativeKernels && b.mpBackward) {
      b.mpBackward(rd, n, d, this.idx, this.val, k, D, gx, gD, this.gbdec);
      return { loss: sqErr, sqErr, l0: nnz / n, aux: 0 };
    }
    const rt = this.tmpR, u = this.tmpU, gr = this.tmpG;
    for (let i = 0; i < n; i++) {
      const ro = i * d;
      for (let q = 0; q < d; q++) {
        rt[q] = rd[ro + q];
        gr[q] = 0;
      }
      for (let t = k - 1; t >= 0; t--) {
        const j = this.idx[i * k + t];
        if (j < 0) continue;
        const alpha = this.val[i * k + t];
        const dj = j * d;
        let ga = 0;
        for (let q = 0; q < d; q++) {
          rt[q] += alpha * D[dj + q]; // r_t from r_{t+1}
          u[q] = gx[ro + q] - gr[q];
          ga += D[dj + q] * u[q];
        }
        for (let q = 0; q < d; q++) {
          gD[dj + q] += alpha * u[q] + ga * rt[q];
          gr[q] += ga * D[dj + q];
        }
      }
      for (let q = 0; q < d; q++) this.gbdec[q] += gx[ro + q] - gr[q];
    }
    return { loss: sqErr, sqErr, l0: nnz / n, aux: 0 };
  }

  /** The Gram matrix depends on the decoder only: computed once per call, shared by its chunks. */
  override encode(X: Matrix): Matrix {
    const A = this.atoms;
    if (useGram(A, Math.min(X.rows, ENCODE_CHUNK_ROWS), this.config.k) && this.fitted) {
      this.encodeGram = new Matrix(A, A);
      symmetricGram(this.Wdec, this.encodeGram);
    }
    try {
      return super.encode(X);
    } finally {
      this.encodeGram = null;
    }
  }

  protected encodeChunk(x: Matrix, out: Matrix): void {
    const n = x.rows, k = this.config.k, A = this.atoms;
    const r = x.clone();
    backend().addRowVector(r.data, n, this.dim, this.bdec, -1);
    const idx = new Int32Array(n * k), val = new Float32Array(n * k);
    const gram = useGram(A, n, k) ? this.encodeGram : null;
    this.pursue(r, new Matrix(n, A), idx, val, gram);
    out.data.fill(0);
    for (let i = 0; i < n; i++) {
      for (let t = 0; t < k; t++) {
        const a = idx[i * k + t];
        if (a >= 0) out.data[i * A + a] += val[i * k + t];
      }
    }
  }

  /** No encoder weights: the pre-activations (`preActivations`) are the pursuit's first correlations (x - b_dec) W_dec^T. */
  protected override encoderPre(x: Matrix, xc: Matrix, pre: Matrix): void {
    xc.data.set(x.data);
    backend().addRowVector(xc.data, x.rows, this.dim, this.bdec, -1);
    matmul(xc, this.Wdec, { transB: true, out: pre });
  }

  override foldScale(c: number): void {
    if (c === 1) return;
    for (let j = 0; j < this.bdec.length; j++) this.bdec[j] /= c;
  }

  override getWeights(): SAEWeights {
    const w = super.getWeights();
    w.W_enc = this.Wdec.transpose();
    w.b_enc = new Float32Array(this.atoms);
    return w;
  }
}
