import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { matmul } from '../backend/index.js';
import type { Backend } from '../backend/types.js';

/**
 * Working-set coordinate descent for the batched Lasso: per sample minimise
 *
 *     1/2 ||x − z·D||² + λ ||z||₁        (optionally z >= 0)
 *
 * Dense solvers pay O(atoms·dim) (FISTA) or O(atoms) per changed coordinate (Gram CD) for
 * every step on every sample, although a sample's solution uses a handful of atoms. Here:
 *
 * 1. Two backend GEMMs: C = X·Dᵀ [n x atoms] and G = D·Dᵀ [atoms x atoms].
 * 2. Each sample starts with a working set W: the support of its warm start plus the
 *    `initialSet` atoms of largest |c_j| (largest c_j when nonneg; one backend topkRows) among
 *    those with |c_j| > λ (an atom with |c_j| <= λ cannot start a zero solution moving).
 * 3. Per sample, coordinate descent on the restricted problem (float64, G_WW gathered from G,
 *    q = c_W − G_WW·z_W kept up to date: |W| operations per changed coordinate, not atoms):
 *    a full sweep over W, then sweeps over W's nonzeros until they settle, then a full sweep
 *    over W again; it stops when a full sweep over W moves no coordinate by more than
 *    τ = tol · max(max|z|, 1e-12). The first round only discovers supports: it stops at the
 *    looser `firstTol` and its samples always get another round at τ.
 * 4. One batched gradient for all samples still running: g = c − z·G from backend
 *    `gatherDecode` calls over the nonzeros of z (O(n·nnz·atoms), no dense GEMM; in chunks of
 *    rows so that z·G is scanned while in cache). An atom j outside
 *    W would move, in a coordinate-descent step from the current z, by
 *    max(|g_j| − λ, 0)/G_jj (max(g_j − λ, 0)/G_jj when nonneg). Atoms where that exceeds τ
 *    join W (the largest first, at most max(initialSet, |W|) per round, so W at most doubles)
 *    and the sample goes back to step 3; a sample with no such atom is done and drops out of
 *    the batch.
 *
 * Stopping rule: a sample has converged when a full coordinate-descent sweep over ALL atoms
 * would move no coordinate by more than tol · max(max|z|, 1e-12): inside W that sweep was run,
 * outside W it is evaluated exactly from g. This is the dense coordinate-descent criterion
 * (lassoCD with workingSet: false), i.e. the KKT conditions to within G_jj·τ in gradient units.
 * The working set only grows, so the loop ends; the sweep budget (`maxSweeps`, counting
 * restricted sweeps over all rounds) bounds it when the tolerance cannot be met.
 */
export interface WorkingSetSolveOptions {
  lambda: number;
  tol: number;
  maxSweeps: number;
  nonneg: boolean;
  initialSet: number;
  /**
   * change tolerance of the first round, which only discovers supports: its samples always go
   * on to a round at `tol` (default 0.1, never below tol)
   */
  firstTol?: number;
  init?: Matrix;
  backend: Backend;
  where: string;
}

export interface WorkingSetSolveResult {
  Z: Matrix;
  /** the most restricted sweeps any sample needed */
  iterations: number;
  converged: boolean;
  /** batched gradient rounds run */
  rounds: number;
  /** mean working-set size per sample at the end */
  meanWorkingSet: number;
  /**
   * max over samples and atoms of the last gradient check's KKT violation in gradient units
   * (float32 gradient: |g_j − λ·sign z_j| on the support, (|g_j| − λ)+ off it)
   */
  kkt: number;
  /** nonzeros as [n x k] index/value lists (−1 padding), k = max nonzeros of any sample */
  sparse: { idx: Int32Array; val: Float32Array; k: number };
}

/** rows per gradient-check chunk: z·G for a chunk stays in cache while it is scanned */
const CHUNK = 256;

