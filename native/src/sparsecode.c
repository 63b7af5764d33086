/*
 * sparsecode native backend: an N-API addon over OpenBLAS cblas_sgemm plus plain C loops for
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
#define NAPI_VERSION 8
#include <node_api.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
#define HOT __attribute__((target_clones("avx2", "default")))
#else
#define HOT
#endif

/* ------------------------------------------------------------------------------------------ */
/* fork-join over index ranges (row-parallel kernels); thread count follows setThreads          */
/* ------------------------------------------------------------------------------------------ */

/* LAPACK from OpenBLAS (weak: an OpenBLAS built without LAPACK leaves them NULL and spdSolve
 * reports it; the trailing size_t is gfortran's hidden length of the character argument) */
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len) __attribute__((weak));
extern void dpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *lda, double *b, const int *ldb, int *info, size_t uplo_len) __attribute__((weak));

#define PAR_MAX_THREADS 64
#define PAR_MIN_WORK ((size_t)1 << 18) /* elements per thread below which one thread is faster */

static int g_threads = 1;

typedef void (*RangeFn)(void *ctx, size_t lo, size_t hi);
typedef struct {
  RangeFn fn;
  void *ctx;
  size_t lo, hi;
} Job;

static void *job_main(void *p) {
  Job *j = (Job *)p;
  j->fn(j->ctx, j->lo, j->hi);
  return NULL;
}

/* fn(ctx, lo, hi) over [0, n) in contiguous pieces; `work` (elements touched) decides how many threads */
static void parallel_for(size_t n, size_t work, RangeFn fn, void *ctx) {
  size_t T = (size_t)(g_threads > 0 ? g_threads : 1);
  size_t byWork = work / PAR_MIN_WORK;
  if (T > byWork) T = byWork;
  if (T > n) T = n;
  if (T > PAR_MAX_THREADS) T = PAR_MAX_THREADS;
  if (T <= 1) {
    if (n) fn(ctx, 0, n);
    return;
  }
  pthread_t th[PAR_MAX_THREADS];
  Job jobs[PAR_MAX_THREADS];
  int started[PAR_MAX_THREADS];
  for (size_t t = 0; t < T; t++) {
    jobs[t].fn = fn;
    jobs[t].ctx = ctx;
    jobs[t].lo = n * t / T;
    jobs[t].hi = n * (t + 1) / T;
  }
  for (size_t t = 1; t < T; t++) {
    started[t] = pthread_create(&th[t], NULL, job_main, &jobs[t]) == 0;
    if (!started[t]) job_main(&jobs[t]); /* no thread available: do it here */
  }
  job_main(&jobs[0]);
  for (size_t t = 1; t < T; t++) if (started[t]) pthread_join(th[t], NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* kernels                                                                                    */
/* ------------------------------------------------------------------------------------------ */

HOT static void k_soft_threshold(const float *x, size_t n, float t, int nonneg, float *out) {
  if (nonneg) {
    for (size_t i = 0; i < n; i++) {
      float v = x[i] - t;
      out[i] = v > 0.0f ? v : 0.0f;
    }
  } else if (t >= 0) {
    /* branch-free form of the same formula (vectorises); the zero region gives +0 */
    for (size_t i = 0; i < n; i++) {
      float v = x[i];
      float a = fabsf(v) - t;
      out[i] = a > 0.0f ? copysignf(a, v) : 0.0f;
    }
  } else {
    for (size_t i = 0; i < n; i++) {
      float v = x[i];
      out[i] = v > t ? v - t : (v < -t ? v + t : 0.0f);
    }
  }
}

HOT static void k_relu(const float *x, size_t n, float *out) {
  for (size_t i = 0; i < n; i++) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

HOT static void k_axpby(float alpha, const float *x, float beta, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = alpha * x[i] + beta * y[i];
}

HOT static void k_extrapolate(const float *restrict z, const float *restrict zp, float beta, float *restrict out, size_t n) {
  for (size_t i = 0; i < n; i++) out[i] = z[i] + beta * (z[i] - zp[i]);
}

HOT static void k_fista_update(const float *restrict v, float *restrict y, const float *restrict z, float t, int nonneg, float beta, float *restrict zn, size_t n) {
  if (nonneg) {
    for (size_t i = 0; i < n; i++) {
      float u = (y[i] + v[i]) - t;
      float w = u > 0.0f ? u : 0.0f;
      zn[i] = w;
      y[i] = w + beta * (w - z[i]);
    }
  } else {
    for (size_t i = 0; i < n; i++) {
      float u = y[i] + v[i];
      float w = u > t ? u - t : (u < -t ? u + t : 0.0f);
      zn[i] = w;
      y[i] = w + beta * (w - z[i]);
    }
  }
}

HOT static void k_add_row_vector(float *restrict x, size_t rows, size_t cols, const float *restrict v, float alpha) {
  for (size_t i = 0; i < rows; i++) {
    float *xi = x + i * cols;
    for (size_t j = 0; j < cols; j++) xi[j] += alpha * v[j];
  }
}

/* sum of products in double with 8 independent accumulators (vectorisable without -ffast-math) */
HOT static double k_dot_d(const float *restrict a, const float *restrict b, size_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int l = 0; l < 8; l++) acc[l] += (double)a[i + l] * (double)b[i + l];
  }
  double s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < n; i++) s += (double)a[i] * (double)b[i];
  return s;
}

HOT static double k_sum_d(const float *a, size_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int l = 0; l < 8; l++) acc[l] += (double)a[i + l];
  }
  double s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < n; i++) s += (double)a[i];
  return s;
}

