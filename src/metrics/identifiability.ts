import { fail, SparsecodeError } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { assertNumber } from '../core/validate.js';
import { cholesky, choleskySolve } from '../linalg/cholesky.js';
import { checkMatrix, checkSameRows } from './util.js';

export interface IdentifiabilityR2 {
  /** variance-weighted R² = 1 − Σ_j SSres_j / Σ_j SStot_j (scikit-learn's 'variance_weighted') */
  r2: number;
  /** R² per target column (1 for a constant column predicted exactly, else 0 when constant) */
  perDim: Float64Array;
  /** W [p x q] and intercept b [q]: Ẑ = H·W + b */
  weights: Matrix;
  intercept: Float64Array;
}

/**
 * Linear identifiability (PAPERS sec. 6): how much of Z [n x q] a linear map (with
 * intercept) of H [n x p] explains. Least squares in float64 on centred data through the
 * p x p normal equations (a tiny ridge `ridge`·trace/p is added only if they are singular,
 * or always when `ridge` > 0 is given). R² is in-sample, or on `test` when given
 * (fit on H, Z; score on test.H, test.Z). For the reverse direction swap the arguments.
 */
export function linearIdentifiabilityR2(
  H: Matrix, Z: Matrix, opts: { ridge?: number; test?: { H: Matrix; Z: Matrix } } = {},
): IdentifiabilityR2 {
  checkMatrix('H', H, 2);
  checkMatrix('Z', Z, 2);
  checkSameRows('H', H, 'Z', Z);
  const ridge = opts.ridge ?? 0;
  assertNumber('ridge', ridge, 0);
  const n = H.rows, p = H.cols, q = Z.cols;
  const mh = new Float64Array(p);
  const mz = new Float64Array(q);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < p; a++) mh[a] += H.data[i * p + a];
    for (let c = 0; c < q; c++) mz[c] += Z.data[i * q + c];
  }
  for (let a = 0; a < p; a++) mh[a] /= n;
  for (let c = 0; c < q; c++) mz[c] /= n;
  const G = new Float64Array(p * p);
  const B = new Float64Array(p * q);
  const h = new Float64Array(p);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < p; a++) h[a] = H.data[i * p + a] - mh[a];
    for (let a = 0; a < p; a++) {
      const ha = h[a];
      for (let b = 0; b <= a; b++) G[a * p + b] += ha * h[b];
      for (let c = 0; c < q; c++) B[a * q + c] += ha * (Z.data[i * q + c] - mz[c]);
    }
  }
  for (let a = 0; a < p; a++) for (let b = 0; b < a; b++) G[b * p + a] = G[a * p + b];
  let trace = 0;
  for (let a = 0; a < p; a++) trace += G[a * p + a];
  const scale = trace > 0 ? trace / p : 1;
  let W: Float64Array | null = null;
  let lam = ridge > 0 ? ridge * scale : 0;
  for (let tries = 0; tries < 8 && !W; tries++) {
    try {
      const Gr = lam > 0 ? G.map((v, idx) => (Math.floor(idx / p) === idx % p ? v + lam : v)) : G;
      W = choleskySolve(cholesky(Gr, p), p, B, q);
    } catch (e) {
      if (!(e instanceof SparsecodeError)) throw e;
      lam = lam === 0 ? 1e-12 * scale : lam * 100;
    }
  }
  if (!W) fail('E_DATA', 'linearIdentifiabilityR2: H is (numerically) constant; it cannot explain anything');
  const intercept = new Float64Array(q);
  for (let c = 0; c < q; c++) {
    let s = mz[c];
    for (let a = 0; a < p; a++) s -= mh[a] * W[a * q + c];
    intercept[c] = s;
  }
  let Hs = H, Zs = Z;
  if (opts.test) {
    checkMatrix('test.H', opts.test.H);
    checkMatrix('test.Z', opts.test.Z);
    checkSameRows('test.H', opts.test.H, 'test.Z', opts.test.Z);
    if (opts.test.H.cols !== p || opts.test.Z.cols !== q) {
      fail('E_SHAPE', `shape mismatch: test.H/test.Z are [${opts.test.H.rows} x ${opts.test.H.cols}]/[${opts.test.Z.rows} x ${opts.test.Z.cols}], the fit used ${p} and ${q} columns`);
    }
    Hs = opts.test.H;
    Zs = opts.test.Z;
  }
  const m = Hs.rows;
  const zbar = new Float64Array(q);
  for (let i = 0; i < m; i++) for (let c = 0; c < q; c++) zbar[c] += Zs.data[i * q + c];
  for (let c = 0; c < q; c++) zbar[c] /= m;
  const ssRes = new Float64Array(q);
  const ssTot = new Float64Array(q);
  for (let i = 0; i < m; i++) {
    for (let c = 0; c < q; c++) {
      let pred = intercept[c];
      for (let a = 0; a < p; a++) pred += Hs.data[i * p + a] * W[a * q + c];
      const z = Zs.data[i * q + c];
      ssRes[c] += (z - pred) ** 2;
      ssTot[c] += (z - zbar[c]) ** 2;
    }
  }
  const perDim = new Float64Array(q);
  let sr = 0, st = 0;
  for (let c = 0; c < q; c++) {
    perDim[c] = ssTot[c] > 0 ? 1 - ssRes[c] / ssTot[c] : ssRes[c] === 0 ? 1 : 0;
    sr += ssRes[c];
    st += ssTot[c];
  }
  const r2 = st > 0 ? 1 - sr / st : sr === 0 ? 1 : 0;
  return { r2, perDim, weights: new Matrix(p, q, Float32Array.from(W)), intercept };
}
