import { join } from 'node:path';
import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng } from '../core/rng.js';
import { checkAborted } from '../core/validate.js';
import { ridge } from '../linalg/ridge.js';
import { Adam } from '../optim/adam.js';
import { mlp, mseLoss, Sequential } from '../nn/index.js';
import { writeFileAtomic } from '../io/atomic.js';
import { SCM_REGIMES, SCM_VARIABLES, ScmWorld, latentColumn, scmTarget, type ScmIntervention, type ScmNoise, type ScmRegime, type ScmVariable } from '../worlds/scm.js';
import { createSAE } from '../dictionary/sae/index.js';
import { checkClaims, type ClaimRecord } from '../metrics/claims.js';
import { type Cell, checkSeeds, configKey, type ResultLine, type SweepProgress } from './runner.js';
import { aggregate, formatMeanStd, markdownTable, summaryTable } from './report.js';
import { linePlot } from './svg.js';
import { finishReport, runExperiment, type ExperimentRun } from './experiment.js';

/**
 * "Causality is Key for Interpretability Claims to Generalise" (arXiv 2602.16698; PROTOCOLS.md
 * §8.2), the small faithful version: a structural causal model with known latent variables
 * (src/worlds/scm.ts: c → s, g, n; x a noisy mixture; y = c + g + c·g/2) feeds a small MLP
 * x → h (hidden ReLU layer, the representation studied) → ReLU → ŷ, trained in distribution.
 * An analyst gathers evidence about how each latent variable V drives the output, at each rung,
 * on an in-distribution analysis set; each finding is then checked against the SCM's ground
 * truth (the network's output under the corresponding intervention on V, descendants recomputed
 * with the same exogenous noises) on held-out in-distribution units (`holds_id`) and under a
 * shift (`holds_ood`: μ_c 0 → 1.5 and the mechanism c → s switched off; the two shifts alone are
 * `holds_mech`, `holds_cov`).
 *
 * Findings, per variable V ∈ {c, s, g, n}:
 *  - rung 1 (association, observational analysis data): `correlation`: the slope of ŷ on V;
 *    `probe`: the slope of ŷ on a ridge probe's reading of V from h. Each is read as "raising V
 *    by 1 changes the output by β on average"; truth: E[f(x(do(V := V + 1))) − f(x)].
 *  - rung 2 (interventions on h, averaged over the analysis set): the steering vector
 *    u_V = mean h(x(do(V := V + 1))) − h(x) (contrast pairs); `steering`: h + u_V;
 *    `patching`: the component of h along û_V patched in from the contrast input;
 *    `ablation`: the component along û_V mean-ablated (truth: do(V := mean of V in the analysis
 *    set)); `steering-sae`: h moved along the decoder row of the TopK SAE latent (trained on h)
 *    best aligned with u_V, by u_V's projection on it. Finding: the average output change.
 *  - rung 3 (per-input counterfactuals): the analyst's causal model, fitted in distribution with
 *    the latent labels (controlled supervision): a linear map from the latents to h (ridge), the
 *    mechanism c → s (least squares), the graph known. For each unit and V, do(V := V ± 1): the
 *    predicted h' = h + Δv·D (descendants through the fitted mechanism), output f_top(h') vs the
 *    SCM's counterfactual f(x_cf). `avg-as-cf` (reported beside it, not a rung-3 method): the
 *    rung-2 steering effect used as every unit's counterfactual (what rung-2 evidence licenses).
 * A finding holds when |estimate − truth| <= tolAbs·sd(ŷ) + tolRel·|truth change| (sd over the
 * in-distribution test units). Fields: `holds_id`, `holds_ood`, `holds_mech`, `holds_cov` (fraction
 * of findings that hold), `err_id`, `err_ood` (mean |estimate − truth| / sd(ŷ)), and per method
 * `holds_id_<m>`, `holds_ood_<m>`. The network's fit: `net_r2_id`, `net_r2_ood`.
 */

export const RUNG_METHODS = ['rung-1', 'rung-2', 'rung-3'] as const;
export type RungMethod = (typeof RUNG_METHODS)[number];
export const RUNG_SUBMETHODS: Record<RungMethod, readonly string[]> = {
  'rung-1': ['correlation', 'probe'],
  'rung-2': ['steering', 'patching', 'ablation', 'steering-sae'],
  'rung-3': ['counterfactual', 'input-counterfactual'],
};
export const CAUSAL_RUNGS_METRICS = ['holds_id', 'holds_ood', 'holds_mech', 'holds_cov', 'err_id', 'err_ood', 'net_r2_id', 'net_r2_ood'] as const;
const SHIFTS = { ood: SCM_REGIMES.ood, mech: SCM_REGIMES['ood-mechanism'], cov: SCM_REGIMES['ood-covariate'] } as const;
type ShiftName = keyof typeof SHIFTS;

