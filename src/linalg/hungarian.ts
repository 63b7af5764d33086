import { fail } from '../core/errors.js';

/**
 * Rectangular linear assignment: minimise sum_i cost[i, col[i]] over one-to-one matchings
 * of the rows to columns (or of the columns to rows, when there are more rows than columns).
 * Same contract as scipy.optimize.linear_sum_assignment: returns matched (row, col) pairs
 * sorted by row, min(rows, cols) of them. O(r^2 c) shortest augmenting paths with potentials.
 *
 * cost: row-major [rows x cols], float64 or float32; must be finite.
 */
export function linearSumAssignment(
  cost: ArrayLike<number>, rows: number, cols: number, opts: { maximize?: boolean } = {},
): { rowInd: Int32Array; colInd: Int32Array } {
  if (cost.length !== rows * cols) fail('E_SHAPE', `assignment: cost has ${cost.length} entries, [${rows} x ${cols}] needs ${rows * cols}`);
  const sign = opts.maximize ? -1 : 1;
  for (let i = 0; i < cost.length; i++) {
    if (!Number.isFinite(cost[i])) fail('E_NONFINITE', `assignment: cost has a non-finite value at row ${Math.floor(i / cols)}, column ${i % cols}`);
  }
  const transposed = rows > cols;
  const n = transposed ? cols : rows; // n <= m
  const m = transposed ? rows : cols;
  const at = transposed
    ? (i: number, j: number) => sign * cost[j * cols + i]
    : (i: number, j: number) => sign * cost[i * cols + j];

  // 1-based arrays, p[j] = row matched to column j (0 = none).
  const u = new Float64Array(n + 1);
  const v = new Float64Array(m + 1);
  const p = new Int32Array(m + 1);
  const way = new Int32Array(m + 1);
  const minv = new Float64Array(m + 1);
  const used = new Uint8Array(m + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    minv.fill(Infinity);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = p[j0];
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const cur = at(i0 - 1, j - 1) - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else minv[j] -= delta;
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0);
  }
  const pairs: [number, number][] = [];
  for (let j = 1; j <= m; j++) {
    if (p[j] !== 0) pairs.push(transposed ? [j - 1, p[j] - 1] : [p[j] - 1, j - 1]);
  }
  pairs.sort((a, b) => a[0] - b[0]);
  return { rowInd: Int32Array.from(pairs, (q) => q[0]), colInd: Int32Array.from(pairs, (q) => q[1]) };
}
