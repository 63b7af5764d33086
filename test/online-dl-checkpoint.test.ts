// Online-DL checkpoint/resume (in memory and streamed from a file): a run stopped after k
// steps and resumed from its checkpoint ends with the same dictionary, bit for bit, as the
// uninterrupted run; an abort writes the checkpoint; another problem's checkpoint is refused.
// DL-FISTA coding in blocks of rows (chunkSeconds, what the CLI uses so that Ctrl-C is noticed
// within a block) gives the dictionary of the one-block run to float rounding, and an abort in
// the middle of a step keeps the last finished step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { onlineDictionaryLearning, type OnlineDlOptions } from '../src/dictionary/online-dl.js';
import { learnDictionaryFista } from '../src/dictionary/dl-fista.js';
import { loadCheckpoint } from '../src/dictionary/checkpoint.js';
import { ConvergenceMonitor, dictionaryStopRule, resolveConvergence, ONLINE_DEFAULTS } from '../src/dictionary/convergence.js';
import { writeNpy } from '../src/io/npy.js';
import { openRows } from '../src/io/rows.js';

function sparseData(seed: number, n = 300, d = 10, atoms = 16): Matrix {
  const rng = new Rng(seed);
  const A = new Matrix(atoms, d);
  rng.fillNormal(A.data);
  const X = new Matrix(n, d);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < 3; t++) {
      const j = rng.int(atoms), c = rng.uniform();
      for (let k = 0; k < d; k++) X.data[i * d + k] += c * A.data[j * d + k];
    }
  }
  return X;
}

const tmp = () => mkdtempSync(join(tmpdir(), 'sc-odlck-'));
class Crash extends Error {}

function assertBitEqual(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths`);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) assert.fail(`${what}[${i}]: ${a[i]} !== ${b[i]}`);
}

for (const streamed of [false, true]) {
  test(`online DL resume is bit-exact${streamed ? ' (streamed from a file)' : ''}`, async () => {
    const X = sparseData(1);
    const dir = tmp();
    try {
      const path = join(dir, 'X.npy');
      writeNpy(path, X);
      const data = () => (streamed ? openRows(path) : X);
      // a batch that does not divide the rows: resumes land inside a pass
      const base: OnlineDlOptions = { atoms: 16, lambda: 0.05, batch: 32, steps: 40, seed: 3, ...(streamed ? { stream: { chunkRows: 50, bufferChunks: 3 } } : {}) };
      const ref = await onlineDictionaryLearning(data(), base);
      const ckdir = join(dir, 'ck');
      const checkpoint = { dir: ckdir, everySteps: 7, everySeconds: 1e9 };
      await assert.rejects(
        onlineDictionaryLearning(data(), { ...base, checkpoint, onProgress: (p) => { if (p.step === 17) throw new Crash('killed'); } }),
        (e: unknown) => e instanceof Crash,
      );
      assert.equal(loadCheckpoint(ckdir)!.step, 14);
      const seen: number[] = [];
      const res = await onlineDictionaryLearning(data(), { ...base, checkpoint, onProgress: (p) => seen.push(p.step) });
      assert.equal(res.resumedFrom, 14);
      assert.equal(seen[0], 15);
      assert.equal(res.steps, 40);
      assertBitEqual(res.D.data, ref.D.data, 'D');
      // finished: a resume runs no step and returns the same dictionary
      const again = await onlineDictionaryLearning(data(), { ...base, checkpoint, onProgress: () => assert.fail('no step expected') });
      assertBitEqual(again.D.data, ref.D.data, 'D (finished checkpoint)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('online DL: an abort writes the checkpoint; the stop rule\'s history resumes with it; another problem is refused', async () => {
  const X = sparseData(2);
  const Xh = sparseData(9, 60);
  const dir = tmp();
  try {
    const mk = () => {
      const conv = new ConvergenceMonitor(resolveConvergence({ minSteps: 20, maxSteps: 200, evalEvery: 5 }, X.rows, ONLINE_DEFAULTS), undefined, { decays: false });
      return { conv, stop: dictionaryStopRule(Xh, conv, { coder: 'lasso-cd', lambda: 0.05, nonneg: false, fistaIters: 100 }) };
    };
    const base: OnlineDlOptions = { atoms: 16, lambda: 0.05, batch: 32, steps: 200, seed: 4 };
    const r0 = mk();
    const ref = await onlineDictionaryLearning(X, { ...base, stop: r0.stop });
    assert.ok(ref.stopped, 'the rule stops the reference run');
    const r1 = mk();
    const ac = new AbortController();
    const checkpoint = { dir, everySeconds: 3600, extra: r1.stop.extra };
    await assert.rejects(
      onlineDictionaryLearning(X, { ...base, stop: r1.stop, checkpoint, signal: ac.signal, onProgress: (p) => { if (p.step === 12) ac.abort(); } }),
      (e: any) => e.code === 'E_CANCELLED',
    );
    assert.equal(loadCheckpoint(dir)!.step, 12);
    const r2 = mk();
    const res = await onlineDictionaryLearning(X, { ...base, stop: r2.stop, checkpoint: { ...checkpoint, extra: r2.stop.extra } });
    assert.equal(res.resumedFrom, 12);
    assert.equal(res.steps, ref.steps, 'stops at the same step');
    assert.deepEqual(r2.conv.fvu, r0.conv.fvu, 'the same held-out FVU history');
    assertBitEqual(res.D.data, ref.D.data, 'D');
    await assert.rejects(onlineDictionaryLearning(X, { ...base, lambda: 0.1, checkpoint: { dir } }), (e: any) => e.code === 'E_ARG' && /lambda/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('DL-FISTA in blocks of rows: the same dictionary; an abort mid-step keeps the last finished step', async () => {
  const X = sparseData(5, 700);
  for (const coder of ['fista', 'lasso-cd'] as const) {
    const base = { atoms: 16, lambda: 0.05, maxOuter: 6, tol: 0, seed: 2, coder, fistaIters: 30 };
    const whole = await learnDictionaryFista(X, base);
    const blocks = await learnDictionaryFista(X, { ...base, chunkSeconds: 1e-4 });
    // the js backend rounds a row the same in any block: the same dictionary, bit for bit
    for (let i = 0; i < whole.D.data.length; i++) if (!Object.is(whole.D.data[i], blocks.D.data[i])) assert.fail(`${coder}: D[${i}] ${whole.D.data[i]} vs ${blocks.D.data[i]}`);
    for (let i = 0; i < whole.Z.data.length; i++) if (!Object.is(whole.Z.data[i], blocks.Z.data[i])) assert.fail(`${coder}: Z[${i}]`);
  }
  const dir = tmp();
  try {
    const ac = new AbortController();
    let steps = 0;
    const p = learnDictionaryFista(X, { atoms: 16, lambda: 0.05, maxOuter: 50, tol: 0, seed: 2, chunkSeconds: 1e-4, signal: ac.signal, checkpoint: { dir, everySeconds: 3600 }, onProgress: (q) => { steps = q.step; } });
    // abort while step 3 is coding its blocks
    const poll = setInterval(() => { if (steps >= 2) { ac.abort(); clearInterval(poll); } }, 0);
    await assert.rejects(p, (e: any) => e.code === 'E_CANCELLED');
    clearInterval(poll);
    const ck = loadCheckpoint(dir)!;
    assert.equal(ck.step, steps, 'the checkpoint holds the last finished step');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
