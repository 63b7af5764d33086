import { join } from 'node:path';
import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng } from '../core/rng.js';
import { checkAborted } from '../core/validate.js';
import { writeFileAtomic } from '../io/atomic.js';
import { Adam } from '../optim/adam.js';
import { mlp, type Sequential } from '../nn/sequential.js';
import { Linear } from '../nn/linear.js';
import { bceWithLogits, mseLoss } from '../nn/loss.js';
import type { Param } from '../nn/types.js';
import { laplacePairs, uniformFactors, type FactorGrid } from '../worlds/laplace-transitions.js';
import { SPRITE_GRID, VectorWorld, renderSprites } from '../worlds/sprites.js';
import { slowVaeTerms } from '../objectives/slowvae.js';
import { spearmanMcc } from '../metrics/spearman-mcc.js';
import { type Cell, checkSeeds, type ResultLine, type SweepProgress } from './runner.js';
import { aggregate, formatMeanStd, markdownTable, metricPlot, summaryTable } from './report.js';
import { finishReport, runExperiment, type ExperimentRun } from './experiment.js';

/**
 * "Towards Nonlinear Disentanglement in Natural Data with Temporal Sparse Coding" (SlowVAE;
 * Klindt et al., ICLR 2021; PROTOCOLS.md §3; code `bethgelab/slow_disentanglement`), at CPU scale.
 *
 * Worlds (src/worlds/laplace-transitions.ts, sprites.ts): pairs (x_t, x_{t+1}) of a factor grid
 * whose factors jump by the truncated discrete Laplace law (scale ln(size)/rate, categorical
 * factors fixed, at least one change), rendered as
 *  - `sprites`: a 16×16 sprite (shape categorical, scale, brightness, x, y), Bernoulli decoder;
 *  - `vector`: the non-categorical factors of a 4-factor grid through a frozen leaky-ReLU MLP into
 *    R^16, Gaussian decoder (squared error summed over dimensions).
 * Model: a Gaussian-encoder VAE with MLPs (encoder D → h → h → 2·z_dim, decoder z_dim → h → h → D,
 * ReLU, Kaiming-normal weights and zero biases as the reference); loss
 * 2·recon + β·KL_N + γ·KL_L (objectives/slowvae.ts, exactly as the code forms it); Adam.
 * Methods: `slowvae` (β = 1, γ = 10, λ = 6: the reference's defaults) and `beta-vae` (the same
 * network, γ = 0, β = `betaBaseline`, 8 by default as the reference's baseline).
 * Metric: `mcc` = Spearman MCC (disentanglement_lib's `mcc` as the SlowVAE code configures it:
 * ground-truth factors padded with N(0, 1) noise up to z_dim, Hungarian matching, mean |ρ| over
 * the real factors) of the encoder MEANS on `evalSamples` uniformly drawn grid points, every
 * factor included (shape too, as the reference); `mcc_continuous` over the non-categorical ones.
 * A small conv net is not included (no convolution layer in src/nn yet).
 */

export const SLOWVAE_METHODS = ['slowvae', 'beta-vae'] as const;
export type SlowVaeMethod = (typeof SLOWVAE_METHODS)[number];
export const SLOWVAE_WORLDS = ['sprites', 'vector'] as const;
export type SlowVaeWorld = (typeof SLOWVAE_WORLDS)[number];
export const SLOWVAE_METRICS = ['mcc', 'mcc_continuous', 'recon', 'kl_normal', 'kl_laplace'] as const;

export const VECTOR_GRID: FactorGrid = { sizes: [10, 10, 10, 10], categorical: [false, false, false, false], names: ['f1', 'f2', 'f3', 'f4'] };

export interface SlowVaeSettings {
  zDim: number;
  hidden: number;
  /** pairs per batch (the reference: 32 pairs = 64 images) */
  pairs: number;
  steps: number;
  lr: number;
  /** SlowVAE: β, γ, λ (rate_prior); baseline β */
  beta: number;
  gamma: number;
  ratePrior: number;
  betaBaseline: number;
  /** samples for the MCC */
  evalSamples: number;
  /** vector world: observation dimension */
  vectorDim: number;
}

export interface SlowVaeConfig {
  world: string;
  rate: number;
  seed: number;
  [key: string]: number | string;
}

const SV_QUICK: SlowVaeSettings = {
  zDim: 10, hidden: 256, pairs: 32, steps: 4000, lr: 1e-3,
  beta: 1, gamma: 10, ratePrior: 6, betaBaseline: 8, evalSamples: 10000, vectorDim: 16,
};
const SV_FULL: SlowVaeSettings = { ...SV_QUICK, steps: 30000 };