export function lassoWorkingSet(X: Matrix, D: Matrix, o: WorkingSetSolveOptions): WorkingSetSolveResult {
  const { lambda, tol, maxSweeps, nonneg, backend: b, where } = o;
  const n = X.rows;
  const a = D.rows;
  const C = matmul(X, D, { transB: true, backend: b }).data; // [n x a]
  const G = matmul(D, D, { transB: true, backend: b }).data; // [a x a]
  const diag = new Float64Array(a);
  let dmin = Infinity;
  for (let j = 0; j < a; j++) {
    diag[j] = G[j * a + j];
    if (diag[j] < dmin) dmin = diag[j];
  }
  const p0 = Math.max(1, Math.min(a, o.initialSet));
  const firstTol = Math.max(tol, o.firstTol ?? 0.1);

  // ---- per-sample state: working set (atom ids) and float64 codes on it ----
  const wsIdx: Int32Array[] = new Array(n);
  const wsZ: Float64Array[] = new Array(n);
  const wsLen = new Int32Array(n);
  const sweeps = new Int32Array(n);
  const done = new Uint8Array(n); // 1 converged, 2 out of budget
  const innerOk = new Uint8Array(n);
  const violation = new Float64Array(n);

  // ---- scratch ----
  const S = new WorkingSetScratch(Math.max(64, 2 * p0), a);
  // initial working sets: the p0 atoms of largest score per sample, by the backend's row top-k
  // on |C| (C itself when nonneg), keeping those that can leave zero (score > λ)
  // scratch for CHUNK rows at a time (cache-sized): scores now, z·G in the gradient checks
  const GZ = new Float32Array(Math.min(n, CHUNK) * a);
  const topI = new Int32Array(n * p0);
  const topV = new Float32Array(n * p0);
  for (let r0 = 0; r0 < n; r0 += CHUNK) {
    const rows = Math.min(CHUNK, n - r0);
    const src = C.subarray(r0 * a, (r0 + rows) * a);
    if (nonneg) GZ.set(src);
    else for (let e = 0; e < src.length; e++) GZ[e] = Math.abs(src[e]);
    b.topkRows(GZ.subarray(0, rows * a), rows, a, p0, topI.subarray(r0 * p0, (r0 + rows) * p0), topV.subarray(r0 * p0, (r0 + rows) * p0));
  }
  // per-sample arrays are views into one pool of capacity cap0 per sample (grown singly)
  const cap0 = Math.min(a, 4 * p0);
  const idxPool = new Int32Array(n * cap0);
  const zPool = new Float64Array(n * cap0);
  const init = o.init?.data;
  for (let i = 0; i < n; i++) {
    let h = 0;
    const to = i * p0;
    while (h < p0 && topV[to + h] > lambda) h++;
    let extra = 0;
    const co = i * a;
    if (init) {
      for (let p = 0; p < h; p++) S.inW[topI[to + p]] = 1;
      for (let j = 0; j < a; j++) if (init[co + j] !== 0 && !S.inW[j]) extra++;
    }
    const s = h + extra;
    let idx: Int32Array;
    let z: Float64Array;
    if (s <= cap0) {
      idx = idxPool.subarray(i * cap0, (i + 1) * cap0);
      z = zPool.subarray(i * cap0, (i + 1) * cap0);
    } else {
      idx = new Int32Array(s);
      z = new Float64Array(s);
    }
    for (let p = 0; p < h; p++) idx[p] = topI[to + p];
    if (init) {
      let p = h;
      for (let j = 0; j < a; j++) if (init[co + j] !== 0 && !S.inW[j]) idx[p++] = j;
      for (let t = 0; t < h; t++) S.inW[topI[to + t]] = 0;
      for (let t = 0; t < s; t++) {
        const v = init[co + idx[t]];
        z[t] = nonneg && v < 0 ? 0 : v;
      }
    }
    wsIdx[i] = idx;
    wsZ[i] = z;
    wsLen[i] = s;
  }

  // rows still running
  let active = new Int32Array(n);
  for (let i = 0; i < n; i++) active[i] = i;
  let m = n;
  let rounds = 0;
  let bi = new Int32Array(0);
  let bv = new Float32Array(0);

  while (m > 0) {
    // ---- restricted coordinate descent per running sample ----
    const rtol = rounds === 0 ? firstTol : tol;
    for (let r = 0; r < m; r++) {
      const i = active[r];
      const s = wsLen[i];
      S.ensure(s);
      gatherRestricted(G, a, C, i * a, wsIdx[i], s, S.Gw, S.cw);
      const res = solveRestricted(S, s, wsZ[i], lambda, nonneg, rtol, maxSweeps - sweeps[i]);
      if (res < 0) fail('E_DIVERGED', `${where}: sample ${i} produced non-finite codes; check the dictionary`);
      sweeps[i] += res >> 1;
      innerOk[i] = res & 1 && S.lastChange <= tol ? 1 : 0;
    }

    // ---- batched gradient g = c − z·G for the running samples ----
    rounds++;
    let next = 0;
    for (let r0 = 0; r0 < m; r0 += CHUNK) {
      const r1 = Math.min(m, r0 + CHUNK);
      let k = 1;
      for (let r = r0; r < r1; r++) {
        const nnz = countNonzero(wsZ[active[r]], wsLen[active[r]]);
        if (nnz > k) k = nnz;
      }
      if (bi.length < (r1 - r0) * k) {
        bi = new Int32Array((r1 - r0) * k);
        bv = new Float32Array((r1 - r0) * k);
      }
      bi.fill(-1, 0, (r1 - r0) * k);
      for (let r = r0; r < r1; r++) {
        const i = active[r];
        packNonzero(wsIdx[i], wsZ[i], wsLen[i], bi, bv, (r - r0) * k);
      }
      b.gatherDecode(bi.subarray(0, (r1 - r0) * k), bv.subarray(0, (r1 - r0) * k), r1 - r0, k, G, a, 0, GZ.subarray(0, (r1 - r0) * a));

      // (compacting `active` in place is safe: next <= r, and this chunk's ids were read above)
      for (let r = r0; r < r1; r++) {
        const i = active[r];
        const s = wsLen[i];
        const nc = checkRow(S, C, i * a, GZ, (r - r0) * a, a, diag, dmin, wsIdx[i], wsZ[i], s, lambda, nonneg, tol);
        violation[i] = S.viol;
        if (nc === 0 && innerOk[i]) {
          done[i] = 1;
          continue;
        }
        if (sweeps[i] >= maxSweeps) {
          done[i] = 2;
          continue;
        }
        if (nc > 0) {
          // add the largest violators: at most max(p0, s) of them, so W at most doubles
          const add = Math.min(nc, Math.max(p0, s));
          if (add < nc) selectLargest(S.cand, S.candV, nc, add);
          let idx = wsIdx[i];
          let z = wsZ[i];
          if (s + add > idx.length) {
            const len = Math.max(s + add, idx.length * 2);
            const nIdx = new Int32Array(len);
            nIdx.set(idx.subarray(0, s));
            const nZ = new Float64Array(len);
            nZ.set(z.subarray(0, s));
            wsIdx[i] = idx = nIdx;
            wsZ[i] = z = nZ;
          }
          for (let u = 0; u < add; u++) {
            idx[s + u] = S.cand[u];
            z[s + u] = 0;
          }
          wsLen[i] = s + add;
        }
        active[next++] = i;
      }
    }
    m = next;
    if (m > 0 && active.length > 4 * m) active = active.slice(0, m);
  }

  // ---- results ----
  const Z = new Matrix(n, a);
  let maxIt = 0;
  let allOk = true;
  let wsTotal = 0;
  let kkt = 0;
  let k = 1;
  for (let i = 0; i < n; i++) {
    const idx = wsIdx[i];
    const z = wsZ[i];
    const zo = i * a;
    for (let p = 0; p < wsLen[i]; p++) if (z[p] !== 0) Z.data[zo + idx[p]] = z[p];
    const nnz = countNonzero(z, wsLen[i]);
    if (nnz > k) k = nnz;
    if (sweeps[i] > maxIt) maxIt = sweeps[i];
    if (done[i] !== 1) allOk = false;
    if (violation[i] > kkt) kkt = violation[i];
    wsTotal += wsLen[i];
  }
  const si = new Int32Array(n * k).fill(-1);
  const sv = new Float32Array(n * k);
  for (let i = 0; i < n; i++) packNonzero(wsIdx[i], wsZ[i], wsLen[i], si, sv, i * k);
  return {
    Z, iterations: maxIt, converged: allOk, rounds, meanWorkingSet: n ? wsTotal / n : 0, kkt,
    sparse: { idx: si, val: sv, k },
  };
}

