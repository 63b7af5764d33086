/* training-step kernels: adamStep, sparseBackward (the TopK SAE backward by atom), normalizeRows,
 * projectRadial.
 * Each gives bit for bit what the JavaScript it replaces gives (the same operations in the same
 * order, in the same precision; the build does not contract a*b+c into FMAs), so a run on the
 * native backend does not change when these are used. */
#include "sparsecode.h"

/* ---- adamStep: one Adam(W) update of a parameter buffer (optim/adam.ts) ---- */
typedef struct {
  float *p;
  const float *g;
  float *m, *v;
  double b1, b2, step, sc2, eps, wd;
} AdamJob;

HOT static void k_adam(float *restrict p, const float *restrict g, float *restrict m, float *restrict v, size_t n, double b1, double b2,
                       double step, double sc2, double eps, double wd) {
  const double a1 = 1 - b1, a2 = 1 - b2;
  for (size_t i = 0; i < n; i++) {
    const double gi = g[i];
    const double mi = b1 * m[i] + a1 * gi;
    const double vi = b2 * v[i] + a2 * gi * gi;
    m[i] = (float)mi;
    v[i] = (float)vi;
    p[i] = (float)((double)p[i] * wd - (step * mi) / (sqrt(vi) * sc2 + eps));
  }
}

static void adam_range(void *ctx, size_t lo, size_t hi) {
  AdamJob *J = (AdamJob *)ctx;
  k_adam(J->p + lo, J->g + lo, J->m + lo, J->v + lo, hi - lo, J->b1, J->b2, J->step, J->sc2, J->eps, J->wd);
}

/* adamStep(p, g, m, v, beta1, beta2, stepSize, sc2, eps, wd): per element
 *   m = b1 m + (1 − b1) g;  v = b2 v + (1 − b2) g²;  p = p·wd − stepSize·m / (√v·sc2 + eps)
 * in float64 with m and v stored as float32 (the update uses the unrounded m, v) */
napi_value js_adam_step(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "adamStep", 10)) return NULL;
  size_t lp, lg, lm, lv;
  float *p = arg_array(&A, 0, napi_float32_array, &lp, "p");
  float *g = arg_array(&A, 1, napi_float32_array, &lg, "g");
  float *m = arg_array(&A, 2, napi_float32_array, &lm, "m");
  float *v = arg_array(&A, 3, napi_float32_array, &lv, "v");
  double b1 = arg_num(&A, 4, "beta1"), b2 = arg_num(&A, 5, "beta2"), step = arg_num(&A, 6, "stepSize");
  double sc2 = arg_num(&A, 7, "sc2"), eps = arg_num(&A, 8, "eps"), wd = arg_num(&A, 9, "wd");
  if (A.failed || !need(&A, lg, lp, "g") || !need(&A, lm, lp, "m") || !need(&A, lv, lp, "v")) return NULL;
  AdamJob J = {p, g, m, v, b1, b2, step, sc2, eps, wd};
  parallel_for(lp, lp, adam_range, &J); /* ~0.5 ns per element: a second thread pays from ~500k */
  return undef(env);
}

/* ---- sparseBackward: the backward of a sparse code through its active atoms, by atom ----
 * For the entries t = (i, j) of idx/val [rows x k] (idx < 0: padding):
 *   gval[t]  = val[t] > 0 ? g[i]·Wdec[idx[t]] : 0            (gatherDot's float32 dot, then the ReLU mask)
 *   gWdec[a] (+)= Σ_{t: idx[t] = a, val[t] ≠ 0} val[t]·g[i]     (scatterOuter)
 *   gWenc[a] (+)= Σ_{t: idx[t] = a, gval[t] ≠ 0} gval[t]·xc[i]  (scatterOuter; xc rows of width dimIn:
 *                 a transcoder's input is not its output)
 *   gbenc[a] (+)= Σ_{t: idx[t] = a, val[t] > 0} gval[t]
 * overwriting (accumulate = false) or adding to the buffers. The entries of an atom are visited
 * in the order of t (a stable counting sort), so every sum runs in the order of the row-by-row
 * kernels; each atom's rows stay in cache while its entries stream through, and threads own
 * disjoint atoms (no shared writes). */
