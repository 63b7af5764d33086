import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { useBackend } from '../src/backend/index.js';
import { BatchTopKSAE } from '../src/dictionary/index.js';

/**
 * BatchTopK's training selection (a sampled lower bound, one filtering pass, a quickselect on the
 * candidates) against the definition computed naively: every positive pre-activation sorted by
 * value (descending; equal values in row-major order), the first n·k kept.
 */
useBackend('js');

function naive(pre: Matrix, k: number): { kept: Set<number>; min: number } {
  const all: number[] = [];
  for (let t = 0; t < pre.data.length; t++) if (pre.data[t] > 0) all.push(t);
  all.sort((a, b) => pre.data[b] - pre.data[a] || a - b);
  const take = all.slice(0, pre.rows * k);
  return { kept: new Set(take), min: take.length ? Math.min(...take.map((t) => pre.data[t])) : Infinity };
}

function selected(sae: BatchTopKSAE, pre: Matrix): Set<number> {
  const kk = (sae as any).select(pre) as number;
  const idx: Int32Array = (sae as any).idx, val: Float32Array = (sae as any).val;
  const out = new Set<number>();
  for (let i = 0; i < pre.rows; i++) {
    for (let j = 0; j < kk; j++) {
      const a = idx[i * kk + j];
      if (a < 0) continue;
      assert.equal(val[i * kk + j], pre.data[i * pre.cols + a]);
      out.add(i * pre.cols + a);
    }
  }
  return out;
}

/** The positions the selection samples for its bound at 64 x 512 (j·P mod N, P = 2654435761): large values there make the bound too high. */
const sampledPositions = new Set<number>();
{
  const N = 64 * 512, P = 2654435761 % N;
  for (let j = 0, pos = 0; j < 8192; j++, pos = (pos + P) % N) sampledPositions.add(pos);
}

test('BatchTopK selection keeps exactly the n·k largest positive pre-activations (sampled bound, fallback, ties)', () => {
  const rng = new Rng(5);
  const cases: { rows: number; atoms: number; k: number; fill: (t: number) => number }[] = [
    { rows: 64, atoms: 512, k: 4, fill: () => rng.normal() }, // the sampled lower bound path
    { rows: 64, atoms: 512, k: 4, fill: () => Math.round(rng.normal() * 4) / 4 }, // many ties at the threshold
    { rows: 64, atoms: 512, k: 3, fill: (t) => (t < 200 ? 10 + rng.normal() : rng.normal() - 2) }, // a few large values
    { rows: 64, atoms: 512, k: 3, fill: (t) => (sampledPositions.has(t) ? 5 + rng.uniform() : 0.1 * rng.uniform()) }, // the sample overestimates: the fallback
    { rows: 8, atoms: 16, k: 3, fill: () => rng.normal() }, // too small to sample
    { rows: 32, atoms: 512, k: 2, fill: () => -1 - rng.uniform() }, // nothing positive
  ];
  for (const c of cases) {
    const sae = new BatchTopKSAE({ atoms: c.atoms, k: c.k });
    sae.initParams(4, rng.fork('init'));
    (sae as any).workspace(c.rows);
    const pre = new Matrix(c.rows, c.atoms);
    for (let t = 0; t < pre.data.length; t++) pre.data[t] = c.fill(t);
    const want = naive(pre, c.k);
    let passes = 0;
    const gather = (sae as any).gather.bind(sae);
    (sae as any).gather = (...a: unknown[]) => (passes++, gather(...a));
    const got = selected(sae, pre);
    if (c === cases[3]) assert.equal(passes, 2, 'the overestimated bound is detected and the pass redone with every positive entry');
    assert.equal(got.size, want.kept.size, `${c.rows}x${c.atoms} k ${c.k}: count`);
    for (const t of want.kept) assert.ok(got.has(t), `${c.rows}x${c.atoms} k ${c.k}: entry ${t} (value ${pre.data[t]}) missing`);
  }
});
