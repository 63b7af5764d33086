import { fail } from '../core/errors.js';

/**
 * Rectangular linear assignment: minimise sum_i cost[i, col[i]] over one-to-one matchings
 * of the rows to columns (or of the columns to rows, when there are more rows than columns).
 * Same contract as scipy.optimize.linear_sum_assignment: returns matched (row, col) pairs
 * sorted by row, min(rows, cols) of them. Exact.
 *
 * Algorithm: the shortest augmenting path method of Jonker & Volgenant (1987) with column
 * potentials only (row potentials implicit), as in SciPy's LAPJV-style solver:
 * 1. initialisation: row reduction and a greedy matching of each row to its cheapest column
 *    when that column is still free (for a cost matrix with a dominant entry per row, e.g.
 *    |correlations| of good codes against the truth, this matches almost every row at once);
 * 2. augmenting row reduction (JV's second phase, two passes over the free rows): a free row
 *    takes its cheapest column, whose potential drops by the gap to the row's second cheapest,
 *    and the row it displaces is freed; on noise-like matrices (|correlations| of poor codes,
 *    where many rows share a cheapest column) this matches most rows the greedy start left;
 * 3. every row left free is matched by a Dijkstra search over reduced costs on the columns not
 *    yet scanned (one pass per step that relaxes and finds the next minimum, preferring free
 *    columns on ties), then the potentials of the scanned columns are updated and the path is
 *    augmented.
 * Worst case O(r²·c) like the Hungarian method, but each Dijkstra step touches only the
 * columns not yet scanned and the greedy start leaves few rows to search for.
 *
 * cost: row-major [rows x cols], float64 or float32; must be finite. Not modified; copied
 * (float64, transposed) only when rows > cols.
 */