typedef struct {
  const int32_t *idx;
  const float *val, *g, *xc, *wdec;
  float *gWdec, *gWenc, *gbenc, *gval;
  const size_t *start;   /* [atoms + 1]: where each atom's entries begin in `order` */
  const int32_t *order;  /* entry numbers t, grouped by atom, increasing within an atom */
  size_t k, dim, dimIn; /* dim: g, wdec, gWdec; dimIn: xc, gWenc */
  int accumulate;
} BackJob;

HOT static void k_backward_atom(const BackJob *restrict J, size_t a) {
  const size_t dim = J->dim, dimIn = J->dimIn, k = J->k;
  float *restrict gd = J->gWdec + a * dim;
  float *restrict ge = J->gWenc + a * dimIn;
  const float *restrict w = J->wdec + a * dim;
  if (!J->accumulate) {
    memset(gd, 0, dim * sizeof(float));
    memset(ge, 0, dimIn * sizeof(float));
  }
  float gb = J->accumulate ? J->gbenc[a] : 0.0f;
  const size_t end = J->start[a + 1];
  for (size_t e = J->start[a]; e < end; e++) {
    const size_t t = (size_t)J->order[e], i = t / k;
    if (e + 1 < end) {
      /* the next entry's rows come from anywhere in g and xc: ask for them now */
      const size_t inext = (size_t)J->order[e + 1] / k;
      const char *pg = (const char *)(J->g + inext * dim), *px = (const char *)(J->xc + inext * dimIn);
      for (size_t off = 0; off < dim * sizeof(float); off += 64) __builtin_prefetch(pg + off);
      for (size_t off = 0; off < dimIn * sizeof(float); off += 64) __builtin_prefetch(px + off);
    }
    const float v = J->val[t];
    const float *restrict gi = J->g + i * dim;
    float gv = k_dot_f(gi, w, dim);
    if (!(v > 0)) gv = 0.0f;
    else gb += gv;
    J->gval[t] = gv;
    if (v != 0) for (size_t l = 0; l < dim; l++) gd[l] += v * gi[l];
    if (gv != 0) {
      const float *restrict xi = J->xc + i * dimIn;
      for (size_t l = 0; l < dimIn; l++) ge[l] += gv * xi[l];
    }
  }
  J->gbenc[a] = gb;
}

static void backward_range(void *ctx, size_t lo, size_t hi) {
  const BackJob *J = (const BackJob *)ctx;
  for (size_t a = lo; a < hi; a++) k_backward_atom(J, a);
}

