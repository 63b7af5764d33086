import { join } from 'node:path';
import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng } from '../core/rng.js';
import { checkAborted } from '../core/validate.js';
import { writeFileAtomic } from '../io/atomic.js';
import { ridge } from '../linalg/ridge.js';
import { Linear, mlp, mseLoss, Sequential, type ActivationName, type Layer } from '../nn/index.js';
import { Adam } from '../optim/adam.js';
import { lrSchedule } from '../optim/schedule.js';
import { mape, powerLawFit } from '../metrics/regression-scores.js';
import { spearman } from '../alignment/common.js';
import { orbitWorld, type OrbitWorld } from '../worlds/orbits.js';
import { type Cell, type CellRun, checkSeeds, type ResultLine, type SweepProgress } from './runner.js';
import { aggregate, formatMeanStd, markdownTable } from './report.js';
import { finishReport, runExperiment, type ExperimentExecutor, type ExperimentRun } from './experiment.js';
import { scatterPlot } from './plots.js';

/**
 * PhyIP, "The Observer Effect in World Models: Invasive Adaptation Corrupts Latent Physics"
 * (docs/probing.md §4; no public code: this is the small, faithful version described there).
 *
 * World: Kepler two-body orbits (src/worlds/orbits.ts, leapfrog, μ = 1), observed as relative
 * positions every dt. In-distribution (ID) orbits have semi-major axis and eccentricity in one
 * range, out-of-distribution (OOD) orbits in another (wider, more eccentric orbits: smaller
 * forces, other speed-radius combinations).
 *
 * World model (self-supervised, no force labels): an MLP over a window of the last W positions
 * predicts the next one, x̂_{t+1} = 2x_t − x_{t−1} + dt²·â_t, i.e. its output â_t is trained by
 * MSE against the observed second difference (x_{t+1} − 2x_t + x_{t−1})/dt² (the parametrisation
 * of learned simulators). It is pretrained on unlabelled orbits (`pretrain`: ID and OOD element
 * ranges by default, as a world model pretrained on broad data; 'id' for ID orbits only) and
 * frozen. Its state h_t is the last hidden layer.
 *
 * Physical quantity: the gravitational force F = −r/|r|³ at the current position (|F| = 1/r²),
 * labelled on a small set of ID orbits only. Methods, all fitted on the same labelled set:
 *  - `frozen-linear` (PhyIP): a linear readout h_t → F shared across time (ridge, penalty by
 *    cross-validation over labelled orbits), the world model untouched;
 *  - `mlp-probe`: a high-capacity probe h_t → F (MLP, ReLU), the world model untouched;
 *  - `finetune`: the encoder and a new linear head trained jointly on the labelled set (the
 *    "invasive adaptation": the representation itself changes to fit the few labels).
 * Decoded |F̂| = ‖F̂‖ on OOD orbits: Spearman ρ with the true 1/r², MAPE (percent), and the
 * symbolic check: the exponent α of a power-law fit |F̂| ≈ C·r^α (Newton: α = −2).
 */

export const PHYIP_METHODS = ['frozen-linear', 'finetune', 'mlp-probe'] as const;
export type PhyipMethod = (typeof PHYIP_METHODS)[number];

export const PHYIP_METRICS = ['rho_ood', 'mape_ood', 'force_exponent', 'rho_id', 'mape_id', 'ssl_eps_ood'] as const;

/** The paper's headline (abstract): PhyIP OOD ρ > 0.90; adaptation-based ρ ≈ 0.05. */
export const PHYIP_PAPER = { rhoFrozen: 0.9, rhoAdaptation: 0.05 };

export interface PhyipConfig {
  seed: number;
  [key: string]: number;
}