export interface CausalRungsConfig {
  seed: number;
  [key: string]: number;
}

export interface CausalRungsSettings {
  /** observation dimension */
  dim: number;
  /** width of the two hidden layers */
  hidden: number;
  /** in-distribution training units, Adam steps, batch, learning rate */
  trainSamples: number;
  steps: number;
  batch: number;
  lr: number;
  /** in-distribution analysis set (where the analyst measures), test sets (ID and each shift) */
  analysisSamples: number;
  testSamples: number;
  /** ridge penalty of probes and of the latents → h map */
  ridge: number;
  /** TopK SAE on h: latents, k, steps */
  saeLatents: number;
  saeK: number;
  saeSteps: number;
  /** rung 3: Adam steps of the MLP decoder latents → h */
  decoderSteps: number;
  /** tolerance: |estimate − truth| <= tolAbs·sd(ŷ) + tolRel·|truth| */
  tolAbs: number;
  tolRel: number;
}

export const CAUSAL_RUNGS_QUICK: CausalRungsSettings = {
  dim: 8,
  hidden: 32,
  trainSamples: 20000,
  steps: 3000,
  batch: 256,
  lr: 3e-3,
  analysisSamples: 4000,
  testSamples: 2000,
  ridge: 1e-2,
  saeLatents: 32,
  saeK: 4,
  saeSteps: 2000,
  decoderSteps: 2000,
  tolAbs: 0.1,
  tolRel: 0.2,
};

export const CAUSAL_RUNGS_FULL: CausalRungsSettings = {
  ...CAUSAL_RUNGS_QUICK,
  trainSamples: 50000,
  steps: 10000,
  lr: 1e-3,
  analysisSamples: 10000,
  testSamples: 5000,
  saeSteps: 6000,
  decoderSteps: 6000,
};

export const CAUSAL_RUNGS_PRESETS: Record<'quick' | 'full', { settings: CausalRungsSettings; seeds: number[] }> = {
  quick: { settings: CAUSAL_RUNGS_QUICK, seeds: [0, 1, 2, 3, 4] },
  full: { settings: CAUSAL_RUNGS_FULL, seeds: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] },
};

export function causalRungsCells(seeds: number[], methods: string[]): Cell[] {
  checkSeeds(seeds);
  for (const m of methods) if (!(RUNG_METHODS as readonly string[]).includes(m)) fail('E_USAGE', `unknown method "${m}"; choose from ${RUNG_METHODS.join(', ')}`);
  const ordered = RUNG_METHODS.filter((m) => methods.includes(m));
  if (!ordered.length) fail('E_USAGE', `no methods to run; name at least one of ${RUNG_METHODS.join(', ')}`);
  const cells: Cell[] = [];
  for (const seed of seeds) {
    const config: CausalRungsConfig = { seed };
    for (const method of ordered) cells.push({ config, method, group: configKey(config) });
  }
  return cells;
}

/* ---------------------------------------------------------------------------------------- */
/* The world, the network, the data sets (shared by the three rungs of a seed)              */
/* ---------------------------------------------------------------------------------------- */

interface DataSet {
  regime: ScmRegime;
  noise: ScmNoise;
  v: Float64Array;
  X: Matrix;
  /** network activations at the studied layer and outputs */
  H: Matrix;
  yhat: Float64Array;
}

/** The trained network split at the studied layer: f = top ∘ bottom. */
export interface SplitNet {
  net: Sequential;
  /** x → h (a copy) */
  bottom(X: Matrix): Matrix;
  /** h → ŷ (float64 copy) */
  top(H: Matrix): Float64Array;
}

interface RungsState {
  world: ScmWorld;
  net: SplitNet;
  analysis: DataSet;
  test: Record<'id' | ShiftName, DataSet>;
  /** sd of ŷ on the in-distribution test units */
  sdY: number;
  stats: Record<string, number>;
  /** rung-2 steering vectors per variable (from the analysis set) and their effects, for avg-as-cf */
  steer?: Map<ScmVariable, { u: Float32Array; effect: number }>;
}

/** Train the MLP x → h → ReLU → ŷ (sizes [dim, hidden, hidden, 1]) on in-distribution units with Adam + MSE. */
export async function trainRungsNet(
  X: Matrix, y: Matrix, s: Pick<CausalRungsSettings, 'hidden' | 'steps' | 'batch' | 'lr'>, seed: string, signal?: AbortSignal,
): Promise<{ net: SplitNet; finalLoss: number }> {
  const { net, finalLoss } = await trainMlp(X, y, [X.cols, s.hidden, s.hidden, 1], s, seed, signal);
  return { net: splitNet(net), finalLoss };
}

