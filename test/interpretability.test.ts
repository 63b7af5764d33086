import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import {
  cosineSimilarity, matrixSimilarity, mis, misScores, misTasks, misTasksToJSON,
} from '../src/metrics/interpretability.js';
import { kmeans, kmeansDirections, l2NormalizeRows, negativeDistances } from '../src/metrics/kmeans.js';
import { conceptWorld, silentFraction } from '../src/worlds/concepts.js';
import { createSAE } from '../src/dictionary/sae/index.js';
import { assertAllClose, assertThrowsCode } from './helpers.js';

// References: test/fixtures/interpretability/gen.py (NumPy replay of the same task draw; scikit-learn KMeans)
const fx = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/interpretability/${name}`, import.meta.url), 'utf8'));
const inputs = fx('mis_inputs.json');
const drawn = fx('mis_tasks.json');
const expected = fx('mis_expected.json');
const km = fx('kmeans.json');
const acts = Matrix.from(inputs.acts);
const E = Matrix.from(inputs.embeddings);
const S = Matrix.from(inputs.similarity);

test('misTasks is the recorded draw (same seed, same indices) that NumPy checked against the protocol', () => {
  for (const [name, opts] of Object.entries(inputs.draws as Record<string, any>)) {
    const t = misTasksToJSON(misTasks(acts, opts));
    assert.deepEqual(t.plus, drawn[name].plus, `${name}: E+/q+ indices`);
    assert.deepEqual(t.minus, drawn[name].minus, `${name}: E-/q- indices`);
    assert.equal(t.subset, drawn[name].subset);
    assert.deepEqual(t.topSize, drawn[name].topSize, `${name}: per-unit top-set sizes (activeTop only)`);
  }
});

test('MIS equals the NumPy replay of the same tasks to 1e-9 (cosine, matrix, sigmoid(αΔ))', () => {
  // null in the fixture = an untestable unit (activeTop, too few samples above its floor): NaN here
  const nan = (v: any): any => (v === null ? NaN : Array.isArray(v) ? v.map(nan)
    : typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, nan(x)])) : v);
  for (const [name, opts] of Object.entries(inputs.draws as Record<string, any>)) {
    const ex = nan(expected[name]);
    const cos = mis(acts, cosineSimilarity(E), opts);
    assertAllClose(cos.deltas, ex.cosine.deltas.flat(), 0, 1e-9, `${name} cosine deltas`);
    assertAllClose(cos.scores, ex.cosine.scores, 0, 1e-9, `${name} cosine scores`);
    assertAllClose([cos.mean], [ex.cosine.mean], 0, 1e-9, `${name} cosine mean`);
    // an embedding Matrix is read as cosine similarity
    assertAllClose(mis(acts, E, opts).scores, ex.cosine.scores, 0, 1e-12, `${name} embedding shorthand`);
    const a = mis(acts, cosineSimilarity(E), { ...opts, alpha: 0.16 });
    assertAllClose(a.scores, ex.cosine.scores_alpha016, 0, 1e-9, `${name} cosine alpha`);
    const t = misTasks(acts, opts);
    const m = misScores(t, matrixSimilarity(S));
    assertAllClose(m.deltas, ex.matrix.deltas.flat(), 0, 1e-9, `${name} matrix deltas`);
    assertAllClose(m.scores, ex.matrix.scores, 0, 1e-9, `${name} matrix scores`);
    assertAllClose(misScores(t, matrixSimilarity(S), { alpha: 2 }).scores, ex.matrix.scores_alpha2, 0, 1e-9, `${name} matrix alpha`);
  }
});

test('MIS closed forms: a unit that is an embedding coordinate scores 1, and so does its negation (top and bottom swap roles)', () => {
  const rng = new Rng(5);
  const n = 400;
  const emb = new Matrix(n, 3);
  rng.fillNormal(emb.data);
  // embedding = [v, small noise]: cosine is dominated by sign(v) * sign(v')
  const a = new Matrix(n, 2);
  for (let i = 0; i < n; i++) {
    emb.data[i * 3 + 1] *= 0.01;
    emb.data[i * 3 + 2] *= 0.01;
    a.data[i * 2] = emb.data[i * 3];
    a.data[i * 2 + 1] = -emb.data[i * 3];
  }
  const r = mis(a, emb, { tasks: 200, seed: 1 });
  assert.equal(r.scores[0], 1);
  assert.equal(r.scores[1], 1);
  for (let t = 0; t < 400; t++) assert.ok(r.deltas[t] > 0);
  // cosine ≈ sign(v)·sign(v'): s(q⁺,E⁺) ≈ s(q⁻,E⁻) ≈ 1 and the cross terms ≈ −1, so Δ ≈ 4
  for (let t = 0; t < 400; t++) assert.ok(Math.abs(r.deltas[t] - 4) < 0.01, `Δ ${r.deltas[t]}`);
  // with α: the mean of sigmoid(αΔ)
  const ra = mis(a, emb, { tasks: 200, seed: 1, alpha: 0.5 });
  assert.ok(Math.abs(ra.scores[0] - 1 / (1 + Math.exp(-2))) < 0.002);
});

test('MIS of an unrelated unit is near chance, and tasks do not depend on the other units', () => {
  const rng = new Rng(9);
  const n = 2000;
  const emb = new Matrix(n, 4);
  rng.fillNormal(emb.data);
  const a = new Matrix(n, 3);
  rng.fork('acts').fillNormal(a.data);
  const r = mis(a, emb, { tasks: 400, seed: 3 });
  for (const s of r.scores) assert.ok(Math.abs(s - 0.5) < 0.1, `score ${s}`);
  const one = mis(a.takeCols([0, 1]), emb, { tasks: 400, seed: 3 });
  assert.deepEqual(Array.from(one.scores), Array.from(r.scores.subarray(0, 2)));
});

test('activeTop: dense directions draw exactly the reference tasks; a sparse one draws only from samples above its floor', () => {
  const rng = new Rng(21);
  const n = 1000;
  const a = new Matrix(n, 3);
  rng.fillNormal(a.data);
  for (let i = 0; i < n; i++) {
    a.data[i * 3 + 1] = Math.max(0, a.data[i * 3 + 1]); // about half above the floor: >= L, nothing changes
    a.data[i * 3 + 2] = i % 50 === 0 ? 1 + (i / n) : 0; // 20 samples above the floor < L = 100
  }
  const o = { tasks: 30, k: 4, quantile: 0.1, seed: 4 };
  const ref = misTasks(a, o), act = misTasks(a, { ...o, activeTop: true });
  const K1 = o.k + 1, per = o.tasks * K1;
  assert.deepEqual(Array.from(act.plus.subarray(0, 2 * per)), Array.from(ref.plus.subarray(0, 2 * per)));
  assert.deepEqual(Array.from(act.minus.subarray(0, 2 * per)), Array.from(ref.minus.subarray(0, 2 * per)));
  assert.deepEqual(Array.from(act.topSize), [100, 100, 20]);
  assert.deepEqual(Array.from(ref.topSize), [100, 100, 100]);
  for (let j = 0; j < per; j++) assert.ok(a.data[act.plus[2 * per + j] * 3 + 2] > 0, 'a top sample at the floor');
  // the reference rule pads the sparse direction's top set with floor samples
  let floorRef = 0;
  for (let j = 0; j < per; j++) if (a.data[ref.plus[2 * per + j] * 3 + 2] === 0) floorRef++;
  assert.ok(floorRef > per / 2, `reference rule: ${floorRef} of ${per} top draws at the floor`);
  assert.equal(misTasksToJSON(ref).topSize, undefined, 'the reference JSON is unchanged');
  assert.deepEqual(misTasksToJSON(act).topSize, [100, 100, 20]);
});

test('a sparse code that IS the concepts (an oracle TopK SAE) scores ≈ the concept coordinates only when its top set skips the floor', () => {
  // a linear layer h = z·P with F = 40 near-orthogonal concepts in 160 dims, 2 on per stimulus (each on
  // in ~5 % of stimuli), scored at quantile 0.1 (L = 200 > ~100 stimuli per concept): the oracle SAE's
  // latents (W_dec = P, W_enc = Pᵀ, TopK k = 2) fire on about as many stimuli as their concept
  const F = 40, D = 160, n = 2000;
  const w = conceptWorld({ concepts: F, units: F, samples: n, active: 2, seed: 'oracle-sae' });
  const rng = new Rng('oracle-sae:P');
  const P = new Matrix(F, D);
  rng.fillNormal(P.data);
  for (let i = 0; i < F; i++) {
    let s = 0;
    for (let j = 0; j < D; j++) s += P.data[i * D + j] ** 2;
    for (let j = 0; j < D; j++) P.data[i * D + j] /= Math.sqrt(s);
  }
  const H = new Matrix(n, D);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < F; c++) {
      const z = w.Z.data[i * F + c];
      if (z) for (let j = 0; j < D; j++) H.data[i * D + j] += z * P.data[c * D + j];
    }
  }
  const sae = createSAE('topk', { atoms: F, k: 2 });
  sae.setWeights({ W_enc: P.transpose(), W_dec: P.clone(), b_enc: new Float32Array(F), b_dec: new Float32Array(D) });
  const codes = sae.encode(H);
  const score = (A: Matrix, quantile: number, activeTop: boolean) => mis(A, w.Z, { tasks: 60, k: 9, quantile, seed: 2, activeTop }).mean;
  // quantile 0.03 (L = 60) below every concept's frequency: both rules agree, the oracle SAE ≈ the truth = 1
  for (const at of [false, true]) {
    assert.ok(score(w.Z, 0.03, at) > 0.99, `concept coordinates at 0.03 (activeTop ${at})`);
    assert.ok(score(codes, 0.03, at) > 0.97, `oracle SAE at 0.03 (activeTop ${at}): ${score(codes, 0.03, at)}`);
  }
  // quantile 0.1 (L = 200) above every concept's frequency: the reference rule pads the top set of the
  // truth and of the oracle SAE alike with stimuli they do not respond to (chance); activeTop keeps the
  // oracle SAE ≈ the truth (< 1: the weakest top members carry their concept faintly)
  const truth = score(w.Z, 0.1, true), oracle = score(codes, 0.1, true);
  assert.ok(truth > 0.8 && Math.abs(oracle - truth) < 0.03, `activeTop at 0.1: truth ${truth}, oracle SAE ${oracle}`);
  assert.ok(score(w.Z, 0.1, false) < 0.6 && score(codes, 0.1, false) < 0.6, 'reference rule at 0.1: chance');
  const o = { tasks: 60, k: 9, quantile: 0.1, seed: 2 };
  // too sparse to test: a latent on fewer than k + 1 stimuli is NaN and out of the mean; a dead one too
  const sparse = new Matrix(n, 3);
  for (let i = 0; i < n; i++) {
    sparse.data[i * 3] = w.Z.data[i * F];
    sparse.data[i * 3 + 1] = i < 5 ? 1 : 0;
  }
  const r = mis(sparse, w.Z, { ...o, activeTop: true });
  assert.equal(r.untestable, 2);
  assert.ok(Number.isNaN(r.scores[1]) && Number.isNaN(r.scores[2]));
  assert.equal(r.mean, r.scores[0]);
  assertThrowsCode(() => misTasks(sparse, { ...o, activeTop: 'yes' as unknown as boolean }), 'E_ARG', /activeTop/);
});

test('MIS bad input: too few samples, wrong similarity size, NaN, bad options', () => {
  const small = acts.rowSlice(0, 30);
  // ceil(30 * 0.25) = 8 < k + 1 = 10
  assertThrowsCode(() => misTasks(small, { k: 9 }), 'E_ARG', /too few samples.*ceil\(30 · 0\.25\) = 8.*at least 40 samples/);
  assertThrowsCode(() => misTasks(acts, { quantile: 0.6 }), 'E_ARG', /quantile/);
  assertThrowsCode(() => misTasks(acts, { quantile: 0 }), 'E_ARG', /quantile/);
  assertThrowsCode(() => misTasks(acts, { tasks: 0 }), 'E_ARG', /tasks/);
  assertThrowsCode(() => misTasks(acts, { k: 1.5 }), 'E_ARG', /k must be an integer/);
  assertThrowsCode(() => mis(acts, cosineSimilarity(E.rowSlice(0, 50))), 'E_SHAPE', /covers 50 samples but acts has 60 rows/);
  assertThrowsCode(() => matrixSimilarity(S.rowSlice(0, 59)), 'E_SHAPE', /square/);
  const bad = S.clone();
  bad.data[5 * 60 + 9] = NaN;
  assertThrowsCode(() => matrixSimilarity(bad), 'E_NONFINITE', /similarity has a non-finite value \(NaN\) at row 5, column 9/);
  const badActs = acts.clone();
  badActs.data[3] = Infinity;
  assertThrowsCode(() => misTasks(badActs), 'E_NONFINITE', /acts/);
  assertThrowsCode(() => misScores(misTasks(acts), matrixSimilarity(S), { alpha: -1 }), 'E_ARG', /alpha/);
});

test('k-means from fixed centres equals scikit-learn (labels, centres, inertia, iterations)', () => {
  const X = Matrix.from(km.X);
  const r = kmeans(X, { k: 5, init: Matrix.from(km.init) });
  assert.deepEqual(Array.from(r.labels), km.labels);
  assertAllClose(r.centroids.data, km.centers.flat(), 1e-5, 1e-5, 'centres');
  assertAllClose([r.inertia], [km.inertia], 1e-6, 0, 'inertia');
  assert.equal(r.iterations, km.n_iter);
  assert.ok(r.converged);
});

test('k-means++ with restarts reaches scikit-learn\'s best inertia of 10 starts', () => {
  const X = Matrix.from(km.X);
  const r = kmeans(X, { k: 5, restarts: 10, seed: 1 });
  assert.ok(r.inertia <= km.best_inertia_pp10 * 1.001, `${r.inertia} vs ${km.best_inertia_pp10}`);
  assert.equal(r.restarts, 10);
  // deterministic given the seed
  assert.equal(kmeans(X, { k: 5, restarts: 10, seed: 1 }).inertia, r.inertia);
});

test('k-means directions: identity start when k = units equals scikit-learn; activation = −distance', () => {
  const H = Matrix.from(km.H);
  const d = kmeansDirections(H, { k: 4 });
  assert.equal(d.init, 'identity');
  assert.deepEqual(Array.from(d.fit.labels), km.identity_labels);
  assertAllClose(d.centroids.data, km.identity_centers.flat(), 1e-5, 1e-5, 'centres');
  assertAllClose([d.fit.inertia], [km.identity_inertia], 1e-5, 0, 'inertia');
  assertAllClose(d.activations.data, km.identity_negdist.flat(), 1e-4, 1e-4, '−distance');
  // the silent sample (zero row) stays at the origin: its distance is the centre's norm
  const Hn = l2NormalizeRows(H);
  assert.deepEqual(Array.from(Hn.row(3)), [0, 0, 0, 0]);
  const nd = negativeDistances(Hn.rowSlice(3, 4), d.centroids);
  for (let c = 0; c < 4; c++) {
    let s = 0;
    for (let j = 0; j < 4; j++) s += d.centroids.get(c, j) ** 2;
    assertAllClose([nd.data[c]], [-Math.sqrt(s)], 1e-5, 1e-6, 'zero-row distance');
  }
  assert.equal(kmeansDirections(H, { k: 3, restarts: 2, seed: 0 }).init, 'k-means++');
});

test('k-means bad input', () => {
  const X = Matrix.from(km.X);
  assertThrowsCode(() => kmeans(X, { k: 0 }), 'E_ARG', /k must be an integer/);
  assertThrowsCode(() => kmeans(X.rowSlice(0, 3), { k: 5 }), 'E_ARG', /at least 5 rows/);
  assertThrowsCode(() => kmeans(X, { k: 5, init: 'identity' }), 'E_ARG', /identity.*k = the number of columns/);
  assertThrowsCode(() => kmeans(X, { k: 5, init: new Matrix(4, 6) }), 'E_SHAPE', /initial centres/);
  assertThrowsCode(() => kmeans(X, { k: 5, init: new Matrix(5, 6), restarts: 3 }), 'E_ARG', /restarts/);
  const bad = X.clone();
  bad.data[10] = NaN;
  assertThrowsCode(() => kmeans(bad, { k: 2 }), 'E_NONFINITE', /X has a non-finite value/);
});

test('concept world: `active` concepts per stimulus, H = ReLU(Z·P), unit-norm projection rows', () => {
  const w = conceptWorld({ concepts: 24, units: 6, samples: 300, active: 3, seed: 4 });
  assert.deepEqual([w.Z.rows, w.Z.cols, w.H.rows, w.H.cols, w.P.rows, w.P.cols], [300, 24, 300, 6, 24, 6]);
  for (let i = 0; i < 300; i++) {
    let on = 0;
    for (let j = 0; j < 24; j++) {
      const v = w.Z.get(i, j);
      if (v !== 0) {
        on++;
        assert.ok(v > 0 && v < 1);
      }
    }
    assert.equal(on, 3);
    for (let u = 0; u < 6; u++) {
      let s = 0;
      for (let j = 0; j < 24; j++) s += w.Z.get(i, j) * w.P.get(j, u);
      assertAllClose([w.H.get(i, u)], [Math.max(0, s)], 1e-5, 1e-6, 'ReLU(zP)');
    }
  }
  for (let j = 0; j < 24; j++) {
    let s = 0;
    for (let u = 0; u < 6; u++) s += w.P.get(j, u) ** 2;
    assertAllClose([s], [1], 1e-6, 0, 'row norm');
  }
  assert.ok(silentFraction(w.H) < 0.2);
  assert.deepEqual(conceptWorld({ concepts: 24, units: 6, samples: 300, active: 3, seed: 4 }).H.data, w.H.data);
  assertThrowsCode(() => conceptWorld({ concepts: 4, units: 2, samples: 10, active: 5 }), 'E_ARG', /active/);
});
