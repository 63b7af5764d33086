import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng } from '../core/rng.js';
import { checkAborted } from '../core/validate.js';
import { cholesky } from '../linalg/cholesky.js';
import { mlp, bceWithLogits, gaussianKL, type Sequential } from '../nn/index.js';
import { Adam } from '../optim/adam.js';

/**
 * Generative modules a FederatedFactory client trains from scratch on its own data, one per
 * class it holds, and sends to the server once: a full-covariance Gaussian, a small Gaussian
 * mixture (EM), a small VAE (only its decoder travels). A module travels as a flat float32
 * payload; its byte count is the communication cost. The server rebuilds the sampler from the
 * payload alone.
 */

export const GENERATORS = ['gaussian', 'mixture', 'vae'] as const;
export type GeneratorKind = (typeof GENERATORS)[number];

export interface GeneratorSettings {
  /** ridge added to every covariance diagonal (pixels in [0, 1]; constant pixels make Σ singular) */
  ridge: number;
  /** mixture: components, EM iterations, k-means iterations of the initialisation */
  components: number;
  emIters: number;
  kmeansIters: number;
  /** VAE: hidden width, latent size, Adam steps, batch, learning rate, KL weight */
  vaeHidden: number;
  vaeLatent: number;
  vaeSteps: number;
  vaeBatch: number;
  vaeLr: number;
  vaeBeta: number;
}

export const DEFAULT_GENERATOR_SETTINGS: GeneratorSettings = {
  ridge: 1e-2, components: 3, emIters: 50, kmeansIters: 10,
  vaeHidden: 128, vaeLatent: 8, vaeSteps: 1500, vaeBatch: 64, vaeLr: 1e-3, vaeBeta: 1,
};

/** What a client sends: the generator kind, the class it models, the shape header and the float32 payload. */
export interface ModulePayload {
  kind: GeneratorKind;
  client: string;
  label: number;
  dim: number;
  /** kind-specific integers: gaussian []; mixture [components]; vae [hidden, latent] */
  header: number[];
  data: Float32Array;
}

/** Bytes on the wire: the float32 payload plus the header integers (int32 each) and the label and dim. */
export function payloadBytes(p: ModulePayload): number {
  return p.data.byteLength + 4 * (p.header.length + 3);
}

/* ---------------------------------------------------------------- Gaussian ---- */

/** Sample mean and (biased, 1/n) covariance in float64. */
function meanCov(X: Matrix, w?: Float64Array, add = 0): { mean: Float64Array; cov: Float64Array; total: number } {
  const n = X.rows, d = X.cols, x = X.data;
  const mean = new Float64Array(d);
  let tot = 0;
  for (let i = 0; i < n; i++) {
    const wi = w ? w[i] : 1;
    tot += wi;
    for (let j = 0; j < d; j++) mean[j] += wi * x[i * d + j];
  }
  tot += add;
  for (let j = 0; j < d; j++) mean[j] /= tot;
  const cov = new Float64Array(d * d);
  const r = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const wi = w ? w[i] : 1;
    if (wi === 0) continue;
    for (let j = 0; j < d; j++) r[j] = x[i * d + j] - mean[j];
    for (let a = 0; a < d; a++) {
      const ra = wi * r[a];
      for (let b = 0; b <= a; b++) cov[a * d + b] += ra * r[b];
    }
  }
  for (let a = 0; a < d; a++) for (let b = 0; b <= a; b++) cov[b * d + a] = cov[a * d + b] /= tot;
  return { mean, cov, total: tot };
}

/** The Cholesky factor of Σ + ridge·I (lower, row-major). */
function ridgeCholesky(cov: Float64Array, d: number, ridge: number): Float64Array {
  const a = Float64Array.from(cov);
  for (let j = 0; j < d; j++) a[j * d + j] += ridge;
  return cholesky(a, d);
}

/** Pack the lower triangle of L row by row (d(d+1)/2 values). */
function packLower(L: Float64Array, d: number, out: Float32Array, off: number): number {
  for (let i = 0; i < d; i++) for (let j = 0; j <= i; j++) out[off++] = L[i * d + j];
  return off;
}

