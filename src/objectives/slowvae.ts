import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { assertNumber } from '../core/validate.js';
import { erf } from '../nn/activations.js';

/**
 * The SlowVAE prior terms exactly as `bethgelab/slow_disentanglement` (scripts/solver.py) forms
 * them (PROTOCOLS.md §3.1, §3.5). The batch holds B pairs: rows 2i (x_t) and 2i + 1 (x_{t+1}).
 * With q = N(μ, e^{logvar}) per image and Σ_d a sum over latent dimensions:
 *   H     = mean over the 2B images of Σ_d ½(logvar + ln 2πe)
 *   CE_N  = mean over the 2B images of Σ_d [½(μ² + e^{logvar}) + ln √(2π)]
 *   CE_L  = mean over the B pairs of Σ_d [ce(μ_t − μ_{t+1}, σ_t) + ce(μ_{t+1} − μ_t, σ_{t+1})]
 *           ce(m, σ) = −ln(λ/2) + λσ√(2/π)·exp(−m²/(2σ²)) − λm(1 − 2Φ(m/σ))   (= −ln(λ/2) + λ·E|X|, X ~ N(m, σ²))
 *   KL_N = CE_N − H,  KL_L = CE_L − H   (a per-image entropy subtracted from a per-pair, two-way
 *   cross-entropy, as the code does), and the prior part of the loss is β·KL_N + γ·KL_L.
 * The full SlowVAE loss is 2·recon + β·KL_N + γ·KL_L with recon = the reconstruction loss summed
 * over pixels and averaged over the 2B images; γ = 0 is the β-VAE. The partner's mean is not
 * detached: gradients reach both frames.
 *
 * Gradients: ∂E|X|/∂m = 2Φ(m/σ) − 1, ∂E|X|/∂σ = √(2/π)·exp(−m²/(2σ²)), ∂σ/∂logvar = σ/2.
 */
export interface SlowVaeTerms {
  /** β·KL_N + γ·KL_L */
  value: number;
  entropy: number;
  crossEntNormal: number;
  crossEntLaplace: number;
  klNormal: number;
  klLaplace: number;
  /** d value / d μ and d value / d logvar [2B x z] */
  gradMu: Matrix;
  gradLogvar: Matrix;
}

const LN_2PI_E = Math.log(2 * Math.PI * Math.E);
const LN_SQRT_2PI = Math.log(Math.sqrt(2 * Math.PI));
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Φ(x), the standard normal CDF. */
export function normalCdf(x: number): number {
  return 0.5 * (1 + erf(x / Math.SQRT2));
}

/** ce(m, σ) of the Laplace(·; rate λ) prior and its partial derivatives in m and σ. */
export function laplaceCrossEntropy(m: number, sigma: number, rate: number): { value: number; dm: number; dsigma: number } {
  const g = Math.exp(-(m * m) / (2 * sigma * sigma));
  const cdf = normalCdf(m / sigma);
  return {
    value: -Math.log(rate / 2) + rate * sigma * SQRT_2_OVER_PI * g - rate * m * (1 - 2 * cdf),
    dm: rate * (2 * cdf - 1),
    dsigma: rate * SQRT_2_OVER_PI * g,
  };
}

export function slowVaeTerms(mu: Matrix, logvar: Matrix, o: { beta: number; gamma: number; rate: number; gradMu?: Matrix; gradLogvar?: Matrix }): SlowVaeTerms {
  if (!(mu instanceof Matrix) || !(logvar instanceof Matrix)) fail('E_ARG', 'slowVaeTerms: mu and logvar must be Matrix objects');
  if (mu.rows !== logvar.rows || mu.cols !== logvar.cols) fail('E_SHAPE', `slowVaeTerms: mu is [${mu.rows} x ${mu.cols}], logvar [${logvar.rows} x ${logvar.cols}]`);
  const n = mu.rows, z = mu.cols;
  if (n < 2 || n % 2 !== 0) fail('E_SHAPE', `slowVaeTerms: the batch must hold pairs (an even number of rows >= 2: x_t at even rows, x_t+1 at odd rows), got ${n}`);
  assertNumber('beta', o.beta, 0);
  assertNumber('gamma', o.gamma, 0);
  assertNumber('rate (Laplace prior rate λ)', o.rate, 0, Infinity, { exclusiveMin: true });
  const B = n / 2;
  const gm = o.gradMu && o.gradMu.rows === n && o.gradMu.cols === z ? o.gradMu : new Matrix(n, z);
  const gl = o.gradLogvar && o.gradLogvar.rows === n && o.gradLogvar.cols === z ? o.gradLogvar : new Matrix(n, z);
  const m = mu.data, lv = logvar.data;
  let H = 0, CEN = 0, CEL = 0;
  for (let i = 0; i < n * z; i++) {
    if (!Number.isFinite(m[i]) || !Number.isFinite(lv[i])) fail('E_NONFINITE', `slowVaeTerms: non-finite encoder output at row ${Math.floor(i / z)}; the encoder diverged (lower the learning rate)`);
    const e = Math.exp(lv[i]);
    H += 0.5 * (lv[i] + LN_2PI_E);
    CEN += 0.5 * (m[i] * m[i] + e) + LN_SQRT_2PI;
    // β·(CE_N − H) + γ·(−H): gradients of the per-image parts
    gm.data[i] = (o.beta * m[i]) / n;
    gl.data[i] = (o.beta * (0.5 * e - 0.5) - o.gamma * 0.5) / n;
  }
  for (let p = 0; p < B; p++) {
    const a = 2 * p * z, b = (2 * p + 1) * z;
    for (let d = 0; d < z; d++) {
      const sa = Math.exp(0.5 * lv[a + d]), sb = Math.exp(0.5 * lv[b + d]);
      const diff = m[a + d] - m[b + d];
      const ca = laplaceCrossEntropy(diff, sa, o.rate);
      const cb = laplaceCrossEntropy(-diff, sb, o.rate);
      CEL += ca.value + cb.value;
      const k = o.gamma / B;
      // d/dμ_a: ca depends on +diff, cb on −diff
      gm.data[a + d] += k * (ca.dm - cb.dm);
      gm.data[b + d] += k * (-ca.dm + cb.dm);
      gl.data[a + d] += k * ca.dsigma * 0.5 * sa;
      gl.data[b + d] += k * cb.dsigma * 0.5 * sb;
    }
  }
  H /= n;
  CEN /= n;
  CEL /= B;
  const klN = CEN - H, klL = CEL - H;
  return { value: o.beta * klN + o.gamma * klL, entropy: H, crossEntNormal: CEN, crossEntLaplace: CEL, klNormal: klN, klLaplace: klL, gradMu: gm, gradLogvar: gl };
}
