import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { backend as activeBackend, matmul, SparseLeftProduct } from '../backend/index.js';
import type { Backend } from '../backend/types.js';
import { choleskySolveInPlace } from '../linalg/cholesky.js';

/**
 * The MOD dictionary update (method of optimal directions, Engan et al. 1999) for codes Z
 * [samples x atoms] and data X [samples x dim]:
 *
 *     D = (ZᵀZ + ridge·I)⁻¹ ZᵀX                         (primal: atoms <= samples)
 *       = Zᵀ (ZZᵀ + ridge·I)⁻¹ X                        (dual, the push-through identity:
 *                                                        a [samples x samples] system when
 *                                                        there are more atoms than samples)
 *
 * The system is solved in float64 by `choleskySolveInPlace` (LAPACK through the native
 * backend). Sparse codes — the usual case: a Lasso solution has a few nonzeros per row — build
 * the Gram matrix from their nonzeros, in float64: Σ_rows nnz² products for ZᵀZ, Σ_atoms
 * (rows using the atom)² for ZZᵀ, instead of the dense samples·atoms² (or samples²·atoms)
 * GEMM; codes that are not sparse enough take the GEMM (float32, then float64 for the solve).
 * One solver keeps its buffers for a fixed problem size.
 */
export class ModSolver {
  /** true: the dual form (more atoms than samples) */
  readonly dual: boolean;
  /** the system size: atoms (primal) or samples (dual) */
  readonly size: number;
  /** diagnostics: updates that built the Gram matrix from the nonzeros / all updates */
  sparseUpdates = 0;
  updates = 0;
  private readonly A: Float64Array;
  private readonly rhs: Float64Array;
  private readonly cap: number;
  private readonly idx: Int32Array;
  private readonly val: Float32Array;
  private gram: Matrix | null = null;
  private zx: Matrix | null = null;
  private W: Matrix | null = null;
  private acc: Float64Array | null = null;
  private residual: { R: Matrix; product: SparseLeftProduct } | null = null;

  constructor(readonly samples: number, readonly atoms: number, readonly dim: number, readonly ridge: number) {
    for (const [k, v] of [['samples', samples], ['atoms', atoms], ['dim', dim]] as const) {
      if (!Number.isInteger(v) || v < 1) fail('E_ARG', `MOD update: ${k} must be a positive integer, got ${v}`);
    }
    if (!(ridge >= 0) || !Number.isFinite(ridge)) fail('E_ARG', `MOD update: ridge must be a finite number >= 0, got ${ridge}`);
    this.dual = atoms > samples;
    this.size = this.dual ? samples : atoms;
    this.A = new Float64Array(this.size * this.size);
    this.rhs = new Float64Array(this.size * dim);
    // rows with more nonzeros than this take the GEMM path (the sparse Gram then costs more)
    this.cap = Math.max(1, Math.min(atoms, Math.floor(atoms / 8)));
    this.idx = new Int32Array(samples * this.cap);
    this.val = new Float32Array(samples * this.cap);
  }

  /**
   * out = the MOD dictionary [atoms x dim] for codes Z and data X (rows not normalised).
   * Returns false, writing nothing useful, when the system is singular or not finite (some
   * atoms — or, dual, some samples — have no nonzero code and ridge is 0).
   */
  update(Z: Matrix, X: Matrix, out: Matrix, b: Backend = activeBackend()): boolean {
    const { samples, atoms, dim } = this;
    if (Z.rows !== samples || Z.cols !== atoms) fail('E_SHAPE', `MOD update: codes are [${Z.rows} x ${Z.cols}], expected [${samples} x ${atoms}]`);
    if (X.rows !== samples || X.cols !== dim) fail('E_SHAPE', `MOD update: data is [${X.rows} x ${X.cols}], expected [${samples} x ${dim}]`);
    if (out.rows !== atoms || out.cols !== dim) fail('E_SHAPE', `MOD update: out is [${out.rows} x ${out.cols}], expected [${atoms} x ${dim}]`);
    this.updates++;
    const s = this.size;
    const A = this.A;
    const sparse = this.sparseEnough(Z, b);
    if (sparse) {
      this.sparseUpdates++;
      if (this.dual) this.sparseDualGram();
      else this.sparsePrimalStats(X);
    } else {
      const gram = (this.gram ??= new Matrix(s, s));
      if (this.dual) matmul(Z, Z, { transB: true, out: gram, backend: b });
      else matmul(Z, Z, { transA: true, out: gram, backend: b });
      for (let i = 0; i < A.length; i++) A[i] = gram.data[i];
      if (!this.dual) {
        const zx = (this.zx ??= new Matrix(atoms, dim));
        matmul(Z, X, { transA: true, out: zx, backend: b });
        for (let i = 0; i < this.rhs.length; i++) this.rhs[i] = zx.data[i];
      }
    }
    if (this.dual) for (let i = 0; i < this.rhs.length; i++) this.rhs[i] = X.data[i];
    for (let j = 0; j < s; j++) A[j * s + j] += this.ridge;
    if (choleskySolveInPlace(A, s, this.rhs, dim, b) >= 0) return false;
    const sol = this.rhs;
    if (!this.dual) {
      for (let i = 0; i < sol.length; i++) out.data[i] = sol[i];
      return true;
    }
    // dual: out = Zᵀ W with W = (ZZᵀ + ridge·I)⁻¹X
    const o = out.data;
    if (sparse) {
      const acc = (this.acc ??= new Float64Array(atoms * dim));
      acc.fill(0);
      const { idx, val, cap } = this;
      for (let i = 0; i < samples; i++) {
        const wi = i * dim;
        for (let p = i * cap, e = p + cap; p < e; p++) {
          const a = idx[p];
          if (a < 0) break;
          const v = val[p];
          const oa = a * dim;
          for (let c = 0; c < dim; c++) acc[oa + c] += v * sol[wi + c];
        }
      }
      for (let i = 0; i < o.length; i++) o[i] = acc[i];
    } else {
      const W = (this.W ??= new Matrix(samples, dim));
      for (let i = 0; i < sol.length; i++) W.data[i] = sol[i];
      matmul(Z, W, { transA: true, out, backend: b });
    }
    return true;
  }

