import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { gradcheck } from '../src/nn/index.js';
import { macroAurocOvr, accuracy, perClassRecall } from '../src/metrics/multiclass.js';
import { loadDigits, stratifiedSplit, partitionByClass, checkClients, type Client } from '../src/federated/data.js';
import { fitGaussian, gmmEm, sampleModule, createVae, vaeLossAndGrad, fitModule, payloadBytes, DEFAULT_GENERATOR_SETTINGS } from '../src/federated/generators.js';
import { clientModules, serverTrain, unlearnClient, flatParams, evaluate, synthesise, fedAvg } from '../src/federated/learn.js';
import { FF_TINY_SETTINGS, runFederatedFactory, runFederatedFactoryCell } from '../src/experiments/federated-factory.js';

const fx = JSON.parse(readFileSync(new URL('./fixtures/federated/sklearn.json', import.meta.url), 'utf8'));

function codeOf(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (e: any) {
    return { code: e.code, message: e.message };
  }
  assert.fail('expected an error');
}

test('macro one-vs-rest AUROC equals scikit-learn roc_auc_score(multi_class="ovr", average="macro") (ties included)', () => {
  const a = fx.auroc;
  const S = Matrix.from(a.scores);
  assert.ok(Math.abs(macroAurocOvr(S, a.labels) - a.value) < 1e-12, `${macroAurocOvr(S, a.labels)} vs ${a.value}`);
  // accuracy and recall on a hand case
  const P = Matrix.from([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]]);
  assert.equal(accuracy(P, [0, 1, 1, 1]), 0.75);
  assert.deepEqual([...perClassRecall(P, [0, 1, 1, 1])], [1, 2 / 3]);
  assert.equal(codeOf(() => macroAurocOvr(P, [0, 0, 0, 0])).code, 'E_ARG');
  assert.equal(codeOf(() => macroAurocOvr(P, [0, 1, 2, 0])).code, 'E_ARG');
});

test('Gaussian mixture EM equals scikit-learn GaussianMixture(full, reg_covar) from the same start', () => {
  const g = fx.gmm;
  const X = Matrix.from(g.X);
  const d = X.cols;
  const r = gmmEm(X, { weights: Float64Array.from(g.weights0), means: Float64Array.from(g.means0.flat()), covs: g.covs0.map((c: number[][]) => Float64Array.from(c.flat())) }, { iters: g.iters, ridge: g.reg, tol: -1 });
  assert.equal(r.iters, g.n_iter);
  for (let k = 0; k < 2; k++) {
    assert.ok(Math.abs(r.weights[k] - g.weights[k]) < 1e-9, `weight ${k}`);
    for (let j = 0; j < d; j++) assert.ok(Math.abs(r.means[k * d + j] - g.means[k][j]) < 1e-9, `mean ${k},${j}`);
    for (let j = 0; j < d * d; j++) assert.ok(Math.abs(r.covs[k][j] - g.covs[k].flat()[j]) < 1e-9, `cov ${k},${j}`);
  }
  assert.ok(Math.abs(r.logLik - g.lower_bound) < 1e-9, `${r.logLik} vs ${g.lower_bound}`);
});

test('full-covariance Gaussian module: L·Lᵀ = Σ + ridge·I, and the server reproduces mean and covariance from the payload', () => {
  const rng = new Rng(1);
  const n = 200, d = 3;
  const X = new Matrix(n, d);
  for (let i = 0; i < n; i++) {
    const a = rng.normal(), b = rng.normal(), c = rng.normal();
    X.set(i, 0, 1 + a);
    X.set(i, 1, -2 + 0.8 * a + 0.3 * b);
    X.set(i, 2, 0.5 * c);
  }
  const ridge = 0.01;
  const f = fitGaussian(X, ridge);
  // naive two-pass mean and 1/n covariance
  const mu = [0, 1, 2].map((j) => { let s = 0; for (let i = 0; i < n; i++) s += X.get(i, j); return s / n; });
  for (let a = 0; a < d; a++) {
    assert.ok(Math.abs(f.mean[a] - mu[a]) < 1e-12);
    for (let b = 0; b < d; b++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += (X.get(i, a) - mu[a]) * (X.get(i, b) - mu[b]);
      const want = s / n + (a === b ? ridge : 0);
      let got = 0;
      for (let k = 0; k < d; k++) got += f.L[a * d + k] * f.L[b * d + k];
      assert.ok(Math.abs(got - want) < 1e-10, `Σ[${a},${b}] ${got} vs ${want}`);
    }
  }
  const p = fitModule('gaussian', 'client-0', 0, X, { ...DEFAULT_GENERATOR_SETTINGS, ridge }, new Rng(0));
  assert.equal(payloadBytes(p), 4 * (d + 6) + 12);
  const m = 40000;
  const S = sampleModule(p, m, new Rng(2));
  for (let a = 0; a < d; a++) {
    let s = 0;
    for (let i = 0; i < m; i++) s += S.get(i, a);
    assert.ok(Math.abs(s / m - mu[a]) < 0.03, `sample mean ${a}`);
    for (let b = 0; b <= a; b++) {
      let c = 0;
      for (let i = 0; i < m; i++) c += (S.get(i, a) - f.mean[a]) * (S.get(i, b) - f.mean[b]);
      let want = 0;
      for (let k = 0; k < d; k++) want += f.L[a * d + k] * f.L[b * d + k];
      assert.ok(Math.abs(c / m - want) < 0.04, `sample cov ${a},${b}: ${c / m} vs ${want}`);
    }
  }
});