export interface SlowVaePreset {
  settings: SlowVaeSettings;
  worlds: SlowVaeWorld[];
  rates: number[];
  seeds: number[];
}

export const SV_PRESETS: Record<'quick' | 'full', SlowVaePreset> = {
  quick: { settings: SV_QUICK, worlds: ['sprites'], rates: [1, 3], seeds: [0, 1, 2] },
  full: { settings: SV_FULL, worlds: ['sprites', 'vector'], rates: [1, 3, 10], seeds: [0, 1, 2] },
};

export function isSlowVaeMethod(s: string): s is SlowVaeMethod {
  return (SLOWVAE_METHODS as readonly string[]).includes(s);
}

export function slowVaeCells(o: { worlds: string[]; rates: number[]; seeds: number[]; methods: string[] }): Cell[] {
  for (const m of o.methods) if (!isSlowVaeMethod(m)) fail('E_USAGE', `unknown method "${m}"; choose from ${SLOWVAE_METHODS.join(', ')}`);
  for (const w of o.worlds) if (!(SLOWVAE_WORLDS as readonly string[]).includes(w)) fail('E_USAGE', `unknown world "${w}"; choose from ${SLOWVAE_WORLDS.join(', ')}`);
  for (const r of o.rates) if (!(r === -1 || (Number.isFinite(r) && r > 0))) fail('E_USAGE', `transition rates must be > 0 (or -1 for U(1, 10) per pair), got ${r}`);
  checkSeeds(o.seeds);
  const cells: Cell[] = [];
  for (const world of o.worlds) for (const rate of o.rates) for (const seed of o.seeds) {
    for (const m of SLOWVAE_METHODS) if (o.methods.includes(m)) cells.push({ config: { world, rate, seed }, method: m });
  }
  return cells;
}

/* ---------------------------------------------------------------------------------------- */
/* Data                                                                                      */
/* ---------------------------------------------------------------------------------------- */

interface WorldData {
  grid: FactorGrid;
  observe: (factors: Matrix) => Matrix;
  likelihood: 'bernoulli' | 'gaussian';
}

function worldData(world: SlowVaeWorld, seed: number, s: SlowVaeSettings): WorldData {
  if (world === 'sprites') return { grid: SPRITE_GRID, observe: renderSprites, likelihood: 'bernoulli' };
  const vw = new VectorWorld({ grid: VECTOR_GRID, dim: s.vectorDim, seed: `slowvae:${seed}:vector` });
  // standardise the observations (per dimension, from a large uniform sample) for the Gaussian likelihood
  const ref = vw.observe(uniformFactors(VECTOR_GRID, 20000, new Rng(`slowvae:${seed}:standardise`)));
  const D = ref.cols;
  const mean = new Float64Array(D), sd = new Float64Array(D);
  for (let i = 0; i < ref.rows; i++) for (let d = 0; d < D; d++) mean[d] += ref.data[i * D + d] / ref.rows;
  for (let i = 0; i < ref.rows; i++) for (let d = 0; d < D; d++) sd[d] += (ref.data[i * D + d] - mean[d]) ** 2 / ref.rows;
  for (let d = 0; d < D; d++) sd[d] = Math.sqrt(sd[d]) || 1;
  return {
    grid: VECTOR_GRID,
    likelihood: 'gaussian',
    observe: (f) => {
      const x = vw.observe(f);
      for (let i = 0; i < x.rows; i++) for (let d = 0; d < D; d++) x.data[i * D + d] = (x.data[i * D + d] - mean[d]) / sd[d];
      return x;
    },
  };
}

/* ---------------------------------------------------------------------------------------- */
/* The VAE                                                                                   */
/* ---------------------------------------------------------------------------------------- */

/** Kaiming-normal weights (std √(2/fan_in)) and zero biases, as the reference's kaiming_init. */
function kaimingNormal(net: Sequential, rng: Rng): void {
  for (const l of net.layers) {
    if (l instanceof Linear) {
      const std = Math.sqrt(2 / l.inFeatures);
      rng.fillNormal(l.weight.data, 0, std);
      l.bias?.fill(0);
    }
  }
}

export interface Vae {
  encoder: Sequential;
  decoder: Sequential;
  zDim: number;
}