/** Split [Linear, ReLU, Linear, ReLU, Linear] after the first ReLU. */
export function splitNet(net: Sequential): SplitNet {
  if (net.layers.length !== 5) fail('E_ARG', `splitNet expects [Linear, ReLU, Linear, ReLU, Linear], got ${net.layers.length} layers`);
  const lo = new Sequential(net.layers.slice(0, 2));
  const hi = new Sequential(net.layers.slice(2));
  return {
    net,
    bottom: (X) => lo.forward(X, false).clone(),
    top: (H) => Float64Array.from(hi.forward(H, false).data),
  };
}

function makeSet(world: ScmWorld, net: SplitNet, rows: number, regime: ScmRegime, rng: Rng): DataSet {
  const d = world.draw(rows, regime, rng);
  const H = net.bottom(d.X);
  return { regime, noise: d.noise, v: d.v, X: d.X, H, yhat: net.top(H) };
}

/** The network's outputs on the same units under an intervention (descendants recomputed). */
function outputsUnder(world: ScmWorld, net: SplitNet, set: DataSet, iv: ScmIntervention): { yhat: Float64Array; H: Matrix; v: Float64Array } {
  const v = world.latents(set.noise, set.regime, iv);
  const H = net.bottom(world.observe(v, set.noise));
  return { yhat: net.top(H), H, v };
}

function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return a.length ? s / a.length : NaN;
}

function slope(y: ArrayLike<number>, x: ArrayLike<number>): number {
  const my = mean(y), mx = mean(x);
  let sxy = 0, sxx = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
  }
  return sxx > 0 ? sxy / sxx : 0;
}

function r2(yhat: Float64Array, v: Float64Array, gamma: number): number {
  const n = yhat.length;
  let m = 0;
  for (let i = 0; i < n; i++) m += scmTarget(v[i * 4], v[i * 4 + 2], gamma);
  m /= n;
  let ss = 0, st = 0;
  for (let i = 0; i < n; i++) {
    const y = scmTarget(v[i * 4], v[i * 4 + 2], gamma);
    ss += (y - yhat[i]) ** 2;
    st += (y - m) ** 2;
  }
  return 1 - ss / st;
}

async function buildState(c: CausalRungsConfig, s: CausalRungsSettings, signal?: AbortSignal): Promise<RungsState> {
  const root = new Rng(`causal-rungs:${c.seed}`);
  const world = new ScmWorld({ dim: s.dim, seed: `causal-rungs:world:${c.seed}` });
  const train = world.draw(s.trainSamples, SCM_REGIMES.id, root.fork('train'));
  const { net, finalLoss } = await trainRungsNet(train.X, train.y, s, `causal-rungs:net:${c.seed}`, signal);
  const analysis = makeSet(world, net, s.analysisSamples, SCM_REGIMES.id, root.fork('analysis'));
  const test = {
    id: makeSet(world, net, s.testSamples, SCM_REGIMES.id, root.fork('test:id')),
    ood: makeSet(world, net, s.testSamples, SHIFTS.ood, root.fork('test:ood')),
    mech: makeSet(world, net, s.testSamples, SHIFTS.mech, root.fork('test:mech')),
    cov: makeSet(world, net, s.testSamples, SHIFTS.cov, root.fork('test:cov')),
  };
  const my = mean(test.id.yhat);
  let ss = 0;
  for (const v of test.id.yhat) ss += (v - my) ** 2;
  const sdY = Math.sqrt(ss / Math.max(1, test.id.yhat.length - 1));
  return {
    world, net, analysis, test, sdY,
    stats: { net_loss: finalLoss, net_r2_id: r2(test.id.yhat, test.id.v, world.interaction), net_r2_ood: r2(test.ood.yhat, test.ood.v, world.interaction) },
  };
}

/* ---------------------------------------------------------------------------------------- */
/* Findings and their scoring                                                                */
/* ---------------------------------------------------------------------------------------- */

/** An average-effect finding: the analyst's estimate of the mean output change under an intervention. */
interface AvgFinding {
  method: string;
  variable: ScmVariable;
  estimate: number;
  /** the input-level intervention the finding speaks about, per test set (its truth) */
  intervention: (set: DataSet) => ScmIntervention;
}

const SET_NAMES = ['id', 'ood', 'mech', 'cov'] as const;
type SetName = (typeof SET_NAMES)[number];

function truthOf(st: RungsState, f: AvgFinding, set: DataSet): number {
  const under = outputsUnder(st.world, st.net, set, f.intervention(set));
  let s = 0;
  for (let i = 0; i < under.yhat.length; i++) s += under.yhat[i] - set.yhat[i];
  return s / under.yhat.length;
}