export interface PhyipSettings {
  /** observations per orbit, time between them, leapfrog substeps */
  steps: number;
  dt: number;
  substeps: number;
  /** element ranges */
  idSemiMajor: [number, number];
  idEccentricity: [number, number];
  oodSemiMajor: [number, number];
  oodEccentricity: [number, number];
  /** unlabelled pretraining orbits: 'id+ood' draws `pretrainOrbits` from each range, 'id' from the ID range only */
  pretrain: 'id+ood' | 'id';
  pretrainOrbits: number;
  /** labelled ID orbits (the force is known on these only), held-out ID orbits, OOD orbits */
  labelledOrbits: number;
  testOrbits: number;
  oodOrbits: number;
  /** world model: window of positions, positions divided by this scale, hidden widths, activation, training */
  window: number;
  positionScale: number;
  hidden: number[];
  activation: ActivationName;
  epochs: number;
  batch: number;
  lr: number;
  /** frozen-linear: ridge penalties (relative to the mean squared state norm) and CV folds over labelled orbits */
  ridgeAlphas: number[];
  cvFolds: number;
  /** mlp-probe */
  probeHidden: number[];
  probeEpochs: number;
  probeLr: number;
  /** finetune */
  finetuneEpochs: number;
  finetuneLr: number;
  /** batch of the probe and the fine-tuning */
  labelledBatch: number;
}

export const PHYIP_QUICK_SETTINGS: PhyipSettings = {
  steps: 64, dt: 0.1, substeps: 20,
  idSemiMajor: [1, 2.5], idEccentricity: [0, 0.3], oodSemiMajor: [2.5, 3.5], oodEccentricity: [0.3, 0.5],
  pretrain: 'id+ood', pretrainOrbits: 400,
  labelledOrbits: 8, testOrbits: 100, oodOrbits: 200,
  window: 5, positionScale: 2, hidden: [128, 128], activation: 'gelu', epochs: 30, batch: 32, lr: 3e-3,
  ridgeAlphas: [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1], cvFolds: 4,
  probeHidden: [64, 64], probeEpochs: 150, probeLr: 1e-3,
  finetuneEpochs: 100, finetuneLr: 1e-3,
  labelledBatch: 32,
};

export const PHYIP_FULL_SETTINGS: PhyipSettings = { ...PHYIP_QUICK_SETTINGS, pretrainOrbits: 1000, epochs: 60, oodOrbits: 500, testOrbits: 200 };

export const PHYIP_PRESETS: Record<'quick' | 'full', { settings: PhyipSettings; seeds: number[] }> = {
  quick: { settings: PHYIP_QUICK_SETTINGS, seeds: [0] },
  full: { settings: PHYIP_FULL_SETTINGS, seeds: [0, 1, 2] },
};

export function isPhyipMethod(m: string): m is PhyipMethod {
  return (PHYIP_METHODS as readonly string[]).includes(m);
}

export function phyipCells(seeds: number[], methods: string[]): Cell[] {
  for (const m of methods) if (!isPhyipMethod(m)) fail('E_USAGE', `unknown method "${m}"; choose from ${PHYIP_METHODS.join(', ')}`);
  checkSeeds(seeds);
  const cells: Cell[] = [];
  for (const seed of seeds) for (const method of PHYIP_METHODS.filter((m) => methods.includes(m))) cells.push({ config: { seed }, method });
  return cells;
}

/* ---------------------------------------------------------------------------------------- */
/* Data: windows of positions, the self-supervised target and the force labels               */
/* ---------------------------------------------------------------------------------------- */

export interface OrbitWindows {
  /** [samples × 2W]: positions x_{t−W+1} … x_t (divided by the position scale) */
  inputs: Matrix;
  /** [samples × 2]: (x_{t+1} − 2x_t + x_{t−1})/dt², the self-supervised target */
  accel: Matrix;
  /** [samples × 2]: the true force F(x_t) = −x_t/|x_t|³ */
  force: Matrix;
  /** [samples]: |x_t| */
  radius: Float64Array;
  /** [samples]: the orbit each window comes from */
  orbit: Int32Array;
}

