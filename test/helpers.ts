import assert from 'node:assert/strict';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';

export function randMatrix(rows: number, cols: number, seed = 0): Matrix {
  const m = new Matrix(rows, cols);
  new Rng(seed).fillNormal(m.data);
  return m;
}

/** |a - b| <= atol + rtol * |b| elementwise, with a message naming the first offender. */
export function assertAllClose(a: ArrayLike<number>, b: ArrayLike<number>, rtol = 1e-5, atol = 1e-6, what = 'values'): void {
  assert.equal(a.length, b.length, `${what}: lengths differ (${a.length} vs ${b.length})`);
  for (let i = 0; i < a.length; i++) {
    const ok = Math.abs(a[i] - b[i]) <= atol + rtol * Math.abs(b[i]) || (Number.isNaN(a[i]) && Number.isNaN(b[i]));
    if (!ok) assert.fail(`${what}: element ${i} differs: ${a[i]} vs ${b[i]}`);
  }
}

export function assertThrowsCode(fn: () => unknown, code: string, re?: RegExp): void {
  assert.throws(fn, (e: any) => {
    assert.equal(e?.code, code, `expected error code ${code}, got ${e?.code}: ${e?.message}`);
    if (re) assert.match(e.message, re);
    return true;
  });
}

/** Naive float64 reference GEMM on dense row-major op-applied matrices. */
export function refGemm(tA: boolean, tB: boolean, m: number, n: number, k: number, alpha: number, a: Float32Array, b: Float32Array, beta: number, c: Float32Array): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const av = tA ? a[p * m + i] : a[i * k + p];
        const bv = tB ? b[j * k + p] : b[p * n + j];
        s += av * bv;
      }
      out[i * n + j] = alpha * s + (beta === 0 ? 0 : beta * c[i * n + j]);
    }
  }
  return out;
}
