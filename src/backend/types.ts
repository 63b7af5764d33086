/**
 * The compute interface every backend implements. Row-major float32 buffers; every output
 * goes into a caller-given buffer (hot loops allocate nothing). Shapes are validated once,
 * in `ops.ts`, before a backend is called: backends trust their arguments.
 *
 * Index arrays for the sparse ops hold atom numbers; a negative index means "no atom"
 * (padding, for rows with fewer than k active atoms) and is skipped.
 */
export type BackendName = 'js' | 'wasm' | 'native';

export interface Backend {
  readonly name: BackendName;

  /** Worker threads this backend uses (multi-threaded backends only). */
  readonly threads?: number;
  /** Change the number of threads (multi-threaded backends only). */
  setThreads?(n: number): void;

  /**
   * C = alpha * op(A) * op(B) + beta * C, op(A) is [m x k], op(B) is [k x n], C is [m x n].
   * A is stored [m x k] with row stride lda (or [k x m] when transA); likewise B. With
   * beta = 0, C is overwritten (NaN in C does not propagate), as in BLAS.
   */
  sgemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    a: Float32Array, lda: number, b: Float32Array, ldb: number, beta: number, c: Float32Array, ldc: number,
  ): void;

  /** out = sign(x) * max(|x| - t, 0); with nonneg, out = max(x - t, 0). out may alias x. */
  softThreshold(x: Float32Array, t: number, nonneg: boolean, out: Float32Array): void;

  /** out = max(x, 0). out may alias x. */
  relu(x: Float32Array, out: Float32Array): void;

  /** y = alpha * x + beta * y. */
  axpby(alpha: number, x: Float32Array, beta: number, y: Float32Array): void;

  /** out = z + beta * (z - zPrev) (FISTA extrapolation). out may alias neither input. */
  extrapolate(z: Float32Array, zPrev: Float32Array, beta: number, out: Float32Array): void;

  /**
   * One FISTA update after the gradient product, fused (one pass instead of three):
   * zNew = softThreshold(y + v, t, nonneg), then y ← zNew + beta·(zNew − z). v holds
   * −∇f(y)/L. zNew may alias none of v, y, z; y + v is rounded to float32 before the threshold,
   * as when it is stored first.
   */
  fistaUpdate(v: Float32Array, y: Float32Array, z: Float32Array, t: number, nonneg: boolean, beta: number, zNew: Float32Array): void;

  /**
   * FISTA for the Lasso in the Gram form, row by row through the iterates' nonzeros (rows of a
   * batch are independent problems). For each row i of z [rows x atoms] (the warm start in, the
   * result out), with y = z and for k = 0 … iters−1 (iters = betas.length):
   *     v = c[i, :] + y·m;   zNew = softThreshold(v, t, nonneg);
   *     y ← zNew + betas[k]·(zNew − z);   z ← zNew
   * where m = I − G/L [atoms x atoms] (G = D·Dᵀ) and c = X·Dᵀ/L [rows x atoms]: exactly the
   * dense Gram form of `inference/fista.ts` with a fixed number of iterations, costing per
   * iteration nnz(y) rows of m plus two passes over a row of length atoms instead of a GEMM.
   * A row whose z or y gets more than `cap` nonzeros is left as it was and flagged
   * (flags[i] = 1, else 0) for the caller to run another way. Returns the number flagged.
   */
  fistaGramRows(
    c: Float32Array, m: Float32Array, rows: number, atoms: number, t: number, nonneg: boolean,
    betas: Float32Array, cap: number, z: Float32Array, flags: Uint8Array,
  ): number;

  /** x[i, :] += alpha * v for every row i of x [rows x cols]. */
  addRowVector(x: Float32Array, rows: number, cols: number, v: Float32Array, alpha: number): void;

  /**
   * Per row of x [rows x cols], the k largest values and their column indices, in descending
   * order of value; ties go to the lower column index. k <= cols.
   * outIdx and outVal are [rows x k].
   */
  topkRows(x: Float32Array, rows: number, cols: number, k: number, outIdx: Int32Array, outVal: Float32Array): void;

  /** out[i] = sum_j x[i, j] (float64 accumulation), out has length rows. */
  sumRows(x: Float32Array, rows: number, cols: number, out: Float64Array): void;

  /** out[j] = sum_i x[i, j] (float64 accumulation), out has length cols. */
  sumCols(x: Float32Array, rows: number, cols: number, out: Float64Array): void;

  /** sum of x[i]^2 (float64 accumulation). */
  sumSquares(x: Float32Array): number;

  /**
   * Optional (native with LAPACK): solve A·X = B for a symmetric positive-definite A in float64.
   * a [n x n] row-major, lower triangle read, overwritten by its Cholesky factor L (A = L·Lᵀ,
   * lower triangle); b [n x nrhs] row-major, overwritten by X. Returns −1, or the index of the
   * first pivot that was not positive (b then unspecified). `linalg/cholesky.ts`
   * `choleskySolveInPlace` uses it when present and its own blocked Cholesky otherwise.
   */
  spdSolve?(a: Float64Array, n: number, b: Float64Array, nrhs: number): number;

  /**
   * Optional (native with LAPACK, dsyevd): eigendecomposition of a symmetric a [n x n] float64
   * row-major (both triangles hold it). w [n] gets the eigenvalues ascending; with `vectors`, a
   * is overwritten so that ROW j is the unit eigenvector of w[j] (sign unspecified). Returns 0,
   * or LAPACK's info > 0 when it did not converge. `linalg/eigh.ts` `eighSym` uses it when
   * present (the JavaScript routine is the reference, and runs on js/wasm).
   */
  symEig?(a: Float64Array, n: number, w: Float64Array, vectors: boolean): number;

  /**
   * Optional (native with LAPACK, dgesdd): thin SVD of a [rows x cols] float64 row-major
   * (destroyed), r = min(rows, cols): u [rows x r] and vt [r x cols] row-major, s [r]
   * descending, A = U·diag(s)·Vt (signs unspecified). Returns 0, or LAPACK's info > 0 when it
   * did not converge. `linalg/svd.ts` `svd` uses it when present.
   */
  svdThin?(a: Float64Array, rows: number, cols: number, u: Float64Array, s: Float64Array, vt: Float64Array): number;

  /**
   * The nonzeros of each row of x [rows x cols], in column order: outIdx/outVal [rows x k] get
   * row i's column indices and values, padded with index −1 and value 0 after the last (the
   * layout `gatherDecode` reads). NaN counts as nonzero, ±0 as zero. Returns the largest number
   * of nonzeros in a row; when it exceeds k, rows with more than k keep only their first k.
   */
  compressRows(x: Float32Array, rows: number, cols: number, k: number, outIdx: Int32Array, outVal: Float32Array): number;

  /**
   * Sparse decode: out[i, :] = beta * out[i, :] + sum_j val[i, j] * d[idx[i, j], :].
   * idx, val are [rows x k]; d is [atoms x dim]; out is [rows x dim].
   */
  gatherDecode(idx: Int32Array, val: Float32Array, rows: number, k: number, d: Float32Array, dim: number, beta: number, out: Float32Array): void;

  /** out[i, j] = g[i, :] . d[idx[i, j], :] (0 for padding). g is [rows x dim], out is [rows x k]. */
  gatherDot(idx: Int32Array, rows: number, k: number, g: Float32Array, d: Float32Array, dim: number, out: Float32Array): void;

  /** gradD[idx[i, j], :] += val[i, j] * g[i, :]. g is [rows x dim], gradD is [atoms x dim]. */
  scatterOuter(idx: Int32Array, val: Float32Array, rows: number, k: number, g: Float32Array, dim: number, gradD: Float32Array): void;

  /**
   * Optional (native): one Adam(W) update of a buffer, bit for bit the loop of `optim/adam.ts`:
   * per element, in float64, m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p·wd − stepSize·m /
   * (√v·sc2 + eps), m and v stored as float32 (p's update uses them unrounded).
   */
  adamStep?(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, beta1: number, beta2: number, stepSize: number, sc2: number, eps: number, wd: number): void;

  /**
   * Optional (native): the backward of a sparse code idx/val [rows x k] through its active atoms,
   * in one pass by atom, bit for bit the sequence it replaces in `dictionary/sae/sparse.ts`:
   * gval[t] = val[t] > 0 ? g[i]·wdec[idx[t]] (gatherDot) : 0; gWdec[a] += Σ val[t]·g[i] and
   * gWenc[a] += Σ gval[t]·xc[i] (scatterOuter) and gbenc[a] += Σ gval[t], each sum over the
   * entries t of atom a in order. With `accumulate` false the three buffers are overwritten
   * (every atom's row, also those with no entry). wdec, gWdec [atoms x dim], g [rows x dim];
   * xc [rows x dimIn], gWenc [atoms x dimIn] (dimIn = dim for an SAE; a transcoder's input width).
   */
  sparseBackward?(
    idx: Int32Array, val: Float32Array, rows: number, k: number, g: Float32Array, xc: Float32Array, wdec: Float32Array, dim: number, dimIn: number,
    accumulate: boolean, gWdec: Float32Array, gWenc: Float32Array, gbenc: Float32Array, gval: Float32Array,
  ): void;

  /**
   * Optional (native): per row a of w, g [rows x cols], g_a ← g_a − (g_a·w_a / w_a·w_a)·w_a in
   * float64 (rows with w_a·w_a ≤ 0 kept), bit for bit `projectRadial` of `dictionary/sae/init.ts`.
   */
  projectRadial?(w: Float32Array, g: Float32Array, rows: number, cols: number): void;

  /**
   * Optional (native): each row of w [rows x cols] to unit norm in float64 (s = Σw², w ← w/√s),
   * rows whose norm is ≤ eps or not finite left as they are; bit for bit `normalizeRows` of
   * `linalg/rows.ts` without a redraw.
   */
  normalizeRows?(w: Float32Array, rows: number, cols: number, eps: number): void;

  /**
   * Optional (native): the JumpReLU step's lists per row of pre [rows x cols], in column order:
   * the active latents pre > θ_a (idx, val: stride kA, padded −1 / 0) and the threshold band
   * |pre − θ_a| < half (bandIdx, stride kB, padded −1), compared in float64 as the JavaScript in
   * `dictionary/sae/jumprelu.ts`. kA, kB = the widest row of each (at least 1). Returns
   * kA·2^20 + kB; −1 (nothing written) when a row has more than `cap` entries in a list; or
   * −2 − (kA·2^20 + kB) (nothing written) when the buffers are shorter than rows·kA / rows·kB.
   */
  jumpSelect?(pre: Float32Array, rows: number, cols: number, theta: Float64Array, half: number, cap: number, idx: Int32Array, val: Float32Array, bandIdx: Int32Array): number;

  /**
   * Optional (native): one nesting group's residual of the Matryoshka step, bit for bit the loop
   * of `dictionary/sae/matryoshka.ts`: per entry r = (cur + bdec[j]) − x in float64, S += s·r
   * (stored as float32); returns Σ r² summed in order. cur, x, S [rows x dim].
   */
  suffixResidual?(cur: Float32Array, bdec: Float32Array, x: Float32Array, rows: number, dim: number, s: number, S: Float32Array): number;

  /**
   * Optional (native): the matching-pursuit SAE's pursuit through Gram-matrix updates, bit for
   * bit `pursueGram` of `dictionary/sae/mp.ts`. Per row of r [rows x dim] (the residuals,
   * overwritten) with its correlations c [rows x atoms] (= r·dᵀ on entry, overwritten): k greedy
   * steps, each taking the first atom j with the largest positive correlation, α = d_j·r in
   * float64, r −= α·d_j, c −= α·gram[j] (compared as stored, float32); idx/val [rows x k] get j
   * and α, padded −1 / 0 once no correlation is positive. d [atoms x dim], gram [atoms x atoms].
   */
  mpPursueGram?(r: Float32Array, rows: number, dim: number, c: Float32Array, atoms: number, d: Float32Array, gram: Float32Array, k: number, idx: Int32Array, val: Float32Array): void;

  /**
   * Optional (native): the matching-pursuit SAE's reverse pass through its k greedy steps from
   * the final residuals r [rows x dim] and dL/dx̂ gx [rows x dim], bit for bit the loop of
   * `dictionary/sae/mp.ts` forwardBackward: gD [atoms x dim] and gbdec [dim] accumulate.
   */
  mpBackward?(r: Float32Array, rows: number, dim: number, idx: Int32Array, val: Float32Array, k: number, d: Float32Array, gx: Float32Array, gD: Float32Array, gbdec: Float32Array): void;
}
