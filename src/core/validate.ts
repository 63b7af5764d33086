import { fail } from './errors.js';
import type { Matrix } from './matrix.js';

/** Throw E_NONFINITE naming the first NaN/Inf by row and column. */
export function assertFinite(name: string, m: Matrix | Float32Array | Float64Array, cols?: number): void {
  const data = 'data' in m && !(m instanceof Float32Array) && !(m instanceof Float64Array) ? m.data : (m as Float32Array);
  const c = 'cols' in m && typeof (m as Matrix).cols === 'number' ? (m as Matrix).cols : (cols ?? data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v !== 0) {
      const r = c > 0 ? Math.floor(i / c) : 0;
      const col = c > 0 ? i % c : i;
      fail('E_NONFINITE', `${name} has a non-finite value (${v}) at row ${r}, column ${col}; clean or drop that row first`, { row: r, col });
    }
  }
}

/** Throw E_SHAPE unless m has the given shape (undefined = any). */
export function assertShape(name: string, m: Matrix, rows?: number, cols?: number): void {
  if ((rows !== undefined && m.rows !== rows) || (cols !== undefined && m.cols !== cols)) {
    fail('E_SHAPE', `${name} has shape [${m.rows} x ${m.cols}], expected [${rows ?? '*'} x ${cols ?? '*'}]`);
  }
}

/** Two matrices must have the same number of columns (e.g. data and dictionary width). */
export function assertSameCols(nameA: string, a: Matrix, nameB: string, b: Matrix): void {
  if (a.cols !== b.cols) fail('E_SHAPE', `shape mismatch: ${nameA} has ${a.cols} columns, ${nameB} has ${b.cols}`);
}

/** Two matrices must have the same number of rows (samples). */
export function assertSameRows(nameA: string, a: Matrix, nameB: string, b: Matrix): void {
  if (a.rows !== b.rows) fail('E_SHAPE', `shape mismatch: ${nameA} has ${a.rows} rows, ${nameB} has ${b.rows}; they must describe the same samples`);
}

export function assertInt(name: string, v: number, min = -Infinity, max = Infinity): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    const range = max === Infinity ? `>= ${min}` : `in [${min}, ${max}]`;
    fail('E_ARG', `${name} must be an integer ${range}, got ${v}`);
  }
}

export function assertNumber(name: string, v: number, min = -Infinity, max = Infinity, opts: { exclusiveMin?: boolean } = {}): void {
  const lowOk = opts.exclusiveMin ? v > min : v >= min;
  if (typeof v !== 'number' || !Number.isFinite(v) || !lowOk || v > max) {
    const lo = opts.exclusiveMin ? `> ${min}` : `>= ${min}`;
    fail('E_ARG', `${name} must be a finite number ${lo}${max !== Infinity ? ` and <= ${max}` : ''}, got ${v}`);
  }
}

/** Abort support: throw E_CANCELLED when the signal has fired. */
export function checkAborted(signal?: AbortSignal): void {
  if (signal?.aborted) fail('E_CANCELLED', 'operation cancelled');
}
