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