HOT static void k_sum_cols(const float *restrict x, size_t rows, size_t cols, double *restrict out) {
  for (size_t j = 0; j < cols; j++) out[j] = 0.0;
  for (size_t i = 0; i < rows; i++) {
    const float *xi = x + i * cols;
    for (size_t j = 0; j < cols; j++) out[j] += (double)xi[j];
  }
}

/*
 * Row top-k. The result must equal the js backend's: the k largest values in descending
 * order, ties to the lower column index (a stable descending sort, cut at k). js keeps a
 * sorted buffer and inserts each value that beats the k-th; a value moves up only past
 * strictly smaller ones.
 *
 * Here, per row:
 *  1. split the row into k chunks and take each chunk's maximum; the smallest of these k
 *     maxima is a lower bound on the k-th largest value (k distinct elements reach it);
 *  2. push, in column order, only the elements >= that bound into the sorted buffer
 *     (binary search + memmove). Skipping elements below the bound cannot change the final
 *     buffer, because none of them is among the k largest.
 * Rows holding NaN take js's exact step-by-step scan (NaN breaks the ordering the bound and
 * the binary search rely on), so those agree with js as well.
 */
typedef struct {
  float *ov;
  int32_t *oi;
  size_t k;
  size_t filled;
} TopK;

/* insert (v, j) the js way; neither v nor the buffer holds NaN */
static inline void topk_push(TopK *T, float v, int32_t j) {
  const size_t k = T->k;
  float *ov = T->ov;
  int32_t *oi = T->oi;
  if (T->filled == k && !(v > ov[k - 1])) return;
  /* ov[0..filled) is descending: the first slot holding a value < v (after all ties) */
  size_t lo = 0, hi = T->filled;
  while (lo < hi) {
    size_t mid = (lo + hi) >> 1;
    if (ov[mid] >= v) lo = mid + 1;
    else hi = mid;
  }
  size_t last = T->filled < k ? T->filled : k - 1; /* the slot newly filled or dropped */
  if (last > lo) {
    memmove(ov + lo + 1, ov + lo, (last - lo) * sizeof(float));
    memmove(oi + lo + 1, oi + lo, (last - lo) * sizeof(int32_t));
  }
  ov[lo] = v;
  oi[lo] = j;
  if (T->filled < k) T->filled++;
}

/* js's algorithm, step by step (rows with NaN) */
static void topk_row_scan(const float *xi, size_t cols, size_t k, int32_t *oi, float *ov) {
  size_t filled = 0;
  for (size_t j = 0; j < cols; j++) {
    float v = xi[j];
    if (filled == k && !(v > ov[k - 1])) continue;
    size_t pos = filled < k ? filled : k - 1;
    while (pos > 0 && v > ov[pos - 1]) {
      if (pos < k) {
        ov[pos] = ov[pos - 1];
        oi[pos] = oi[pos - 1];
      }
      pos--;
    }
    ov[pos] = v;
    oi[pos] = (int32_t)j;
    if (filled < k) filled++;
  }
}

/* max of x[0..n) ignoring nothing; sets *nan when any element is NaN. n >= 1 */
static inline float chunk_max(const float *x, size_t n, int *nan) {
  size_t t = 0;
  float m = x[0];
  int bad = 0;
#if defined(__SSE2__)
  if (n >= 8) {
    __m128 m0 = _mm_loadu_ps(x), m1 = _mm_loadu_ps(x + 4);
    __m128 u = _mm_or_ps(_mm_cmpunord_ps(m0, m0), _mm_cmpunord_ps(m1, m1));
    for (t = 8; t + 8 <= n; t += 8) {
      __m128 a = _mm_loadu_ps(x + t), b = _mm_loadu_ps(x + t + 4);
      u = _mm_or_ps(u, _mm_or_ps(_mm_cmpunord_ps(a, a), _mm_cmpunord_ps(b, b)));
      m0 = _mm_max_ps(m0, a);
      m1 = _mm_max_ps(m1, b);
    }
    float lanes[4];
    _mm_storeu_ps(lanes, _mm_max_ps(m0, m1));
    m = lanes[0];
    for (int l = 1; l < 4; l++) m = lanes[l] > m ? lanes[l] : m;
    bad = _mm_movemask_ps(u);
  }
#endif
  for (; t < n; t++) {
    float v = x[t];
    if (v != v) bad = 1;
    m = v > m ? v : m;
  }
  if (bad) *nan = 1;
  return m;
}

