// Fixtures for the explorer tests: a small TopK model directory whose dictionary is a noisy copy
// of a superposition world's mixing matrix (with data and true latents), and a tiny repro dir.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { superpositionWorld } from '../src/worlds/superposition.js';
import { saveModel } from '../src/io/model.js';
import { writeNpy } from '../src/io/npy.js';
import { writeStopProbingReport } from '../src/experiments/stop-probing/index.js';
import type { ResultLine } from '../src/experiments/runner.js';

export const FIX = { latents: 24, active: 3, dim: 12, samples: 400 };

/** DIR/model (cfg.json + weights), DIR/X.npy [samples x dim], DIR/Z.npy [samples x latents]. */
export function makeModelFixture(dir: string): { model: string; X: string; Z: string; A: Matrix } {
  const w = superpositionWorld({ latents: FIX.latents, active: FIX.active, samples: FIX.samples, dim: FIX.dim, seed: 7, split: 'iid' });
  const A = w.A;
  const rng = new Rng(11);
  // the learned dictionary: A's rows in a shuffled order, slightly perturbed
  const perm = rng.permutation(FIX.latents);
  const D = new Matrix(FIX.latents, FIX.dim);
  for (let i = 0; i < FIX.latents; i++) {
    let ss = 0;
    for (let c = 0; c < FIX.dim; c++) {
      const v = A.data[perm[i] * FIX.dim + c] + 0.05 * rng.normal();
      D.data[i * FIX.dim + c] = v;
      ss += v * v;
    }
    for (let c = 0; c < FIX.dim; c++) D.data[i * FIX.dim + c] /= Math.sqrt(ss);
  }
  const Wenc = new Matrix(FIX.dim, FIX.latents);
  for (let i = 0; i < FIX.latents; i++) for (let c = 0; c < FIX.dim; c++) Wenc.data[c * FIX.latents + i] = D.data[i * FIX.dim + c];
  const model = join(dir, 'model');
  mkdirSync(model, { recursive: true });
  saveModel(model, { kind: 'topk', k: FIX.active, weights: { W_enc: Wenc, b_enc: new Float32Array(FIX.latents), W_dec: D, b_dec: new Float32Array(FIX.dim) } });
  const X = join(dir, 'X.npy');
  const Z = join(dir, 'Z.npy');
  writeNpy(X, w.X.train);
  writeNpy(Z, w.Z.train);
  return { model, X, Z, A };
}

/** A repro output dir: results.jsonl (2 latents values x 2 seeds x 3 methods), sweep.json, report.md + SVGs. */
export function makeReproFixture(dir: string): { dir: string; lines: ResultLine[] } {
  mkdirSync(dir, { recursive: true });
  const lines: ResultLine[] = [];
  const methods = ['oracle', 'probe', 'topk-sae'];
  for (const latents of [50, 100]) {
    for (const seed of [0, 1]) {
      methods.forEach((method, mi) => {
        const base = 0.9 - 0.25 * mi - (latents === 100 ? 0.1 : 0) + 0.01 * seed;
        lines.push({ config: { latents, active: 5, samples: 500, dim: 20, seed }, method, metrics: { mcc_id: base + 0.05, mcc_ood: base }, seconds: 0.5 });
      });
    }
  }
  writeFileSync(join(dir, 'results.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  writeFileSync(join(dir, 'sweep.json'), JSON.stringify({ experiment: 'stop-probing', preset: 'quick', settings: {} }) + '\n');
  writeStopProbingReport(dir, lines, { preset: 'quick' });
  return { dir, lines };
}
