// Dead-latent statistics belong to the trainer (issue #13 item 5): DeadLatentStats against a
// direct count of samples since each latent last fired, and the mask a TopK step uses for AuxK
// (dead before the batch and not fired in it) against the step's own report of what fired.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { useBackend } from '../src/backend/index.js';
import { DeadLatentStats } from '../src/dictionary/dead-latents.js';
import { createSAE } from '../src/dictionary/index.js';

useBackend('js');

test('DeadLatentStats: dead = not fired within deadAfter samples (a direct count since each latent last fired); revived latents count as fired', () => {
  const A = 7, after = 25;
  const st = new DeadLatentStats(A, after);
  const since = new Array<number>(A).fill(0); // samples since the latent last fired (from the start when never)
  const rng = new Rng(1);
  const out = new Uint8Array(A);
  for (let b = 0; b < 40; b++) {
    const rows = 1 + rng.int(9);
    const fired = new Uint8Array(A);
    for (let a = 0; a < A; a++) fired[a] = rng.uniform() < 0.15 ? 1 : 0;
    st.record(fired, rows);
    for (let a = 0; a < A; a++) since[a] = fired[a] ? 0 : since[a] + rows;
    if (b === 20) {
      st.revive([2, 5]);
      since[2] = since[5] = 0;
    }
    const n = st.mask(out);
    const want = since.map((s) => (s >= after ? 1 : 0));
    assert.deepEqual([...out], want, `batch ${b}`);
    assert.equal(n, want.reduce((p: number, q) => p + q, 0));
    assert.equal(st.deadFraction(new Uint8Array(A)), n / A);
  }
});

test('a TopK step reports the latents that fired and gives AuxK only the dead ones that did not fire; without the activity there is no AuxK', () => {
  const A = 16, d = 6, n = 10;
  const rng = new Rng(3);
  const X = new Matrix(n, d);
  rng.fillNormal(X.data);
  const sae = createSAE('topk', { atoms: A, k: 2, auxK: 3 });
  sae.initParams(d, rng.fork('init'));
  const dead = new Uint8Array(A);
  for (let a = 0; a < A; a += 2) dead[a] = 1;
  const act = { dead, fired: new Uint8Array(A).fill(1) }; // fired is overwritten
  const st = sae.forwardBackward(X, act);
  // the codes of the same weights (encode at training semantics: TopK per row, positive values)
  const Z = sae.encode(X);
  const fired = new Uint8Array(A);
  for (let i = 0; i < n; i++) for (let a = 0; a < A; a++) if (Z.get(i, a) !== 0) fired[a] = 1;
  assert.deepEqual([...act.fired], [...fired]);
  let auxLatents = 0;
  for (let a = 0; a < A; a++) auxLatents += dead[a] && !fired[a] ? 1 : 0;
  assert.ok(auxLatents > 0 && st.aux > 0, `AuxK active over ${auxLatents} dead latents (aux ${st.aux})`);
  assert.equal(sae.forwardBackward(X).aux, 0, 'no activity: no AuxK');
  assert.equal(sae.forwardBackward(X, { dead: new Uint8Array(A), fired: new Uint8Array(A) }).aux, 0, 'nothing dead: no AuxK');
  assert.throws(() => sae.forwardBackward(X, { dead: new Uint8Array(A - 1), fired: new Uint8Array(A) }), (e: any) => e.code === 'E_SHAPE');
});