/* the k-th largest (1-based) of a[0..n), reordering a (Wirth's selection); no NaN; 1 <= k <= n */
static float kth_largest(float *a, long n, long k) {
  long l = 0, m = n - 1, want = k - 1;
  while (l < m) {
    float x = a[want];
    long i = l, j = m;
    do {
      while (a[i] > x) i++;
      while (x > a[j]) j--;
      if (i <= j) {
        float t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    } while (i <= j);
    if (j < want) l = i;
    if (want < i) m = j;
  }
  return a[want];
}

#define TOPK_MAX_CHUNKS 2048

static void topk_row(const float *xi, size_t cols, size_t k, int32_t *oi, float *ov) {
  TopK T = {ov, oi, k, 0};
  float bound = -INFINITY;
  int nan = 0;
  /* chunk maxima: C chunks, C >= k; the k-th largest maximum bounds the k-th largest value */
  size_t C = 4 * k;
  if (C > cols / 8) C = cols / 8;
  if (C > TOPK_MAX_CHUNKS) C = TOPK_MAX_CHUNKS;
  if (C >= k && k > 0) {
    float maxima[TOPK_MAX_CHUNKS];
    size_t chunk = cols / C;
    for (size_t c = 0; c < C; c++) {
      size_t c0 = c * chunk, c1 = c + 1 == C ? cols : c0 + chunk;
      maxima[c] = chunk_max(xi + c0, c1 - c0, &nan);
    }
    if (!nan) bound = kth_largest(maxima, (long)C, (long)k);
  } else {
    for (size_t j = 0; j < cols; j++) if (xi[j] != xi[j]) nan = 1;
  }
  if (nan) {
    topk_row_scan(xi, cols, k, oi, ov);
    return;
  }
  size_t j = 0;
#if defined(__SSE2__)
  const __m128 b = _mm_set1_ps(bound);
  for (; j + 4 <= cols; j += 4) {
    int mask = _mm_movemask_ps(_mm_cmpge_ps(_mm_loadu_ps(xi + j), b));
    while (mask) {
      int l = __builtin_ctz((unsigned)mask);
      topk_push(&T, xi[j + l], (int32_t)(j + l));
      mask &= mask - 1;
    }
  }
#endif
  for (; j < cols; j++) {
    if (xi[j] >= bound) topk_push(&T, xi[j], (int32_t)j);
  }
}

typedef struct {
  const float *x;
  size_t cols, k;
  int32_t *oi;
  float *ov;
} TopkJob;

static void topk_range(void *p, size_t lo, size_t hi) {
  TopkJob *J = (TopkJob *)p;
  for (size_t i = lo; i < hi; i++) topk_row(J->x + i * J->cols, J->cols, J->k, J->oi + i * J->k, J->ov + i * J->k);
}

static void k_topk_rows(const float *x, size_t rows, size_t cols, size_t k, int32_t *outIdx, float *outVal) {
  TopkJob J = {x, cols, k, outIdx, outVal};
  parallel_for(rows, rows * cols, topk_range, &J);
}

HOT static void k_axpy_row(float w, const float *restrict src, float *restrict dst, size_t n) {
  for (size_t t = 0; t < n; t++) dst[t] += w * src[t];
}

HOT static void k_scale_row(float beta, float *x, size_t n) {
  for (size_t t = 0; t < n; t++) x[t] *= beta;
}

/* sparse kernels: indices were checked before (padding < 0 skipped) */
typedef struct {
  const int32_t *idx;
  const float *val, *d, *g;
  float *out;
  size_t k, dim, rows_;
  float beta;
} SparseJob;

/* compressRows: each row's nonzeros in column order into idx/val [rows x k], padding idx -1 / val 0;
 * counts[i] = nonzeros of row i (may exceed k: then only the first k are written) */
typedef struct {
  const float *x;
  int32_t *idx;
  float *val;
  int32_t *counts;
  size_t cols, k;
} CompressJob;

HOT static size_t k_compress_row(const float *restrict x, size_t cols, size_t k, int32_t *restrict idx, float *restrict val) {
  size_t c = 0, j = 0;
  for (; j + 16 <= cols; j += 16) {
    /* skip all-zero blocks of 16 (the common case for sparse codes): an OR over the bits
     * without the sign, so +0 and -0 both count as zero */
    uint32_t any = 0;
    const uint32_t *u = (const uint32_t *)(x + j);
    for (int l = 0; l < 16; l++) any |= u[l] & 0x7fffffffu;
    if (!any) continue;
    for (size_t l = j; l < j + 16; l++) {
      if (x[l] != 0.0f) { /* NaN counts as nonzero */
        if (c < k) { idx[c] = (int32_t)l; val[c] = x[l]; }
        c++;
      }
    }
  }
  for (; j < cols; j++) {
    if (x[j] != 0.0f) {
      if (c < k) { idx[c] = (int32_t)j; val[c] = x[j]; }
      c++;
    }
  }
  for (size_t t = c; t < k; t++) { idx[t] = -1; val[t] = 0.0f; }
  return c;
}

static void compress_range(void *p, size_t lo, size_t hi) {
  CompressJob *J = (CompressJob *)p;
  for (size_t i = lo; i < hi; i++) {
    size_t c = k_compress_row(J->x + i * J->cols, J->cols, J->k, J->idx + i * J->k, J->val + i * J->k);
    J->counts[i] = c > (size_t)INT32_MAX ? INT32_MAX : (int32_t)c;
  }
}

/* fistaGramRows: FISTA in the Gram form, one row at a time through the iterates' nonzeros
 * (types.ts). Per row and iteration: v = c_i + y·M and its threshold in one pass
 * (k_gram_step) into a sorted list of survivors; y = zNew + beta·(zNew − z) merges two sorted
 * lists. Rows are independent, so threads take contiguous ranges of rows. */
typedef struct {
  const float *c, *m, *betas;
  float *z;
  uint8_t *flags;
  size_t atoms, iters, cap;
  float t;
  int nonneg;
  int oom;
} GramRowsJob;

/* One iteration's v = c + y·M fused with the threshold, 16 columns at a time in registers (no
 * row buffer is written): the nonzero entries of softThreshold(v), in order, go to idx/val.
 * Returns how many, or cap + 1 as soon as there are more than cap. The sums run in the same
 * order as a copy of c followed by one axpy per nonzero of y. NaN never passes the threshold
 * (softThreshold gives 0 for it). */
HOT static size_t k_gram_step(const float *restrict c, const float *restrict m, size_t atoms, const int32_t *restrict yi,
                              const float *restrict yv, size_t yc, float t, int nonneg, size_t cap,
                              int32_t *restrict idx, float *restrict val) {
  size_t cnt = 0;
  for (size_t j = 0; j < atoms; j += 16) {
    float v[16];
    size_t w = atoms - j < 16 ? atoms - j : 16;
    float mx = 0.0f;
    if (w == 16) {
      for (int l = 0; l < 16; l++) v[l] = c[j + l];
      for (size_t p = 0; p < yc; p++) {
        const float *mr = m + (size_t)yi[p] * atoms + j;
        const float wv = yv[p];
        for (int l = 0; l < 16; l++) v[l] += wv * mr[l];
      }
      if (nonneg) for (int l = 0; l < 16; l++) mx = v[l] > mx ? v[l] : mx;
      else for (int l = 0; l < 16; l++) { float a = fabsf(v[l]); mx = a > mx ? a : mx; }
    } else {
      for (size_t l = 0; l < w; l++) v[l] = c[j + l];
      for (size_t p = 0; p < yc; p++) {
        const float *mr = m + (size_t)yi[p] * atoms + j;
        const float wv = yv[p];
        for (size_t l = 0; l < w; l++) v[l] += wv * mr[l];
      }
      for (size_t l = 0; l < w; l++) { float a = nonneg ? v[l] : fabsf(v[l]); mx = a > mx ? a : mx; }
    }
    if (!(mx > t)) continue;
    for (size_t l = 0; l < w; l++) {
      float u = v[l];
      float r = nonneg ? (u - t > 0.0f ? u - t : 0.0f) : (u > t ? u - t : (u < -t ? u + t : 0.0f));
      if (r != 0.0f) {
        if (cnt == cap) return cap + 1;
        idx[cnt] = (int32_t)(j + l);
        val[cnt] = r;
        cnt++;
      }
    }
  }
  return cnt;
}

/* one row; returns 0 when it ran, 1 when y got more than cap nonzeros (z row untouched) */
static int gram_row(const GramRowsJob *J, size_t i, int32_t *zi, float *zv, int32_t *ni, float *nv, int32_t *yi, float *yv) {
  const size_t atoms = J->atoms, cap = J->cap;
  float *zrow = J->z + i * atoms;
  const float *crow = J->c + i * atoms;
  size_t zc = 0;
  for (size_t k = 0; k < atoms; k++) {
    if (zrow[k] != 0.0f) {
      if (zc == cap) return 1;
      zi[zc] = (int32_t)k;
      zv[zc] = zrow[k];
      zc++;
    }
  }
  size_t yc = zc;
  memcpy(yi, zi, zc * sizeof(int32_t));
  memcpy(yv, zv, zc * sizeof(float));
  for (size_t it = 0; it < J->iters; it++) {
    size_t nc = k_gram_step(crow, J->m, atoms, yi, yv, yc, J->t, J->nonneg, cap, ni, nv);
    if (nc > cap) return 1;
    /* y = zNew + beta·(zNew − z) over the union of the supports (exact zeros dropped) */
    const float beta = J->betas[it];
    size_t a = 0, b = 0;
    yc = 0;
    while (a < nc || b < zc) {
      int32_t k;
      float wn = 0.0f, wz = 0.0f;
      if (b >= zc || (a < nc && ni[a] < zi[b])) { k = ni[a]; wn = nv[a++]; }
      else if (a >= nc || zi[b] < ni[a]) { k = zi[b]; wz = zv[b++]; }
      else { k = ni[a]; wn = nv[a++]; wz = zv[b++]; }
      float y = wn + beta * (wn - wz);
      if (y != 0.0f) {
        if (yc == cap) return 1;
        yi[yc] = k;
        yv[yc] = y;
        yc++;
      }
    }
    memcpy(zi, ni, nc * sizeof(int32_t));
    memcpy(zv, nv, nc * sizeof(float));
    zc = nc;
  }
  memset(zrow, 0, atoms * sizeof(float));
  for (size_t p = 0; p < zc; p++) zrow[zi[p]] = zv[p];
  return 0;
}

static void gram_rows_range(void *p, size_t lo, size_t hi) {
  GramRowsJob *J = (GramRowsJob *)p;
  const size_t cap = J->cap;
  int32_t *ix = (int32_t *)malloc(3 * (cap + 1) * sizeof(int32_t));
  float *vx = (float *)malloc(3 * (cap + 1) * sizeof(float));
  if (!ix || !vx) {
    free(ix); free(vx);
    J->oom = 1;
    return;
  }
  for (size_t i = lo; i < hi; i++) {
    J->flags[i] = (uint8_t)gram_row(J, i, ix, vx, ix + (cap + 1), vx + (cap + 1), ix + 2 * (cap + 1), vx + 2 * (cap + 1));
  }
  free(ix); free(vx);
}

static void gather_decode_range(void *p, size_t lo, size_t hi) {
  SparseJob *J = (SparseJob *)p;
  const size_t k = J->k, dim = J->dim;
  for (size_t i = lo; i < hi; i++) {
    float *o = J->out + i * dim;
    if (J->beta == 0) memset(o, 0, dim * sizeof(float));
    else if (J->beta != 1) k_scale_row(J->beta, o, dim);
    for (size_t j = 0; j < k; j++) {
      int32_t a = J->idx[i * k + j];
      float w = J->val[i * k + j];
      if (a < 0 || w == 0) continue;
      k_axpy_row(w, J->d + (size_t)a * dim, o, dim);
    }
  }
}

static void gather_dot_range(void *p, size_t lo, size_t hi) {
  SparseJob *J = (SparseJob *)p;
  const size_t k = J->k, dim = J->dim;
  for (size_t i = lo; i < hi; i++) {
    const float *gi = J->g + i * dim;
    for (size_t j = 0; j < k; j++) {
      int32_t a = J->idx[i * k + j];
      J->out[i * k + j] = a < 0 ? 0.0f : (float)k_dot_d(gi, J->d + (size_t)a * dim, dim);
    }
  }
}

/* scatterOuter over a slice of columns [16*lo, 16*hi) of every row: threads never share a cache line */
static void scatter_outer_range(void *p, size_t lo, size_t hi) {
  SparseJob *J = (SparseJob *)p;
  const size_t k = J->k, dim = J->dim;
  size_t t0 = lo * 16, t1 = hi * 16 < dim ? hi * 16 : dim;
  if (t0 >= t1) return;
  for (size_t i = 0; i < J->rows_; i++) {
    const float *gi = J->g + i * dim + t0;
    for (size_t j = 0; j < k; j++) {
      int32_t a = J->idx[i * k + j];
      float w = J->val[i * k + j];
      if (a < 0 || w == 0) continue;
      k_axpy_row(w, gi, J->out + (size_t)a * dim + t0, t1 - t0);
    }
  }
}

/* ------------------------------------------------------------------------------------------ */
/* argument helpers                                                                           */
/* ------------------------------------------------------------------------------------------ */

#define MAXARGS 13

typedef struct {
  napi_env env;
  const char *fn;
  napi_value argv[MAXARGS];
  size_t argc;
  int failed;
} Args;

static void throw_type(Args *A, const char *msg) {
  if (A->failed) return;
  char buf[256];
  snprintf(buf, sizeof buf, "native %s: %s", A->fn, msg);
  napi_throw_type_error(A->env, "E_ARG", buf);
  A->failed = 1;
}

static void throw_range(Args *A, const char *msg) {
  if (A->failed) return;
  char buf[256];
  snprintf(buf, sizeof buf, "native %s: %s", A->fn, msg);
  napi_throw_range_error(A->env, "E_SHAPE", buf);
  A->failed = 1;
}

static int args_init(Args *A, napi_env env, napi_callback_info info, const char *fn, size_t want) {
  A->env = env;
  A->fn = fn;
  A->failed = 0;
  A->argc = MAXARGS;
  if (napi_get_cb_info(env, info, &A->argc, A->argv, NULL, NULL) != napi_ok) {
    throw_type(A, "cannot read arguments");
    return 0;
  }
  if (A->argc < want) {
    char buf[96];
    snprintf(buf, sizeof buf, "expected %zu arguments, got %zu", want, A->argc);
    throw_type(A, buf);
    return 0;
  }
  return 1;
}

static void *arg_array(Args *A, size_t i, napi_typedarray_type want, size_t *len, const char *name) {
  *len = 0;
  if (A->failed) return NULL;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (napi_get_typedarray_info(A->env, A->argv[i], &type, &length, &data, NULL, NULL) != napi_ok || type != want) {
    char buf[128];
    const char *tn = want == napi_float32_array ? "Float32Array" : want == napi_int32_array ? "Int32Array" : want == napi_uint8_array ? "Uint8Array" : "Float64Array";
    snprintf(buf, sizeof buf, "argument %s must be a %s", name, tn);
    throw_type(A, buf);
    return NULL;
  }
  *len = length;
  return data;
}

static double arg_num(Args *A, size_t i, const char *name) {
  if (A->failed) return 0;
  double v = 0;
  if (napi_get_value_double(A->env, A->argv[i], &v) != napi_ok) {
    char buf[96];
    snprintf(buf, sizeof buf, "argument %s must be a number", name);
    throw_type(A, buf);
  }
  return v;
}

/* a non-negative integer that fits in int (BLAS dimensions) */
static size_t arg_dim(Args *A, size_t i, const char *name) {
  double v = arg_num(A, i, name);
  if (A->failed) return 0;
  if (!(v >= 0) || v > 2147483647.0 || v != floor(v)) {
    char buf[128];
    snprintf(buf, sizeof buf, "argument %s must be a non-negative integer, got %g", name, v);
    throw_range(A, buf);
    return 0;
  }
  return (size_t)v;
}

static int arg_bool(Args *A, size_t i) {
  if (A->failed) return 0;
  bool b = false;
  if (napi_get_value_bool(A->env, A->argv[i], &b) != napi_ok) {
    /* accept numbers too (0 / 1) */
    double v = 0;
    if (napi_get_value_double(A->env, A->argv[i], &v) != napi_ok) {
      throw_type(A, "transpose flags must be booleans");
      return 0;
    }
    return v != 0;
  }
  return b;
}

static int need(Args *A, size_t have, size_t want, const char *name) {
  if (A->failed) return 0;
  if (have < want) {
    char buf[160];
    snprintf(buf, sizeof buf, "%s has %zu elements, needs at least %zu", name, have, want);
    throw_range(A, buf);
    return 0;
  }
  return 1;
}

static napi_value undef(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

/* elements a stored [rows x cols] matrix with row stride ld spans */
static size_t span(size_t rows, size_t cols, size_t ld) {
  return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols;
}

/* ------------------------------------------------------------------------------------------ */
/* entry points                                                                               */
/* ------------------------------------------------------------------------------------------ */

/* sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) */
static napi_value js_sgemm(napi_env env, napi_callback_info info) {
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
  cblas_sgemm(CblasRowMajor, tA ? CblasTrans : CblasNoTrans, tB ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
              (float)alpha, a, (int)lda, b, (int)ldb, (float)beta, c, (int)ldc);
  return undef(env);
}

/* softThreshold(x, t, nonneg, out) */
static napi_value js_soft_threshold(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "softThreshold", 4)) return NULL;
  size_t lx, lo;
  float *x = arg_array(&A, 0, napi_float32_array, &lx, "x");
  double t = arg_num(&A, 1, "t");
  int nonneg = arg_bool(&A, 2);
  float *out = arg_array(&A, 3, napi_float32_array, &lo, "out");
  if (A.failed || !need(&A, lo, lx, "out")) return NULL;
  k_soft_threshold(x, lx, (float)t, nonneg, out);
  return undef(env);
}

