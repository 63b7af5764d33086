/* sparse codes: compressRows, fistaGramRows (FISTA in Gram form), gatherDecode, gatherDot, scatterOuter */
#include "sparsecode.h"

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
      J->out[i * k + j] = a < 0 ? 0.0f : k_dot_f(gi, J->d + (size_t)a * dim, dim);
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
napi_value js_compress_rows(napi_env env, napi_callback_info info) {
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
napi_value js_fista_gram_rows(napi_env env, napi_callback_info info) {
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
napi_value js_gather_decode(napi_env env, napi_callback_info info) {
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
napi_value js_gather_dot(napi_env env, napi_callback_info info) {
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
napi_value js_scatter_outer(napi_env env, napi_callback_info info) {
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
