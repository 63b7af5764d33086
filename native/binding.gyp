{
  # Built by scripts/build-native.mjs (npm install runs it): node-gyp rebuild --directory native.
  # The script finds OpenBLAS and passes its folders through the environment.
  # -fno-math-errno: sqrt without errno vectorises (nothing reads errno). native/src: one C file per kernel family over the shared header sparsecode.h (the direct-cc
  # fallback in the script compiles every .c file there).
  "targets": [
    {
      "target_name": "sparsecode",
      "sources": [
        "src/module.c", "src/args.c", "src/parallel.c", "src/blas.c", "src/lapack.c",
        "src/elementwise.c", "src/topk.c", "src/sparse.c", "src/train.c", "src/mp.c"
      ],
      "include_dirs": ["<!@(node -p \"process.env.SPARSECODE_OPENBLAS_INCLUDE || ''\")"],
      "defines": ["<!@(node -p \"process.env.SPARSECODE_OPENBLAS_INCLUDE ? 'SPARSECODE_HAVE_CBLAS_H' : ''\")"],
      "cflags": ["-O3", "-std=c11", "-fno-math-errno", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags!": ["-O2", "-O0", "-Os"],
      "xcode_settings": { "OTHER_CFLAGS": ["-O3", "-std=c11", "-fno-math-errno"] },
      "libraries": ["<!@(node -p \"process.env.SPARSECODE_OPENBLAS_LIBS || '-lopenblas'\")"]
    }
  ]
}