/* relu(x, out) */
static napi_value js_relu(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "relu", 2)) return NULL;
  size_t lx, lo;
  float *x = arg_array(&A, 0, napi_float32_array, &lx, "x");
  float *out = arg_array(&A, 1, napi_float32_array, &lo, "out");
  if (A.failed || !need(&A, lo, lx, "out")) return NULL;
  k_relu(x, lx, out);
  return undef(env);
}

/* axpby(alpha, x, beta, y) */
static napi_value js_axpby(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "axpby", 4)) return NULL;
  size_t lx, ly;
  double alpha = arg_num(&A, 0, "alpha");
  float *x = arg_array(&A, 1, napi_float32_array, &lx, "x");
  double beta = arg_num(&A, 2, "beta");
  float *y = arg_array(&A, 3, napi_float32_array, &ly, "y");
  if (A.failed || !need(&A, ly, lx, "y")) return NULL;
  k_axpby((float)alpha, x, (float)beta, y, lx);
  return undef(env);
}

/* extrapolate(z, zPrev, beta, out) */
static napi_value js_extrapolate(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "extrapolate", 4)) return NULL;
  size_t lz, lp, lo;
  float *z = arg_array(&A, 0, napi_float32_array, &lz, "z");
  float *zp = arg_array(&A, 1, napi_float32_array, &lp, "zPrev");
  double beta = arg_num(&A, 2, "beta");
  float *out = arg_array(&A, 3, napi_float32_array, &lo, "out");
  if (A.failed || !need(&A, lp, lz, "zPrev") || !need(&A, lo, lz, "out")) return NULL;
  k_extrapolate(z, zp, (float)beta, out, lz);
  return undef(env);
}

