/* LAPACK through OpenBLAS (weakly linked: an OpenBLAS without LAPACK reports it) */
#include "sparsecode.h"

/* hasLapack() -> whether spdSolve can run */
napi_value js_has_lapack(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  napi_get_boolean(env, dpotrf_ != NULL && dpotrs_ != NULL, &r);
  return r;
}

/* spdSolve(a, n, b, nrhs) -> -1, or the 0-based pivot that was not positive (or not finite).
 * a: SPD [n x n] float64 row-major, lower triangle read, overwritten by its Cholesky factor L
 * (A = L Lᵀ, in the lower triangle); b: [n x nrhs] float64 row-major, overwritten by A⁻¹b.
 * A symmetric row-major matrix is the same buffer column-major, and the column-major upper
 * factor U (A = UᵀU) is the row-major lower L: LAPACK's 'U' on the buffer as it is. */
napi_value js_spd_solve(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "spdSolve", 4)) return NULL;
  size_t la, lb;
  double *a = arg_array(&A, 0, napi_float64_array, &la, "a");
  size_t n = arg_dim(&A, 1, "n");
  double *b = arg_array(&A, 2, napi_float64_array, &lb, "b");
  size_t nrhs = arg_dim(&A, 3, "nrhs");
  if (A.failed || !need(&A, la, n * n, "a") || !need(&A, lb, n * nrhs, "b")) return NULL;
  if (!dpotrf_ || !dpotrs_) {
    napi_throw_error(env, "E_BACKEND", "spdSolve: this OpenBLAS has no LAPACK (dpotrf/dpotrs); use the JavaScript Cholesky");
    return NULL;
  }
  napi_value r;
  int in = (int)n, inrhs = (int)nrhs, infoc = 0;
  if (n == 0) {
    napi_create_int32(env, -1, &r);
    return r;
  }
  blas_use_threads(g_threads);
  dpotrf_("U", &in, a, &in, &infoc, 1);
  if (infoc != 0) {
    napi_create_int32(env, infoc > 0 ? infoc - 1 : 0, &r);
    return r;
  }
  if (nrhs > 0) {
    /* b row-major [n x nrhs] -> column-major for dpotrs, and back */
    double *t = (double *)malloc(n * nrhs * sizeof(double));
    if (!t) {
      napi_throw_error(env, NULL, "spdSolve: out of memory");
      return NULL;
    }
    for (size_t i = 0; i < n; i++)
      for (size_t c = 0; c < nrhs; c++) t[c * n + i] = b[i * nrhs + c];
    dpotrs_("U", &in, &inrhs, a, &in, t, &in, &infoc, 1);
    for (size_t i = 0; i < n; i++)
      for (size_t c = 0; c < nrhs; c++) b[i * nrhs + c] = t[c * n + i];
    free(t);
  }
  napi_create_int32(env, -1, &r);
  return r;
}

/* Eigen and singular value decompositions (LAPACK's divide and conquer drivers), weakly linked
 * like dpotrf. The trailing size_t arguments are gfortran's hidden lengths of the character
 * arguments. */
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work,
                    const int *lwork, int *iwork, const int *liwork, int *info, size_t jobz_len, size_t uplo_len) __attribute__((weak));
extern void dgesdd_(const char *jobz, const int *m, const int *n, double *a, const int *lda, double *s, double *u, const int *ldu,
                    double *vt, const int *ldvt, double *work, const int *lwork, int *iwork, int *info, size_t jobz_len) __attribute__((weak));

/* hasEigen() -> whether symEig and svdThin can run (dsyevd and dgesdd are there) */
napi_value js_has_eigen(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  napi_get_boolean(env, dsyevd_ != NULL && dgesdd_ != NULL, &r);
  return r;
}

/* workspace size from a LAPACK query (lwork = -1), rounded up, at least 1 */
static size_t ws_size(double q) {
  return q >= 1 ? (size_t)q + 1 : 1;
}

/* symEig(a, n, w, vectors) -> LAPACK's info (0: done; > 0: did not converge).
 * a: symmetric [n x n] float64 row-major (both triangles hold it); w [n] gets the eigenvalues in
 * ascending order. With vectors, a is overwritten by the eigenvectors: ROW j is the unit
 * eigenvector of w[j]. A symmetric row-major buffer is the same matrix column-major, and
 * dsyevd's column-major columns are the row-major rows: no copy either way. Signs as LAPACK
 * leaves them (the caller fixes a convention). */