/* sparseBackward(idx, val, rows, k, g, xc, wdec, dim, dimIn, accumulate, gWdec, gWenc, gbenc, gval) */
napi_value js_sparse_backward(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "sparseBackward", 14)) return NULL;
  size_t li, lv, lg, lx, lw, ld, le, lb, lgv;
  int32_t *idx = arg_array(&A, 0, napi_int32_array, &li, "idx");
  float *val = arg_array(&A, 1, napi_float32_array, &lv, "val");
  size_t rows = arg_dim(&A, 2, "rows"), k = arg_dim(&A, 3, "k");
  float *g = arg_array(&A, 4, napi_float32_array, &lg, "g");
  float *xc = arg_array(&A, 5, napi_float32_array, &lx, "xc");
  float *wdec = arg_array(&A, 6, napi_float32_array, &lw, "wdec");
  size_t dim = arg_dim(&A, 7, "dim"), dimIn = arg_dim(&A, 8, "dimIn");
  int accumulate = arg_bool(&A, 9);
  float *gWdec = arg_array(&A, 10, napi_float32_array, &ld, "gWdec");
  float *gWenc = arg_array(&A, 11, napi_float32_array, &le, "gWenc");
  float *gbenc = arg_array(&A, 12, napi_float32_array, &lb, "gbenc");
  float *gval = arg_array(&A, 13, napi_float32_array, &lgv, "gval");
  if (A.failed) return NULL;
  if (dim == 0 || dimIn == 0) {
    throw_range(&A, "dim and dimIn must be >= 1");
    return NULL;
  }
  const size_t atoms = lw / dim, n = rows * k;
  if (!need(&A, li, n, "idx") || !need(&A, lv, n, "val") || !need(&A, lg, rows * dim, "g") || !need(&A, lx, rows * dimIn, "xc") ||
      !need(&A, ld, atoms * dim, "gWdec") || !need(&A, le, atoms * dimIn, "gWenc") || !need(&A, lb, atoms, "gbenc") || !need(&A, lgv, n, "gval")) return NULL;
  size_t *start = (size_t *)calloc(atoms + 1, sizeof(size_t));
  int32_t *order = (int32_t *)malloc((n ? n : 1) * sizeof(int32_t));
  if (!start || !order) {
    free(start); free(order);
    napi_throw_error(env, NULL, "sparseBackward: out of memory");
    return NULL;
  }
  for (size_t t = 0; t < n; t++) {
    const int32_t a = idx[t];
    if (a < 0) {
      gval[t] = 0.0f;
      continue;
    }
    if ((size_t)a >= atoms) {
      free(start); free(order);
      char buf[160];
      snprintf(buf, sizeof buf, "idx[%zu, %zu] = %d is out of range: the dictionary has %zu atoms", t / k, t % k, (int)a, atoms);
      throw_range(&A, buf);
      return NULL;
    }
    start[a + 1]++;
  }
  for (size_t a = 0; a < atoms; a++) start[a + 1] += start[a];
  {
    size_t *fill = (size_t *)malloc((atoms ? atoms : 1) * sizeof(size_t));
    if (!fill) {
      free(start); free(order);
      napi_throw_error(env, NULL, "sparseBackward: out of memory");
      return NULL;
    }
    memcpy(fill, start, atoms * sizeof(size_t));
    for (size_t t = 0; t < n; t++) if (idx[t] >= 0) order[fill[idx[t]]++] = (int32_t)t;
    free(fill);
  }
  BackJob J = {idx, val, g, xc, wdec, gWdec, gWenc, gbenc, gval, start, order, k, dim, dimIn, accumulate};
  parallel_for(atoms, n * (2 * dim + dimIn) + atoms * (dim + dimIn), backward_range, &J);
  free(start);
  free(order);
  return undef(env);
}

/* ---- jumpSelect: the JumpReLU step's two lists per row ----
 * active: pre > θ_a (idx/val, stride kA), band: |pre − θ_a| < half (bandIdx, stride kB), column
 * order, padded with −1 (and 0). Comparisons in float64 against θ (float64), as the JavaScript.
 * Pass 1 counts per row; when a row has more than cap entries in either list, nothing is written
 * and the result is −1; when idx/val/bandIdx are shorter than rows·kA / rows·kB, nothing is written
 * and the result is −2 − (kA·2^20 + kB); else pass 2 fills the lists and the result is
 * kA·2^20 + kB (each ≥ 1). */
typedef struct {
  const float *pre;
  const double *theta;
  double half;
  size_t cols, kA, kB;
  int32_t *counts; /* [rows x 2] */
  int32_t *idx, *bidx;
  float *val;
} JumpJob;

static void jump_count_range(void *ctx, size_t lo, size_t hi) {
  const JumpJob *J = (const JumpJob *)ctx;
  const size_t cols = J->cols;
  const double *th = J->theta, half = J->half;
  for (size_t i = lo; i < hi; i++) {
    const float *p = J->pre + i * cols;
    int32_t ca = 0, cb = 0;
    for (size_t a = 0; a < cols; a++) {
      const double v = p[a];
      ca += v > th[a];
      cb += fabs(v - th[a]) < half;
    }
    J->counts[2 * i] = ca;
    J->counts[2 * i + 1] = cb;
  }
}