/** Scratch buffers for one restricted problem (grown on demand, reused across samples). */
class WorkingSetScratch {
  cap = 0;
  Gw = new Float64Array(0);
  cw = new Float64Array(0);
  q = new Float64Array(0);
  act = new Int32Array(0);
  mark = new Uint8Array(0);
  readonly inW: Uint8Array;
  readonly cand: Int32Array;
  readonly candV: Float64Array;
  viol = 0;
  /** the last full sweep's max change / max(max|z|, 1e-12) */
  lastChange = Infinity;
  constructor(cap: number, atoms: number) {
    this.inW = new Uint8Array(atoms);
    this.cand = new Int32Array(atoms);
    this.candV = new Float64Array(atoms);
    this.ensure(cap);
  }
  ensure(s: number): void {
    if (s <= this.cap) return;
    const cap = Math.max(s, 2 * this.cap);
    this.cap = cap;
    this.Gw = new Float64Array(cap * cap);
    this.cw = new Float64Array(cap);
    this.q = new Float64Array(cap);
    this.act = new Int32Array(cap);
    this.mark = new Uint8Array(cap);
  }
}

/** Gw = G[W, W] and cw = c[W] in float64. */
function gatherRestricted(G: Float32Array, a: number, C: Float32Array, co: number, idx: Int32Array, s: number, Gw: Float64Array, cw: Float64Array): void {
  for (let p = 0; p < s; p++) {
    const gr = idx[p] * a;
    const wr = p * s;
    for (let t = 0; t < s; t++) Gw[wr + t] = G[gr + idx[t]];
    cw[p] = C[co + idx[p]];
  }
}