/* fistaUpdate(v, y, z, t, nonneg, beta, zNew) */
static napi_value js_fista_update(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "fistaUpdate", 7)) return NULL;
  size_t lv, ly, lz, ln;
  float *v = arg_array(&A, 0, napi_float32_array, &lv, "v");
  float *y = arg_array(&A, 1, napi_float32_array, &ly, "y");
  float *z = arg_array(&A, 2, napi_float32_array, &lz, "z");
  double t = arg_num(&A, 3, "t");
  int nonneg = arg_bool(&A, 4);
  double beta = arg_num(&A, 5, "beta");
  float *zn = arg_array(&A, 6, napi_float32_array, &ln, "zNew");
  if (A.failed || !need(&A, ly, lv, "y") || !need(&A, lz, lv, "z") || !need(&A, ln, lv, "zNew")) return NULL;
  k_fista_update(v, y, z, (float)t, nonneg, (float)beta, zn, lv);
  return undef(env);
}

/* addRowVector(x, rows, cols, v, alpha) */
static napi_value js_add_row_vector(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "addRowVector", 5)) return NULL;
  size_t lx, lv;
  float *x = arg_array(&A, 0, napi_float32_array, &lx, "x");
  size_t rows = arg_dim(&A, 1, "rows"), cols = arg_dim(&A, 2, "cols");
  float *v = arg_array(&A, 3, napi_float32_array, &lv, "v");
  double alpha = arg_num(&A, 4, "alpha");
  if (A.failed || !need(&A, lx, rows * cols, "x") || (rows > 0 && !need(&A, lv, cols, "v"))) return NULL;
  k_add_row_vector(x, rows, cols, v, (float)alpha);
  return undef(env);
}