/** Every window of `W` positions that has a next observation, orbit by orbit (T − W per orbit). */
export function orbitWindows(w: OrbitWorld, W: number, scale: number): OrbitWindows {
  const T = w.steps;
  if (!Number.isInteger(W) || W < 2 || W >= T) fail('E_ARG', `orbitWindows: the window must be an integer in [2, ${T - 1}], got ${W}`);
  const per = T - W;
  const n = w.orbits * per;
  const inputs = new Matrix(n, 2 * W), accel = new Matrix(n, 2), force = new Matrix(n, 2);
  const radius = new Float64Array(n), orbit = new Int32Array(n);
  const P = w.positions;
  for (let o = 0; o < w.orbits; o++) {
    for (let k = 0; k < per; k++) {
      const t = W - 1 + k;
      const i = o * per + k;
      const base = o * T;
      for (let j = 0; j < W; j++) {
        inputs.data[i * 2 * W + 2 * j] = P[2 * (base + t - W + 1 + j)] / scale;
        inputs.data[i * 2 * W + 2 * j + 1] = P[2 * (base + t - W + 1 + j) + 1] / scale;
      }
      for (let c = 0; c < 2; c++) {
        accel.data[2 * i + c] = (P[2 * (base + t + 1) + c] - 2 * P[2 * (base + t) + c] + P[2 * (base + t - 1) + c]) / (w.dt * w.dt);
        force.data[2 * i + c] = w.forces[2 * (base + t) + c];
      }
      radius[i] = w.radius[base + t];
      orbit[i] = o;
    }
  }
  return { inputs, accel, force, radius, orbit };
}

/* ---------------------------------------------------------------------------------------- */
/* Training                                                                                  */
/* ---------------------------------------------------------------------------------------- */

/**
 * Minibatch MSE training of `net` (X → Y) with Adam; the learning rate follows `schedule`
 * (cosine to 0 over all steps, or constant). Each epoch visits the rows in a fresh order.
 * Returns the mean training loss of each epoch.
 */
export function fitMse(
  net: Layer, X: Matrix, Y: Matrix,
  o: { epochs: number; batch: number; lr: number; schedule?: 'cosine' | 'constant'; rng: Rng; signal?: AbortSignal; onEpoch?: (epoch: number, loss: number) => void },
): number[] {
  const n = X.rows;
  if (Y.rows !== n) fail('E_SHAPE', `fitMse: ${n} inputs but ${Y.rows} targets`);
  const params = net.params();
  const adam = new Adam(params.map((p) => p.param));
  const grads = params.map((p) => p.grad);
  const perEpoch = Math.ceil(n / o.batch);
  const lrAt = lrSchedule({ kind: o.schedule ?? 'cosine', lr: o.lr, totalSteps: Math.max(1, o.epochs * perEpoch) });
  const losses: number[] = [];
  let step = 0;
  for (let ep = 0; ep < o.epochs; ep++) {
    checkAborted(o.signal);
    const order = o.rng.permutation(n);
    let total = 0;
    for (let b = 0; b < n; b += o.batch) {
      const rows = order.subarray(b, Math.min(n, b + o.batch));
      const xb = X.takeRows(rows), yb = Y.takeRows(rows);
      for (const p of params) p.grad.fill(0);
      const loss = mseLoss(net.forward(xb, true), yb);
      net.backward(loss.grad, false);
      adam.step(grads, lrAt(step++));
      total += loss.value * rows.length;
    }
    losses.push(total / n);
    o.onEpoch?.(ep, total / n);
  }
  return losses;
}

/** Forward `X` through `net` in evaluation mode, in blocks, into a new matrix. */
export function predict(net: Layer, X: Matrix, block = 4096): Matrix {
  let out: Matrix | null = null;
  for (let s = 0; s < X.rows; s += block) {
    const y = net.forward(X.rowSlice(s, Math.min(X.rows, s + block)), false);
    out ??= new Matrix(X.rows, y.cols);
    out.data.set(y.data, s * y.cols);
  }
  return out ?? new Matrix(0, 0);
}