/**
 * Coordinate descent on the restricted problem 1/2 zᵀ Gw z − cwᵀ z + λ||z||₁ from the codes
 * in z (updated in place). Full sweeps keep q = cw − Gw·z exact on all of W; sweeps over the
 * nonzeros update q only there and the rest of q is recomputed before the next full sweep.
 * Returns 2·sweeps + (1 if a full sweep moved nothing by more than tol·max|z|), or −1 when
 * the codes became non-finite.
 */
function solveRestricted(S: WorkingSetScratch, s: number, z: Float64Array, lambda: number, nonneg: boolean, tol: number, budget: number): number {
  const { Gw, cw, q, act, mark } = S;
  S.lastChange = Infinity;
  for (let p = 0; p < s; p++) q[p] = cw[p];
  for (let p = 0; p < s; p++) {
    const zp = z[p];
    if (zp === 0) continue;
    const wr = p * s;
    for (let t = 0; t < s; t++) q[t] -= zp * Gw[wr + t];
  }
  let sw = 0;
  while (sw < budget) {
    // full sweep over W
    let maxDelta = 0;
    let maxAbs = 0;
    for (let p = 0; p < s; p++) {
      const wr = p * s;
      const gpp = Gw[wr + p];
      const old = z[p];
      const rho = q[p] + gpp * old;
      const nz = rho > lambda ? (rho - lambda) / gpp : !nonneg && rho < -lambda ? (rho + lambda) / gpp : 0;
      const delta = nz - old;
      if (delta !== 0) {
        z[p] = nz;
        for (let t = 0; t < s; t++) q[t] -= delta * Gw[wr + t];
        const ad = delta < 0 ? -delta : delta;
        if (ad > maxDelta) maxDelta = ad;
      }
      const an = nz < 0 ? -nz : nz;
      if (an > maxAbs) maxAbs = an;
    }
    sw++;
    if (!(maxDelta <= Infinity)) return -1;
    S.lastChange = maxDelta / Math.max(maxAbs, 1e-12);
    if (S.lastChange <= tol) return 2 * sw + 1;
    // sweeps over the nonzeros until they settle
    let na = 0;
    for (let p = 0; p < s; p++) {
      if (z[p] !== 0) {
        act[na++] = p;
        mark[p] = 1;
      } else mark[p] = 0;
    }
    while (sw < budget) {
      maxDelta = 0;
      maxAbs = 0;
      for (let e = 0; e < na; e++) {
        const p = act[e];
        const wr = p * s;
        const gpp = Gw[wr + p];
        const old = z[p];
        const rho = q[p] + gpp * old;
        const nz = rho > lambda ? (rho - lambda) / gpp : !nonneg && rho < -lambda ? (rho + lambda) / gpp : 0;
        const delta = nz - old;
        if (delta !== 0) {
          z[p] = nz;
          for (let f = 0; f < na; f++) {
            const t = act[f];
            q[t] -= delta * Gw[wr + t];
          }
          const ad = delta < 0 ? -delta : delta;
          if (ad > maxDelta) maxDelta = ad;
        }
        const an = nz < 0 ? -nz : nz;
        if (an > maxAbs) maxAbs = an;
      }
      sw++;
      if (!(maxDelta <= Infinity)) return -1;
      if (maxDelta <= tol * Math.max(maxAbs, 1e-12)) break;
    }
    // q outside the active list: cw − Gw·z over the active columns (z is zero elsewhere)
    for (let p = 0; p < s; p++) {
      if (mark[p]) continue;
      let v = cw[p];
      for (let e = 0; e < na; e++) {
        const t = act[e];
        v -= z[t] * Gw[t * s + p];
      }
      q[p] = v;
    }
  }
  return 2 * sw;
}

function countNonzero(z: Float64Array, s: number): number {
  let c = 0;
  for (let p = 0; p < s; p++) if (z[p] !== 0) c++;
  return c;
}