export function makeVae(D: number, s: SlowVaeSettings, seed: string): Vae {
  const rng = new Rng(seed);
  const encoder = mlp({ sizes: [D, s.hidden, s.hidden, 2 * s.zDim], activation: 'relu', rng: rng.fork('encoder') });
  const decoder = mlp({ sizes: [s.zDim, s.hidden, s.hidden, D], activation: 'relu', rng: rng.fork('decoder') });
  kaimingNormal(encoder, rng.fork('kaiming-encoder'));
  kaimingNormal(decoder, rng.fork('kaiming-decoder'));
  return { encoder, decoder, zDim: s.zDim };
}

/** Encoder means [rows x z_dim] (a copy), in chunks. */
export function encoderMeans(vae: Vae, X: Matrix, chunk = 2048): Matrix {
  const z = vae.zDim;
  const out = new Matrix(X.rows, z);
  for (let r = 0; r < X.rows; r += chunk) {
    const e = vae.encoder.forward(X.rowSlice(r, Math.min(X.rows, r + chunk)), false);
    for (let i = 0; i < e.rows; i++) for (let d = 0; d < z; d++) out.data[(r + i) * z + d] = e.data[i * 2 * z + d];
  }
  return out;
}

export interface VaeStepResult {
  loss: number;
  recon: number;
  klNormal: number;
  klLaplace: number;
}

/**
 * One SlowVAE training step on a batch of pairs X [2B x D] (rows 2i, 2i + 1 a pair):
 * loss = 2·recon + β·KL_N + γ·KL_L. Fills the parameter gradients (zeroed first).
 */
export function vaeStep(vae: Vae, X: Matrix, likelihood: 'bernoulli' | 'gaussian', o: { beta: number; gamma: number; rate: number }, rng: Rng): VaeStepResult {
  const z = vae.zDim;
  const n = X.rows, D = X.cols;
  vae.encoder.zeroGrad();
  vae.decoder.zeroGrad();
  const e = vae.encoder.forward(X, true);
  const mu = new Matrix(n, z), lv = new Matrix(n, z), eps = new Matrix(n, z), zs = new Matrix(n, z);
  rng.fillNormal(eps.data);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < z; d++) {
      const m = e.data[i * 2 * z + d], l = e.data[i * 2 * z + z + d];
      mu.data[i * z + d] = m;
      lv.data[i * z + d] = l;
      zs.data[i * z + d] = m + Math.exp(0.5 * l) * eps.data[i * z + d];
    }
  }
  const prior = slowVaeTerms(mu, lv, { beta: o.beta, gamma: o.gamma, rate: o.rate });
  const logits = vae.decoder.forward(zs, true);
  // recon summed over dimensions, averaged over the 2B images; the loss uses 2·recon
  const r = likelihood === 'bernoulli' ? bceWithLogits(logits, X) : mseLoss(logits, X);
  const recon = r.value * D;
  if (!Number.isFinite(recon)) fail('E_DIVERGED', `the reconstruction loss became ${recon}; lower the learning rate`);
  for (let i = 0; i < r.grad.data.length; i++) r.grad.data[i] *= 2 * D;
  const dz = vae.decoder.backward(r.grad);
  const de = new Matrix(n, 2 * z);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < z; d++) {
      const g = dz.data[i * z + d];
      const sig = Math.exp(0.5 * lv.data[i * z + d]);
      de.data[i * 2 * z + d] = g + prior.gradMu.data[i * z + d];
      de.data[i * 2 * z + z + d] = g * eps.data[i * z + d] * 0.5 * sig + prior.gradLogvar.data[i * z + d];
    }
  }
  vae.encoder.backward(de, false);
  return { loss: 2 * recon + prior.value, recon, klNormal: prior.klNormal, klLaplace: prior.klLaplace };
}

/* ---------------------------------------------------------------------------------------- */
/* One cell                                                                                  */
/* ---------------------------------------------------------------------------------------- */

export interface SlowVaeHooks {
  signal?: AbortSignal;
  onNote?: (message: string) => void;
  noteSeconds?: number;
}

