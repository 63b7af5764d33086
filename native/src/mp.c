/* matching-pursuit SAE kernels (dictionary/sae/mp.ts): the pursuit through Gram-matrix updates
 * and the reverse pass through the k greedy steps, bit for bit the JavaScript loops (float64
 * arithmetic, float32 stores, the same order; -std=c11 keeps a − b·c from fusing) */
#include "sparsecode.h"
#include <string.h>

/* The largest entry > 0 of a float row, through its bits: for floats > 0 the IEEE-754 bit
 * patterns, read as int32, order as the values do, and negative floats (and −0) read as negative
 * ints. A NaN is never chosen (the JavaScript's v > best is false for NaN): positive NaNs map to
 * −1. Integer maxima vectorise where a float maximum with NaN semantics does not. */
static inline int32_t pos_key(float x) {
  int32_t u;
  memcpy(&u, &x, sizeof u);
  return u > 0x7f800000 ? -1 : u;
}

/* first index of the largest entry > 0 of c[0..n), or -1 */
HOT static long k_argmax_pos(const float *restrict c, size_t n) {
  int32_t best = 0;
  for (size_t a = 0; a < n; a++) {
    const int32_t u = pos_key(c[a]);
    best = u > best ? u : best;
  }
  if (best <= 0) return -1;
  for (size_t a = 0; a < n; a++)
    if (pos_key(c[a]) == best) return (long)a;
  return -1;
}

typedef struct {
  float *r, *c, *val;
  const float *d, *g;
  int32_t *idx;
  size_t dim, atoms, k;
} PursueJob;

/* c -= alpha·g (float64 arithmetic, float32 store); returns the first index of the largest
 * updated entry > 0, or -1 (as the JavaScript, which compares the stored values). Three passes
 * that vectorise (the update, the maximum, the first index holding it) instead of one that does
 * not (a running argmax): the row of c stays in cache between them. */
HOT static long k_update_argmax(float *restrict c, const float *restrict g, double alpha, size_t n) {
  for (size_t a = 0; a < n; a++) c[a] = (float)((double)c[a] - alpha * (double)g[a]);
  return k_argmax_pos(c, n);
}
/* alpha = d_j · r in float64 (in order); r -= alpha·d_j */
HOT static double k_take_atom(float *restrict r, const float *restrict dj, size_t dim) {
  double alpha = 0;
  for (size_t q = 0; q < dim; q++) alpha += (double)dj[q] * (double)r[q];
  for (size_t q = 0; q < dim; q++) r[q] = (float)((double)r[q] - alpha * (double)dj[q]);
  return alpha;
}

static void pursue_range(void *ctx, size_t lo, size_t hi) {
  const PursueJob *J = (const PursueJob *)ctx;
  const size_t dim = J->dim, A = J->atoms, k = J->k;
  for (size_t i = lo; i < hi; i++) {
    float *c = J->c + i * A, *r = J->r + i * dim, *val = J->val + i * k;
    int32_t *idx = J->idx + i * k;
    long bj = k_argmax_pos(c, A);
    for (size_t t = 0; t < k; t++) {
      if (bj < 0) {
        for (; t < k; t++) { idx[t] = -1; val[t] = 0.0f; }
        break;
      }
      const double alpha = k_take_atom(r, J->d + (size_t)bj * dim, dim);
      idx[t] = (int32_t)bj;
      val[t] = (float)alpha;
      if (t + 1 == k) break;
      bj = k_update_argmax(c, J->g + (size_t)bj * A, alpha, A);
    }
  }
}

/* mpPursueGram(r, rows, dim, c, atoms, d, gram, k, idx, val) */
napi_value js_mp_pursue_gram(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "mpPursueGram", 10)) return NULL;
  size_t lr, lc, ld, lg, li, lv;
  float *r = arg_array(&A, 0, napi_float32_array, &lr, "r");
  size_t rows = arg_dim(&A, 1, "rows"), dim = arg_dim(&A, 2, "dim");
  float *c = arg_array(&A, 3, napi_float32_array, &lc, "c");
  size_t atoms = arg_dim(&A, 4, "atoms");
  float *d = arg_array(&A, 5, napi_float32_array, &ld, "d");
  float *g = arg_array(&A, 6, napi_float32_array, &lg, "gram");
  size_t k = arg_dim(&A, 7, "k");
  int32_t *idx = arg_array(&A, 8, napi_int32_array, &li, "idx");
  float *val = arg_array(&A, 9, napi_float32_array, &lv, "val");
  if (A.failed || !need(&A, lr, rows * dim, "r") || !need(&A, lc, rows * atoms, "c") || !need(&A, ld, atoms * dim, "d") ||
      !need(&A, lg, atoms * atoms, "gram") || !need(&A, li, rows * k, "idx") || !need(&A, lv, rows * k, "val")) return NULL;
  PursueJob J = {r, c, val, d, g, idx, dim, atoms, k};
  parallel_for(rows, rows * k * (atoms + 2 * dim), pursue_range, &J);
  return undef(env);
}

