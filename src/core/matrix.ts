import { fail } from './errors.js';

/**
 * A dense row-major float32 matrix. Samples are rows.
 * `data[i * cols + j]` is the element at row i, column j.
 */
export class Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;

  constructor(rows: number, cols: number, data?: Float32Array) {
    if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 0) {
      fail('E_SHAPE', `matrix shape must be two non-negative integers, got [${rows} x ${cols}]`);
    }
    const size = rows * cols;
    if (data === undefined) {
      data = new Float32Array(size);
    } else if (data.length !== size) {
      fail('E_SHAPE', `matrix data has ${data.length} elements, shape [${rows} x ${cols}] needs ${size}`);
    }
    this.rows = rows;
    this.cols = cols;
    this.data = data;
  }

  static zeros(rows: number, cols: number): Matrix {
    return new Matrix(rows, cols);
  }

  /** Build from nested arrays (rows of equal length). */
  static from(rows: ArrayLike<ArrayLike<number>>): Matrix {
    const r = rows.length;
    const c = r === 0 ? 0 : rows[0].length;
    const m = new Matrix(r, c);
    for (let i = 0; i < r; i++) {
      const row = rows[i];
      if (row.length !== c) fail('E_SHAPE', `row ${i} has ${row.length} entries, row 0 has ${c}`);
      for (let j = 0; j < c; j++) m.data[i * c + j] = row[j];
    }
    return m;
  }

  static identity(n: number): Matrix {
    const m = new Matrix(n, n);
    for (let i = 0; i < n; i++) m.data[i * n + i] = 1;
    return m;
  }

  get shape(): [number, number] {
    return [this.rows, this.cols];
  }

  get size(): number {
    return this.rows * this.cols;
  }

  get(i: number, j: number): number {
    return this.data[i * this.cols + j];
  }

  set(i: number, j: number, v: number): void {
    this.data[i * this.cols + j] = v;
  }

  /** A view (no copy) of row i. */
  row(i: number): Float32Array {
    return this.data.subarray(i * this.cols, (i + 1) * this.cols);
  }

  /** A view (no copy) of rows [start, end). */
  rowSlice(start: number, end: number): Matrix {
    if (start < 0 || end > this.rows || start > end) {
      fail('E_SHAPE', `row range [${start}, ${end}) is outside a matrix with ${this.rows} rows`);
    }
    return new Matrix(end - start, this.cols, this.data.subarray(start * this.cols, end * this.cols));
  }

  /** A copy of the given rows, in order. */
  takeRows(index: ArrayLike<number>): Matrix {
    const out = new Matrix(index.length, this.cols);
    for (let r = 0; r < index.length; r++) {
      const i = index[r];
      if (!(i >= 0 && i < this.rows)) fail('E_SHAPE', `row index ${i} is outside a matrix with ${this.rows} rows`);
      out.data.set(this.row(i), r * this.cols);
    }
    return out;
  }

  /** A copy of the given columns, in order. */
  takeCols(index: ArrayLike<number>): Matrix {
    const out = new Matrix(this.rows, index.length);
    for (let c = 0; c < index.length; c++) {
      if (!(index[c] >= 0 && index[c] < this.cols)) fail('E_SHAPE', `column index ${index[c]} is outside a matrix with ${this.cols} columns`);
    }
    for (let i = 0; i < this.rows; i++) {
      const src = i * this.cols;
      const dst = i * index.length;
      for (let c = 0; c < index.length; c++) out.data[dst + c] = this.data[src + index[c]];
    }
    return out;
  }

  clone(): Matrix {
    return new Matrix(this.rows, this.cols, this.data.slice());
  }

  transpose(): Matrix {
    const out = new Matrix(this.cols, this.rows);
    const { rows, cols, data } = this;
    const o = out.data;
    const B = 32;
    for (let i0 = 0; i0 < rows; i0 += B) {
      const i1 = Math.min(rows, i0 + B);
      for (let j0 = 0; j0 < cols; j0 += B) {
        const j1 = Math.min(cols, j0 + B);
        for (let i = i0; i < i1; i++) for (let j = j0; j < j1; j++) o[j * rows + i] = data[i * cols + j];
      }
    }
    return out;
  }

  toArray(): number[][] {
    const out: number[][] = [];
    for (let i = 0; i < this.rows; i++) out.push(Array.from(this.row(i)));
    return out;
  }
}

/** Stack matrices with equal column counts on top of each other. */
export function vstack(parts: Matrix[]): Matrix {
  if (parts.length === 0) return new Matrix(0, 0);
  const cols = parts[0].cols;
  let rows = 0;
  for (const p of parts) {
    if (p.cols !== cols) fail('E_SHAPE', `vstack: a part has ${p.cols} columns, the first has ${cols}`);
    rows += p.rows;
  }
  const out = new Matrix(rows, cols);
  let off = 0;
  for (const p of parts) {
    out.data.set(p.data, off);
    off += p.data.length;
  }
  return out;
}