/** The world model: encoder (window → state h) and head (h → acceleration). */
export interface WorldModel {
  encoder: Sequential;
  head: Linear;
  settings: PhyipSettings;
  losses: number[];
}

export function buildEncoder(s: PhyipSettings, rng: Rng): Sequential {
  return mlp({ sizes: [2 * s.window, ...s.hidden], activation: s.activation, outputActivation: s.activation, rng });
}

/** Pretrain the world model on unlabelled windows (self-supervised next-step prediction). */
export function pretrainWorldModel(data: OrbitWindows, s: PhyipSettings, rng: Rng, o: { signal?: AbortSignal; note?: (m: string) => void } = {}): WorldModel {
  const encoder = buildEncoder(s, rng.fork('encoder'));
  const head = new Linear(s.hidden[s.hidden.length - 1], 2, { rng: rng.fork('head') });
  const net = new Sequential([encoder, head]);
  let last = Date.now();
  const t0 = Date.now();
  const losses = fitMse(net, data.inputs, data.accel, {
    epochs: s.epochs, batch: s.batch, lr: s.lr, schedule: 'cosine', rng: rng.fork('batches'), signal: o.signal,
    onEpoch: (ep, loss) => {
      if (o.note && Date.now() - last > 30000) {
        last = Date.now();
        const per = (Date.now() - t0) / 1000 / (ep + 1);
        o.note(`world model epoch ${ep + 1}/${s.epochs}, loss ${loss.toExponential(3)}, ${per.toFixed(1)} s/epoch, about ${Math.round(per * (s.epochs - ep - 1))} s left`);
      }
    },
  });
  return { encoder, head, settings: s, losses };
}

/** A copy of an encoder (same architecture, same weights). */
function cloneEncoder(enc: Sequential, s: PhyipSettings): Sequential {
  const c = buildEncoder(s, new Rng(0));
  const src = enc.params();
  c.params().forEach((p, i) => p.param.set(src[i].param));
  return c;
}

/* ---------------------------------------------------------------------------------------- */
/* One seed's state: worlds, the pretrained world model, frozen states                       */
/* ---------------------------------------------------------------------------------------- */

export interface PhyipState {
  model: WorldModel;
  labelled: OrbitWindows;
  test: OrbitWindows;
  ood: OrbitWindows;
  /** frozen states of each set */
  H: { labelled: Matrix; test: Matrix; ood: Matrix };
  stats: Record<string, number>;
}

function worlds(seed: number, s: PhyipSettings) {
  const common = { steps: s.steps, dt: s.dt, substeps: s.substeps };
  const id = { semiMajor: s.idSemiMajor, eccentricity: s.idEccentricity };
  const ood = { semiMajor: s.oodSemiMajor, eccentricity: s.oodEccentricity };
  const pre = [orbitWorld({ ...common, ...id, orbits: s.pretrainOrbits, seed: `${seed}:pretrain-id` })];
  if (s.pretrain === 'id+ood') pre.push(orbitWorld({ ...common, ...ood, orbits: s.pretrainOrbits, seed: `${seed}:pretrain-ood` }));
  return {
    pretrain: pre,
    labelled: orbitWorld({ ...common, ...id, orbits: s.labelledOrbits, seed: `${seed}:labelled` }),
    test: orbitWorld({ ...common, ...id, orbits: s.testOrbits, seed: `${seed}:test` }),
    ood: orbitWorld({ ...common, ...ood, orbits: s.oodOrbits, seed: `${seed}:ood` }),
  };
}

function concatWindows(parts: OrbitWindows[]): OrbitWindows {
  const rows = parts.reduce((a, p) => a + p.inputs.rows, 0);
  const cols = parts[0].inputs.cols;
  const out: OrbitWindows = {
    inputs: new Matrix(rows, cols), accel: new Matrix(rows, 2), force: new Matrix(rows, 2), radius: new Float64Array(rows), orbit: new Int32Array(rows),
  };
  let r = 0, o = 0;
  for (const p of parts) {
    out.inputs.data.set(p.inputs.data, r * cols);
    out.accel.data.set(p.accel.data, r * 2);
    out.force.data.set(p.force.data, r * 2);
    out.radius.set(p.radius, r);
    for (let i = 0; i < p.orbit.length; i++) out.orbit[r + i] = p.orbit[i] + o;
    o += p.orbit.length ? p.orbit[p.orbit.length - 1] + 1 : 0;
    r += p.inputs.rows;
  }
  return out;
}

