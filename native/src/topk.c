/* row top-k (topkRows) */
#include "sparsecode.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

/* the scalar end of a chunk maximum: x[t..n) into m, NaN into *nan (with what the vector part saw) */
static inline float chunk_max_tail(const float *x, size_t t, size_t n, float m, int bad, int *nan) {
  for (; t < n; t++) {
    float v = x[t];
    if (v != v) bad = 1;
    m = v > m ? v : m;
  }
  if (bad) *nan = 1;
  return m;
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
  return chunk_max_tail(x, t, n, m, bad, nan);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define TOPK_AVX512 1
/* AVX-512 versions of the two passes over a row (chosen at run time when the CPU has it):
 * the chunk maximum (with the NaN check) and the filter against the bound, 16 lanes at a time */
__attribute__((target("avx512f"))) static float chunk_max_avx512(const float *x, size_t n, int *nan) {
  size_t t = 0;
  float m = x[0];
  int bad = 0;
  if (n >= 16) {
    __m512 mx = _mm512_loadu_ps(x);
    __mmask16 u = _mm512_cmp_ps_mask(mx, mx, _CMP_UNORD_Q);
    for (t = 16; t + 16 <= n; t += 16) {
      __m512 a = _mm512_loadu_ps(x + t);
      u |= _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q);
      mx = _mm512_max_ps(mx, a);
    }
    m = _mm512_reduce_max_ps(mx);
    bad = u != 0;
  }
  return chunk_max_tail(x, t, n, m, bad, nan);
}

/* push, in column order, every element of xi[0..cols) that is >= bound; returns how far it got
 * (a multiple of 16: the caller does the tail) */
__attribute__((target("avx512f"))) static size_t filter_avx512(TopK *T, const float *xi, size_t cols, float bound) {
  const __m512 b = _mm512_set1_ps(bound);
  size_t j = 0;
  for (; j + 16 <= cols; j += 16) {
    unsigned mask = _mm512_cmp_ps_mask(_mm512_loadu_ps(xi + j), b, _CMP_GE_OQ);
    while (mask) {
      int l = __builtin_ctz(mask);
      topk_push(T, xi[j + l], (int32_t)(j + l));
      mask &= mask - 1;
    }
  }
  return j;
}

static int have_avx512 = -1;
static inline int use_avx512(void) {
  if (have_avx512 < 0) {
    __builtin_cpu_init();
    have_avx512 = __builtin_cpu_supports("avx512f") ? 1 : 0;
  }
  return have_avx512;
}
#endif

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
#ifdef TOPK_AVX512
  const int avx512 = use_avx512();
#endif
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
#ifdef TOPK_AVX512
      maxima[c] = avx512 ? chunk_max_avx512(xi + c0, c1 - c0, &nan) : chunk_max(xi + c0, c1 - c0, &nan);
#else
      maxima[c] = chunk_max(xi + c0, c1 - c0, &nan);
#endif
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
#ifdef TOPK_AVX512
  if (avx512) j = filter_avx512(&T, xi, cols, bound);
#endif
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
#ifdef TOPK_AVX512
  (void)use_avx512(); /* decided here, before the threads read it */
#endif
  parallel_for(rows, rows * cols, topk_range, &J);
}

/* topkRows(x, rows, cols, k, outIdx, outVal) */
napi_value js_topk_rows(napi_env env, napi_callback_info info) {
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
