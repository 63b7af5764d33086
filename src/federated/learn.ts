import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng, type Seed } from '../core/rng.js';
import { checkAborted } from '../core/validate.js';
import { mlp, crossEntropy, type Sequential } from '../nn/index.js';
import { Adam } from '../optim/adam.js';
import { accuracy, macroAurocOvr, perClassRecall, softmaxRows } from '../metrics/multiclass.js';
import { checkClients, type Client, type LabelledData } from './data.js';
import { fitModule, payloadBytes, sampleModule, type GeneratorKind, type GeneratorSettings, type ModulePayload } from './generators.js';

/**
 * The classifier every method trains (an MLP d → hidden → C, ReLU, Adam on cross-entropy),
 * FedAvg over clients, and FederatedFactory: one-shot exchange of generative modules, a
 * class-balanced synthetic set on the server, exact unlearning by deleting a module.
 */

export interface ClassifierSettings {
  hidden: number;
  /** Adam steps and mini-batch size for the server / centralised classifier */
  steps: number;
  batch: number;
  lr: number;
  weightDecay: number;
}

export function createClassifier(d: number, classes: number, s: Pick<ClassifierSettings, 'hidden'>, seed: Seed): Sequential {
  return mlp({ sizes: [d, s.hidden, classes], activation: 'relu', rng: new Rng(seed).fork('classifier-init') });
}

/**
 * Train `net` in place on (X, y) for `steps` Adam steps of mini-batches drawn by reshuffled
 * epochs; every draw from `seed`. Returns the last batch loss.
 */
export function trainClassifier(net: Sequential, X: Matrix, y: Int32Array, s: Omit<ClassifierSettings, 'hidden'>, seed: Seed, signal?: AbortSignal): number {
  const n = X.rows;
  if (n === 0) fail('E_ARG', 'trainClassifier: no training samples');
  const params = net.params();
  const opt = new Adam(params.map((p) => p.param), { weightDecay: s.weightDecay }, params.map((p) => p.shape.length > 1));
  const grads = params.map((p) => p.grad);
  const rng = new Rng(seed).fork('classifier-batches');
  const b = Math.min(s.batch, n);
  let perm = rng.permutation(n), pos = 0, loss = NaN;
  const yb = new Int32Array(b);
  const g = new Matrix(b, net.forward(X.rowSlice(0, 1), false).cols);
  for (let t = 0; t < s.steps; t++) {
    if (t % 100 === 0) checkAborted(signal);
    if (pos + b > n) {
      perm = rng.permutation(n);
      pos = 0;
    }
    const ix = perm.subarray(pos, pos + b);
    pos += b;
    const xb = X.takeRows(ix);
    for (let i = 0; i < b; i++) yb[i] = y[ix[i]];
    net.zeroGrad();
    const logits = net.forward(xb);
    loss = crossEntropy(logits, yb, { grad: g }).value;
    if (!Number.isFinite(loss)) fail('E_DIVERGED', `classifier training diverged at step ${t} (loss ${loss}); lower lr`);
    net.backward(g, false);
    opt.step(grads, s.lr);
  }
  return loss;
}

export interface Evaluation {
  acc: number;
  auroc: number;
  recall: Float64Array;
}

export function evaluate(net: Sequential, test: LabelledData): Evaluation {
  const p = softmaxRows(net.forward(test.X, false));
  return { acc: accuracy(p, test.y), auroc: macroAurocOvr(p, test.y), recall: perClassRecall(p, test.y) };
}

/** Every parameter of a network, concatenated (for byte-for-byte comparisons and averaging). */
export function flatParams(net: Sequential): Float32Array {
  const ps = net.params();
  let n = 0;
  for (const p of ps) n += p.param.length;
  const out = new Float32Array(n);
  let off = 0;
  for (const p of ps) {
    out.set(p.param, off);
    off += p.param.length;
  }
  return out;
}

function setFlat(net: Sequential, flat: Float32Array): void {
  let off = 0;
  for (const p of net.params()) {
    p.param.set(flat.subarray(off, off + p.param.length));
    off += p.param.length;
  }
}

/* ---------------------------------------------------------------- centralised ---- */

/** The upper bound: the same classifier trained on the pooled real data. */
export function trainCentralised(train: LabelledData, s: ClassifierSettings, seed: Seed, signal?: AbortSignal): Sequential {
  const net = createClassifier(train.X.cols, train.classes, s, seed);
  trainClassifier(net, train.X, train.y, s, seed, signal);
  return net;
}

/* ---------------------------------------------------------------- FedAvg ---- */

export interface FedAvgSettings {
  rounds: number;
  localEpochs: number;
  localBatch: number;
  localLr: number;
}

/**
 * FedAvg (McMahan et al. 2017): each round every client starts from the global weights, trains
 * `localEpochs` epochs of mini-batch Adam (fresh state each round) on its own data, and the server
 * averages the client weights weighted by sample counts. Returns the global model and the bytes
 * each client sent (its weights, every round).
 */