function scoreAvg(st: RungsState, s: CausalRungsSettings, findings: AvgFinding[]): Record<string, number> {
  const out: Record<string, number> = {};
  const perSet: Record<SetName, { holds: number; err: number }> = { id: { holds: 0, err: 0 }, ood: { holds: 0, err: 0 }, mech: { holds: 0, err: 0 }, cov: { holds: 0, err: 0 } };
  const perMethod = new Map<string, Record<SetName, number>>();
  for (const f of findings) {
    let pm = perMethod.get(f.method);
    if (!pm) perMethod.set(f.method, (pm = { id: 0, ood: 0, mech: 0, cov: 0 }));
    for (const name of SET_NAMES) {
      const truth = truthOf(st, f, st.test[name]);
      const err = Math.abs(f.estimate - truth);
      const holds = err <= s.tolAbs * st.sdY + s.tolRel * Math.abs(truth) ? 1 : 0;
      perSet[name].holds += holds;
      perSet[name].err += err / st.sdY;
      pm[name] += holds;
      out[`truth_${name}_${f.method}_${f.variable}`] = truth;
    }
    out[`est_${f.method}_${f.variable}`] = f.estimate;
  }
  const n = findings.length;
  out.holds_id = perSet.id.holds / n;
  out.holds_ood = perSet.ood.holds / n;
  out.holds_mech = perSet.mech.holds / n;
  out.holds_cov = perSet.cov.holds / n;
  out.err_id = perSet.id.err / n;
  out.err_ood = perSet.ood.err / n;
  for (const [m, pm] of perMethod) {
    const k = findings.filter((f) => f.method === m).length;
    out[`holds_id_${m}`] = pm.id / k;
    out[`holds_ood_${m}`] = pm.ood / k;
  }
  out.findings = n;
  return out;
}

/** Rung 1: associations measured on the analysis set. */
function rung1Findings(st: RungsState, s: CausalRungsSettings): AvgFinding[] {
  const a = st.analysis;
  const out: AvgFinding[] = [];
  // ridge probes of every latent from h (with intercept)
  const V = new Matrix(a.H.rows, 4, Float32Array.from(a.v));
  const probe = ridge(a.H, V, s.ridge, { fitIntercept: true });
  const d = a.H.cols;
  SCM_VARIABLES.forEach((variable, j) => {
    const shiftUp: AvgFinding['intervention'] = () => ({ variable, shift: 1 });
    out.push({ method: 'correlation', variable, estimate: slope(a.yhat, latentColumn(a.v, variable)), intervention: shiftUp });
    const reading = new Float64Array(a.H.rows);
    for (let i = 0; i < a.H.rows; i++) {
      let r = probe.intercept[j];
      for (let q = 0; q < d; q++) r += a.H.data[i * d + q] * probe.W[q * 4 + j];
      reading[i] = r;
    }
    out.push({ method: 'probe', variable, estimate: slope(a.yhat, reading), intervention: shiftUp });
  });
  return out;
}

function addScaled(H: Matrix, u: ArrayLike<number>, scale: ArrayLike<number> | number): Matrix {
  const out = H.clone();
  const d = H.cols;
  for (let i = 0; i < H.rows; i++) {
    const a = typeof scale === 'number' ? scale : scale[i];
    if (a === 0) continue;
    for (let q = 0; q < d; q++) out.data[i * d + q] += a * u[q];
  }
  return out;
}

/** The steering vector of V: mean change of h under do(V := V + 1) on the analysis set. */
function steeringVector(st: RungsState, variable: ScmVariable): { u: Float64Array; contrast: Matrix } {
  const a = st.analysis;
  const under = outputsUnder(st.world, st.net, a, { variable, shift: 1 });
  const d = a.H.cols, u = new Float64Array(d);
  for (let i = 0; i < a.H.rows; i++) for (let q = 0; q < d; q++) u[q] += under.H.data[i * d + q] - a.H.data[i * d + q];
  for (let q = 0; q < d; q++) u[q] /= a.H.rows;
  return { u, contrast: under.H };
}

