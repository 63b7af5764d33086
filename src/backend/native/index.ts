import type { Backend } from '../types.js';

/** The functions the compiled addon (native/src/*.c; module.c lists them) exports. */
export interface NativeAddon {
  sgemm: Backend['sgemm'];
  softThreshold: Backend['softThreshold'];
  relu: Backend['relu'];
  axpby: Backend['axpby'];
  extrapolate: Backend['extrapolate'];
  fistaUpdate: Backend['fistaUpdate'];
  addRowVector: Backend['addRowVector'];
  topkRows: Backend['topkRows'];
  sumRows: Backend['sumRows'];
  sumCols: Backend['sumCols'];
  sumSquares: Backend['sumSquares'];
  compressRows: Backend['compressRows'];
  fistaGramRows: Backend['fistaGramRows'];
  gatherDecode: Backend['gatherDecode'];
  gatherDot: Backend['gatherDot'];
  scatterOuter: Backend['scatterOuter'];
  spdSolve(a: Float64Array, n: number, b: Float64Array, nrhs: number): number;
  /** whether OpenBLAS has LAPACK's dpotrf/dpotrs (spdSolve) */
  hasLapack(): boolean;
  symEig(a: Float64Array, n: number, w: Float64Array, vectors: boolean): number;
  svdThin(a: Float64Array, rows: number, cols: number, u: Float64Array, s: Float64Array, vt: Float64Array): number;
  /** whether OpenBLAS has LAPACK's dsyevd/dgesdd (symEig, svdThin) */
  hasEigen(): boolean;
  /** training-step kernels (train.c); absent from addons built before them */
  adamStep?: Backend['adamStep'];
  sparseBackward?: Backend['sparseBackward'];
  projectRadial?: Backend['projectRadial'];
  normalizeRows?: Backend['normalizeRows'];
  jumpSelect?: Backend['jumpSelect'];
  suffixResidual?: Backend['suffixResidual'];
  mpPursueGram?: Backend['mpPursueGram'];
  mpBackward?: Backend['mpBackward'];
  /**
   * GEMMs below minFlops (2·m·n·k) run on one OpenBLAS thread, larger ones on `threads`
   * (default 2^24, or SPARSECODE_GEMM_MT_MIN_FLOPS; 0: every GEMM on all threads). Sets it when
   * given; returns the value in force. Absent from addons built before it existed.
   */
  gemmThreading?(minFlops?: number): number;
  setThreads(n: number): void;
  getThreads(): number;
  /** reads one Float32Array and returns: the bare cost of a call */
  noop(x: Float32Array): void;
  /** the OpenBLAS build configuration and the CPU kernel it chose */
  blasInfo(): string;
}

const OPS = [
  'sgemm', 'softThreshold', 'relu', 'axpby', 'extrapolate', 'fistaUpdate', 'addRowVector', 'topkRows',
  'sumRows', 'sumCols', 'sumSquares', 'compressRows', 'fistaGramRows', 'gatherDecode', 'gatherDot', 'scatterOuter',
  'spdSolve', 'hasLapack', 'setThreads', 'getThreads', 'noop', 'blasInfo',
] as const;

/** A native Backend plus the addon's extras. */
export interface NativeBackend extends Backend {
  readonly name: 'native';
  readonly threads: number;
  setThreads(n: number): void;
  /** OpenBLAS configuration string, e.g. "OpenBLAS 0.3.21 ... ; core Haswell" */
  readonly blasInfo: string;
  /** the raw addon (for benchmarks: `addon.noop` measures call overhead) */
  readonly addon: NativeAddon;
}

/**
 * Wrap a loaded addon as a Backend. The addon's functions are used as the methods directly
 * (no JavaScript in between), so a call costs one N-API transition. The addon checks types
 * and buffer lengths itself and throws (code E_ARG / E_SHAPE) rather than touching memory
 * outside a buffer.
 */
export function makeNativeBackend(addon: NativeAddon): NativeBackend {
  for (const op of OPS) {
    if (typeof (addon as unknown as Record<string, unknown>)[op] !== 'function') {
      throw new Error(`the native addon lacks "${op}"; it is out of date: rebuild it with "npm rebuild sparsecode" or "node scripts/build-native.mjs"`);
    }
  }
  const b: NativeBackend = {
    name: 'native',
    get threads() {
      return addon.getThreads();
    },
    setThreads(n: number) {
      if (!Number.isInteger(n) || n < 1) throw new RangeError(`native setThreads: n must be a positive integer, got ${n}`);
      addon.setThreads(n);
    },
    get blasInfo() {
      return addon.blasInfo();
    },
    addon,
    sgemm: addon.sgemm,
    softThreshold: addon.softThreshold,
    relu: addon.relu,
    axpby: addon.axpby,
    extrapolate: addon.extrapolate,
    fistaUpdate: addon.fistaUpdate,
    addRowVector: addon.addRowVector,
    topkRows: addon.topkRows,
    sumRows: addon.sumRows,
    sumCols: addon.sumCols,
    sumSquares: addon.sumSquares,
    compressRows: addon.compressRows,
    fistaGramRows: addon.fistaGramRows,
    gatherDecode: addon.gatherDecode,
    gatherDot: addon.gatherDot,
    scatterOuter: addon.scatterOuter,
  };
  if (addon.hasLapack()) b.spdSolve = addon.spdSolve;
  // optional: an addon built before symEig/svdThin existed still loads (eigh/svd then run in JavaScript)
  if (typeof addon.hasEigen === 'function' && addon.hasEigen()) {
    b.symEig = addon.symEig;
    b.svdThin = addon.svdThin;
  }
  // optional: an addon built before the training-step kernels still loads (the JavaScript loops then run)
  if (typeof addon.adamStep === 'function') b.adamStep = addon.adamStep;
  if (typeof addon.sparseBackward === 'function') b.sparseBackward = addon.sparseBackward;
  if (typeof addon.projectRadial === 'function') b.projectRadial = addon.projectRadial;
  if (typeof addon.normalizeRows === 'function') b.normalizeRows = addon.normalizeRows;
  if (typeof addon.jumpSelect === 'function') b.jumpSelect = addon.jumpSelect;
  if (typeof addon.suffixResidual === 'function') b.suffixResidual = addon.suffixResidual;
  if (typeof addon.mpPursueGram === 'function') b.mpPursueGram = addon.mpPursueGram;
  if (typeof addon.mpBackward === 'function') b.mpBackward = addon.mpBackward;
  return b;
}
