import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { checkClaim, checkClaims, EVIDENCE_KINDS, parseClaims } from '../src/metrics/claims.js';
import { SCM_REGIMES, ScmWorld, latentColumn, scmTarget } from '../src/worlds/scm.js';
import { mlp } from '../src/nn/index.js';
import { rungClaims, splitNet } from '../src/experiments/causal-rungs.js';
import { assertAllClose, assertThrowsCode } from './helpers.js';

const fx = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/evidence/${name}`, import.meta.url), 'utf8'));

test('claims checker flags every planted over-claim in the fixture, and nothing else', () => {
  const claims = parseClaims(fx('claims.json'), 'claims.json');
  const expected = fx('expected.json').flags as Record<string, string[]>;
  const checks = checkClaims(claims);
  assert.equal(checks.length, 15);
  for (const c of checks) {
    const want = expected[c.id] ?? [];
    assert.deepEqual(c.flags.map((f) => f.code).sort(), [...want].sort(), `claim ${c.id}`);
    assert.equal(c.ok, want.length === 0);
    for (const f of c.flags) assert.ok(f.reason.length > 40, `a reason for ${c.id}`);
  }
  assert.equal(checks.filter((c) => !c.ok).length, Object.keys(expected).length);
});

test('claims: the supported rung is the highest of the evidence kinds; aliases for rungs and regimes', () => {
  const [a] = parseClaims([{ claim: 'x', rung: 'intervention', evidence: ['probe', 'ablation'], regime: 'ood' }]);
  assert.equal(a.rung, 2);
  assert.equal(a.regime, 'shifted');
  const c = checkClaim(a);
  assert.equal(c.supportedRung, 2);
  assert.ok(c.ok);
  const [b] = parseClaims({ claims: [{ claim: 'y', rung: 'rung-3', evidence: 'steering', regime: 'both', scope: 'general' }] });
  const cb = checkClaim(b);
  assert.deepEqual(cb.flags.map((f) => f.code), ['rung-above-evidence']);
  assert.match(cb.flags[0].reason, /claims rung 3 \(counterfactual\) but its evidence \(steering\) supports rung 2/);
  // every evidence kind has a rung and a description
  for (const [k, v] of Object.entries(EVIDENCE_KINDS)) assert.ok([1, 2, 3].includes(v.rung) && v.what.length > 10, k);
});

test('claims bad input: unknown rung, evidence kind, regime, missing fields name the field', () => {
  const bad = (c: unknown, re: RegExp) => assertThrowsCode(() => parseClaims({ claims: [{ claim: 'ok', rung: 1, evidence: 'probe', regime: 'id' }, c] }, 'f.json'), 'E_FORMAT', re);
  bad({ claim: 'x', rung: 4, evidence: 'probe', regime: 'id' }, /f\.json: claims\[1\]\.rung: unknown rung 4; use 1 \(association\), 2 \(intervention\) or 3/);
  bad({ claim: 'x', rung: 'causal', evidence: 'probe', regime: 'id' }, /claims\[1\]\.rung: unknown rung "causal"/);
  bad({ claim: 'x', rung: 2, evidence: ['probe', 'vibes'], regime: 'id' }, /claims\[1\]\.evidence\[1\]: unknown evidence kind "vibes"; use one of correlation, probe/);
  bad({ claim: 'x', rung: 2, evidence: 'vibes', regime: 'id' }, /claims\[1\]\.evidence: unknown evidence kind/);
  bad({ claim: 'x', rung: 2, evidence: [], regime: 'id' }, /claims\[1\]\.evidence: empty list/);
  bad({ claim: 'x', rung: 2, evidence: 'probe', regime: 'lab' }, /claims\[1\]\.regime: unknown data regime "lab"/);
  bad({ claim: 'x', rung: 2, evidence: 'probe' }, /claims\[1\]\.regime: missing/);
  bad({ rung: 2, evidence: 'probe', regime: 'id' }, /claims\[1\]\.claim: missing or empty/);
  bad({ claim: 'x', evidence: 'probe', regime: 'id' }, /claims\[1\]\.rung: missing/);
  bad({ claim: 'x', rung: 1, evidence: 'probe', regime: 'id', scope: 'everywhere' }, /claims\[1\]\.scope: unknown scope/);
  bad({ claim: 'x', rung: 1, evidence: 'probe', regime: 'id', strength: 3 }, /claims\[1\]\.strength: unknown field/);
  bad('just text', /claims\[1\]: a claim must be an object/);
  assertThrowsCode(() => parseClaims({ items: [] }, 'f.json'), 'E_FORMAT', /expected \{"claims": \[\.\.\.\]\}/);
});

test('the repro\'s findings stated as general effects: rung-1 evidence and ID-only evidence are flagged', () => {
  const checks = checkClaims(rungClaims());
  for (const c of checks) {
    assert.ok(c.flags.some((f) => f.code === 'scope-above-regime'), c.id);
    assert.equal(c.flags.some((f) => f.code === 'rung-above-evidence'), c.id.startsWith('rung-1'), c.id);
  }
});

test('SCM: structural equations, interventions recompute descendants with the same noises', () => {
  const w = new ScmWorld({ dim: 6, seed: 3 });
  const z = w.sampleNoise(500, new Rng(1));
  const id = SCM_REGIMES.id;
  const v = w.latents(z, id);
  const k = Math.sqrt(1 - id.rho ** 2);
  for (let i = 0; i < 500; i++) {
    assertAllClose([v[i * 4], v[i * 4 + 1], v[i * 4 + 2], v[i * 4 + 3]], [id.muC + z.u[i * 4], id.rho * (id.muC + z.u[i * 4]) + k * z.u[i * 4 + 1], z.u[i * 4 + 2], z.u[i * 4 + 3]], 1e-12, 1e-12, 'latents');
  }
  // do(c := c + 1): c moves by 1, s by rho (its mechanism), g and n stay
  const vc = w.latents(z, id, { variable: 'c', shift: 1 });
  for (let i = 0; i < 500; i++) {
    assertAllClose([vc[i * 4] - v[i * 4], vc[i * 4 + 1] - v[i * 4 + 1], vc[i * 4 + 2] - v[i * 4 + 2], vc[i * 4 + 3] - v[i * 4 + 3]], [1, id.rho, 0, 0], 1e-12, 1e-12, 'do(c)');
  }
  // do(s := 2): only s changes; under the mechanism shift c no longer moves s
  const vs = w.latents(z, id, { variable: 's', set: 2 });
  for (let i = 0; i < 500; i++) assert.deepEqual([vs[i * 4], vs[i * 4 + 1], vs[i * 4 + 2]], [v[i * 4], 2, v[i * 4 + 2]]);
  const m = SCM_REGIMES['ood-mechanism'];
  const vm = w.latents(z, m), vmc = w.latents(z, m, { variable: 'c', shift: 1 });
  for (let i = 0; i < 500; i++) assert.equal(vmc[i * 4 + 1], vm[i * 4 + 1]);
  // observation: x = (v + τ e)·A + σ ε, linear in v: x(do c+1) − x = (1·A_c + rho·A_s)
  const X = w.observe(v, z), Xc = w.observe(vc, z);
  for (let q = 0; q < 6; q++) assertAllClose([Xc.get(7, q) - X.get(7, q)], [w.A.get(0, q) + id.rho * w.A.get(1, q)], 1e-5, 1e-5, 'x shift');
  const y = w.target(v);
  for (let i = 0; i < 500; i++) assertAllClose([y.data[i]], [v[i * 4] + v[i * 4 + 2] + 0.5 * v[i * 4] * v[i * 4 + 2]], 1e-6, 1e-6, 'y');
  assert.equal(scmTarget(2, 3, 0.5), 8);
  // the covariate shift moves the mean of c; the sample mean follows
  const zo = w.sampleNoise(4000, new Rng(2));
  const cOod = latentColumn(w.latents(zo, SCM_REGIMES.ood), 'c');
  assert.ok(Math.abs(cOod.reduce((a, b) => a + b, 0) / 4000 - 1.5) < 0.06);
  assertThrowsCode(() => w.latents(z, { muC: 0, rho: 2 }), 'E_ARG', /regime\.rho/);
  assertThrowsCode(() => w.latents(z, id, { variable: 'q' as any, shift: 1 }), 'E_ARG', /unknown variable "q"/);
});

test('splitNet: top(bottom(x)) is the whole network', () => {
  const net = mlp({ sizes: [5, 7, 6, 1], rng: 2 });
  const sn = splitNet(net);
  const X = new Matrix(9, 5);
  new Rng(4).fillNormal(X.data);
  const full = Float64Array.from(net.forward(X, false).data);
  assertAllClose(sn.top(sn.bottom(X)), full, 1e-6, 1e-6, 'f');
  assertThrowsCode(() => splitNet(mlp({ sizes: [3, 1], rng: 0 })), 'E_ARG', /splitNet expects/);
});