/** Normalised squared error of predicted accelerations: Σ‖â − a‖² / Σ‖a‖². */
function nmse(pred: Matrix, truth: Matrix): number {
  let e = 0, t = 0;
  for (let i = 0; i < truth.data.length; i++) {
    e += (pred.data[i] - truth.data[i]) ** 2;
    t += truth.data[i] ** 2;
  }
  return e / t;
}

export function buildPhyipState(seed: number, s: PhyipSettings, o: { signal?: AbortSignal; note?: (m: string) => void } = {}): PhyipState {
  const w = worlds(seed, s);
  const pre = concatWindows(w.pretrain.map((x) => orbitWindows(x, s.window, s.positionScale)));
  const labelled = orbitWindows(w.labelled, s.window, s.positionScale);
  const test = orbitWindows(w.test, s.window, s.positionScale);
  const ood = orbitWindows(w.ood, s.window, s.positionScale);
  const t0 = performance.now();
  const model = pretrainWorldModel(pre, s, new Rng(`${seed}:world-model`), o);
  const net = new Sequential([model.encoder, model.head]);
  const stats: Record<string, number> = {
    ssl_seconds: (performance.now() - t0) / 1000,
    ssl_loss: model.losses[model.losses.length - 1],
    ssl_eps_id: nmse(predict(net, test.inputs), test.accel),
    ssl_eps_ood: nmse(predict(net, ood.inputs), ood.accel),
    labelled_samples: labelled.inputs.rows,
  };
  const H = { labelled: predict(model.encoder, labelled.inputs), test: predict(model.encoder, test.inputs), ood: predict(model.encoder, ood.inputs) };
  return { model, labelled, test, ood, H, stats };
}

/* ---------------------------------------------------------------------------------------- */
/* The three ways to read the force out                                                     */
/* ---------------------------------------------------------------------------------------- */

/** A decoder from a set of windows (and their frozen states) to force vectors [n × 2]. */
type Decoder = (set: 'test' | 'ood') => Matrix;

/**
 * Ridge from frozen states to force vectors with an intercept; the penalty α·(mean squared
 * centred state norm / d) is chosen by k-fold cross-validation over labelled orbits.
 */
export function frozenLinear(st: PhyipState, s: PhyipSettings): { decode: Decoder; alpha: number } {
  const H = st.H.labelled, Y = st.labelled.force, orbit = st.labelled.orbit;
  const n = H.rows, d = H.cols;
  let ss = 0;
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += H.data[i * d + j] / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) ss += (H.data[i * d + j] - mean[j]) ** 2;
  const scale = ss / d;
  const orbits = s.labelledOrbits;
  const k = Math.min(s.cvFolds, orbits);
  let best = { err: Infinity, alpha: s.ridgeAlphas[0] };
  if (k >= 2 && s.ridgeAlphas.length > 1) {
    for (const a of s.ridgeAlphas) {
      let err = 0;
      for (let f = 0; f < k; f++) {
        const tr: number[] = [], te: number[] = [];
        for (let i = 0; i < n; i++) (orbit[i] % k === f ? te : tr).push(i);
        const fit = ridge(H.takeRows(tr), Y.takeRows(tr), a * scale);
        const P = applyLinear(H.takeRows(te), fit.W, fit.intercept);
        const Yt = Y.takeRows(te);
        for (let i = 0; i < P.data.length; i++) err += (P.data[i] - Yt.data[i]) ** 2;
      }
      if (err < best.err) best = { err, alpha: a };
    }
  }
  const fit = ridge(H, Y, best.alpha * scale);
  return { decode: (set) => applyLinear(st.H[set], fit.W, fit.intercept), alpha: best.alpha };
}

