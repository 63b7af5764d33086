/**
 * Job kinds of the wasm parameter block: slot 0 of the block says which job runTask runs.
 *
 * The one definition, shared by both sides: the AssemblyScript kernels (kernels/sparsecode.ts,
 * runTask) import this file, and so does the TypeScript driver (backend.ts, setParams). Keep it
 * valid in both languages: untyped integer constants (i32 in AssemblyScript, number here), no
 * other imports.
 */
export const JOB_GEMM = 1;
export const JOB_GATHER_DECODE = 2;
export const JOB_GATHER_DOT = 3;
export const JOB_SCATTER_OUTER = 4;
export const JOB_TOPK = 5;