function packNonzero(idx: Int32Array, z: Float64Array, s: number, bi: Int32Array, bv: Float32Array, off: number): void {
  let e = off;
  for (let p = 0; p < s; p++) {
    if (z[p] !== 0) {
      bi[e] = idx[p];
      bv[e++] = z[p];
    }
  }
}

/**
 * One sample's gradient check: g = c − (z·G), sets S.viol to the largest KKT violation and
 * returns how many atoms outside W would move by more than τ = tol·max|z| in a coordinate-
 * descent step (their ids and step sizes in S.cand / S.candV).
 */
function checkRow(S: WorkingSetScratch, C: Float32Array, co: number, GZ: Float32Array, go: number, a: number, diag: Float64Array, dmin: number, idx: Int32Array, z: Float64Array, s: number, lambda: number, nonneg: boolean, tol: number): number {
  const { inW, cand, candV } = S;
  let maxAbs = 0;
  let viol = 0;
  for (let p = 0; p < s; p++) {
    const zp = z[p];
    const av = zp < 0 ? -zp : zp;
    if (av > maxAbs) maxAbs = av;
    const j = idx[p];
    inW[j] = 1;
    const g = C[co + j] - GZ[go + j];
    const v = zp > 0 ? Math.abs(g - lambda) : zp < 0 ? Math.abs(g + lambda) : (nonneg ? g : Math.abs(g)) - lambda;
    if (v > viol) viol = v;
  }
  const tau = tol * Math.max(maxAbs, 1e-12);
  // an atom can only qualify when |g_j| > λ + τ·G_jj >= thr; W atoms are included in the max
  // below, which is harmless: their off-support violation is <= the one computed above
  const thr = lambda + tau * dmin;
  let top = -Infinity;
  let nc = 0;
  for (let j = 0; j < a; j++) {
    const g = C[co + j] - GZ[go + j];
    const ag = nonneg ? g : Math.abs(g);
    top = Math.max(top, ag);
    if (ag > thr && inW[j] === 0) {
      const step = (ag - lambda) / diag[j];
      if (step > tau) {
        cand[nc] = j;
        candV[nc++] = step;
      }
    }
  }
  for (let p = 0; p < s; p++) inW[idx[p]] = 0;
  S.viol = Math.max(viol, top - lambda);
  return nc;
}

/**
 * Move the `add` largest candV (with their cand) to the front, in no particular order:
 * a min-heap of the best `add` kept in the front of the arrays, O(nc·log add).
 */
function selectLargest(cand: Int32Array, candV: Float64Array, nc: number, add: number): void {
  // heapify the first `add` entries (min-heap)
  for (let st = (add >> 1) - 1; st >= 0; st--) siftDown(cand, candV, add, st, cand[st], candV[st]);
  for (let w = add; w < nc; w++) {
    const v = candV[w];
    if (v > candV[0]) siftDown(cand, candV, add, 0, cand[w], v);
  }
}

function siftDown(hi: Int32Array, hv: Float64Array, h: number, k: number, j: number, v: number): void {
  for (;;) {
    const l = 2 * k + 1;
    if (l >= h) break;
    const r = l + 1;
    const m = r < h && hv[r] < hv[l] ? r : l;
    if (hv[m] >= v) break;
    hv[k] = hv[m];
    hi[k] = hi[m];
    k = m;
  }
  hv[k] = v;
  hi[k] = j;
}

/**
 * Per-sample Lasso objective from sparse codes: R = X − Σ z_j d_j by one backend
 * `gatherDecode` (O(n·k·dim), no dense GEMM), then 1/2||r||² + λ||z||₁ in float64.
 */
export function sparseLassoObjectives(X: Matrix, D: Matrix, sp: { idx: Int32Array; val: Float32Array; k: number }, lambda: number, b: Backend): Float64Array {
  const n = X.rows;
  const d = X.cols;
  const { idx, val, k } = sp;
  const R = new Float32Array(X.data);
  const neg = new Float32Array(val.length);
  for (let e = 0; e < val.length; e++) neg[e] = -val[e];
  b.gatherDecode(idx, neg, n, k, D.data, d, 1, R);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    const o = i * d;
    for (let c = 0; c < d; c++) s += R[o + c] * R[o + c];
    let l1 = 0;
    for (let e = i * k; e < (i + 1) * k; e++) l1 += Math.abs(val[e]);
    out[i] = 0.5 * s + lambda * l1;
  }
  return out;
}