function applyLinear(X: Matrix, W: Float64Array, b: Float64Array): Matrix {
  const d = X.cols, t = b.length;
  const out = new Matrix(X.rows, t);
  for (let i = 0; i < X.rows; i++) {
    for (let c = 0; c < t; c++) {
      let v = b[c];
      for (let j = 0; j < d; j++) v += X.data[i * d + j] * W[j * t + c];
      out.data[i * t + c] = v;
    }
  }
  return out;
}

/** A ReLU MLP probe h → F trained on the labelled states (the world model stays frozen). */
export function mlpProbe(st: PhyipState, s: PhyipSettings, rng: Rng, signal?: AbortSignal): { decode: Decoder; loss: number } {
  const net = mlp({ sizes: [st.H.labelled.cols, ...s.probeHidden, 2], activation: 'relu', rng: rng.fork('init') });
  const losses = fitMse(net, st.H.labelled, st.labelled.force, { epochs: s.probeEpochs, batch: s.labelledBatch, lr: s.probeLr, schedule: 'constant', rng: rng.fork('batches'), signal });
  return { decode: (set) => predict(net, st.H[set]), loss: losses[losses.length - 1] };
}

/** Invasive adaptation: a copy of the encoder and a new linear head trained jointly on the labelled windows. */
export function finetune(st: PhyipState, s: PhyipSettings, rng: Rng, signal?: AbortSignal): { decode: Decoder; loss: number; drift: number } {
  const enc = cloneEncoder(st.model.encoder, s);
  const head = new Linear(s.hidden[s.hidden.length - 1], 2, { rng: rng.fork('head') });
  const net = new Sequential([enc, head]);
  const losses = fitMse(net, st.labelled.inputs, st.labelled.force, { epochs: s.finetuneEpochs, batch: s.labelledBatch, lr: s.finetuneLr, schedule: 'constant', rng: rng.fork('batches'), signal });
  // how far the representation moved on OOD windows: relative change of the states
  const Hn = predict(enc, st.ood.inputs), H0 = st.H.ood;
  let num = 0, den = 0;
  for (let i = 0; i < Hn.data.length; i++) {
    num += (Hn.data[i] - H0.data[i]) ** 2;
    den += H0.data[i] ** 2;
  }
  const sets = { test: st.test.inputs, ood: st.ood.inputs };
  return { decode: (set) => predict(net, sets[set]), loss: losses[losses.length - 1], drift: Math.sqrt(num / den) };
}

function norms(F: Matrix): Float64Array {
  const out = new Float64Array(F.rows);
  for (let i = 0; i < F.rows; i++) out[i] = Math.hypot(F.data[2 * i], F.data[2 * i + 1]);
  return out;
}

/** ρ, MAPE (percent) and the fitted exponent of |F̂| against r on one set. */
export function forceScores(decoded: Matrix, truth: OrbitWindows): { rho: number; mape: number; exponent: number; r2: number } {
  const fhat = norms(decoded), f = norms(truth.force);
  const fit = powerLawFit(truth.radius, fhat);
  return { rho: spearman(fhat, f), mape: 100 * mape(fhat, f), exponent: fit.exponent, r2: fit.r2 };
}

/** Log-spaced radius bins of the decoded force law (metrics law_f_00 … and the report's plot). */
export const LAW_BINS = { lo: 0.5, hi: 6, count: 16 };

export function lawBinCentre(b: number): number {
  const { lo, hi, count } = LAW_BINS;
  return lo * (hi / lo) ** ((b + 0.5) / count);
}