/** Fit N(μ, Σ + ridge·I) (maximum likelihood, 1/n covariance). Payload: μ, then the packed Cholesky factor. */
export function fitGaussian(X: Matrix, ridge: number): { mean: Float64Array; L: Float64Array; data: Float32Array } {
  const d = X.cols;
  const { mean, cov } = meanCov(X);
  const L = ridgeCholesky(cov, d, ridge);
  const data = new Float32Array(d + (d * (d + 1)) / 2);
  data.set(mean);
  packLower(L, d, data, d);
  return { mean, L, data };
}

/* ---------------------------------------------------------------- mixture ---- */

export interface GmmParams {
  weights: Float64Array;
  /** [m × d] */
  means: Float64Array;
  /** m covariances [d × d] (the ridge already added) */
  covs: Float64Array[];
}

/** log N(x; μ, LLᵀ) for every row of X against one component; `L` lower Cholesky factor. */
function logGauss(X: Matrix, mu: Float64Array, L: Float64Array, out: Float64Array): void {
  const n = X.rows, d = X.cols, x = X.data;
  let logdet = 0;
  for (let j = 0; j < d; j++) logdet += Math.log(L[j * d + j]);
  const z = new Float64Array(d);
  const c = -0.5 * d * Math.log(2 * Math.PI) - logdet;
  for (let i = 0; i < n; i++) {
    let q = 0;
    for (let a = 0; a < d; a++) {
      let s = x[i * d + a] - mu[a];
      for (let b = 0; b < a; b++) s -= L[a * d + b] * z[b];
      z[a] = s / L[a * d + a];
      q += z[a] * z[a];
    }
    out[i] = c - 0.5 * q;
  }
}

/**
 * EM for a full-covariance Gaussian mixture from an initial (weights, means, covariances),
 * exactly scikit-learn's GaussianMixture updates (E-step, then M-step with `ridge` added to every
 * covariance diagonal = its reg_covar), for `iters` iterations or until the mean log-likelihood
 * improves by less than `tol`. Returns the parameters and the final mean log-likelihood.
 */
export function gmmEm(X: Matrix, init: GmmParams, o: { iters: number; ridge: number; tol?: number }): GmmParams & { logLik: number; iters: number } {
  const n = X.rows, d = X.cols, m = init.weights.length;
  let weights: Float64Array = Float64Array.from(init.weights);
  const means: Float64Array = Float64Array.from(init.means);
  const covs: Float64Array[] = init.covs.map((c) => Float64Array.from(c));
  const logp = Array.from({ length: m }, () => new Float64Array(n));
  const resp = new Float64Array(n * m);
  let prev = -Infinity, ll = -Infinity, it = 0;
  const tol = o.tol ?? 1e-6;
  for (it = 0; it < o.iters; it++) {
    // E-step
    for (let k = 0; k < m; k++) logGauss(X, means.subarray(k * d, (k + 1) * d), cholesky(covs[k], d), logp[k]);
    ll = 0;
    for (let i = 0; i < n; i++) {
      let mx = -Infinity;
      for (let k = 0; k < m; k++) mx = Math.max(mx, Math.log(weights[k]) + logp[k][i]);
      let s = 0;
      for (let k = 0; k < m; k++) s += resp[i * m + k] = Math.exp(Math.log(weights[k]) + logp[k][i] - mx);
      for (let k = 0; k < m; k++) resp[i * m + k] /= s;
      ll += mx + Math.log(s);
    }
    ll /= n;
    // M-step
    const w = new Float64Array(n);
    const nw = new Float64Array(m);
    for (let k = 0; k < m; k++) {
      for (let i = 0; i < n; i++) w[i] = resp[i * m + k];
      // scikit-learn adds 10·eps to each component's weight (an empty component stays finite)
      const mc = meanCov(X, w, 10 * 2.220446049250313e-16);
      nw[k] = mc.total;
      means.set(mc.mean, k * d);
      for (let j = 0; j < d; j++) mc.cov[j * d + j] += o.ridge;
      covs[k] = mc.cov;
    }
    let sw = 0;
    for (let k = 0; k < m; k++) sw += nw[k];
    weights = nw.map((v) => v / sw);
    if (Math.abs(ll - prev) < tol) {
      it++;
      break;
    }
    prev = ll;
  }
  return { weights, means, covs, logLik: ll, iters: it };
}