static void jump_fill_range(void *ctx, size_t lo, size_t hi) {
  const JumpJob *J = (const JumpJob *)ctx;
  const size_t cols = J->cols, kA = J->kA, kB = J->kB;
  const double *th = J->theta, half = J->half;
  for (size_t i = lo; i < hi; i++) {
    const float *p = J->pre + i * cols;
    int32_t *ia = J->idx + i * kA, *ib = J->bidx + i * kB;
    float *va = J->val + i * kA;
    size_t ca = 0, cb = 0;
    for (size_t a = 0; a < cols; a++) {
      const double v = p[a];
      if (v > th[a]) { ia[ca] = (int32_t)a; va[ca++] = p[a]; }
      if (fabs(v - th[a]) < half) ib[cb++] = (int32_t)a;
    }
    for (; ca < kA; ca++) { ia[ca] = -1; va[ca] = 0.0f; }
    for (; cb < kB; cb++) ib[cb] = -1;
  }
}

/* jumpSelect(pre, rows, cols, theta, half, cap, idx, val, bandIdx) */
napi_value js_jump_select(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "jumpSelect", 9)) return NULL;
  size_t lp, lt, li, lv, lb;
  float *pre = arg_array(&A, 0, napi_float32_array, &lp, "pre");
  size_t rows = arg_dim(&A, 1, "rows"), cols = arg_dim(&A, 2, "cols");
  double *theta = arg_array(&A, 3, napi_float64_array, &lt, "theta");
  double half = arg_num(&A, 4, "half");
  size_t cap = arg_dim(&A, 5, "cap");
  int32_t *idx = arg_array(&A, 6, napi_int32_array, &li, "idx");
  float *val = arg_array(&A, 7, napi_float32_array, &lv, "val");
  int32_t *bidx = arg_array(&A, 8, napi_int32_array, &lb, "bandIdx");
  if (A.failed || !need(&A, lp, rows * cols, "pre") || !need(&A, lt, cols, "theta")) return NULL;
  if (cap < 1 || cap >= ((size_t)1 << 20)) {
    throw_range(&A, "cap must be in [1, 2^20)");
    return NULL;
  }
  int32_t *counts = (int32_t *)malloc((rows ? rows : 1) * 2 * sizeof(int32_t));
  if (!counts) {
    napi_throw_error(env, NULL, "jumpSelect: out of memory");
    return NULL;
  }
  JumpJob J = {pre, theta, half, cols, 0, 0, counts, idx, bidx, val};
  parallel_for(rows, rows * cols, jump_count_range, &J);
  size_t kA = 1, kB = 1;
  for (size_t i = 0; i < rows; i++) {
    if ((size_t)counts[2 * i] > kA) kA = (size_t)counts[2 * i];
    if ((size_t)counts[2 * i + 1] > kB) kB = (size_t)counts[2 * i + 1];
  }
  free(counts);
  napi_value r;
  if (kA > cap || kB > cap) {
    napi_create_double(env, -1, &r);
    return r;
  }
  if (li < rows * kA || lv < rows * kA || lb < rows * kB) {
    /* the caller's lists are too short: say how wide they must be (nothing written) */
    napi_create_double(env, -2.0 - ((double)kA * 1048576.0 + (double)kB), &r);
    return r;
  }
  J.kA = kA;
  J.kB = kB;
  parallel_for(rows, rows * cols, jump_fill_range, &J);
  napi_create_double(env, (double)kA * 1048576.0 + (double)kB, &r);
  return r;
}

/* ---- suffixResidual: one nesting group's residual in the Matryoshka step ----
 * r = (cur + bdec) − x per entry in float64; returns Σ r² (in order); S += s·r (float32 store).
 * One thread: the sum's order is the JavaScript's, so the result is the same to the bit. */
HOT static double k_suffix_residual(const float *restrict cur, const float *restrict bd, const float *restrict x, size_t rows, size_t dim,
                                    double s, float *restrict S) {
  double sse = 0;
  for (size_t i = 0; i < rows; i++) {
    const size_t o = i * dim;
    for (size_t j = 0; j < dim; j++) {
      const double r = ((double)cur[o + j] + (double)bd[j]) - (double)x[o + j];
      sse += r * r;
      S[o + j] = (float)((double)S[o + j] + s * r);
    }
  }
  return sse;
}

