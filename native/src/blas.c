/* BLAS: sgemm and the OpenBLAS thread count / configuration */
#include "sparsecode.h"

/*
 * OpenBLAS threads per call, by size. A GEMM below g_gemm_mt_min_flops (2·m·n·k) runs on one
 * OpenBLAS thread; larger ones, and every LAPACK call, on g_threads (setThreads). Waking the
 * pool costs ~10 µs; below ~2^23 flops that is more than a second thread gains. (The pool's
 * threads used to spin ~0.1 s after each GEMM on the cores the rest of the step wants, and the
 * threshold was 2^28 then; the loader now makes them sleep at once, OPENBLAS_THREAD_TIMEOUT=4,
 * and 2^24 is measured faster: 144 vs 165 µs at 2^24, 429 vs 650 µs at 2^26.) Overridden by
 * SPARSECODE_GEMM_MT_MIN_FLOPS (0: always g_threads) or gemmThreading(minFlops).
 */
double g_gemm_mt_min_flops = 16777216.0;
static int g_blas_current = -1; /* the count OpenBLAS was last set to (-1: unknown) */

void blas_use_threads(int n) {
  if (n < 1) n = 1;
  if (n != g_blas_current) {
    openblas_set_num_threads(n);
    g_blas_current = n;
  }
}

void blas_threads_init(void) {
  g_threads = openblas_get_num_threads();
  g_blas_current = g_threads;
  const char *e = getenv("SPARSECODE_GEMM_MT_MIN_FLOPS");
  if (e && *e) {
    char *end = NULL;
    double v = strtod(e, &end);
    if (end && *end == 0 && v >= 0) g_gemm_mt_min_flops = v;
  }
}

/* gemmThreading([minFlops]) -> the threshold in force (after setting it when given, >= 0) */
napi_value js_gemm_threading(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "gemmThreading", 0)) return NULL;
  if (A.argc >= 1) {
    napi_valuetype t;
    napi_typeof(env, A.argv[0], &t);
    if (t != napi_undefined) {
      double v = arg_num(&A, 0, "minFlops");
      if (A.failed) return NULL;
      if (!(v >= 0)) {
        throw_range(&A, "minFlops must be >= 0 (0: every GEMM on all threads)");
        return NULL;
      }
      g_gemm_mt_min_flops = v;
    }
  }
  napi_value r;
  napi_create_double(env, g_gemm_mt_min_flops, &r);
  return r;
}

/* sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) */
napi_value js_sgemm(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "sgemm", 13)) return NULL;
  int tA = arg_bool(&A, 0), tB = arg_bool(&A, 1);
  size_t m = arg_dim(&A, 2, "m"), n = arg_dim(&A, 3, "n"), k = arg_dim(&A, 4, "k");
  double alpha = arg_num(&A, 5, "alpha");
  size_t la, lb, lc;
  float *a = arg_array(&A, 6, napi_float32_array, &la, "a");
  size_t lda = arg_dim(&A, 7, "lda");
  float *b = arg_array(&A, 8, napi_float32_array, &lb, "b");
  size_t ldb = arg_dim(&A, 9, "ldb");
  double beta = arg_num(&A, 10, "beta");
  float *c = arg_array(&A, 11, napi_float32_array, &lc, "c");
  size_t ldc = arg_dim(&A, 12, "ldc");
  if (A.failed) return NULL;
  size_t aRows = tA ? k : m, aCols = tA ? m : k;
  size_t bRows = tB ? n : k, bCols = tB ? k : n;
  if (lda < (aCols > 1 ? aCols : 1) || ldb < (bCols > 1 ? bCols : 1) || ldc < (n > 1 ? n : 1)) {
    char buf[160];
    snprintf(buf, sizeof buf, "leading dimensions too small: lda=%zu (>= %zu), ldb=%zu (>= %zu), ldc=%zu (>= %zu)",
             lda, aCols, ldb, bCols, ldc, n);
    throw_range(&A, buf);
    return NULL;
  }
  if (!need(&A, lc, span(m, n, ldc), "c")) return NULL;
  if (m == 0 || n == 0) return undef(env);
  if (k == 0 || alpha == 0) {
    /* C = beta * C (beta = 0 overwrites, NaN included) */
    for (size_t i = 0; i < m; i++) {
      float *ci = c + i * ldc;
      if (beta == 0) memset(ci, 0, n * sizeof(float));
      else if (beta != 1) k_scale_row((float)beta, ci, n);
    }
    return undef(env);
  }
  if (!need(&A, la, span(aRows, aCols, lda), "a") || !need(&A, lb, span(bRows, bCols, ldb), "b")) return NULL;
  if (beta == 0) {
    /* make "beta = 0 overwrites C" independent of the BLAS build */
    for (size_t i = 0; i < m; i++) memset(c + i * ldc, 0, n * sizeof(float));
  }
  blas_use_threads(2.0 * (double)m * (double)n * (double)k < g_gemm_mt_min_flops ? 1 : g_threads);
  cblas_sgemm(CblasRowMajor, tA ? CblasTrans : CblasNoTrans, tB ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
              (float)alpha, a, (int)lda, b, (int)ldb, (float)beta, c, (int)ldc);
  return undef(env);
}

/* setThreads(n) */
napi_value js_set_threads(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "setThreads", 1)) return NULL;
  size_t n = arg_dim(&A, 0, "n");
  if (A.failed) return NULL;
  if (n < 1 || n > 1024) {
    throw_range(&A, "the thread count must be between 1 and 1024");
    return NULL;
  }
  g_threads = (int)n;
  blas_use_threads(g_threads);
  return undef(env);
}

/* getThreads() -> number (setThreads' count; a small GEMM may have run on one thread) */
napi_value js_get_threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  napi_create_int32(env, g_threads, &r);
  return r;
}

/* blasInfo() -> string: OpenBLAS build configuration and core kernel */
napi_value js_blas_info(napi_env env, napi_callback_info info) {
  (void)info;
  char buf[512];
  snprintf(buf, sizeof buf, "%s; core %s", openblas_get_config(), openblas_get_corename());
  napi_value r;
  napi_create_string_utf8(env, buf, NAPI_AUTO_LENGTH, &r);
  return r;
}