/** Rung 2: interventions on h, averaged over the analysis set. */
async function rung2Findings(st: RungsState, s: CausalRungsSettings, seed: number, signal?: AbortSignal): Promise<AvgFinding[]> {
  const a = st.analysis;
  const d = a.H.cols, n = a.H.rows;
  const base = mean(a.yhat);
  const out: AvgFinding[] = [];
  const sae = createSAE('topk', { atoms: s.saeLatents, k: s.saeK, steps: s.saeSteps, batch: 256, lr: 3e-3 });
  await sae.fit(a.H, { seed: `causal-rungs:sae:${seed}`, signal });
  const Wdec = sae.getWeights().W_dec;
  const hbar = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let q = 0; q < d; q++) hbar[q] += a.H.data[i * d + q] / n;
  st.steer = new Map();
  for (const variable of SCM_VARIABLES) {
    const { u, contrast } = steeringVector(st, variable);
    const norm = Math.sqrt(u.reduce((x, y) => x + y * y, 0));
    const uh = norm > 0 ? u.map((x) => x / norm) : u;
    const shiftUp: AvgFinding['intervention'] = () => ({ variable, shift: 1 });
    // steering: h + u
    const steerEffect = mean(st.net.top(addScaled(a.H, u, 1))) - base;
    out.push({ method: 'steering', variable, estimate: steerEffect, intervention: shiftUp });
    st.steer.set(variable, { u: Float32Array.from(u), effect: steerEffect });
    // patching: the û-component of h from the contrast input
    const coef = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let p = 0;
      for (let q = 0; q < d; q++) p += (contrast.data[i * d + q] - a.H.data[i * d + q]) * uh[q];
      coef[i] = p;
    }
    out.push({ method: 'patching', variable, estimate: mean(st.net.top(addScaled(a.H, uh, coef))) - base, intervention: shiftUp });
    // ablation: the û-component set to its mean; truth: do(V := analysis mean of V)
    const abl = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let p = 0;
      for (let q = 0; q < d; q++) p += (a.H.data[i * d + q] - hbar[q]) * uh[q];
      abl[i] = -p;
    }
    const vMean = mean(latentColumn(a.v, variable));
    out.push({ method: 'ablation', variable, estimate: mean(st.net.top(addScaled(a.H, uh, abl))) - base, intervention: () => ({ variable, set: vMean }) });
    // steering along the SAE latent best aligned with u, by u's projection on its (unit) decoder row
    let best = 0, bestCos = -1;
    for (let j = 0; j < Wdec.rows; j++) {
      let dot = 0, nn = 0;
      for (let q = 0; q < d; q++) {
        dot += Wdec.data[j * d + q] * uh[q];
        nn += Wdec.data[j * d + q] ** 2;
      }
      const cos = Math.abs(dot) / Math.sqrt(nn || 1);
      if (cos > bestCos) {
        bestCos = cos;
        best = j;
      }
    }
    const row = Wdec.row(best);
    let rn = 0, proj = 0;
    for (let q = 0; q < d; q++) rn += row[q] * row[q];
    rn = Math.sqrt(rn) || 1;
    for (let q = 0; q < d; q++) proj += (u[q] * row[q]) / rn;
    const dir = Float64Array.from(row, (x) => x / rn);
    out.push({ method: 'steering-sae', variable, estimate: mean(st.net.top(addScaled(a.H, dir, proj))) - base, intervention: shiftUp });
  }
  return out;
}

/** An MLP decoder latents (4) → h, trained on the analysis set (MSE, Adam): the analyst's model of how the latents shape h. */
async function fitLatentDecoder(v: Float64Array, H: Matrix, s: CausalRungsSettings, seed: string, signal?: AbortSignal): Promise<(V: Matrix) => Matrix> {
  const V = new Matrix(H.rows, 4, Float32Array.from(v));
  const { net } = await trainMlp(V, H, [4, 64, H.cols], { steps: s.decoderSteps, batch: s.batch, lr: s.lr }, seed, signal);
  return (X: Matrix) => net.forward(X, false).clone();
}

/** Train an MLP with ReLU hidden layers by Adam on the MSE (the last 20% of steps decay the rate to 0). */
async function trainMlp(
  X: Matrix, Y: Matrix, sizes: number[], s: { steps: number; batch: number; lr: number }, seed: string, signal?: AbortSignal,
): Promise<{ net: Sequential; finalLoss: number }> {
  const rng = new Rng(seed);
  const net = mlp({ sizes, activation: 'relu', rng: rng.fork('init') });
  const params = net.params();
  const opt = new Adam(params.map((p) => p.param));
  const grads = params.map((p) => p.grad);
  const data = rng.fork('batches');
  const B = Math.min(s.batch, X.rows);
  const xb = new Matrix(B, X.cols), yb = new Matrix(B, Y.cols);
  let last = NaN, acc = 0, accN = 0;
  for (let step = 0; step < s.steps; step++) {
    const idx = data.choice(X.rows, B);
    for (let r = 0; r < B; r++) {
      xb.data.set(X.row(idx[r]), r * X.cols);
      yb.data.set(Y.row(idx[r]), r * Y.cols);
    }
    net.zeroGrad();
    const loss = mseLoss(net.forward(xb, true), yb);
    if (!Number.isFinite(loss.value)) fail('E_DIVERGED', `MLP training diverged at step ${step}; lower lr (now ${s.lr})`);
    net.backward(loss.grad, false);
    opt.step(grads, s.lr * (step < s.steps * 0.8 ? 1 : (s.steps - step) / (s.steps * 0.2)));
    acc += loss.value;
    accN++;
    if (accN === 100 || step === s.steps - 1) {
      last = acc / accN;
      acc = 0;
      accN = 0;
    }
    if ((step & 127) === 127) {
      checkAborted(signal);
      await new Promise<void>((r) => setImmediate(r));
    }
  }
  return { net, finalLoss: last };
}