/* mpBackward(r, rows, dim, idx, val, k, d, gx, gD, gbdec): the reverse pass of mp.ts
 * forwardBackward from the final residuals r; gD [atoms x dim] and gbdec [dim] accumulate.
 * One thread: rows add into shared atoms' gradients in row order, as the JavaScript. */
HOT static void k_mp_backward(const float *restrict r, size_t rows, size_t dim, const int32_t *restrict idx, const float *restrict val, size_t k,
                              const float *restrict d, const float *restrict gx, float *restrict gD, float *restrict gb,
                              double *restrict rt, double *restrict u, double *restrict gr) {
  for (size_t i = 0; i < rows; i++) {
    const size_t ro = i * dim;
    for (size_t q = 0; q < dim; q++) { rt[q] = (double)r[ro + q]; gr[q] = 0; }
    for (size_t tt = k; tt-- > 0;) {
      const int32_t j = idx[i * k + tt];
      if (j < 0) continue;
      const double alpha = (double)val[i * k + tt];
      const float *dj = d + (size_t)j * dim;
      float *gdj = gD + (size_t)j * dim;
      double ga = 0;
      for (size_t q = 0; q < dim; q++) {
        rt[q] += alpha * (double)dj[q];
        u[q] = (double)gx[ro + q] - gr[q];
        ga += (double)dj[q] * u[q];
      }
      for (size_t q = 0; q < dim; q++) {
        gdj[q] = (float)((double)gdj[q] + (alpha * u[q] + ga * rt[q]));
        gr[q] += ga * (double)dj[q];
      }
    }
    for (size_t q = 0; q < dim; q++) gb[q] = (float)((double)gb[q] + ((double)gx[ro + q] - gr[q]));
  }
}

napi_value js_mp_backward(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "mpBackward", 10)) return NULL;
  size_t lr, li, lv, ld, lx, lgd, lgb;
  float *r = arg_array(&A, 0, napi_float32_array, &lr, "r");
  size_t rows = arg_dim(&A, 1, "rows"), dim = arg_dim(&A, 2, "dim");
  int32_t *idx = arg_array(&A, 3, napi_int32_array, &li, "idx");
  float *val = arg_array(&A, 4, napi_float32_array, &lv, "val");
  size_t k = arg_dim(&A, 5, "k");
  float *d = arg_array(&A, 6, napi_float32_array, &ld, "d");
  float *gx = arg_array(&A, 7, napi_float32_array, &lx, "gx");
  float *gD = arg_array(&A, 8, napi_float32_array, &lgd, "gD");
  float *gb = arg_array(&A, 9, napi_float32_array, &lgb, "gbdec");
  if (A.failed || !need(&A, lr, rows * dim, "r") || !need(&A, li, rows * k, "idx") || !need(&A, lv, rows * k, "val") ||
      !need(&A, lx, rows * dim, "gx") || !need(&A, lgb, dim, "gbdec")) return NULL;
  if (dim == 0 || ld % dim != 0 || lgd != ld) {
    throw_range(&A, "d and gD must both be [atoms x dim]");
    return NULL;
  }
  const size_t atoms = ld / dim;
  for (size_t e = 0; e < rows * k; e++) {
    if (idx[e] >= (int32_t)atoms) {
      throw_range(&A, "idx holds an atom index >= atoms");
      return NULL;
    }
  }
  double *buf = (double *)malloc(3 * dim * sizeof(double));
  if (!buf) {
    napi_throw_error(env, NULL, "mpBackward: out of memory");
    return NULL;
  }
  k_mp_backward(r, rows, dim, idx, val, k, d, gx, gD, gb, buf, buf + dim, buf + 2 * dim);
  free(buf);
  return undef(env);
}