/** k-means++ seeding and Lloyd iterations; the initial mixture of gmmEm (as scikit-learn's init_params='kmeans'). */
export function kmeansInit(X: Matrix, m: number, iters: number, ridge: number, rng: Rng): GmmParams {
  const n = X.rows, d = X.cols, x = X.data;
  if (m > n) fail('E_ARG', `mixture: ${m} components need at least ${m} samples, got ${n}; lower --components`);
  const centres = new Float64Array(m * d);
  const dist = new Float64Array(n).fill(Infinity);
  let pick = rng.int(n);
  for (let k = 0; k < m; k++) {
    for (let j = 0; j < d; j++) centres[k * d + j] = x[pick * d + j];
    let tot = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (x[i * d + j] - centres[k * d + j]) ** 2;
      dist[i] = Math.min(dist[i], s);
      tot += dist[i];
    }
    if (k + 1 < m) {
      let u = rng.uniform() * tot;
      pick = n - 1;
      for (let i = 0; i < n; i++) {
        u -= dist[i];
        if (u < 0) {
          pick = i;
          break;
        }
      }
    }
  }
  const assign = new Int32Array(n);
  for (let t = 0; t <= iters; t++) {
    for (let i = 0; i < n; i++) {
      let best = 0, bd = Infinity;
      for (let k = 0; k < m; k++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += (x[i * d + j] - centres[k * d + j]) ** 2;
        if (s < bd) (bd = s), (best = k);
      }
      assign[i] = best;
    }
    if (t === iters) break;
    const cnt = new Float64Array(m);
    const sum = new Float64Array(m * d);
    for (let i = 0; i < n; i++) {
      cnt[assign[i]]++;
      for (let j = 0; j < d; j++) sum[assign[i] * d + j] += x[i * d + j];
    }
    for (let k = 0; k < m; k++) if (cnt[k] > 0) for (let j = 0; j < d; j++) centres[k * d + j] = sum[k * d + j] / cnt[k];
  }
  // the M-step of hard responsibilities
  const weights = new Float64Array(m);
  const covs: Float64Array[] = [];
  const means = new Float64Array(m * d);
  const w = new Float64Array(n);
  for (let k = 0; k < m; k++) {
    let c = 0;
    for (let i = 0; i < n; i++) c += w[i] = assign[i] === k ? 1 : 0;
    if (c === 0) {
      // an empty cluster: a copy of the data's overall Gaussian
      w.fill(1);
      c = 1e-3;
    }
    const mc = meanCov(X, w);
    weights[k] = c;
    means.set(mc.mean, k * d);
    for (let j = 0; j < d; j++) mc.cov[j * d + j] += ridge;
    covs.push(mc.cov);
  }
  let s = 0;
  for (const v of weights) s += v;
  for (let k = 0; k < m; k++) weights[k] /= s;
  return { weights, means, covs };
}

/** Fit a mixture; payload: m weights, then per component μ and the packed Cholesky factor of its Σ. */
export function fitMixture(X: Matrix, s: GeneratorSettings, rng: Rng): { gmm: GmmParams & { logLik: number }; data: Float32Array } {
  const d = X.cols;
  const m = Math.min(s.components, X.rows);
  const gmm = gmmEm(X, kmeansInit(X, m, s.kmeansIters, s.ridge, rng), { iters: s.emIters, ridge: s.ridge });
  const tri = (d * (d + 1)) / 2;
  const data = new Float32Array(m + m * (d + tri));
  data.set(gmm.weights);
  let off = m;
  for (let k = 0; k < m; k++) {
    data.set(gmm.means.subarray(k * d, (k + 1) * d), off);
    off = packLower(cholesky(gmm.covs[k], d), d, data, off + d);
  }
  return { gmm, data };
}

/* ---------------------------------------------------------------- VAE ---- */

/** A VAE with a Bernoulli decoder on pixels in [0, 1]: encoder d → h → 2z (μ, log σ²), decoder z → h → d (logits). */
export interface Vae {
  encoder: Sequential;
  decoder: Sequential;
  latent: number;
}