  /**
   * The mean Lasso objective (1/samples)·Σ 1/2‖x − zD‖² + λ‖z‖₁ of codes Z under the dictionary
   * D they were computed with (the residual through Z's nonzeros when sparse), and the mean L0.
   */
  loss(Z: Matrix, D: Matrix, X: Matrix, lambda: number, b: Backend = activeBackend()): { loss: number; l0: number } {
    const r = (this.residual ??= { R: new Matrix(this.samples, this.dim), product: new SparseLeftProduct(this.samples, this.atoms) });
    r.R.data.set(X.data);
    r.product.multiply(Z, D, -1, r.R, b);
    const sse = b.sumSquares(r.R.data);
    let l1 = 0, nnz = 0;
    const zd = Z.data;
    for (let i = 0; i < zd.length; i++) {
      const v = zd[i];
      if (v !== 0) {
        nnz++;
        l1 += v < 0 ? -v : v;
      }
    }
    return { loss: (0.5 * sse + lambda * l1) / this.samples, l0: nnz / this.samples };
  }

  /** List Z's nonzeros per row; true when every row fits and the sparse Gram is the cheaper one. */
  private sparseEnough(Z: Matrix, b: Backend): boolean {
    const { samples, atoms, dim, cap } = this;
    const most = b.compressRows(Z.data, samples, atoms, cap, this.idx, this.val);
    if (most > cap) return false;
    // multiply-adds: sparse (scalar JS, float64) against the GEMM (about 50x faster per
    // multiply-add), counting the Gram and the right-hand side / back-product
    let pairs = 0, nnz = 0;
    const { idx } = this;
    if (this.dual) {
      const counts = new Float64Array(atoms);
      for (let p = 0; p < idx.length; p++) if (idx[p] >= 0) counts[idx[p]]++;
      for (let a = 0; a < atoms; a++) {
        nnz += counts[a];
        pairs += counts[a] * (counts[a] + 1) / 2;
      }
    } else {
      for (let i = 0; i < samples; i++) {
        let c = 0;
        for (let p = i * cap, e = p + cap; p < e && idx[p] >= 0; p++) c++;
        nnz += c;
        pairs += c * (c + 1) / 2;
      }
    }
    const sparseWork = pairs + nnz * dim;
    // the GEMM Gram: samples·atoms² (primal) or samples²·atoms (dual), halved for symmetry
    const denseWork = samples * this.size * atoms / 2 + samples * atoms * dim;
    return sparseWork * 50 < denseWork;
  }

  /** primal: A = ZᵀZ (lower triangle) and rhs = ZᵀX, from the listed nonzeros, in float64 */
  private sparsePrimalStats(X: Matrix): void {
    const { samples, atoms, dim, cap, idx, val, A, rhs } = this;
    A.fill(0);
    rhs.fill(0);
    const xd = X.data;
    for (let i = 0; i < samples; i++) {
      const base = i * cap;
      let c = 0;
      while (c < cap && idx[base + c] >= 0) c++;
      const xi = i * dim;
      for (let p = 0; p < c; p++) {
        const ap = idx[base + p];
        const vp = val[base + p];
        // idx ascending: (ap, aq) with aq <= ap is the lower triangle
        const row = ap * atoms;
        for (let q = 0; q <= p; q++) A[row + idx[base + q]] += vp * val[base + q];
        const ra = ap * dim;
        for (let t = 0; t < dim; t++) rhs[ra + t] += vp * xd[xi + t];
      }
    }
  }

  /** dual: A = ZZᵀ (lower triangle) from the listed nonzeros, atom by atom, in float64 */
  private sparseDualGram(): void {
    const { samples, atoms, cap, idx, val, A } = this;
    A.fill(0);
    // the rows using each atom (rows ascending within an atom)
    const start = new Int32Array(atoms + 1);
    for (let p = 0; p < idx.length; p++) if (idx[p] >= 0) start[idx[p] + 1]++;
    for (let a = 0; a < atoms; a++) start[a + 1] += start[a];
    const fillAt = start.slice(0, atoms);
    const rows = new Int32Array(start[atoms]);
    const vals = new Float64Array(start[atoms]);
    for (let i = 0; i < samples; i++) {
      for (let p = i * cap, e = p + cap; p < e; p++) {
        const a = idx[p];
        if (a < 0) break;
        const t = fillAt[a]++;
        rows[t] = i;
        vals[t] = val[p];
      }
    }
    for (let a = 0; a < atoms; a++) {
      for (let p = start[a]; p < start[a + 1]; p++) {
        const ri = rows[p] * samples;
        const vp = vals[p];
        for (let q = start[a]; q <= p; q++) A[ri + rows[q]] += vp * vals[q];
      }
    }
  }
}