export async function runSlowVaeCell(config: SlowVaeConfig, method: string, s: SlowVaeSettings, cache: Map<string, unknown> = new Map(), hooks: SlowVaeHooks = {}): Promise<Record<string, number>> {
  if (!isSlowVaeMethod(method)) fail('E_ARG', `unknown method "${method}"; choose from ${SLOWVAE_METHODS.join(', ')}`);
  const world = config.world as SlowVaeWorld;
  if (!(SLOWVAE_WORLDS as readonly string[]).includes(world)) fail('E_ARG', `unknown world "${world}"; choose from ${SLOWVAE_WORLDS.join(', ')}`);
  let data = cache.get('world') as WorldData | undefined;
  if (!data) {
    data = worldData(world, config.seed, s);
    cache.set('world', data);
  }
  const F = data.grid.sizes.length;
  if (s.zDim < F) fail('E_ARG', `zDim (${s.zDim}) must be at least the number of factors (${F}): the MCC pads the factors up to z_dim`);
  const D = data.observe(uniformFactors(data.grid, 1, new Rng(0))).cols;
  const vae = makeVae(D, s, `slowvae:${config.seed}:model`);
  const params: Param[] = [...vae.encoder.params(), ...vae.decoder.params()];
  const adam = new Adam(params.map((p) => p.param));
  const grads = params.map((p) => p.grad);
  const o = method === 'slowvae' ? { beta: s.beta, gamma: s.gamma, rate: s.ratePrior } : { beta: s.betaBaseline, gamma: 0, rate: s.ratePrior };
  const dataRng = new Rng(`slowvae:${config.seed}:${config.world}:${config.rate}:pairs`);
  const noiseRng = new Rng(`slowvae:${config.seed}:${method}:eps`);
  let last: VaeStepResult = { loss: NaN, recon: NaN, klNormal: NaN, klLaplace: NaN };
  const avg = { recon: 0, klN: 0, klL: 0, k: 0 };
  const t0 = performance.now();
  let lastNote = t0;
  for (let step = 1; step <= s.steps; step++) {
    if ((step & 15) === 0) {
      checkAborted(hooks.signal);
      await new Promise<void>((r) => setImmediate(r));
    }
    const X = data.observe(laplacePairs(data.grid, s.pairs, config.rate, dataRng));
    last = vaeStep(vae, X, data.likelihood, o, noiseRng);
    adam.step(grads, s.lr);
    if (step > s.steps - 200) {
      avg.recon += last.recon;
      avg.klN += last.klNormal;
      avg.klL += last.klLaplace;
      avg.k++;
    }
    const now = performance.now();
    if (hooks.onNote && now - lastNote > (hooks.noteSeconds ?? 30) * 1000) {
      lastNote = now;
      const rate = (now - t0) / 1000 / step;
      hooks.onNote(`${method} ${config.world} rate=${config.rate} seed=${config.seed}: step ${step}/${s.steps}, recon ${last.recon.toFixed(2)}, KL_N ${last.klNormal.toFixed(2)}, ${(rate * 1000).toFixed(1)} ms/step, ETA ${Math.round(rate * (s.steps - step))} s`);
    }
  }
  // MCC on uniformly drawn grid points (the evaluation distribution of disentanglement_lib)
  const factors = uniformFactors(data.grid, s.evalSamples, new Rng(`slowvae:${config.seed}:eval`));
  const means = encoderMeans(vae, data.observe(factors));
  const mcc = spearmanMcc(means, factors, { seed: `slowvae:${config.seed}:mcc-noise` });
  const cont = data.grid.sizes.map((_, f) => f).filter((f) => !data!.grid.categorical[f]);
  const mccCont = spearmanMcc(means, factors.takeCols(cont), { seed: `slowvae:${config.seed}:mcc-noise` });
  const out: Record<string, number> = {
    mcc: mcc.mcc,
    mcc_continuous: mccCont.mcc,
    recon: avg.recon / avg.k,
    kl_normal: avg.klN / avg.k,
    kl_laplace: avg.klL / avg.k,
    seconds_per_step: (performance.now() - t0) / 1000 / s.steps,
  };
  (data.grid.names ?? []).forEach((name, f) => (out[`corr_${name}`] = mcc.perFactor[f]));
  return out;
}

/* ---------------------------------------------------------------------------------------- */
/* The experiment                                                                            */
/* ---------------------------------------------------------------------------------------- */

export interface SlowVaeOptions {
  out: string;
  preset?: 'quick' | 'full';
  seeds?: number[];
  methods?: string[];
  worlds?: string[];
  rates?: number[];
  settings?: Partial<SlowVaeSettings>;
  signal?: AbortSignal;
  onProgress?: (p: SweepProgress) => void;
  onNote?: (message: string) => void;
}