export function linearSumAssignment(
  cost: ArrayLike<number>, rows: number, cols: number, opts: { maximize?: boolean } = {},
): { rowInd: Int32Array; colInd: Int32Array } {
  if (cost.length !== rows * cols) fail('E_SHAPE', `assignment: cost has ${cost.length} entries, [${rows} x ${cols}] needs ${rows * cols}`);
  for (let i = 0; i < cost.length; i++) {
    if (!Number.isFinite(cost[i])) fail('E_NONFINITE', `assignment: cost has a non-finite value at row ${Math.floor(i / cols)}, column ${i % cols}`);
  }
  const transposed = rows > cols;
  const n = transposed ? cols : rows; // n <= m: every one of the n rows gets a column
  const m = transposed ? rows : cols;
  let sign = opts.maximize ? -1 : 1;
  let a: ArrayLike<number> = cost;
  if (transposed) {
    const t = new Float64Array(n * m);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * m + r] = sign * cost[r * cols + c];
    a = t;
    sign = 1;
  }
  const rowCol = new Int32Array(n).fill(-1); // column of each row
  const colRow = new Int32Array(m).fill(-1); // row of each column
  const v = new Float64Array(m); // column potentials

  // 1. greedy start: a row's cheapest column, when free (tight under v = 0, u_i = min_j a_ij)
  for (let i = 0; i < n; i++) {
    const o = i * m;
    let best = Infinity;
    let bj = -1;
    for (let j = 0; j < m; j++) {
      const c = sign * a[o + j];
      if (c < best) {
        best = c;
        bj = j;
      }
    }
    if (bj >= 0 && colRow[bj] === -1) {
      colRow[bj] = i;
      rowCol[i] = bj;
    }
  }

  // 2. augmenting row reduction (Jonker & Volgenant's second phase, two passes): a free row
  // takes its cheapest column j1 at reduced cost c − v, lowering v[j1] by the gap to its second
  // cheapest so the edge stays tight for it (and only gets dearer for every other row, so each
  // matched edge stays a minimum of its row); the row it displaces is freed and, when the gap
  // was positive, processed next. On noise-like matrices, where many rows share a cheapest
  // column, this leaves few rows for the searches below.
  let cur = new Int32Array(n);
  let nxt = new Int32Array(n);
  let numFree = 0;
  for (let i = 0; i < n; i++) if (rowCol[i] === -1) cur[numFree++] = i;
  for (let pass = 0; pass < 2 && numFree > 0 && m > 1; pass++) {
    const listed = numFree;
    numFree = 0;
    // re-processing a displaced row at once is bounded, so a pass ends (each such step lowers a
    // potential by a positive gap; the rest go to the next pass or to the searches)
    let budget = 4 * listed + 16;
    let k = 0;
    while (k < listed) {
      const i = cur[k++];
      const o = i * m;
      let u1 = sign * a[o] - v[0];
      let j1 = 0;
      let u2 = Infinity;
      let j2 = -1;
      for (let j = 1; j < m; j++) {
        const h = sign * a[o + j] - v[j];
        if (h < u2) {
          if (h >= u1) {
            u2 = h;
            j2 = j;
          } else {
            u2 = u1;
            j2 = j1;
            u1 = h;
            j1 = j;
          }
        }
      }
      let i0 = colRow[j1];
      const gap = u2 - u1;
      if (gap > 0) v[j1] -= gap;
      else if (i0 !== -1) {
        // a tie: take the second cheapest column instead (no potential changes)
        j1 = j2;
        i0 = colRow[j1];
      }
      rowCol[i] = j1;
      colRow[j1] = i;
      if (i0 !== -1) {
        rowCol[i0] = -1;
        if (gap > 0 && --budget > 0) cur[--k] = i0;
        else nxt[numFree++] = i0;
      }
    }
    const t = cur;
    cur = nxt;
    nxt = t;
  }

  // 3. shortest augmenting paths for the rows left free
  const d = new Float64Array(m);
  const pred = new Int32Array(m);
  const todo = new Int32Array(m);
  const scanned = new Int32Array(m);
  for (let f = 0; f < n; f++) {
    if (rowCol[f] !== -1) continue;
    const of = f * m;
    let best = Infinity;
    let pmin = -1;
    for (let k = 0; k < m; k++) {
      const dk = sign * a[of + k] - v[k];
      d[k] = dk;
      pred[k] = f;
      todo[k] = k;
      if (dk < best || (dk === best && colRow[k] === -1 && colRow[todo[pmin]] !== -1)) {
        best = dk;
        pmin = k;
      }
    }
    let cnt = m;
    let ns = 0;
    let end = -1;
    let mu = 0;
    for (;;) {
      const j = todo[pmin];
      mu = d[j];
      if (colRow[j] === -1) {
        end = j;
        break;
      }
      todo[pmin] = todo[--cnt];
      scanned[ns++] = j;
      const i = colRow[j];
      const oi = i * m;
      const h = sign * a[oi + j] - v[j] - mu; // row i's implicit potential, shifted by the path length
      best = Infinity;
      pmin = -1;
      for (let p = 0; p < cnt; p++) {
        const k = todo[p];
        const cand = sign * a[oi + k] - v[k] - h;
        let dk = d[k];
        if (cand < dk) {
          d[k] = dk = cand;
          pred[k] = i;
        }
        if (dk < best || (dk === best && colRow[k] === -1 && colRow[todo[pmin]] !== -1)) {
          best = dk;
          pmin = p;
        }
      }
      if (pmin < 0) fail('E_NOTCONVERGED', 'assignment: no augmenting path found (internal error)');
    }
    // potentials of the scanned columns keep matched edges tight and reduced costs >= 0
    for (let q = 0; q < ns; q++) {
      const k = scanned[q];
      v[k] += d[k] - mu;
    }
    // augment along the path ending at the free column `end`
    let j = end;
    for (;;) {
      const i = pred[j];
      colRow[j] = i;
      const prev = rowCol[i];
      rowCol[i] = j;
      if (i === f) break;
      j = prev;
    }
  }

  const rowInd = new Int32Array(n);
  const colInd = new Int32Array(n);
  if (transposed) {
    // pairs (original row r = column of the transposed problem, original col c = its row)
    const pairs: [number, number][] = [];
    for (let c = 0; c < n; c++) pairs.push([rowCol[c], c]);
    pairs.sort((x, y) => x[0] - y[0]);
    for (let t = 0; t < n; t++) {
      rowInd[t] = pairs[t][0];
      colInd[t] = pairs[t][1];
    }
  } else {
    for (let i = 0; i < n; i++) {
      rowInd[i] = i;
      colInd[i] = rowCol[i];
    }
  }
  return { rowInd, colInd };
}