test('VAE: the negative-ELBO gradient (reparameterised, BCE decoder, KL) passes gradcheck', () => {
  const rng = new Rng(3);
  const v = createVae(5, 6, 2, rng.fork('vae'));
  const X = new Matrix(4, 5);
  rng.fork('x').fillUniform(X.data);
  const eps = new Matrix(4, 2);
  rng.fork('eps').fillNormal(eps.data);
  const params = [...v.encoder.params(), ...v.decoder.params()];
  const r = gradcheck({
    params,
    loss: () => {
      const g = params.map((p) => Float32Array.from(p.grad));
      const val = vaeLossAndGrad(v, X, eps, 0.7);
      params.forEach((p, i) => p.grad.set(g[i]));
      return val;
    },
    lossAndGrad: () => vaeLossAndGrad(v, X, eps, 0.7),
    skipKinks: true,
  });
  assert.ok(r.checked > 20 && r.failures.length === 0, r.failures.join('\n'));
});

test('bad input: empty client, overlapping or undeclared classes, non-finite samples and modules name the client', () => {
  const X = Matrix.from([[0, 1], [1, 0]]);
  const ok: Client = { id: 'a', classes: [0], X, y: Int32Array.from([0, 0]) };
  const empty: Client = { id: 'b', classes: [1], X: new Matrix(0, 2), y: new Int32Array(0) };
  let e = codeOf(() => checkClients([ok, empty], 3));
  assert.equal(e.code, 'E_ARG');
  assert.match(e.message, /client "b" holds no data/);
  e = codeOf(() => checkClients([ok, { id: 'c', classes: [0, 2], X, y: Int32Array.from([0, 2]) }], 3));
  assert.match(e.message, /clients "a" and "c" both declare class 0.*disjoint/);
  e = codeOf(() => checkClients([ok, { id: 'd', classes: [1], X, y: Int32Array.from([1, 2]) }], 3));
  assert.match(e.message, /client "d" holds a sample of class 2/);
  e = codeOf(() => checkClients([{ ...ok, X: Matrix.from([[0, NaN], [1, 0]]) }], 3));
  assert.equal(e.code, 'E_NONFINITE');
  assert.match(e.message, /client "a"/);
  // a module whose sampler produces non-finite values (a corrupted or diverged module)
  const p = fitModule('gaussian', 'client-7', 7, X, DEFAULT_GENERATOR_SETTINGS, new Rng(0));
  p.data[3] = Infinity;
  e = codeOf(() => synthesise([p], 10, 5, 0));
  assert.equal(e.code, 'E_NONFINITE');
  assert.match(e.message, /client "client-7".*gaussian generator.*non-finite/);
  const q = fitModule('gaussian', 'client-8', 7, X, DEFAULT_GENERATOR_SETTINGS, new Rng(0));
  e = codeOf(() => synthesise([fitModule('gaussian', 'client-7', 7, X, DEFAULT_GENERATOR_SETTINGS, new Rng(0)), q], 10, 5, 0));
  assert.match(e.message, /"client-7" and "client-8" both sent a module for class 7/);
  assert.match(codeOf(() => partitionByClass({ X, y: Int32Array.from([0, 1]), classes: 2 }, 3)).message, /clients must be an integer in 1..2/);
});

const SMALL = { hidden: 16, steps: 60, batch: 32, lr: 3e-3, weightDecay: 0 };

