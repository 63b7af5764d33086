// DL-FISTA checkpoint/resume: a run stopped after k outer steps and resumed from its
// checkpoint ends with the same dictionary and codes, bit for bit, as the uninterrupted run;
// a checkpoint of another problem is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { learnDictionaryFista, type DlFistaOptions } from '../src/dictionary/dl-fista.js';
import { loadCheckpoint, checkpointPath, saveCheckpoint } from '../src/dictionary/checkpoint.js';

/**
 * Data in the first 4 of 8 dims; half the initial atoms lie in the other 4, so they get no
 * codes, their MOD rows are zero and they are re-drawn from the seeded generator, again and
 * again (λ = 0.2 leaves many atoms unused): a resume must continue that generator's stream.
 */
function problem(seed = 5) {
  const rng = new Rng(seed);
  const n = 60, d = 8, atoms = 12;
  const X = new Matrix(n, d);
  for (let i = 0; i < n; i++) for (let c = 0; c < 4; c++) X.data[i * d + c] = rng.uniform();
  const init = new Matrix(atoms, d);
  for (let j = 0; j < atoms; j++) for (let c = 0; c < d; c++) init.data[j * d + c] = j < 6 ? (c < 4 ? rng.uniform() : 0) : c >= 4 ? rng.normal() : 0;
  return { X, init };
}

const tmp = () => mkdtempSync(join(tmpdir(), 'sc-dlck-'));

class Crash extends Error {}

/** Run to `stopAt`, then "crash" (an exception out of onProgress: nothing more is saved). */
async function crashAt(X: Matrix, opts: DlFistaOptions, stopAt: number): Promise<void> {
  await assert.rejects(
    learnDictionaryFista(X, { ...opts, onProgress: (p) => { if (p.step === stopAt) throw new Crash('killed'); } }),
    (e: unknown) => e instanceof Crash,
  );
}

