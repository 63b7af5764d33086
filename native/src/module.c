/* module init: the exported functions */
#include "sparsecode.h"

/* noop(x) -> undefined: reads one typed array and returns (measures call overhead) */
napi_value js_noop(napi_env env, napi_callback_info info) {
  Args A;
  if (!args_init(&A, env, info, "noop", 1)) return NULL;
  size_t lx;
  (void)arg_array(&A, 0, napi_float32_array, &lx, "x");
  if (A.failed) return NULL;
  return undef(env);
}

static napi_value init(napi_env env, napi_value exports) {
  blas_threads_init();
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
      {"gemmThreading", NULL, js_gemm_threading, NULL, NULL, NULL, napi_enumerable, NULL},
      {"hasEigen", NULL, js_has_eigen, NULL, NULL, NULL, napi_enumerable, NULL},
      {"symEig", NULL, js_sym_eig, NULL, NULL, NULL, napi_enumerable, NULL},
      {"svdThin", NULL, js_svd_thin, NULL, NULL, NULL, napi_enumerable, NULL},
      {"adamStep", NULL, js_adam_step, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sparseBackward", NULL, js_sparse_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"projectRadial", NULL, js_project_radial, NULL, NULL, NULL, napi_enumerable, NULL},
      {"normalizeRows", NULL, js_normalize_rows, NULL, NULL, NULL, napi_enumerable, NULL},
      {"jumpSelect", NULL, js_jump_select, NULL, NULL, NULL, napi_enumerable, NULL},
      {"suffixResidual", NULL, js_suffix_residual, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mpPursueGram", NULL, js_mp_pursue_gram, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mpBackward", NULL, js_mp_backward, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
