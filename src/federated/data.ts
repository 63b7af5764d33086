import { join } from 'node:path';
import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng, type Seed } from '../core/rng.js';
import { readNpy } from '../io/npy.js';
import { packageRoot } from '../io/paths.js';

/**
 * Data for one-shot federated learning: scikit-learn's 8×8 digits (shipped in data/digits/,
 * exported once by scripts/export_digits.py), a stratified train/test split, and clients that
 * hold mutually exclusive class sets (the pathological non-IID case: one class per client).
 */

/** A labelled data set: samples are rows, labels 0..classes−1. */
export interface LabelledData {
  X: Matrix;
  y: Int32Array;
  classes: number;
}

/** One client of a federation: its name, the classes it declares, and its private data. */
export interface Client {
  id: string;
  classes: number[];
  X: Matrix;
  y: Int32Array;
}

/**
 * scikit-learn's `load_digits()` (the test part of the UCI "Optical Recognition of Handwritten
 * Digits" set, 1797 images, 10 classes), pixels scaled from 0..16 to [0, 1].
 */
export function loadDigits(dir = join(packageRoot(), 'data', 'digits')): LabelledData {
  const img = readNpy(join(dir, 'images.npy'));
  const lab = readNpy(join(dir, 'labels.npy'));
  if (img.shape.length !== 2 || img.shape[1] !== 64) fail('E_FORMAT', `${dir}/images.npy: expected shape (n, 64), got (${img.shape.join(', ')}); re-export with scripts/export_digits.py`);
  const n = img.shape[0];
  if (lab.shape.length !== 1 || lab.shape[0] !== n) fail('E_FORMAT', `${dir}/labels.npy: expected shape (${n},), got (${lab.shape.join(', ')}); re-export with scripts/export_digits.py`);
  const X = new Matrix(n, 64);
  for (let i = 0; i < n * 64; i++) X.data[i] = img.data[i] / 16;
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = lab.data[i];
    if (!Number.isInteger(v) || v < 0 || v > 9) fail('E_FORMAT', `${dir}/labels.npy: label ${v} at row ${i} is not a digit 0..9`);
    y[i] = v;
  }
  return { X, y, classes: 10 };
}

/** A stratified split: within each class, a `testFraction` share (rounded) goes to the test set. */
export function stratifiedSplit(d: LabelledData, testFraction: number, seed: Seed): { train: LabelledData; test: LabelledData } {
  if (!(testFraction > 0 && testFraction < 1)) fail('E_ARG', `testFraction must lie in (0, 1), got ${testFraction}`);
  const rng = new Rng(seed);
  const tr: number[] = [], te: number[] = [];
  for (let c = 0; c < d.classes; c++) {
    const idx: number[] = [];
    for (let i = 0; i < d.y.length; i++) if (d.y[i] === c) idx.push(i);
    const perm = rng.fork(`class-${c}`).permutation(idx.length);
    const nTest = Math.round(testFraction * idx.length);
    for (let j = 0; j < idx.length; j++) (j < nTest ? te : tr).push(idx[perm[j]]);
  }
  tr.sort((a, b) => a - b);
  te.sort((a, b) => a - b);
  const take = (ix: number[]): LabelledData => ({ X: d.X.takeRows(ix), y: Int32Array.from(ix, (i) => d.y[i]), classes: d.classes });
  return { train: take(tr), test: take(te) };
}

/** The rows of `d` whose label is in `classes`, in their original order. */
export function selectClasses(d: LabelledData, classes: readonly number[]): LabelledData {
  const keep = new Set(classes);
  const ix: number[] = [];
  for (let i = 0; i < d.y.length; i++) if (keep.has(d.y[i])) ix.push(i);
  return { X: d.X.takeRows(ix), y: Int32Array.from(ix, (i) => d.y[i]), classes: d.classes };
}

/**
 * K clients with mutually exclusive classes: client k holds the classes c with c mod K = k
 * (K = classes: one class per client), named `client-<first class>`. `exclude` drops classes
 * from the federation before it is formed (training "without class k" from scratch).
 */
export function partitionByClass(d: LabelledData, clients: number, o: { exclude?: readonly number[] } = {}): Client[] {
  if (!Number.isInteger(clients) || clients < 1 || clients > d.classes) {
    fail('E_ARG', `clients must be an integer in 1..${d.classes} (each client holds at least one whole class), got ${clients}`);
  }
  const out: Client[] = [];
  const excluded = new Set(o.exclude ?? []);
  for (let k = 0; k < clients; k++) {
    const classes: number[] = [];
    for (let c = k; c < d.classes; c += clients) if (!excluded.has(c)) classes.push(c);
    if (!classes.length) continue;
    const part = selectClasses(d, classes);
    out.push({ id: `client-${k}`, classes, X: part.X, y: part.y });
  }
  return out;
}

/**
 * Check a federation: every client holds data, every label is one of the classes it declares,
 * and the declared class sets are mutually exclusive. Errors name the client and the fix.
 */
export function checkClients(clients: readonly Client[], classes: number): void {
  if (!clients.length) fail('E_ARG', 'the federation has no clients; give at least one client with data');
  const owner = new Map<number, string>();
  const ids = new Set<string>();
  for (const cl of clients) {
    if (ids.has(cl.id)) fail('E_ARG', `two clients are named "${cl.id}"; give every client its own id`);
    ids.add(cl.id);
    if (!cl.X || cl.X.rows === 0) fail('E_ARG', `client "${cl.id}" holds no data; remove it from the federation or give it samples`);
    if (cl.y.length !== cl.X.rows) fail('E_SHAPE', `client "${cl.id}": ${cl.X.rows} samples but ${cl.y.length} labels; give one label per sample`);
    if (!cl.classes.length) fail('E_ARG', `client "${cl.id}" declares no classes; declare the classes it holds`);
    for (const c of cl.classes) {
      if (!Number.isInteger(c) || c < 0 || c >= classes) fail('E_ARG', `client "${cl.id}" declares class ${c}, outside 0..${classes - 1}`);
      const prev = owner.get(c);
      if (prev !== undefined) fail('E_ARG', `clients "${prev}" and "${cl.id}" both declare class ${c}, but the class sets must be disjoint; give class ${c} to one client only`);
      owner.set(c, cl.id);
    }
    const declared = new Set(cl.classes);
    const seen = new Set<number>();
    for (let i = 0; i < cl.y.length; i++) {
      if (!declared.has(cl.y[i])) fail('E_ARG', `client "${cl.id}" holds a sample of class ${cl.y[i]} (row ${i}) but declares only classes ${cl.classes.join(', ')}; fix its labels or its declared classes`);
      seen.add(cl.y[i]);
    }
    for (const c of cl.classes) if (!seen.has(c)) fail('E_ARG', `client "${cl.id}" declares class ${c} but holds no sample of it; drop the class from its declaration`);
    const d = cl.X.data;
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) fail('E_NONFINITE', `client "${cl.id}": sample ${Math.floor(i / cl.X.cols)} has a non-finite value (${d[i]}); clean its data`);
  }
}