/* topkRows(x, rows, cols, k, outIdx, outVal) */
static napi_value js_topk_rows(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "topkRows", 6)) return NULL;
  size_t lx, li, lv;
  float *x = arg_array(&A, 0, napi_float32_array, &lx, "x");
  size_t rows = arg_dim(&A, 1, "rows"), cols = arg_dim(&A, 2, "cols"), k = arg_dim(&A, 3, "k");
  int32_t *oi = arg_array(&A, 4, napi_int32_array, &li, "outIdx");
  float *ov = arg_array(&A, 5, napi_float32_array, &lv, "outVal");
  if (A.failed) return NULL;
  if (k > cols) {
    char buf[96];
    snprintf(buf, sizeof buf, "k = %zu exceeds the row width %zu", k, cols);
    throw_range(&A, buf);
    return NULL;
  }
  if (!need(&A, lx, rows * cols, "x") || !need(&A, li, rows * k, "outIdx") || !need(&A, lv, rows * k, "outVal")) return NULL;
  if (k == 0) return undef(env);
  k_topk_rows(x, rows, cols, k, oi, ov);
  return undef(env);
}

/* sumRows(x, rows, cols, out) */
static napi_value js_sum_rows(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "sumRows", 4)) return NULL;
  size_t lx, lo;
  float *x = arg_array(&A, 0, napi_float32_array, &lx, "x");
  size_t rows = arg_dim(&A, 1, "rows"), cols = arg_dim(&A, 2, "cols");
  double *out = arg_array(&A, 3, napi_float64_array, &lo, "out");
  if (A.failed || !need(&A, lx, rows * cols, "x") || !need(&A, lo, rows, "out")) return NULL;
  for (size_t i = 0; i < rows; i++) out[i] = k_sum_d(x + i * cols, cols);
  return undef(env);
}

/* sumCols(x, rows, cols, out) */
static napi_value js_sum_cols(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "sumCols", 4)) return NULL;
  size_t lx, lo;
  float *x = arg_array(&A, 0, napi_float32_array, &lx, "x");
  size_t rows = arg_dim(&A, 1, "rows"), cols = arg_dim(&A, 2, "cols");
  double *out = arg_array(&A, 3, napi_float64_array, &lo, "out");
  if (A.failed || !need(&A, lx, rows * cols, "x") || !need(&A, lo, cols, "out")) return NULL;
  k_sum_cols(x, rows, cols, out);
  return undef(env);
}

