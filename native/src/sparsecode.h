/*
 * sparsecode native backend (shared header): an N-API addon over OpenBLAS cblas_sgemm plus plain C loops for
 * the other operations of the Backend interface (src/backend/types.ts).
 *
 * Conventions (the same as the js reference backend):
 *  - row-major float32 buffers, every output written into a caller-given typed array;
 *  - reductions accumulate in double;
 *  - top-k: descending values, ties go to the lower column index;
 *  - sparse ops: a negative atom index is padding and is skipped.
 *
 * Typed arrays are read in place (napi_get_typedarray_info), nothing is copied. Each entry
 * point checks argument types and buffer lengths (cheap, O(1)) so that a wrong call throws a
 * JavaScript error instead of reading or writing out of bounds.
 *
 * Build: -O3 without -march=native (the binary may run on another CPU). Hot loops are
 * compiled twice on x86-64 with GCC/Clang (target_clones: AVX2 and baseline SSE2); the
 * dynamic loader picks the AVX2 copy only when the CPU has it. FMA is never enabled, so both
 * copies round identically.
 */
#ifndef SPARSECODE_H
#define SPARSECODE_H
#define NAPI_VERSION 8
#include <node_api.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#ifdef SPARSECODE_HAVE_CBLAS_H
#include <cblas.h>
#else
/* The CBLAS ABI, declared here so that no header is needed at build time. */
enum CBLAS_ORDER { CblasRowMajor = 101, CblasColMajor = 102 };
enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112, CblasConjTrans = 113 };
void cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m, int n, int k,
                 float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
void openblas_set_num_threads(int n);
int openblas_get_num_threads(void);
char *openblas_get_config(void);
char *openblas_get_corename(void);
#endif

#if defined(__x86_64__) && defined(__GNUC__) && defined(__ELF__) && defined(__GLIBC__) && !defined(SPARSECODE_NO_CLONES)
#define HOT __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define HOT
#endif

/* LAPACK from OpenBLAS (weak: an OpenBLAS built without LAPACK leaves them NULL and spdSolve
 * reports it; the trailing size_t is gfortran's hidden length of the character argument) */
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len) __attribute__((weak));
extern void dpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *lda, double *b, const int *ldb, int *info, size_t uplo_len) __attribute__((weak));

#define PAR_MAX_THREADS 64
#define PAR_MIN_WORK ((size_t)1 << 18) /* elements per thread below which one thread is faster */

/* parallel.c: the row-parallel kernels' thread count (setThreads) */
extern int g_threads;
typedef void (*RangeFn)(void *ctx, size_t lo, size_t hi);
/* fn(ctx, lo, hi) over [0, n) in contiguous pieces; `work` (elements touched) decides how many threads */
void parallel_for(size_t n, size_t work, RangeFn fn, void *ctx);

/* blas.c: OpenBLAS threads per call (small GEMMs on one thread; LAPACK on g_threads) */
extern double g_gemm_mt_min_flops;
void blas_use_threads(int n);
void blas_threads_init(void);

/* args.c */
#define MAXARGS 14

typedef struct {
  napi_env env;
  const char *fn;
  napi_value argv[MAXARGS];
  size_t argc;
  int failed;
} Args;
void throw_type(Args *A, const char *msg);
void throw_range(Args *A, const char *msg);
int args_init(Args *A, napi_env env, napi_callback_info info, const char *fn, size_t want);
void *arg_array(Args *A, size_t i, napi_typedarray_type want, size_t *len, const char *name);
double arg_num(Args *A, size_t i, const char *name);
size_t arg_dim(Args *A, size_t i, const char *name);
int arg_bool(Args *A, size_t i);
int need(Args *A, size_t have, size_t want, const char *name);
napi_value undef(napi_env env);
size_t span(size_t rows, size_t cols, size_t ld);

/* elementwise.c: kernels other files use (declared without HOT: callers go through the ifunc resolver) */
double k_dot_d(const float *restrict a, const float *restrict b, size_t n);
float k_dot_f(const float *restrict a, const float *restrict b, size_t n);
double k_sum_d(const float *a, size_t n);
void k_axpy_row(float w, const float *restrict src, float *restrict dst, size_t n);
void k_scale_row(float beta, float *x, size_t n);

/* entry points (module.c exports them) */
napi_value js_sgemm(napi_env env, napi_callback_info info);
napi_value js_adam_step(napi_env env, napi_callback_info info);
napi_value js_sparse_backward(napi_env env, napi_callback_info info);
napi_value js_project_radial(napi_env env, napi_callback_info info);
napi_value js_normalize_rows(napi_env env, napi_callback_info info);
napi_value js_jump_select(napi_env env, napi_callback_info info);
napi_value js_suffix_residual(napi_env env, napi_callback_info info);
napi_value js_mp_pursue_gram(napi_env env, napi_callback_info info);
napi_value js_mp_backward(napi_env env, napi_callback_info info);
napi_value js_soft_threshold(napi_env env, napi_callback_info info);
napi_value js_relu(napi_env env, napi_callback_info info);
napi_value js_axpby(napi_env env, napi_callback_info info);
napi_value js_extrapolate(napi_env env, napi_callback_info info);
napi_value js_fista_update(napi_env env, napi_callback_info info);
napi_value js_add_row_vector(napi_env env, napi_callback_info info);
napi_value js_topk_rows(napi_env env, napi_callback_info info);
napi_value js_sum_rows(napi_env env, napi_callback_info info);
napi_value js_sum_cols(napi_env env, napi_callback_info info);
napi_value js_sum_squares(napi_env env, napi_callback_info info);
napi_value js_compress_rows(napi_env env, napi_callback_info info);
napi_value js_fista_gram_rows(napi_env env, napi_callback_info info);
napi_value js_gather_decode(napi_env env, napi_callback_info info);
napi_value js_gather_dot(napi_env env, napi_callback_info info);
napi_value js_scatter_outer(napi_env env, napi_callback_info info);
napi_value js_set_threads(napi_env env, napi_callback_info info);
napi_value js_get_threads(napi_env env, napi_callback_info info);
napi_value js_has_lapack(napi_env env, napi_callback_info info);
napi_value js_spd_solve(napi_env env, napi_callback_info info);
napi_value js_blas_info(napi_env env, napi_callback_info info);
napi_value js_gemm_threading(napi_env env, napi_callback_info info);
napi_value js_has_eigen(napi_env env, napi_callback_info info);
napi_value js_sym_eig(napi_env env, napi_callback_info info);
napi_value js_svd_thin(napi_env env, napi_callback_info info);

#endif