function assertBitEqual(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths`);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) assert.fail(`${what}[${i}]: ${a[i]} !== ${b[i]}`);
  }
}

for (const variant of [
  { name: 'fista coder, atoms re-drawn throughout', opts: { lambda: 0.2, fistaIters: 20, nonneg: true }, every: 3, crash: 5, redraws: true },
  { name: 'lasso-cd coder', opts: { lambda: 0.05, coder: 'lasso-cd' as const }, every: 4, crash: 6, redraws: false },
  // the loss rises at step 2 here, so step 2 must skip the over-relaxation: only the loss of
  // step 1, restored from the checkpoint, tells it to
  { name: 'over-relaxed MOD (the last loss is part of the state)', opts: { lambda: 0.2, fistaIters: 20, extrapolate: 1 }, every: 1, crash: 2, redraws: false },
]) {
  test(`DL-FISTA resume is bit-exact: ${variant.name}`, async () => {
    const { X, init } = problem();
    const N = 10;
    const base: DlFistaOptions = { atoms: 12, maxOuter: N, tol: 0, init, seed: 1, ...variant.opts };
    const ref = await learnDictionaryFista(X, base);
    assert.equal(ref.iterations, N);
    assert.equal(ref.resumedFrom, null);
    assert.equal(ref.resumedSeconds, 0);

    const dir = tmp();
    try {
      const checkpoint = { dir, everySteps: variant.every, everySeconds: 1e9 };
      // killed at step `crash`: the last checkpoint is the one of the last multiple of `every` before it
      await crashAt(X, { ...base, checkpoint }, variant.crash);
      const ck = loadCheckpoint(dir)!;
      const at = Math.floor((variant.crash - 1) / variant.every) * variant.every;
      assert.equal(ck.step, at);
      assert.equal(ck.state.finished, false);
      const drawsAt = Number(ck.state.redrawDraws);
      if (variant.redraws) assert.ok(drawsAt > 0, 'atoms were re-drawn before the checkpoint');
      if (variant.opts.extrapolate) assert.equal(typeof ck.state.prevLoss, 'number');

      const steps: number[] = [];
      const res = await learnDictionaryFista(X, { ...base, checkpoint, onProgress: (p) => steps.push(p.step) });
      assert.equal(res.resumedFrom, at);
      assert.equal(res.resumedSeconds, Number(ck.state.seconds), 'the seconds the checkpoint recorded');
      assert.ok(res.resumedSeconds > 0);
      assert.deepEqual(steps, Array.from({ length: N - at }, (_, i) => at + 1 + i), 'the resumed run continues after the checkpoint');
      assert.equal(res.iterations, N);
      assert.equal(res.converged, ref.converged);
      assertBitEqual(res.D.data, ref.D.data, 'D');
      assertBitEqual(res.Z.data, ref.Z.data, 'Z');
      const fin = loadCheckpoint(dir)!;
      assert.equal(fin.step, N);
      assert.equal(fin.state.finished, true);
      if (variant.redraws) assert.ok(Number(fin.state.redrawDraws) > drawsAt, 'atoms were re-drawn after the resume point too');

      // a run whose outer loop had finished resumes straight into the final coding pass
      const again = await learnDictionaryFista(X, { ...base, checkpoint, onProgress: () => assert.fail('no outer step expected') });
      assert.equal(again.resumedFrom, N);
      assertBitEqual(again.D.data, ref.D.data, 'D (finished checkpoint)');
      assertBitEqual(again.Z.data, ref.Z.data, 'Z (finished checkpoint)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('DL-FISTA: an aborted run saves its progress and resumes from that step', async () => {
  const { X, init } = problem(7);
  const base: DlFistaOptions = { atoms: 12, lambda: 0.2, fistaIters: 20, maxOuter: 8, tol: 0, nonneg: true, init, seed: 'abc' };
  const ref = await learnDictionaryFista(X, base);
  const dir = tmp();
  try {
    // time-based only, with a period never reached: the abort itself must write the checkpoint
    const checkpoint = { dir, everySeconds: 3600 };
    const ac = new AbortController();
    await assert.rejects(
      learnDictionaryFista(X, { ...base, checkpoint, signal: ac.signal, onProgress: (p) => { if (p.step === 4) ac.abort(); } }),
      (e: any) => e.code === 'E_CANCELLED',
    );
    assert.equal(loadCheckpoint(dir)!.step, 4);
    const res = await learnDictionaryFista(X, { ...base, checkpoint });
    assert.equal(res.resumedFrom, 4);
    assertBitEqual(res.D.data, ref.D.data, 'D');
    assertBitEqual(res.Z.data, ref.Z.data, 'Z');
    // everySeconds 0: a checkpoint after every outer step
    rmSync(dir, { recursive: true, force: true });
    await crashAt(X, { ...base, checkpoint: { dir, everySeconds: 0 } }, 3);
    assert.equal(loadCheckpoint(dir)!.step, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('DL-FISTA: a checkpoint of another problem is refused with E_ARG naming the difference', async () => {
  const { X, init } = problem();
  const base: DlFistaOptions = { atoms: 12, lambda: 0.2, fistaIters: 20, maxOuter: 6, tol: 0, nonneg: true, init, seed: 1 };
  const dir = tmp();
  try {
    const checkpoint = { dir, everySteps: 1 };
    await crashAt(X, { ...base, checkpoint }, 3);
    assert.ok(existsSync(checkpointPath(dir)));
    const refused = (key: string) => (e: any) => e.code === 'E_ARG' && new RegExp(`written for ${key} = .*this run has ${key} = `).test(e.message) && e.message.includes(dir);
    await assert.rejects(learnDictionaryFista(X, { ...base, lambda: 0.1, checkpoint }), refused('lambda'));
    await assert.rejects(learnDictionaryFista(X, { ...base, seed: 2, checkpoint }), refused('seed'));
    await assert.rejects(learnDictionaryFista(X, { ...base, maxOuter: 7, checkpoint }), refused('maxOuter'));
    await assert.rejects(learnDictionaryFista(X, { ...base, deadAtoms: 'zero', checkpoint }), refused('deadAtoms'));
    // a checkpoint written before deadAtoms existed ran with 'redraw': refused for 'zero', resumed for 'redraw'
    {
      const old = tmp();
      try {
        await crashAt(X, { ...base, checkpoint: { dir: old, everySteps: 1 } }, 3);
        const ck = loadCheckpoint(old)!;
        const { deadAtoms, ...identity } = ck.state.identity as Record<string, unknown>;
        assert.equal(deadAtoms, 'redraw');
        saveCheckpoint(old, { ...ck, state: { ...ck.state, identity } });
        await assert.rejects(learnDictionaryFista(X, { ...base, deadAtoms: 'zero', checkpoint: { dir: old } }), (e: any) => e.code === 'E_ARG' && /written for deadAtoms = "redraw", this run has deadAtoms = "zero"/.test(e.message));
        assert.equal((await learnDictionaryFista(X, { ...base, checkpoint: { dir: old } })).resumedFrom, 2);
      } finally {
        rmSync(old, { recursive: true, force: true });
      }
    }
    // the same shape, other values
    const other = problem(6);
    await assert.rejects(learnDictionaryFista(other.X, { ...base, checkpoint }), refused('data'));
    // another shape
    await assert.rejects(learnDictionaryFista(X.rowSlice(0, 50), { ...base, checkpoint }), refused('samples'));
    // the refused checkpoint is left as it was
    assert.equal(loadCheckpoint(dir)!.step, 2);
    // resume: false starts afresh (and overwrites it)
    const fresh = await learnDictionaryFista(other.X, { ...base, checkpoint: { ...checkpoint, resume: false } });
    assert.equal(fresh.resumedFrom, null);
    assert.equal(loadCheckpoint(dir)!.step, 6);
    // bad checkpoint options
    await assert.rejects(learnDictionaryFista(X, { ...base, checkpoint: { dir: '' } }), (e: any) => e.code === 'E_ARG' && /checkpoint/.test(e.message));
    await assert.rejects(learnDictionaryFista(X, { ...base, checkpoint: { dir, everySeconds: -1 } }), (e: any) => e.code === 'E_ARG' && /everySeconds/.test(e.message));
    await assert.rejects(learnDictionaryFista(X, { ...base, checkpoint: { dir, everySteps: 1.5 } }), (e: any) => e.code === 'E_ARG' && /everySteps/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