/**
 * Rung 3: per-unit counterfactuals do(V := V + δ_i), δ_i = ±1, against the SCM's counterfactual
 * outputs f(x_cf) (same exogenous noises, descendants by the regime's mechanisms). The analyst's
 * causal model is fitted in distribution with the latent labels (controlled supervision), the
 * graph known (c → s), the mechanism c → s fitted by least squares:
 *  - `counterfactual` (abduction, action, prediction in the representation): latents abducted
 *    from h by ridge probes, an MLP decoder latents → h; h' = max(0, h + dec(v̂ + Δ) − dec(v̂)),
 *    prediction f_top(h');
 *  - `input-counterfactual`: a linear generative map latents → x (ridge on the analysis set);
 *    x' = x + Δ·Â, prediction f(x').
 * `avg-as-cf` (not a rung-3 method; reported beside): the rung-2 steering effect as every
 * unit's counterfactual.
 */
async function rung3(st: RungsState, s: CausalRungsSettings, seed: number, signal?: AbortSignal): Promise<Record<string, number>> {
  const a = st.analysis;
  const d = a.H.cols;
  const V = new Matrix(a.H.rows, 4, Float32Array.from(a.v));
  const probe = ridge(a.H, V, s.ridge, { fitIntercept: true }); // h → latents, W [d x 4]
  const gen = ridge(V, a.X, s.ridge, { fitIntercept: true }); // latents → x, W [4 x dim]
  const dec = await fitLatentDecoder(a.v, a.H, s, `causal-rungs:decoder:${seed}`, signal);
  const mech = slope(latentColumn(a.v, 's'), latentColumn(a.v, 'c'));
  const out: Record<string, number> = { mechanism_fit: mech };
  const methods = ['counterfactual', 'input-counterfactual', 'avg-as-cf'] as const;
  type Acc = { holds: number; err: number; n: number };
  const acc: Record<string, Record<SetName, Acc>> = {};
  for (const m of methods) acc[m] = { id: { holds: 0, err: 0, n: 0 }, ood: { holds: 0, err: 0, n: 0 }, mech: { holds: 0, err: 0, n: 0 }, cov: { holds: 0, err: 0, n: 0 } };
  const dimX = a.X.cols;
  for (const name of SET_NAMES) {
    checkAborted(signal);
    const set = st.test[name];
    const n = set.H.rows;
    const signs = new Float64Array(n);
    const rng = new Rng(`causal-rungs:cf:${seed}:${name}`);
    for (let i = 0; i < n; i++) signs[i] = rng.uniform() < 0.5 ? -1 : 1;
    // abducted latents of every unit
    const vh = new Matrix(n, 4);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < 4; j++) {
        let r = probe.intercept[j];
        for (let q = 0; q < d; q++) r += set.H.data[i * d + q] * probe.W[q * 4 + j];
        vh.data[i * 4 + j] = r;
      }
    }
    const dec0 = dec(vh);
    for (const [j, variable] of SCM_VARIABLES.entries()) {
      // the action Δ on the latents: V ± 1, and its descendant s through the fitted mechanism
      const delta = (i: number, k: number): number => (k === j ? signs[i] : variable === 'c' && k === 1 ? mech * signs[i] : 0);
      const vh1 = vh.clone();
      for (let i = 0; i < n; i++) for (let k = 0; k < 4; k++) vh1.data[i * 4 + k] += delta(i, k);
      const dec1 = dec(vh1);
      const H1 = set.H.clone();
      for (let t = 0; t < H1.data.length; t++) H1.data[t] = Math.max(0, H1.data[t] + dec1.data[t] - dec0.data[t]);
      const predRep = st.net.top(H1);
      const X1 = set.X.clone();
      for (let i = 0; i < n; i++) {
        for (let q = 0; q < dimX; q++) {
          let dx = 0;
          for (let k = 0; k < 4; k++) dx += delta(i, k) * gen.W[k * dimX + q];
          X1.data[i * dimX + q] += dx;
        }
      }
      const predIn = st.net.top(st.net.bottom(X1));
      const vj = latentColumn(set.v, variable);
      const truth = outputsUnder(st.world, st.net, set, { variable, values: Float64Array.from(vj, (x, i) => x + signs[i]) }).yhat;
      const avg = st.steer?.get(variable)?.effect ?? NaN;
      for (let i = 0; i < n; i++) {
        const change = truth[i] - set.yhat[i];
        const tol = s.tolAbs * st.sdY + s.tolRel * Math.abs(change);
        const preds: Record<(typeof methods)[number], number> = { counterfactual: predRep[i], 'input-counterfactual': predIn[i], 'avg-as-cf': set.yhat[i] + signs[i] * avg };
        for (const m of methods) {
          const err = Math.abs(preds[m] - truth[i]);
          const c = acc[m][name];
          c.holds += err <= tol ? 1 : 0;
          c.err += err / st.sdY;
          c.n++;
        }
      }
    }
  }
  // the rung's row: both rung-3 methods' per-unit findings together
  const pooled = (name: SetName, f: 'holds' | 'err') => (acc.counterfactual[name][f] + acc['input-counterfactual'][name][f]) / (acc.counterfactual[name].n + acc['input-counterfactual'][name].n);
  out.holds_id = pooled('id', 'holds');
  out.holds_ood = pooled('ood', 'holds');
  out.holds_mech = pooled('mech', 'holds');
  out.holds_cov = pooled('cov', 'holds');
  out.err_id = pooled('id', 'err');
  out.err_ood = pooled('ood', 'err');
  for (const m of methods) {
    if (m === 'avg-as-cf' && !st.steer) continue;
    out[`holds_id_${m}`] = acc[m].id.holds / acc[m].id.n;
    out[`holds_ood_${m}`] = acc[m].ood.holds / acc[m].ood.n;
    out[`holds_mech_${m}`] = acc[m].mech.holds / acc[m].mech.n;
    out[`holds_cov_${m}`] = acc[m].cov.holds / acc[m].cov.n;
  }
  out.findings = acc.counterfactual.id.n + acc['input-counterfactual'].id.n;
  return out;
}

