/* N-API argument helpers: typed checks that throw a JavaScript error (E_ARG / E_SHAPE) instead of reading out of bounds */
#include "sparsecode.h"

void throw_type(Args *A, const char *msg) {
  if (A->failed) return;
  char buf[256];
  snprintf(buf, sizeof buf, "native %s: %s", A->fn, msg);
  napi_throw_type_error(A->env, "E_ARG", buf);
  A->failed = 1;
}

void throw_range(Args *A, const char *msg) {
  if (A->failed) return;
  char buf[256];
  snprintf(buf, sizeof buf, "native %s: %s", A->fn, msg);
  napi_throw_range_error(A->env, "E_SHAPE", buf);
  A->failed = 1;
}

int args_init(Args *A, napi_env env, napi_callback_info info, const char *fn, size_t want) {
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

void *arg_array(Args *A, size_t i, napi_typedarray_type want, size_t *len, const char *name) {
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

double arg_num(Args *A, size_t i, const char *name) {
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
size_t arg_dim(Args *A, size_t i, const char *name) {
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

int arg_bool(Args *A, size_t i) {
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

int need(Args *A, size_t have, size_t want, const char *name) {
  if (A->failed) return 0;
  if (have < want) {
    char buf[160];
    snprintf(buf, sizeof buf, "%s has %zu elements, needs at least %zu", name, have, want);
    throw_range(A, buf);
    return 0;
  }
  return 1;
}

napi_value undef(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

/* elements a stored [rows x cols] matrix with row stride ld spans */
size_t span(size_t rows, size_t cols, size_t ld) {
  return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols;
}