export function createVae(d: number, hidden: number, latent: number, rng: Rng): Vae {
  return {
    encoder: mlp({ sizes: [d, hidden, 2 * latent], activation: 'relu', rng: rng.fork('encoder') }),
    decoder: mlp({ sizes: [latent, hidden, d], activation: 'relu', rng: rng.fork('decoder') }),
    latent,
  };
}

/**
 * The negative ELBO of a batch (mean over rows of Σ_pixels BCE + β·KL), with the reparameterised
 * noise `eps` [n × z] given; fills every parameter's gradient (zeroed first).
 */
export function vaeLossAndGrad(v: Vae, X: Matrix, eps: Matrix, beta: number): number {
  const n = X.rows, d = X.cols, z = v.latent;
  v.encoder.zeroGrad();
  v.decoder.zeroGrad();
  const h = v.encoder.forward(X);
  const mu = new Matrix(n, z), lv = new Matrix(n, z), Z = new Matrix(n, z);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < z; j++) {
      mu.data[i * z + j] = h.data[i * 2 * z + j];
      lv.data[i * z + j] = h.data[i * 2 * z + z + j];
      Z.data[i * z + j] = mu.data[i * z + j] + Math.exp(0.5 * lv.data[i * z + j]) * eps.data[i * z + j];
    }
  }
  const logits = v.decoder.forward(Z);
  const rec = bceWithLogits(logits, X);
  // bceWithLogits averages over n·d entries; the ELBO sums over pixels: scale by d
  for (let i = 0; i < rec.grad.data.length; i++) rec.grad.data[i] *= d;
  const kl = gaussianKL(mu, lv);
  const dZ = v.decoder.backward(rec.grad);
  const dh = new Matrix(n, 2 * z);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < z; j++) {
      const g = dZ.data[i * z + j];
      const sd = Math.exp(0.5 * lv.data[i * z + j]);
      dh.data[i * 2 * z + j] = g + beta * kl.gradMu.data[i * z + j];
      dh.data[i * 2 * z + z + j] = g * eps.data[i * z + j] * 0.5 * sd + beta * kl.gradLogvar.data[i * z + j];
    }
  }
  v.encoder.backward(dh, false);
  return d * rec.value + beta * kl.value;
}

/** Train a VAE on X with Adam; returns it and the last loss. Payload: the decoder's parameters (what the server samples with). */
export function fitVae(X: Matrix, s: GeneratorSettings, rng: Rng, signal?: AbortSignal): { vae: Vae; loss: number; data: Float32Array } {
  const d = X.cols, n = X.rows;
  const vae = createVae(d, s.vaeHidden, s.vaeLatent, rng.fork('init'));
  const params = [...vae.encoder.params(), ...vae.decoder.params()];
  const opt = new Adam(params.map((p) => p.param));
  const data = rng.fork('batches');
  const noise = rng.fork('noise');
  const b = Math.min(s.vaeBatch, n);
  let perm = data.permutation(n), pos = 0, loss = NaN;
  const eps = new Matrix(b, s.vaeLatent);
  for (let t = 0; t < s.vaeSteps; t++) {
    if (t % 200 === 0) checkAborted(signal);
    if (pos + b > n) {
      perm = data.permutation(n);
      pos = 0;
    }
    const batch = X.takeRows(perm.subarray(pos, pos + b));
    pos += b;
    noise.fillNormal(eps.data);
    loss = vaeLossAndGrad(vae, batch, eps, s.vaeBeta);
    if (!Number.isFinite(loss)) fail('E_DIVERGED', `VAE training diverged at step ${t} (loss ${loss}); lower vaeLr`);
    opt.step(params.map((p) => p.grad), s.vaeLr);
  }
  const dec = vae.decoder.params();
  let size = 0;
  for (const p of dec) size += p.param.length;
  const payload = new Float32Array(size);
  let off = 0;
  for (const p of dec) {
    payload.set(p.param, off);
    off += p.param.length;
  }
  return { vae, loss, data: payload };
}

/* ---------------------------------------------------------------- client & server ---- */

