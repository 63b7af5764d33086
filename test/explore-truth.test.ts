// explore --truth: the atom cosines with the true directions come from a least-squares fit by the
// normal equations (backend GEMM + Cholesky); checked here against the SVD-based minimum-norm
// lstsq (numpy.linalg.lstsq semantics, linalg/ridge.ts) on a small world, a latent that never
// fires included, and the progress lines say what is computed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { writeNpy } from '../src/io/npy.js';
import { saveModel, DEFAULT_INFERENCE } from '../src/io/model.js';
import { lstsq } from '../src/linalg/ridge.js';
import { buildModelView } from '../src/explore/model-data.js';

test('explore --truth: atom cosines agree with an SVD lstsq fit; the steps are announced', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-extruth-'));
  try {
    const rng = new Rng(4);
    const n = 600, latents = 10, dim = 16;
    const A = new Matrix(latents, dim);
    rng.fillNormal(A.data);
    const T = new Matrix(n, latents);
    const X = new Matrix(n, dim);
    for (let i = 0; i < n; i++) {
      for (let l = 0; l < latents - 1; l++) if (rng.uniform() < 0.3) T.data[i * latents + l] = rng.uniform(); // the last latent never fires
      for (let c = 0; c < dim; c++) {
        let s = 0.01 * rng.normal();
        for (let l = 0; l < latents; l++) s += T.data[i * latents + l] * A.data[l * dim + c];
        X.data[i * dim + c] = s;
      }
    }
    // a dictionary model: the true atoms, slightly perturbed, plus two random ones
    const W = new Matrix(12, dim);
    rng.fillNormal(W.data);
    for (let j = 0; j < latents; j++) for (let c = 0; c < dim; c++) W.data[j * dim + c] = A.data[j * dim + c] + 0.1 * W.data[j * dim + c];
    for (let j = 0; j < 12; j++) {
      let q = 0;
      for (let c = 0; c < dim; c++) q += W.data[j * dim + c] ** 2;
      for (let c = 0; c < dim; c++) W.data[j * dim + c] /= Math.sqrt(q);
    }
    const model = join(dir, 'm');
    saveModel(model, { kind: 'dl-fista', weights: { W_dec: W }, inference: { ...DEFAULT_INFERENCE, lambda: 0.01, nonneg: false } });
    writeNpy(join(dir, 'X.npy'), X);
    writeNpy(join(dir, 'Z.npy'), T);
    const notes: string[] = [];
    const v = buildModelView(model, { data: join(dir, 'X.npy'), truth: join(dir, 'Z.npy'), note: (l) => notes.push(l) });
    assert.ok(notes.some((l) => /encoding 600 rows/.test(l)));
    assert.ok(notes.some((l) => /correlating 12 codes with 10 true latents over 600 rows and matching them one to one \(MCC, Hungarian\)/.test(l)));
    assert.ok(notes.some((l) => /true directions of 10 latents by least squares/.test(l)));

    const ref = lstsq(T, X);
    let checked = 0;
    for (const f of v.features) {
      if (f.latent === null || f.cos === null) continue;
      const l = f.latent;
      let dot = 0, na = 0, nw = 0;
      for (let c = 0; c < dim; c++) {
        const a = ref.W[l * dim + c], w = W.data[f.index * dim + c];
        dot += a * w; na += a * a; nw += w * w;
      }
      const cos = na > 0 ? Math.abs(dot) / Math.sqrt(na * nw) : 0;
      assert.ok(Math.abs(cos - f.cos) < 1e-5, `atom ${f.index} (latent ${l}): ${f.cos} vs lstsq ${cos}`);
      checked++;
    }
    assert.ok(checked >= 9, `${checked} matched atoms checked`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
