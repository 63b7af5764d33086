// Seconds per DL-FISTA outer step with given settings, as `fit dl-fista` runs it (blocks of
// about 0.25 s, chunkSeconds), on the first ROWS rows of an .npy file:
//
//   node --import tsx scripts/measure-dl-step.ts X.npy CODER EXTRAPOLATE ATOMS STEPS [ROWS]
//
// e.g. the 50k x 1024 training rows of `sparsecode world iid --latents 2048 --active 8 --dim 1024
// --samples 100000 --seed 0 --out big`:
//   node --import tsx scripts/measure-dl-step.ts big/train_x.npy fista 0 256 3      (before)
//   node --import tsx scripts/measure-dl-step.ts big/train_x.npy lasso-cd 1 256 3   (the CLI's defaults)
// Prints each outer step's seconds, training loss and mean L0 (λ = 0.1, seed 0, tol 0), then the
// total including the final coding pass. docs/dictionary-learning.md has the numbers.
import { loadBackends, backend } from '../src/backend/index.js';
import { readNpyMatrix } from '../src/io/npy.js';
import { learnDictionaryFista } from '../src/dictionary/dl-fista.js';

const [path, coder, extrapolate, atoms, steps, rows] = process.argv.slice(2);
if (!path || (coder !== 'fista' && coder !== 'lasso-cd')) {
  console.error('usage: measure-dl-step.ts X.npy fista|lasso-cd EXTRAPOLATE ATOMS STEPS [ROWS]');
  process.exit(2);
}
await loadBackends({ quiet: true });
let X = readNpyMatrix(path);
if (rows) X = X.takeRows(Int32Array.from({ length: Math.min(X.rows, Number(rows)) }, (_, i) => i));
const t: number[] = [performance.now()];
await learnDictionaryFista(X, {
  atoms: Number(atoms), lambda: 0.1, coder, extrapolate: Number(extrapolate), maxOuter: Number(steps), tol: 0, seed: 0, chunkSeconds: 0.25,
  onProgress: (p) => {
    t.push(performance.now());
    console.log(`step ${p.step}: ${((t[t.length - 1] - t[t.length - 2]) / 1000).toFixed(2)} s, loss ${p.loss.toFixed(4)}, L0 ${p.l0.toFixed(1)}`);
  },
});
console.log(`${backend().name} backend, X [${X.rows} x ${X.cols}], ${coder}, extrapolate ${extrapolate}: ${((performance.now() - t[0]) / 1000).toFixed(1)} s in all (with the final coding pass)`);