napi_value js_sym_eig(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "symEig", 4)) return NULL;
  size_t la, lw;
  double *a = arg_array(&A, 0, napi_float64_array, &la, "a");
  size_t n = arg_dim(&A, 1, "n");
  double *w = arg_array(&A, 2, napi_float64_array, &lw, "w");
  int vectors = arg_bool(&A, 3);
  if (A.failed || !need(&A, la, n * n, "a") || !need(&A, lw, n, "w")) return NULL;
  if (!dsyevd_) {
    napi_throw_error(env, "E_BACKEND", "symEig: this OpenBLAS has no LAPACK (dsyevd); use the JavaScript eighSym");
    return NULL;
  }
  napi_value r;
  int in = (int)n, infoc = 0, lwork = -1, liwork = -1, iq = 0;
  if (n == 0) {
    napi_create_int32(env, 0, &r);
    return r;
  }
  blas_use_threads(g_threads);
  const char *jobz = vectors ? "V" : "N";
  double q = 0;
  dsyevd_(jobz, "L", &in, a, &in, w, &q, &lwork, &iq, &liwork, &infoc, 1, 1);
  size_t nw = ws_size(q), niw = iq > 1 ? (size_t)iq : 1;
  double *work = (double *)malloc(nw * sizeof(double));
  int *iwork = (int *)malloc(niw * sizeof(int));
  if (!work || !iwork || nw > 2147483647u || niw > 2147483647u) {
    free(work);
    free(iwork);
    napi_throw_error(env, NULL, "symEig: out of memory for LAPACK's workspace");
    return NULL;
  }
  lwork = (int)nw;
  liwork = (int)niw;
  dsyevd_(jobz, "L", &in, a, &in, w, work, &lwork, iwork, &liwork, &infoc, 1, 1);
  free(work);
  free(iwork);
  napi_create_int32(env, infoc, &r);
  return r;
}

/* svdThin(a, rows, cols, u, s, vt) -> LAPACK's info (0: done; > 0: did not converge).
 * a [rows x cols] float64 row-major (destroyed); r = min(rows, cols); u [rows x r] row-major,
 * s [r] descending, vt [r x cols] row-major: A = U diag(s) Vt. The row-major A is the
 * column-major Aᵀ [cols x rows]; dgesdd's thin SVD of it, Aᵀ = U' S V'ᵀ, gives A = V' S U'ᵀ,
 * and its column-major VT' [r x rows] is U row-major, its column-major U' [cols x r] is Vt
 * row-major: the outputs land in place. */
napi_value js_svd_thin(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "svdThin", 6)) return NULL;
  size_t la, lu, ls, lv;
  double *a = arg_array(&A, 0, napi_float64_array, &la, "a");
  size_t rows = arg_dim(&A, 1, "rows"), cols = arg_dim(&A, 2, "cols");
  double *u = arg_array(&A, 3, napi_float64_array, &lu, "u");
  double *s = arg_array(&A, 4, napi_float64_array, &ls, "s");
  double *vt = arg_array(&A, 5, napi_float64_array, &lv, "vt");
  size_t r = rows < cols ? rows : cols;
  if (A.failed || !need(&A, la, rows * cols, "a") || !need(&A, lu, rows * r, "u") || !need(&A, ls, r, "s") || !need(&A, lv, r * cols, "vt")) return NULL;
  if (!dgesdd_) {
    napi_throw_error(env, "E_BACKEND", "svdThin: this OpenBLAS has no LAPACK (dgesdd); use the JavaScript svd");
    return NULL;
  }
  napi_value res;
  if (r == 0) {
    napi_create_int32(env, 0, &res);
    return res;
  }
  blas_use_threads(g_threads);
  /* column-major M = Aᵀ: m = cols, n = rows, lda = cols */
  int m = (int)cols, nn = (int)rows, lda = (int)cols, ir = (int)r, infoc = 0, lwork = -1;
  int ldu = m, ldvt = ir;
  double q = 0;
  int *iwork = (int *)malloc(8 * r * sizeof(int));
  if (!iwork) {
    napi_throw_error(env, NULL, "svdThin: out of memory for LAPACK's workspace");
    return NULL;
  }
  /* U' [cols x r] column-major -> vt; VT' [r x rows] column-major -> u */
  dgesdd_("S", &m, &nn, a, &lda, s, vt, &ldu, u, &ldvt, &q, &lwork, iwork, &infoc, 1);
  size_t nw = ws_size(q);
  double *work = (double *)malloc(nw * sizeof(double));
  if (!work || nw > 2147483647u) {
    free(work);
    free(iwork);
    napi_throw_error(env, NULL, "svdThin: out of memory for LAPACK's workspace");
    return NULL;
  }
  lwork = (int)nw;
  dgesdd_("S", &m, &nn, a, &lda, s, vt, &ldu, u, &ldvt, work, &lwork, iwork, &infoc, 1);
  free(work);
  free(iwork);
  napi_create_int32(env, infoc, &res);
  return res;
}