export async function runCausalRungsCell(
  c: CausalRungsConfig, method: string, s: CausalRungsSettings, cache: Map<string, unknown> = new Map(), signal?: AbortSignal,
): Promise<Record<string, number>> {
  checkAborted(signal);
  let st = cache.get('state') as RungsState | undefined;
  if (!st) {
    st = await buildState(c, s, signal);
    cache.set('state', st);
  }
  switch (method as RungMethod) {
    case 'rung-1':
      return { ...scoreAvg(st, s, rung1Findings(st, s)), ...st.stats };
    case 'rung-2':
      return { ...scoreAvg(st, s, await rung2Findings(st, s, c.seed, signal)), ...st.stats };
    case 'rung-3':
      if (!st.steer) await rung2Findings(st, s, c.seed, signal); // the steering effects for avg-as-cf
      return { ...(await rung3(st, s, c.seed, signal)), ...st.stats };
    default:
      return fail('E_USAGE', `unknown method "${method}"; choose from ${RUNG_METHODS.join(', ')}`);
  }
}

export interface CausalRungsReproOptions {
  out: string;
  preset?: 'quick' | 'full';
  seeds?: number[];
  methods?: string[];
  settings?: Partial<CausalRungsSettings>;
  signal?: AbortSignal;
  onProgress?: (p: SweepProgress) => void;
}

export async function runCausalRungsRepro(o: CausalRungsReproOptions): Promise<ExperimentRun<CausalRungsSettings>> {
  return runExperiment({
    name: 'causal-rungs',
    presets: CAUSAL_RUNGS_PRESETS,
    cells: (preset) => causalRungsCells(o.seeds?.length ? o.seeds : preset.seeds, o.methods?.length ? o.methods : [...RUNG_METHODS]),
    runCell: runCausalRungsCell,
    writeReport: writeCausalRungsReport,
  }, { ...o, overrides: o.settings });
}

/* ---------------------------------------------------------------------------------------- */
/* Report (with the claims the findings would support, run through the checker)             */
/* ---------------------------------------------------------------------------------------- */

/** The findings of one rung as claim records, stated generally from in-distribution evidence. */
export function rungClaims(): ClaimRecord[] {
  const ev: Record<string, string> = {
    correlation: 'correlation', probe: 'probe', steering: 'steering', patching: 'activation-patching', ablation: 'ablation', 'steering-sae': 'steering', counterfactual: 'counterfactual', 'input-counterfactual': 'counterfactual',
  };
  const out: ClaimRecord[] = [];
  for (const [rung, methods] of Object.entries(RUNG_SUBMETHODS)) {
    for (const m of methods) {
      // what analysts typically write: "raising V by one changes the output by β" (an interventional claim)
      const stated = rung === 'rung-3' ? 3 : 2;
      out.push({ id: `${rung}/${m}`, claim: rung === 'rung-3' ? `for each input, had V been V ± 1, the output would have been the ${m} prediction` : `raising V by one changes the output by the ${m} estimate, on any data`, rung: stated as 2 | 3, evidence: [ev[m]], regime: 'in-distribution', scope: 'general' });
    }
  }
  return out;
}