/* suffixResidual(cur, bdec, x, rows, dim, s, S) -> Σ r² */
napi_value js_suffix_residual(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "suffixResidual", 7)) return NULL;
  size_t lc, lb, lx, ls;
  float *cur = arg_array(&A, 0, napi_float32_array, &lc, "cur");
  float *bd = arg_array(&A, 1, napi_float32_array, &lb, "bdec");
  float *x = arg_array(&A, 2, napi_float32_array, &lx, "x");
  size_t rows = arg_dim(&A, 3, "rows"), dim = arg_dim(&A, 4, "dim");
  double s = arg_num(&A, 5, "s");
  float *S = arg_array(&A, 6, napi_float32_array, &ls, "S");
  if (A.failed || !need(&A, lc, rows * dim, "cur") || !need(&A, lb, dim, "bdec") || !need(&A, lx, rows * dim, "x") || !need(&A, ls, rows * dim, "S")) return NULL;
  napi_value r;
  napi_create_double(env, k_suffix_residual(cur, bd, x, rows, dim, s, S), &r);
  return r;
}

/* ---- normalizeRows: each row of w to unit norm (rows with norm ≤ eps or not finite kept) ----
 * s = Σ w² in float64 in order, norm = √s, w ← w·(1/norm) in float64: linalg/rows.ts's loop */
typedef struct {
  float *w;
  size_t cols;
  double eps;
} NormJob;

static void norm_range(void *ctx, size_t lo, size_t hi) {
  const NormJob *J = (const NormJob *)ctx;
  const size_t cols = J->cols;
  for (size_t a = lo; a < hi; a++) {
    float *restrict w = J->w + a * cols;
    double s = 0;
    for (size_t j = 0; j < cols; j++) s += (double)w[j] * (double)w[j];
    const double norm = sqrt(s);
    if (!(norm > J->eps) || !isfinite(norm)) continue;
    const double inv = 1 / norm;
    for (size_t j = 0; j < cols; j++) w[j] = (float)((double)w[j] * inv);
  }
}

/* normalizeRows(w, rows, cols, eps) */
napi_value js_normalize_rows(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "normalizeRows", 4)) return NULL;
  size_t lw;
  float *w = arg_array(&A, 0, napi_float32_array, &lw, "w");
  size_t rows = arg_dim(&A, 1, "rows"), cols = arg_dim(&A, 2, "cols");
  double eps = arg_num(&A, 3, "eps");
  if (A.failed || !need(&A, lw, rows * cols, "w")) return NULL;
  NormJob J = {w, cols, eps};
  parallel_for(rows, rows * cols * 2, norm_range, &J);
  return undef(env);
}

/* ---- projectRadial: remove from each row of g its component along the same row of w ----
 * c = (g_a·w_a) / (w_a·w_a) in float64, summed in order; g_a −= c·w_a (rows with w_a = 0 kept) */
typedef struct {
  const float *w;
  float *g;
  size_t cols;
} RadialJob;

static void radial_range(void *ctx, size_t lo, size_t hi) {
  const RadialJob *J = (const RadialJob *)ctx;
  const size_t cols = J->cols;
  for (size_t a = lo; a < hi; a++) {
    const float *restrict w = J->w + a * cols;
    float *restrict g = J->g + a * cols;
    double dot = 0, nn = 0;
    for (size_t j = 0; j < cols; j++) {
      dot += (double)g[j] * (double)w[j];
      nn += (double)w[j] * (double)w[j];
    }
    if (nn <= 0) continue; /* as the JavaScript: a NaN row propagates */
    const double c = dot / nn;
    for (size_t j = 0; j < cols; j++) g[j] = (float)((double)g[j] - c * (double)w[j]);
  }
}

/* projectRadial(w, g, rows, cols) */
napi_value js_project_radial(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "projectRadial", 4)) return NULL;
  size_t lw, lg;
  float *w = arg_array(&A, 0, napi_float32_array, &lw, "w");
  float *g = arg_array(&A, 1, napi_float32_array, &lg, "g");
  size_t rows = arg_dim(&A, 2, "rows"), cols = arg_dim(&A, 3, "cols");
  if (A.failed || !need(&A, lw, rows * cols, "w") || !need(&A, lg, rows * cols, "g")) return NULL;
  RadialJob J = {w, g, cols};
  parallel_for(rows, rows * cols * 2, radial_range, &J);
  return undef(env);
}