/* sumSquares(x) -> number */
static napi_value js_sum_squares(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "sumSquares", 1)) return NULL;
  size_t lx;
  float *x = arg_array(&A, 0, napi_float32_array, &lx, "x");
  if (A.failed) return NULL;
  napi_value r;
  napi_create_double(env, k_dot_d(x, x, lx), &r);
  return r;
}

/* every index < atoms (negative = padding); checked before any output is written */
static int check_atoms(Args *A, const int32_t *idx, size_t rows, size_t k, size_t atoms) {
  for (size_t t = 0; t < rows * k; t++) {
    if (idx[t] >= 0 && (size_t)idx[t] >= atoms) {
      char buf[160];
      snprintf(buf, sizeof buf, "idx[%zu, %zu] = %d is out of range: the dictionary has %zu atoms", t / k, t % k, (int)idx[t], atoms);
      throw_range(A, buf);
      return 0;
    }
  }
  return 1;
}

/* compressRows(x, rows, cols, k, outIdx, outVal) -> largest nonzero count of a row */
static napi_value js_compress_rows(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "compressRows", 6)) return NULL;
  size_t lx, li, lv;
  float *x = arg_array(&A, 0, napi_float32_array, &lx, "x");
  size_t rows = arg_dim(&A, 1, "rows"), cols = arg_dim(&A, 2, "cols"), k = arg_dim(&A, 3, "k");
  int32_t *idx = arg_array(&A, 4, napi_int32_array, &li, "outIdx");
  float *val = arg_array(&A, 5, napi_float32_array, &lv, "outVal");
  if (A.failed || !need(&A, lx, rows * cols, "x") || !need(&A, li, rows * k, "outIdx") || !need(&A, lv, rows * k, "outVal")) return NULL;
  int32_t *counts = (int32_t *)malloc((rows ? rows : 1) * sizeof(int32_t));
  if (!counts) {
    napi_throw_error(env, NULL, "compressRows: out of memory");
    return NULL;
  }
  CompressJob J = {x, idx, val, counts, cols, k};
  parallel_for(rows, rows * cols, compress_range, &J);
  int32_t mx = 0;
  for (size_t i = 0; i < rows; i++) if (counts[i] > mx) mx = counts[i];
  free(counts);
  napi_value r;
  napi_create_int32(env, mx, &r);
  return r;
}

/* fistaGramRows(c, m, rows, atoms, t, nonneg, betas, cap, z, flags) -> rows left to the caller */
static napi_value js_fista_gram_rows(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "fistaGramRows", 10)) return NULL;
  size_t lc, lm, lb, lz, lf;
  float *c = arg_array(&A, 0, napi_float32_array, &lc, "c");
  float *m = arg_array(&A, 1, napi_float32_array, &lm, "m");
  size_t rows = arg_dim(&A, 2, "rows"), atoms = arg_dim(&A, 3, "atoms");
  double t = arg_num(&A, 4, "t");
  int nonneg = arg_bool(&A, 5);
  float *betas = arg_array(&A, 6, napi_float32_array, &lb, "betas");
  size_t cap = arg_dim(&A, 7, "cap");
  float *z = arg_array(&A, 8, napi_float32_array, &lz, "z");
  uint8_t *flags = arg_array(&A, 9, napi_uint8_array, &lf, "flags");
  if (A.failed || !need(&A, lc, rows * atoms, "c") || !need(&A, lm, atoms * atoms, "m") || !need(&A, lz, rows * atoms, "z") || !need(&A, lf, rows, "flags")) return NULL;
  if (!(t >= 0)) {
    throw_range(&A, "t must be >= 0");
    return NULL;
  }
  if (cap > atoms) cap = atoms;
  GramRowsJob J = {c, m, betas, z, flags, atoms, lb, cap, (float)t, nonneg, 0};
  parallel_for(rows, rows * atoms * (lb + 1), gram_rows_range, &J);
  if (J.oom) {
    napi_throw_error(env, NULL, "fistaGramRows: out of memory");
    return NULL;
  }
  int32_t left = 0;
  for (size_t i = 0; i < rows; i++) left += flags[i];
  napi_value r;
  napi_create_int32(env, left, &r);
  return r;
}

/* gatherDecode(idx, val, rows, k, d, dim, beta, out) */
static napi_value js_gather_decode(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "gatherDecode", 8)) return NULL;
  size_t li, lv, ld, lo;
  int32_t *idx = arg_array(&A, 0, napi_int32_array, &li, "idx");
  float *val = arg_array(&A, 1, napi_float32_array, &lv, "val");
  size_t rows = arg_dim(&A, 2, "rows"), k = arg_dim(&A, 3, "k");
  float *d = arg_array(&A, 4, napi_float32_array, &ld, "d");
  size_t dim = arg_dim(&A, 5, "dim");
  double beta = arg_num(&A, 6, "beta");
  float *out = arg_array(&A, 7, napi_float32_array, &lo, "out");
  if (A.failed || !need(&A, li, rows * k, "idx") || !need(&A, lv, rows * k, "val") || !need(&A, lo, rows * dim, "out")) return NULL;
  if (!check_atoms(&A, idx, rows, k, dim ? ld / dim : (size_t)INT32_MAX + 1)) return NULL;
  SparseJob J = {idx, val, d, NULL, out, k, dim, rows, (float)beta};
  parallel_for(rows, rows * (k * dim + dim), gather_decode_range, &J);
  return undef(env);
}

