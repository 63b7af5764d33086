/* elementwise and reduction kernels (softThreshold, relu, axpby, extrapolate, fistaUpdate, addRowVector, sums) */
#include "sparsecode.h"

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
HOT double k_dot_d(const float *restrict a, const float *restrict b, size_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int l = 0; l < 8; l++) acc[l] += (double)a[i + l] * (double)b[i + l];
  }
  double s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < n; i++) s += (double)a[i] * (double)b[i];
  return s;
}

/* float32 sum of products with 16 independent accumulators (one AVX-512 or two AVX2 registers),
 * added in a fixed tree, then the tail: the gradient dot products of the sparse backward
 * (gatherDot, sparseBackward), where float64 cost half the step's backward */
HOT float k_dot_f(const float *restrict a, const float *restrict b, size_t n) {
  float acc[16] = {0};
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int l = 0; l < 16; l++) acc[l] += a[i + l] * b[i + l];
  }
  for (int w = 8; w >= 1; w /= 2) {
    for (int l = 0; l < w; l++) acc[l] += acc[l + w];
  }
  float s = acc[0];
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}

HOT double k_sum_d(const float *a, size_t n) {
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

HOT void k_axpy_row(float w, const float *restrict src, float *restrict dst, size_t n) {
  for (size_t t = 0; t < n; t++) dst[t] += w * src[t];
}

HOT void k_scale_row(float beta, float *x, size_t n) {
  for (size_t t = 0; t < n; t++) x[t] *= beta;
}

/* softThreshold(x, t, nonneg, out) */
napi_value js_soft_threshold(napi_env env, napi_callback_info info) {
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
napi_value js_relu(napi_env env, napi_callback_info info) {
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
napi_value js_axpby(napi_env env, napi_callback_info info) {
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
napi_value js_extrapolate(napi_env env, napi_callback_info info) {
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
napi_value js_fista_update(napi_env env, napi_callback_info info) {
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
napi_value js_add_row_vector(napi_env env, napi_callback_info info) {
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

/* sumRows(x, rows, cols, out) */
napi_value js_sum_rows(napi_env env, napi_callback_info info) {
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
napi_value js_sum_cols(napi_env env, napi_callback_info info) {
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
napi_value js_sum_squares(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "sumSquares", 1)) return NULL;
  size_t lx;
  float *x = arg_array(&A, 0, napi_float32_array, &lx, "x");
  if (A.failed) return NULL;
  napi_value r;
  napi_create_double(env, k_dot_d(x, x, lx), &r);
  return r;
}