/** Mean decoded |F̂| per radius bin over the given sets (bins without samples are left out). */
export function binnedLaw(fhat: Float64Array[], radius: Float64Array[]): Record<string, number> {
  const { lo, hi, count } = LAW_BINS;
  const sum = new Float64Array(count), n = new Float64Array(count);
  fhat.forEach((f, k) => {
    for (let i = 0; i < f.length; i++) {
      const b = Math.floor((Math.log(radius[k][i] / lo) / Math.log(hi / lo)) * count);
      if (b < 0 || b >= count) continue;
      sum[b] += f[i];
      n[b]++;
    }
  });
  const out: Record<string, number> = {};
  for (let b = 0; b < count; b++) if (n[b] > 0) out[`law_f_${String(b).padStart(2, '0')}`] = sum[b] / n[b];
  return out;
}

export async function runPhyipCell(config: PhyipConfig, method: string, s: PhyipSettings, cache: Map<string, unknown> = new Map(), signal?: AbortSignal, run?: CellRun): Promise<Record<string, number>> {
  if (!isPhyipMethod(method)) fail('E_ARG', `unknown method "${method}"; choose from ${PHYIP_METHODS.join(', ')}`);
  checkAborted(signal);
  let st = cache.get('state') as PhyipState | undefined;
  if (!st) {
    st = buildPhyipState(config.seed, s, { signal, note: run?.note });
    cache.set('state', st);
  }
  const rng = new Rng(`${config.seed}:${method}`);
  const extra: Record<string, number> = {};
  let decode: Decoder;
  if (method === 'frozen-linear') {
    const r = frozenLinear(st, s);
    decode = r.decode;
    extra.ridge_alpha = r.alpha;
  } else if (method === 'mlp-probe') {
    const r = mlpProbe(st, s, rng, signal);
    decode = r.decode;
    extra.train_loss = r.loss;
  } else {
    const r = finetune(st, s, rng, signal);
    decode = r.decode;
    extra.train_loss = r.loss;
    extra.state_drift_ood = r.drift;
  }
  const Food = decode('ood'), Fid = decode('test');
  const ood = forceScores(Food, st.ood);
  const id = forceScores(Fid, st.test);
  return {
    rho_ood: ood.rho, mape_ood: ood.mape, force_exponent: ood.exponent, force_fit_r2: ood.r2,
    rho_id: id.rho, mape_id: id.mape, force_exponent_id: id.exponent,
    ...extra, ...st.stats,
    ...binnedLaw([norms(Fid), norms(Food)], [st.test.radius, st.ood.radius]),
  };
}

export interface PhyipOptions {
  out: string;
  preset?: 'quick' | 'full';
  seeds?: number[];
  methods?: string[];
  settings?: Partial<PhyipSettings>;
  signal?: AbortSignal;
  onProgress?: (p: SweepProgress) => void;
  onNote?: (message: string) => void;
  executor?: ExperimentExecutor;
}

export async function runPhyip(o: PhyipOptions): Promise<ExperimentRun<PhyipSettings>> {
  return runExperiment({
    name: 'phyip',
    presets: PHYIP_PRESETS,
    cells: (preset) => phyipCells(o.seeds?.length ? o.seeds : preset.seeds, o.methods?.length ? o.methods : [...PHYIP_METHODS]),
    runCell: runPhyipCell,
    writeReport: writePhyipReport,
  }, { ...o, overrides: o.settings });
}

const LABELS: Record<string, string> = {
  'frozen-linear': 'frozen world model + linear readout (PhyIP)',
  finetune: 'fine-tuned encoder + linear head (invasive)',
  'mlp-probe': 'frozen world model + MLP probe (high capacity)',
};