export async function runSlowVae(o: SlowVaeOptions): Promise<ExperimentRun<SlowVaeSettings>> {
  return runExperiment({
    name: 'slowvae',
    presets: SV_PRESETS,
    cells: (preset) => slowVaeCells({
      worlds: o.worlds?.length ? o.worlds : preset.worlds, rates: o.rates?.length ? o.rates : preset.rates,
      seeds: o.seeds?.length ? o.seeds : preset.seeds, methods: o.methods?.length ? o.methods : [...SLOWVAE_METHODS],
    }),
    runCell: (config: SlowVaeConfig, method, settings, cache, signal) => runSlowVaeCell(config, method, settings, cache, { signal, onNote: o.onNote }),
    writeReport: writeSlowVaeReport,
  }, { ...o, overrides: o.settings });
}

export function writeSlowVaeReport(dir: string, lines: ResultLine[], o: { settings?: SlowVaeSettings; preset?: string } = {}): string {
  const rows = aggregate(lines);
  const md: string[] = [];
  const plots: string[] = [];
  md.push('# SlowVAE (temporal sparse coding) vs β-VAE — reproduction report', '');
  md.push('Protocol: PROTOCOLS.md §3 (code `bethgelab/slow_disentanglement`) at CPU scale: truncated-Laplace transitions on a factor');
  md.push('grid, MLP VAEs with the SlowVAE loss (2·recon + β·KL_N + γ·KL_L) or the β-VAE (γ = 0); Spearman MCC of the encoder means.');
  if (o.preset) md.push(`Preset: \`${o.preset}\`.`);
  md.push('', 'The paper\'s tables could not be retrieved (PROTOCOLS §3.3); its claim: SlowVAE beats the β-VAE on DisLib-style data with Laplace transitions. Target of issue 17: over 3 seeds, SlowVAE\'s MCC exceeds the β-VAE\'s by >= 0.1.', '');
  const worlds = [...new Set(rows.map((r) => String(r.config.world)))];
  for (const w of worlds) {
    const wr = rows.filter((r) => r.config.world === w);
    md.push(`## World: ${w}`, '');
    const rates = [...new Set(wr.map((r) => r.config.rate as number))].sort((a, b) => a - b);
    const body = rates.map((rate) => {
      const sv = wr.find((r) => r.method === 'slowvae' && r.config.rate === rate);
      const bv = wr.find((r) => r.method === 'beta-vae' && r.config.rate === rate);
      const gap = sv && bv ? sv.mean.mcc - bv.mean.mcc : NaN;
      return [String(rate), formatMeanStd(sv?.mean.mcc, sv?.std.mcc), formatMeanStd(bv?.mean.mcc, bv?.std.mcc), Number.isFinite(gap) ? (gap >= 0 ? '+' : '') + gap.toFixed(3) : '—',
        formatMeanStd(sv?.mean.mcc_continuous, sv?.std.mcc_continuous), formatMeanStd(bv?.mean.mcc_continuous, bv?.std.mcc_continuous), String(sv?.seeds.length ?? 0)];
    });
    md.push(markdownTable(['data rate', 'SlowVAE MCC', 'β-VAE MCC', 'difference', 'SlowVAE MCC (non-categorical)', 'β-VAE MCC (non-categorical)', 'seeds'], body, ['r', 'r', 'r', 'r', 'r', 'r', 'r']), '');
    if (rates.length >= 2) {
      const file = `mcc_vs_rate_${w}.svg`;
      writeFileAtomic(join(dir, file), metricPlot(wr, { xKey: 'rate', metric: 'mcc', logX: true, methods: [...SLOWVAE_METHODS], labels: { slowvae: 'SlowVAE', 'beta-vae': 'β-VAE' }, title: `Spearman MCC vs transition rate (${w})`, xLabel: 'data transition rate', yLabel: 'MCC', yMin: 0, yMax: 1 }));
      plots.push(file);
      md.push(`![MCC vs rate](${file})`, '');
    }
    const names = Object.keys(wr[0]?.mean ?? {}).filter((k) => k.startsWith('corr_'));
    if (names.length) {
      md.push('Per-factor |ρ| of the matched latent (mean over seeds):', '');
      md.push(markdownTable(['data rate', 'method', ...names.map((n) => n.slice(5))], wr.map((r) => [String(r.config.rate), r.method, ...names.map((n) => formatMeanStd(r.mean[n], r.std[n]))]), ['r', 'l', ...names.map(() => 'r' as const)]), '');
    }
  }
  md.push('## All metrics', '', summaryTable(rows, [...SLOWVAE_METRICS]), '');
  return finishReport(dir, md, { lines, settings: o.settings, plots });
}