test('exact unlearning: deleting client k\'s module and retraining equals, byte for byte, a federation formed without class k', () => {
  const { train, test: te } = stratifiedSplit(loadDigits(), 0.25, 0);
  const clients = partitionByClass(train, 10);
  for (const kind of ['gaussian', 'mixture'] as const) {
    const gs = { ...DEFAULT_GENERATOR_SETTINGS, components: 2, emIters: 3 };
    const mods = clientModules(clients, 10, kind, gs, 0);
    const un = unlearnClient(mods, 'client-3', 10, SMALL, { perClass: 40 }, 0);
    const scratchClients = partitionByClass(train, 10, { exclude: [3] });
    assert.equal(scratchClients.length, 9);
    const scratch = serverTrain(clientModules(scratchClients, 10, kind, gs, 0), 10, SMALL, { perClass: 40 }, 0);
    const a = flatParams(un), b = flatParams(scratch);
    assert.deepEqual(new Uint8Array(a.buffer), new Uint8Array(b.buffer), `${kind}: retrained weights differ from training without class 3`);
    assert.equal(evaluate(un, te).recall[3], 0, 'class-3 recall after unlearning');
    // the comparison can fail: another server seed, or keeping the module, gives other bytes
    assert.notDeepEqual(new Uint8Array(flatParams(serverTrain(mods, 10, SMALL, { perClass: 40 }, 0)).buffer), new Uint8Array(a.buffer));
    assert.notDeepEqual(new Uint8Array(flatParams(unlearnClient(mods, 'client-3', 10, SMALL, { perClass: 40 }, 1)).buffer), new Uint8Array(a.buffer));
  }
  assert.match(codeOf(() => unlearnClient(clientModules(clients.slice(0, 2), 10, 'gaussian', DEFAULT_GENERATOR_SETTINGS, 0), 'client-9', 10, SMALL, { perClass: 5 }, 0)).message, /no module of client "client-9"/);
});

test('FedAvg on one class per client collapses; the Gaussian factory recovers most of centralised accuracy (tiny budget)', async () => {
  const cache = new Map<string, unknown>();
  const s = FF_TINY_SETTINGS;
  const fa = await runFederatedFactoryCell({ clients: 10, seed: 0 }, 'fedavg', s, cache);
  const fg = await runFederatedFactoryCell({ clients: 10, seed: 0 }, 'factory-gaussian', s, cache);
  const ce = await runFederatedFactoryCell({ clients: 10, seed: 0 }, 'centralised', s, cache);
  assert.ok(fa.acc < 0.3, `fedavg acc ${fa.acc}`);
  assert.ok(fg.acc > 0.75 && ce.acc > 0.75, `factory ${fg.acc}, centralised ${ce.acc}`);
  assert.equal(fg.unlearn_exact, 1);
  assert.equal(fg.unlearned_recall, 0);
  assert.equal(fg.bytes_per_client, 4 * (64 + 2080) + 12);
  // FedAvg bytes: weights every round
  assert.equal(fa.bytes_per_client, s.fedavg.rounds * 4 * (64 * 32 + 32 + 32 * 10 + 10));
  const { train } = stratifiedSplit(loadDigits(), 0.25, 0);
  assert.throws(() => fedAvg([], 10, SMALL, s.fedavg, 0), /no clients/);
  assert.ok(train.X.rows > 1000);
});

test('repro federated-factory (tiny preset) writes results and report; the CLI refuses a bad --generator', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ff-'));
  try {
    const r = await runFederatedFactory({ out: dir, preset: 'tiny', methods: ['fedavg', 'factory-vae'] });
    assert.equal(r.summary.failed, 0);
    const vae = r.rows.find((x) => x.method === 'factory-vae')!;
    assert.equal(vae.mean.unlearn_exact, 1);
    assert.ok(Number.isFinite(vae.mean.acc) && Number.isFinite(vae.mean.auroc));
    assert.ok(existsSync(join(dir, 'report.md')) && readFileSync(join(dir, 'report.md'), 'utf8').includes('bytes sent per client'));
    const bad = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', 'repro', 'federated-factory', '--generator', 'gan', '--out', join(dir, 'x')], { encoding: 'utf8', timeout: 60000 });
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /--generator/);
    const badK = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', 'repro', 'federated-factory', '--clients', '11', '--out', join(dir, 'y')], { encoding: 'utf8', timeout: 60000 });
    assert.equal(badK.status, 2, badK.stderr);
    assert.match(badK.stderr, /--clients must be integers in 2..10/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
