import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { writeNpy } from '../src/io/npy.js';
import { INTERPRETABILITY_METHODS, runInterpretabilityRepro } from '../src/experiments/interpretability.js';
import { RUNG_METHODS, runCausalRungsRepro } from '../src/experiments/causal-rungs.js';
import { cosineSimilarity, mis } from '../src/metrics/interpretability.js';
import { kmeansDirections } from '../src/metrics/kmeans.js';
import { loadModel } from '../src/dictionary/model-runtime.js';
import { commands } from '../src/cli/commands/index.js';
import { parseArgs } from '../src/cli/args.js';
import type { Context } from '../src/cli/command.js';
import { Progress } from '../src/cli/progress.js';
import { EXIT, exitCodeFor } from '../src/cli/exit.js';
import { isSparsecodeError } from '../src/core/errors.js';

/** The CLI in a child process, as a user runs it (isolated commands run in a grandchild). */
function spawnCli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], { encoding: 'utf8', env: { ...process.env, SPARSECODE_BACKEND: 'js' }, timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * A command run in this process the way main() runs it (options parsed from the command's table,
 * SparsecodeErrors turned into exit codes and messages), with its output collected instead of
 * written (the test runner reports through this process's stdout, so it must not be patched).
 */
async function cli(argv: string[]) {
  const [name, ...rest] = argv;
  const cmd = commands.find((c) => c.name === name)!;
  let stdout = '', stderr = '';
  try {
    const { opts, positionals } = parseArgs(rest, cmd.options);
    const ctx: Context = {
      opts, positionals,
      print: (line) => void (stdout += line + '\n'),
      note: (line) => void (stderr += line + '\n'),
      progress: (label, total, unit) => new Progress(label, total, { enabled: false, unit }),
      signal: new AbortController().signal,
    };
    const code = (await cmd.run(ctx)) ?? EXIT.ok;
    return { code, stdout, stderr };
  } catch (e) {
    if (!isSparsecodeError(e)) throw e;
    return { code: exitCodeFor(e.code), stdout, stderr: stderr + `sparsecode ${name}: ${e.message}\n` };
  }
}

const TINY_INTERP = {
  units: 4, samples: 400, trainSamples: 400, tasks: 10, k: 3, quantile: 0.05, restarts: 1, saeSteps: 40, saeBatch: 64, toySteps: 40, toyBatch: 64,
};

test('repro interpretability (tiny): every method × world × ratio, field mis, a report with plots, resumable', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sparsecode-interp-'));
  try {
    const run = () => runInterpretabilityRepro({ out: dir, ratios: [1, 2], seeds: [0], settings: TINY_INTERP });
    const r = await run();
    assert.equal(r.summary.ran, 2 * 2 * 5);
    assert.equal(r.summary.failed, 0);
    assert.equal(r.rows.length, 20);
    for (const row of r.rows) {
      assert.ok((INTERPRETABILITY_METHODS as readonly string[]).includes(row.method));
      assert.ok(row.mean.mis >= 0 && row.mean.mis <= 1, `${row.method} mis ${row.mean.mis}`);
      assert.deepEqual(Object.keys(row.config).sort(), ['concepts', 'ratio', 'units', 'world']);
      assert.equal(row.config.concepts, (row.config.ratio as number) * 4);
      assert.deepEqual(row.seeds, [0]);
      assert.ok(row.mean.mis_ref >= 0 && row.mean.mis_ref <= 1 && row.mean.rare >= 0 && row.mean.rare <= 1);
      // a method whose directions all reach L stimuli above their floor draws the reference's tasks
      if (row.mean.rare === 0) assert.equal(row.mean.mis, row.mean.mis_ref, `${row.method}: mis vs mis_ref`);
    }
    const sae = r.rows.find((x) => x.method === 'sae' && x.config.world === 'concepts' && x.config.ratio === 2)!;
    assert.equal(sae.mean.directions, 8);
    for (const f of ['mis_pre', 'mis_oracle', 'untestable']) assert.ok(sae.mean[f] >= 0 && sae.mean[f] <= 1, `sae ${f} ${sae.mean[f]}`);
    // `sae-dir` scores the same SAE's latents as directions (its pre-activations): the `sae` row's diagnostic mis_pre
    for (const row of r.rows.filter((x) => x.method === 'sae')) {
      const dirRow = r.rows.find((x) => x.method === 'sae-dir' && x.config.world === row.config.world && x.config.ratio === row.config.ratio)!;
      assert.equal(dirRow.mean.mis, row.mean.mis_pre, `${row.config.world} F/U = ${row.config.ratio}`);
      assert.equal(dirRow.mean.fvu, row.mean.fvu);
      assert.equal(dirRow.mean.rare, 0, 'pre-activations are dense');
    }
    const report = readFileSync(join(dir, 'report.md'), 'utf8');
    assert.match(report, /Margin over units/);
    assert.ok(existsSync(join(dir, 'mis_vs_ratio_concepts.svg')) && existsSync(join(dir, 'mis_vs_ratio_toy.svg')));
    // the same call again resumes: nothing recomputed
    const again = await run();
    assert.equal(again.summary.ran, 0);
    assert.equal(again.summary.skipped, 20);
    // other settings in the same folder are refused
    await assert.rejects(runInterpretabilityRepro({ out: dir, ratios: [1], seeds: [0], settings: { ...TINY_INTERP, tasks: 11 } }), /other hyperparameters/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('repro causal-rungs (tiny): rows rung-1..3 with holds_id / holds_ood, a report with the claims check', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sparsecode-rungs-'));
  try {
    const r = await runCausalRungsRepro({
      out: dir, seeds: [0], settings: { trainSamples: 600, steps: 150, analysisSamples: 300, testSamples: 150, saeSteps: 30, decoderSteps: 60 },
    });
    assert.equal(r.summary.failed, 0, JSON.stringify(r.summary.lines.map((l) => l?.error)));
    assert.deepEqual(r.rows.map((x) => x.method), [...RUNG_METHODS]);
    for (const row of r.rows) {
      for (const f of ['holds_id', 'holds_ood', 'holds_mech', 'holds_cov']) assert.ok(row.mean[f] >= 0 && row.mean[f] <= 1, `${row.method} ${f}`);
      assert.ok(row.mean.err_id >= 0 && row.mean.err_ood >= 0);
    }
    assert.equal(r.rows[0].mean.findings, 8);
    assert.equal(r.rows[1].mean.findings, 16);
    assert.equal(r.rows[2].mean.findings, 2 * 4 * 150);
    const report = readFileSync(join(dir, 'report.md'), 'utf8');
    assert.match(report, /How often each rung's finding holds/);
    assert.match(report, /scope-above-regime/);
    assert.ok(existsSync(join(dir, 'holds_by_rung.svg')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CLI repro: the new experiments refuse unknown methods and options', async () => {
  const a = await cli(['repro', 'causal-rungs', '--methods', 'units', '--out', join(tmpdir(), 'never')]);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /"units" is not a method of causal-rungs; choose from rung-1, rung-2, rung-3/);
  const b = await cli(['repro', 'interpretability', '--ratios', '0', '--out', join(tmpdir(), 'never2')]);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /--ratios must be integers >= 1/);
  const c = await cli(['repro', 'causal-rungs', '--ratios', '2']);
  assert.equal(c.code, 2);
  assert.match(c.stderr, /--ratios does not apply to repro causal-rungs/);
});

test('CLI interpretability: units, kmeans and the JSON equal the library; bad inputs name the argument', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sparsecode-mis-'));
  try {
    const rng = new Rng(7);
    const E = new Matrix(300, 5);
    rng.fillNormal(E.data);
    const A = new Matrix(300, 3);
    for (let i = 0; i < 300; i++) {
      A.data[i * 3] = E.data[i * 5];
      A.data[i * 3 + 1] = Math.max(0, E.data[i * 5 + 1] + 0.3 * rng.normal());
      A.data[i * 3 + 2] = rng.normal();
    }
    writeNpy(join(dir, 'A.npy'), A);
    writeNpy(join(dir, 'E.npy'), E);
    const r = spawnCli(['interpretability', '--acts', join(dir, 'A.npy'), '--embeddings', join(dir, 'E.npy'), '--tasks', '50', '--seed', '3', '--save-tasks', join(dir, 't.json'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    const lib = mis(A, cosineSimilarity(E), { tasks: 50, seed: 3 });
    assert.deepEqual(j.scores, Array.from(lib.scores));
    assert.equal(j.mean, lib.mean);
    assert.equal(j.directions, 'units');
    assert.equal(j.subset, 75);
    assert.ok(j.scores[0] > 0.9 && j.scores[2] < 0.75, JSON.stringify(j.scores));
    const saved = JSON.parse(readFileSync(join(dir, 't.json'), 'utf8'));
    assert.equal(saved.plus.length, 3);
    assert.equal(saved.plus[0].length, 50);
    assert.equal(saved.plus[0][0].length, 10);
    // k-means directions
    const k = await cli(['interpretability', '--acts', join(dir, 'A.npy'), '--embeddings', join(dir, 'E.npy'), '--directions', 'kmeans', '--clusters', '5', '--restarts', '2', '--json']);
    assert.equal(k.code, 0, k.stderr);
    const jk = JSON.parse(k.stdout);
    assert.equal(jk.count, 5);
    const d = kmeansDirections(A, { k: 5, restarts: 2, seed: 0 });
    assert.deepEqual(jk.scores, Array.from(mis(d.activations, cosineSimilarity(E)).scores));
    // a similarity matrix: 300 x 300 from the embedding gives the same scores as --embeddings
    const S = new Matrix(300, 300);
    const cs = cosineSimilarity(E);
    for (let i = 0; i < 300; i++) for (let q = 0; q < 300; q++) S.data[i * 300 + q] = cs.sim(i, q);
    writeNpy(join(dir, 'S.npy'), S);
    const s = await cli(['interpretability', '--acts', join(dir, 'A.npy'), '--similarity', join(dir, 'S.npy'), '--json']);
    assert.equal(s.code, 0, s.stderr);
    assert.deepEqual(JSON.parse(s.stdout).scores, Array.from(mis(A, cs).scores));
    // SAE latents as directions: a model written by `sparsecode fit`, encoding the activations
    const fit = await cli(['fit', 'topk-sae', '--input', join(dir, 'A.npy'), '--atoms', '6', '--k', '2', '--steps', '30', '--batch', '64', '--seed', '0', '--out', join(dir, 'sae')]);
    assert.equal(fit.code, 0, fit.stderr);
    const sae = await cli(['interpretability', '--acts', join(dir, 'A.npy'), '--embeddings', join(dir, 'E.npy'), '--directions', `sae:${join(dir, 'sae')}`, '--json']);
    assert.equal(sae.code, 0, sae.stderr);
    const js = JSON.parse(sae.stdout);
    assert.equal(js.directions, 'sae');
    assert.equal(js.count, 6);
    const model = loadModel(join(dir, 'sae'));
    assert.deepEqual(js.scores, Array.from(mis(model.encode(A), cosineSimilarity(E)).scores));
    assert.equal(js.active_top, false);
    // the sparse-direction rule: the library's activeTop scores (an untestable latent: null)
    const at = await cli(['interpretability', '--acts', join(dir, 'A.npy'), '--embeddings', join(dir, 'E.npy'), '--directions', `sae:${join(dir, 'sae')}`, '--quantile', '0.45', '--active-top', '--json']);
    assert.equal(at.code, 0, at.stderr);
    const ja = JSON.parse(at.stdout);
    const libAt = mis(model.encode(A), cosineSimilarity(E), { quantile: 0.45, activeTop: true });
    assert.equal(ja.active_top, true);
    assert.deepEqual(ja.scores, Array.from(libAt.scores, (v) => (Number.isNaN(v) ? null : v)));
    assert.equal(ja.untestable, libAt.untestable);
    assert.equal(ja.rare, Array.from(libAt.tasks.aboveFloor).filter((m) => m < libAt.tasks.subset).length);
    assert.ok(ja.rare > 0, 'TopK latents (k = 2 of 6) are 0 on more than 55 % of the stimuli');
    const noAt = await cli(['interpretability', '--acts', join(dir, 'A.npy'), '--embeddings', join(dir, 'E.npy'), '--directions', `sae:${join(dir, 'sae')}`, '--quantile', '0.45']);
    assert.equal(noAt.code, 0, noAt.stderr);
    assert.match(noAt.stderr + noAt.stdout, /directions are above their minimum on fewer than 135 stimuli.*--active-top/);
    // the latents as directions: the encoder's pre-activations, (A − b_dec)·W_enc + b_enc
    const sd = await cli(['interpretability', '--acts', join(dir, 'A.npy'), '--embeddings', join(dir, 'E.npy'), '--directions', `sae-dir:${join(dir, 'sae')}`, '--json']);
    assert.equal(sd.code, 0, sd.stderr);
    const jsd = JSON.parse(sd.stdout);
    assert.equal(jsd.directions, 'sae-dir');
    assert.equal(jsd.count, 6);
    const W = model.weights.W_enc!, bEnc = model.weights.b_enc!, bDec = model.weights.b_dec!;
    const pre = new Matrix(300, 6);
    for (let i = 0; i < 300; i++) {
      for (let a = 0; a < 6; a++) {
        let v = bEnc[a];
        for (let j = 0; j < 3; j++) v += (A.data[i * 3 + j] - bDec[j]) * W.data[j * 6 + a];
        pre.data[i * 6 + a] = v;
      }
    }
    // MIS only ranks stimuli: float32 vs float64 rounding can swap exact near-ties, so compare the mean loosely and most scores exactly
    const libSd = mis(pre, cosineSimilarity(E));
    assert.ok(Math.abs(jsd.mean - libSd.mean) < 0.01, `${jsd.mean} vs ${libSd.mean}`);
    assert.deepEqual(jsd.scores, Array.from(mis(model.preActivations!(A), cosineSimilarity(E)).scores));
    const dl = await cli(['fit', 'dl-fista', '--input', join(dir, 'A.npy'), '--atoms', '4', '--steps', '5', '--seed', '0', '--out', join(dir, 'dl')]);
    assert.equal(dl.code, 0, dl.stderr);
    const noEnc = await cli(['interpretability', '--acts', join(dir, 'A.npy'), '--embeddings', join(dir, 'E.npy'), '--directions', `sae-dir:${join(dir, 'dl')}`]);
    assert.equal(noEnc.code, 2);
    assert.match(noEnc.stderr, /sae-dir: needs an SAE \(a model with an encoder\).*--directions sae:/);
    const wrong = await cli(['interpretability', '--acts', join(dir, 'E.npy'), '--embeddings', join(dir, 'E.npy'), '--directions', `sae:${join(dir, 'sae')}`]);
    assert.equal(wrong.code, 3);
    assert.match(wrong.stderr, /the model expects d_in = 3 units, --acts has 5 columns/);
    // human-readable output
    const h = await cli(['interpretability', '--acts', join(dir, 'A.npy'), '--embeddings', join(dir, 'E.npy')]);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /mean MIS: 0\.\d{4}/);
    // bad inputs
    writeNpy(join(dir, 'S_bad.npy'), S.rowSlice(0, 299));
    const e1 = await cli(['interpretability', '--acts', join(dir, 'A.npy'), '--similarity', join(dir, 'S_bad.npy')]);
    assert.equal(e1.code, 3);
    assert.match(e1.stderr, /--similarity .* is \[299 x 300\] but --acts has 300 samples/);
    const Sn = S.clone();
    Sn.data[5] = NaN;
    writeNpy(join(dir, 'S_nan.npy'), Sn);
    const e2 = await cli(['interpretability', '--acts', join(dir, 'A.npy'), '--similarity', join(dir, 'S_nan.npy')]);
    assert.equal(e2.code, 3);
    assert.match(e2.stderr, /--similarity.*non-finite value \(NaN\) at row 0, column 5/);
    const e3 = await cli(['interpretability', '--acts', join(dir, 'A.npy'), '--embeddings', join(dir, 'E.npy'), '--quantile', '0.01']);
    assert.equal(e3.code, 2);
    assert.match(e3.stderr, /too few samples for the quantile and k asked.*ceil\(300 · 0\.01\) = 3/);
    const e4 = await cli(['interpretability', '--acts', join(dir, 'A.npy')]);
    assert.equal(e4.code, 2);
    assert.match(e4.stderr, /give exactly one similarity model/);
    const e5 = await cli(['interpretability', '--acts', join(dir, 'A.npy'), '--embeddings', join(dir, 'E.npy'), '--directions', 'pca']);
    assert.equal(e5.code, 2);
    assert.match(e5.stderr, /--directions must be units, kmeans, sae:DIR or sae-dir:DIR/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CLI claims: check prints flags, --json, --strict exit 1; bad files exit 3 naming the field', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sparsecode-claims-'));
  try {
    const r = await cli(['claims', 'check', 'test/fixtures/evidence/claims.json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /FLAGGED \[probe-uses\]/);
    assert.match(r.stdout, /15 claims, 8 flagged/);
    const j = spawnCli(['claims', 'check', 'test/fixtures/evidence/claims.json', '--json', '--strict']);
    assert.equal(j.code, 1);
    const o = JSON.parse(j.stdout);
    assert.equal(o.flagged, 8);
    assert.equal(o.checks.length, 15);
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ claims: [{ claim: 'x', rung: 1, evidence: 'probe', regime: 'id' }, { claim: 'y', rung: 9, evidence: 'probe', regime: 'id' }] }));
    const b = await cli(['claims', 'check', join(dir, 'bad.json')]);
    assert.equal(b.code, 3);
    assert.match(b.stderr, /claims\[1\]\.rung: unknown rung 9/);
    writeFileSync(join(dir, 'bad2.json'), '{"claims": [');
    const b2 = await cli(['claims', 'check', join(dir, 'bad2.json')]);
    assert.equal(b2.code, 3);
    assert.match(b2.stderr, /not valid JSON/);
    const k = await cli(['claims', 'kinds']);
    assert.equal(k.code, 0);
    assert.match(k.stdout, /rung 2 \(intervention\):\n {2}ablation/);
    const m = await cli(['claims', 'check']);
    assert.equal(m.code, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