/* gatherDot(idx, rows, k, g, d, dim, out) */
static napi_value js_gather_dot(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "gatherDot", 7)) return NULL;
  size_t li, lg, ld, lo;
  int32_t *idx = arg_array(&A, 0, napi_int32_array, &li, "idx");
  size_t rows = arg_dim(&A, 1, "rows"), k = arg_dim(&A, 2, "k");
  float *g = arg_array(&A, 3, napi_float32_array, &lg, "g");
  float *d = arg_array(&A, 4, napi_float32_array, &ld, "d");
  size_t dim = arg_dim(&A, 5, "dim");
  float *out = arg_array(&A, 6, napi_float32_array, &lo, "out");
  if (A.failed || !need(&A, li, rows * k, "idx") || !need(&A, lg, rows * dim, "g") || !need(&A, lo, rows * k, "out")) return NULL;
  if (!check_atoms(&A, idx, rows, k, dim ? ld / dim : (size_t)INT32_MAX + 1)) return NULL;
  SparseJob J = {idx, NULL, d, g, out, k, dim, rows, 0};
  parallel_for(rows, rows * k * dim, gather_dot_range, &J);
  return undef(env);
}

/* scatterOuter(idx, val, rows, k, g, dim, gradD) */
static napi_value js_scatter_outer(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "scatterOuter", 7)) return NULL;
  size_t li, lv, lg, ld;
  int32_t *idx = arg_array(&A, 0, napi_int32_array, &li, "idx");
  float *val = arg_array(&A, 1, napi_float32_array, &lv, "val");
  size_t rows = arg_dim(&A, 2, "rows"), k = arg_dim(&A, 3, "k");
  float *g = arg_array(&A, 4, napi_float32_array, &lg, "g");
  size_t dim = arg_dim(&A, 5, "dim");
  float *gd = arg_array(&A, 6, napi_float32_array, &ld, "gradD");
  if (A.failed || !need(&A, li, rows * k, "idx") || !need(&A, lv, rows * k, "val") || !need(&A, lg, rows * dim, "g")) return NULL;
  if (!check_atoms(&A, idx, rows, k, dim ? ld / dim : (size_t)INT32_MAX + 1)) return NULL;
  SparseJob J = {idx, val, NULL, g, gd, k, dim, rows, 0};
  parallel_for((dim + 15) / 16, rows * k * dim, scatter_outer_range, &J);
  return undef(env);
}

/* setThreads(n) */
static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "setThreads", 1)) return NULL;
  size_t n = arg_dim(&A, 0, "n");
  if (A.failed) return NULL;
  if (n < 1 || n > 1024) {
    throw_range(&A, "the thread count must be between 1 and 1024");
    return NULL;
  }
  openblas_set_num_threads((int)n);
  g_threads = (int)n;
  return undef(env);
}

/* getThreads() -> number */
static napi_value js_get_threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  napi_create_int32(env, openblas_get_num_threads(), &r);
  return r;
}

/* noop(x) -> undefined: reads one typed array and returns (measures call overhead) */
static napi_value js_noop(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "noop", 1)) return NULL;
  size_t lx;
  (void)arg_array(&A, 0, napi_float32_array, &lx, "x");
  if (A.failed) return NULL;
  return undef(env);
}

/* hasLapack() -> whether spdSolve can run */
static napi_value js_has_lapack(napi_env env, napi_callback_info info) {
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
static napi_value js_spd_solve(napi_env env, napi_callback_info info) {
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

/* blasInfo() -> string: OpenBLAS build configuration and core kernel */
static napi_value js_blas_info(napi_env env, napi_callback_info info) {
  (void)info;
  char buf[512];
  snprintf(buf, sizeof buf, "%s; core %s", openblas_get_config(), openblas_get_corename());
  napi_value r;
  napi_create_string_utf8(env, buf, NAPI_AUTO_LENGTH, &r);
  return r;
}

static napi_value init(napi_env env, napi_value exports) {
  g_threads = openblas_get_num_threads();
  napi_property_descriptor props[] = {
      {"sgemm", NULL, js_sgemm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"softThreshold", NULL, js_soft_threshold, NULL, NULL, NULL, napi_enumerable, NULL},
      {"relu", NULL, js_relu, NULL, NULL, NULL, napi_enumerable, NULL},
      {"axpby", NULL, js_axpby, NULL, NULL, NULL, napi_enumerable, NULL},
      {"extrapolate", NULL, js_extrapolate, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fistaUpdate", NULL, js_fista_update, NULL, NULL, NULL, napi_enumerable, NULL},
      {"addRowVector", NULL, js_add_row_vector, NULL, NULL, NULL, napi_enumerable, NULL},
      {"topkRows", NULL, js_topk_rows, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sumRows", NULL, js_sum_rows, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sumCols", NULL, js_sum_cols, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sumSquares", NULL, js_sum_squares, NULL, NULL, NULL, napi_enumerable, NULL},
      {"compressRows", NULL, js_compress_rows, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fistaGramRows", NULL, js_fista_gram_rows, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gatherDecode", NULL, js_gather_decode, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gatherDot", NULL, js_gather_dot, NULL, NULL, NULL, napi_enumerable, NULL},
      {"scatterOuter", NULL, js_scatter_outer, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, js_set_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getThreads", NULL, js_get_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"noop", NULL, js_noop, NULL, NULL, NULL, napi_enumerable, NULL},
      {"spdSolve", NULL, js_spd_solve, NULL, NULL, NULL, napi_enumerable, NULL},
      {"hasLapack", NULL, js_has_lapack, NULL, NULL, NULL, napi_enumerable, NULL},
      {"blasInfo", NULL, js_blas_info, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