/** A client fits one module per class it holds, with an Rng derived from its class (stable under changes of the federation). */
export function fitModule(kind: GeneratorKind, client: string, label: number, X: Matrix, s: GeneratorSettings, rng: Rng, signal?: AbortSignal): ModulePayload {
  if (X.rows === 0) fail('E_ARG', `client "${client}" holds no sample of class ${label}; it cannot fit a generator`);
  const d = X.cols;
  if (kind === 'gaussian') return { kind, client, label, dim: d, header: [], data: fitGaussian(X, s.ridge).data };
  if (kind === 'mixture') {
    const f = fitMixture(X, s, rng);
    return { kind, client, label, dim: d, header: [f.gmm.weights.length], data: f.data };
  }
  if (kind === 'vae') return { kind, client, label, dim: d, header: [s.vaeHidden, s.vaeLatent], data: fitVae(X, s, rng, signal).data };
  fail('E_ARG', `unknown generator "${kind}"; choose from ${GENERATORS.join(', ')}`);
}

/** Draw x = μ + L·ξ, ξ ~ N(0, I), into row i of out. */
function drawGaussian(data: Float32Array, muOff: number, lOff: number, d: number, rng: Rng, out: Float32Array, row: number, xi: Float64Array): void {
  for (let j = 0; j < d; j++) xi[j] = rng.normal();
  let off = lOff;
  for (let a = 0; a < d; a++) {
    let s = data[muOff + a];
    for (let b = 0; b <= a; b++) s += data[off++] * xi[b];
    out[row * d + a] = s;
  }
}

/** The server: rebuild the sampler from a payload alone and draw n samples (rows). */
export function sampleModule(p: ModulePayload, n: number, rng: Rng): Matrix {
  const d = p.dim, tri = (d * (d + 1)) / 2;
  const out = new Matrix(n, d);
  const xi = new Float64Array(d);
  if (p.kind === 'gaussian') {
    if (p.data.length !== d + tri) fail('E_FORMAT', `client "${p.client}": a gaussian module of dim ${d} has ${d + tri} values, got ${p.data.length}`);
    for (let i = 0; i < n; i++) drawGaussian(p.data, 0, d, d, rng, out.data, i, xi);
  } else if (p.kind === 'mixture') {
    const m = p.header[0];
    if (!(m >= 1) || p.data.length !== m + m * (d + tri)) fail('E_FORMAT', `client "${p.client}": a mixture module of ${m} components in dim ${d} has ${m + m * (d + tri)} values, got ${p.data.length}`);
    for (let i = 0; i < n; i++) {
      let u = rng.uniform(), k = 0;
      for (; k < m - 1; k++) {
        u -= p.data[k];
        if (u < 0) break;
      }
      const base = m + k * (d + tri);
      drawGaussian(p.data, base, base + d, d, rng, out.data, i, xi);
    }
  } else if (p.kind === 'vae') {
    const [hidden, latent] = p.header;
    const dec = mlp({ sizes: [latent, hidden, d], activation: 'relu', rng: 0 });
    const ps = dec.params();
    let need = 0;
    for (const q of ps) need += q.param.length;
    if (p.data.length !== need) fail('E_FORMAT', `client "${p.client}": a VAE decoder (${latent} → ${hidden} → ${d}) has ${need} values, got ${p.data.length}`);
    let off = 0;
    for (const q of ps) {
      q.param.set(p.data.subarray(off, off + q.param.length));
      off += q.param.length;
    }
    const Z = new Matrix(n, latent);
    rng.fillNormal(Z.data);
    const logits = dec.forward(Z, false);
    for (let i = 0; i < out.data.length; i++) out.data[i] = 1 / (1 + Math.exp(-logits.data[i]));
  } else {
    fail('E_FORMAT', `client "${(p as ModulePayload).client}": unknown generator kind "${(p as ModulePayload).kind}"`);
  }
  for (let i = 0; i < out.data.length; i++) {
    if (!Number.isFinite(out.data[i])) fail('E_NONFINITE', `client "${p.client}": its ${p.kind} generator for class ${p.label} produced a non-finite sample (row ${Math.floor(i / d)}); the client must refit and resend its module`);
  }
  return out;
}