export function writeCausalRungsReport(dir: string, lines: ResultLine[], o: { settings?: CausalRungsSettings; preset?: string } = {}): string {
  const rows = aggregate(lines);
  const md: string[] = [];
  md.push('# Causality is Key — rungs of evidence in a synthetic SCM', '');
  md.push('Protocol: docs/evidence.md (arXiv 2602.16698; no reference code: the small faithful version). A small MLP is trained in distribution on a');
  md.push('structural causal model with known latents (c → s, g, n; y = c + g + c·g/2); evidence about how each latent drives the output is gathered');
  md.push('at each rung on an in-distribution analysis set and checked against the SCM\'s interventional / counterfactual truth on');
  md.push('held-out units, in distribution and under a shift (μ_c 0 → 1.5 and the mechanism c → s switched off; each shift alone in');
  md.push('`holds_mech`, `holds_cov`). The paper is a position paper: it reports no number to print beside ours.');
  if (o.preset) md.push(`Preset: \`${o.preset}\`.`);
  md.push(`Results: ${lines.length} lines in results.jsonl; mean ± sample std over seeds.`, '');
  md.push('## How often each rung\'s finding holds', '');
  md.push(markdownTable(['rung', 'seeds', 'holds_id', 'holds_ood', 'holds_mech', 'holds_cov', 'err_id', 'err_ood'], rows.map((r) => [
    r.method, String(r.seeds.length), ...['holds_id', 'holds_ood', 'holds_mech', 'holds_cov', 'err_id', 'err_ood'].map((m) => formatMeanStd(r.mean[m], r.std[m])),
  ]), ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r']), '');
  const plots: string[] = [];
  const bars = rows.filter((r) => Number.isFinite(r.mean.holds_id));
  if (bars.length) {
    const file = 'holds_by_rung.svg';
    const rungNo = (m: string) => Number(m.replace('rung-', ''));
    writeFileAtomic(join(dir, file), linePlot({
      series: [
        { name: 'in distribution', points: bars.map((r) => ({ x: rungNo(r.method), y: r.mean.holds_id, err: r.std.holds_id })) },
        { name: 'under the shift', points: bars.map((r) => ({ x: rungNo(r.method), y: r.mean.holds_ood, err: r.std.holds_ood })), dashed: true },
      ],
      title: 'Fraction of findings that hold, by rung of evidence', xLabel: 'rung (1 association, 2 intervention, 3 counterfactual)', yLabel: 'fraction of findings that hold', yMin: 0, yMax: 1,
    }));
    plots.push(file);
    md.push(`![holds by rung](${file})`, '');
  }
  md.push('## Per method', '');
  const per: string[][] = [];
  for (const r of rows) {
    for (const m of [...(RUNG_SUBMETHODS[r.method as RungMethod] ?? []), ...(r.method === 'rung-3' ? ['avg-as-cf'] : [])]) {
      per.push([r.method, m, formatMeanStd(r.mean[`holds_id_${m}`], r.std[`holds_id_${m}`]), formatMeanStd(r.mean[`holds_ood_${m}`], r.std[`holds_ood_${m}`])]);
    }
  }
  md.push(markdownTable(['rung', 'method', 'holds_id', 'holds_ood'], per, ['l', 'l', 'r', 'r']), '');
  md.push('`avg-as-cf` is not a rung-3 method: it is the rung-2 steering effect used as every unit\'s counterfactual, i.e. a rung-3 claim on rung-2 evidence.', '');
  md.push('## Per variable (estimate, and truth in distribution / under the shift; mean over seeds)', '');
  const vrows: string[][] = [];
  for (const r of rows) {
    for (const m of RUNG_SUBMETHODS[r.method as RungMethod] ?? []) {
      for (const v of SCM_VARIABLES) {
        const e = r.mean[`est_${m}_${v}`];
        if (e === undefined) continue;
        vrows.push([r.method, m, v, e.toFixed(3), (r.mean[`truth_id_${m}_${v}`] ?? NaN).toFixed(3), (r.mean[`truth_ood_${m}_${v}`] ?? NaN).toFixed(3)]);
      }
    }
  }
  if (vrows.length) md.push(markdownTable(['rung', 'method', 'V', 'estimate (ID)', 'truth ID', 'truth shift'], vrows, ['l', 'l', 'l', 'r', 'r', 'r']), '');
  md.push('## The findings as claims, through `sparsecode claims check`', '');
  md.push('Each finding stated the way it is often written (an effect of V on the output, "on any data"), from in-distribution evidence:', '');
  const checks = checkClaims(rungClaims());
  md.push(markdownTable(['finding', 'claimed rung', 'evidence', 'flags'], checks.map((c) => [c.id, String(c.rung), c.evidence.join(', '), c.flags.map((f) => f.code).join(', ') || '—']), ['l', 'r', 'l', 'l']), '');
  md.push('## All metrics', '', summaryTable(rows, [...CAUSAL_RUNGS_METRICS]), '');
  return finishReport(dir, md, { lines, settings: o.settings, plots });
}