export function fedAvg(clients: Client[], classes: number, cs: ClassifierSettings, fs: FedAvgSettings, seed: Seed, signal?: AbortSignal): { net: Sequential; bytesPerClient: number } {
  checkClients(clients, classes);
  const d = clients[0].X.cols;
  const global = createClassifier(d, classes, cs, seed);
  let w = flatParams(global);
  const total = clients.reduce((s, c) => s + c.X.rows, 0);
  for (let r = 0; r < fs.rounds; r++) {
    checkAborted(signal);
    const acc = new Float64Array(w.length);
    for (const cl of clients) {
      const local = createClassifier(d, classes, cs, seed);
      setFlat(local, w);
      const steps = Math.max(1, Math.round((fs.localEpochs * cl.X.rows) / Math.min(fs.localBatch, cl.X.rows)));
      trainClassifier(local, cl.X, cl.y, { steps, batch: fs.localBatch, lr: fs.localLr, weightDecay: cs.weightDecay }, `${seed}:fedavg:${r}:${cl.id}`, signal);
      const lw = flatParams(local);
      const share = cl.X.rows / total;
      for (let i = 0; i < lw.length; i++) acc[i] += share * lw[i];
    }
    w = Float32Array.from(acc);
  }
  setFlat(global, w);
  return { net: global, bytesPerClient: fs.rounds * w.length * 4 };
}

/* ---------------------------------------------------------------- FederatedFactory ---- */

export interface FactorySettings {
  /** synthetic samples per class on the server */
  perClass: number;
}

/**
 * Client side of FederatedFactory: each client fits one module per class it holds, from scratch,
 * with draws from a seed derived from (seed, class) only, so a client's module does not depend on
 * who else is in the federation. The modules are what is sent, once.
 */
export function clientModules(clients: Client[], classes: number, kind: GeneratorKind, gs: GeneratorSettings, seed: Seed, signal?: AbortSignal): ModulePayload[] {
  checkClients(clients, classes);
  const out: ModulePayload[] = [];
  for (const cl of clients) {
    for (const c of cl.classes) {
      checkAborted(signal);
      const ix: number[] = [];
      for (let i = 0; i < cl.y.length; i++) if (cl.y[i] === c) ix.push(i);
      out.push(fitModule(kind, cl.id, c, cl.X.takeRows(ix), gs, new Rng(seed).fork(`module:${kind}:class-${c}`), signal));
    }
  }
  return out;
}

/** Bytes each client sent (summed over its modules), by client id. */
export function bytesByClient(modules: ModulePayload[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const p of modules) m.set(p.client, (m.get(p.client) ?? 0) + payloadBytes(p));
  return m;
}

/**
 * Server side: synthesise a class-balanced set ex nihilo (`perClass` samples from each module,
 * drawn from a seed derived from (seed, class)), in class order, and train the classifier on it.
 */
export function synthesise(modules: ModulePayload[], classes: number, perClass: number, seed: Seed): { X: Matrix; y: Int32Array } {
  if (!modules.length) fail('E_ARG', 'the server holds no generative modules; at least one client must send one');
  const seen = new Map<number, string>();
  for (const p of modules) {
    if (!Number.isInteger(p.label) || p.label < 0 || p.label >= classes) fail('E_ARG', `client "${p.client}" sent a module for class ${p.label}, outside 0..${classes - 1}`);
    const prev = seen.get(p.label);
    if (prev !== undefined) fail('E_ARG', `clients "${prev}" and "${p.client}" both sent a module for class ${p.label}, but the class sets must be disjoint`);
    seen.set(p.label, p.client);
  }
  const sorted = [...modules].sort((a, b) => a.label - b.label);
  const d = sorted[0].dim;
  for (const p of sorted) if (p.dim !== d) fail('E_SHAPE', `client "${p.client}" sent a module of dimension ${p.dim}, the others ${d}`);
  const X = new Matrix(sorted.length * perClass, d);
  const y = new Int32Array(sorted.length * perClass);
  sorted.forEach((p, k) => {
    X.data.set(sampleModule(p, perClass, new Rng(seed).fork(`synth:class-${p.label}`)).data, k * perClass * d);
    y.fill(p.label, k * perClass, (k + 1) * perClass);
  });
  return { X, y };
}

/** Server: synthesise from the modules it holds and train the classifier (C outputs whatever modules remain). */
export function serverTrain(modules: ModulePayload[], classes: number, cs: ClassifierSettings, fs: FactorySettings, seed: Seed, signal?: AbortSignal): Sequential {
  const syn = synthesise(modules, classes, fs.perClass, seed);
  const net = createClassifier(syn.X.cols, classes, cs, seed);
  trainClassifier(net, syn.X, syn.y, cs, seed, signal);
  return net;
}

/** Exact unlearning: drop every module a client sent and retrain on the server. */
export function unlearnClient(modules: ModulePayload[], client: string, classes: number, cs: ClassifierSettings, fs: FactorySettings, seed: Seed, signal?: AbortSignal): Sequential {
  const keep = modules.filter((p) => p.client !== client);
  if (keep.length === modules.length) fail('E_ARG', `no module of client "${client}" is held by the server; clients are ${[...new Set(modules.map((p) => p.client))].join(', ')}`);
  return serverTrain(keep, classes, cs, fs, seed, signal);
}