export function writePhyipReport(dir: string, lines: ResultLine[], o: { settings?: PhyipSettings; preset?: string } = {}): string {
  const rows = aggregate(lines);
  const methods = PHYIP_METHODS.filter((m) => rows.some((r) => r.method === m));
  const md: string[] = [];
  md.push('# PhyIP (the observer effect in world models) on Kepler orbits — reproduction report', '');
  md.push('Protocol: docs/probing.md §4. A next-step world model is pretrained on unlabelled orbits and frozen; the force');
  md.push('vector F = −r/|r|³ is known on a few ID orbits only; each method is fitted there and decodes |F| on OOD orbits (larger, more');
  md.push('eccentric). ρ = Spearman between decoded and true |F|; MAPE in percent; force_exponent = α of |F̂| ≈ C·r^α on OOD (Newton: −2).');
  if (o.preset) md.push(`Preset: \`${o.preset}\`.`);
  md.push(`Paper (abstract): PhyIP OOD ρ > ${PHYIP_PAPER.rhoFrozen} (energy, 1/r²); adaptation-based evaluation ρ ≈ ${PHYIP_PAPER.rhoAdaptation}.`, '');
  md.push(`Results: ${lines.length} lines in results.jsonl; mean ± sample std over seeds.`, '');
  const metrics = ['rho_ood', 'mape_ood', 'force_exponent', 'rho_id', 'mape_id', 'force_exponent_id'];
  md.push(markdownTable(['method', 'seeds', ...metrics], methods.map((m) => {
    const r = rows.find((x) => x.method === m)!;
    return [LABELS[m], String(r.seeds.length), ...metrics.map((k) => formatMeanStd(r.mean[k], r.std[k], k.startsWith('mape') ? 1 : 3))];
  }), ['l', 'r', ...metrics.map(() => 'r' as const)]), '');
  const any = rows[0];
  if (any) {
    md.push('## World model', '');
    const e = (k: string) => (Number.isFinite(any.mean[k]) ? `${any.mean[k].toExponential(2)}${any.std[k] > 0 ? ` ± ${any.std[k].toExponential(1)}` : ''}` : '—');
    md.push(`Self-supervised error ε = Σ‖â − a‖²/Σ‖a‖² of the predicted acceleration (next-step prediction): ID ${e('ssl_eps_id')},`);
    md.push(`OOD ${e('ssl_eps_ood')}; pretraining ${formatMeanStd(any.mean.ssl_seconds, any.std.ssl_seconds, 0)} s.`, '');
    const ft = rows.find((x) => x.method === 'finetune');
    if (ft?.mean.state_drift_ood !== undefined) md.push(`Fine-tuning moved the OOD states by ${formatMeanStd(ft.mean.state_drift_ood, ft.std.state_drift_ood)} (relative Frobenius change).`, '');
  }
  const plots: string[] = [];
  // the decoded force law: mean |F̂| per radius bin (held-out ID and OOD windows) against 1/r²
  const series = methods.map((m) => {
    const r = rows.find((x) => x.method === m)!;
    const xs: number[] = [], ys: number[] = [];
    for (let b = 0; b < LAW_BINS.count; b++) {
      const v = r.mean[`law_f_${String(b).padStart(2, '0')}`];
      if (v !== undefined && v > 0) {
        xs.push(lawBinCentre(b));
        ys.push(v);
      }
    }
    return { name: m, x: xs, y: ys };
  }).filter((x) => x.x.length > 0);
  if (series.length) {
    const file = 'force_law.svg';
    writeFileAtomic(join(dir, file), scatterPlot({
      series, logX: true, logY: true, lines: [{ name: 'Newton: 1/r²', coefficient: 1, power: -2, color: '#000000' }],
      title: 'Decoded force magnitude vs radius (mean per bin; held-out ID and OOD orbits)', xLabel: 'r', yLabel: '|F̂|',
    }));
    plots.push(file);
    if (o.settings) md.push(`OOD orbits have r in [${(o.settings.oodSemiMajor[0] * (1 - o.settings.oodEccentricity[1])).toFixed(2)}, ${(o.settings.oodSemiMajor[1] * (1 + o.settings.oodEccentricity[1])).toFixed(2)}]; labelled ID orbits r in [${(o.settings.idSemiMajor[0] * (1 - o.settings.idEccentricity[1])).toFixed(2)}, ${(o.settings.idSemiMajor[1] * (1 + o.settings.idEccentricity[1])).toFixed(2)}].`, '');
    md.push(`![decoded force law](${file})`, '');
  }
  return finishReport(dir, md, { lines, settings: o.settings, plots });
}
