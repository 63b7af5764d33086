import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { SparsecodeError } from '../src/core/errors.js';
import { Rng } from '../src/core/rng.js';
import { readNpyMatrix } from '../src/io/npy.js';
import { decodeNpz, encodeNpz } from '../src/io/npz.js';
import { loadModel } from '../src/dictionary/model-runtime.js';
import { inspectPath } from '../src/io/inspect.js';

// Property: whatever the new readers get (about 10^4 seeded mutations of valid .npz archives and
// of every fixture model folder: byte flips, truncations, splices, edited zip size fields, JSON
// configs with keys deleted or set to hostile values), they return a model that encodes, or throw
// a SparsecodeError with a file-problem code. Never another exception, never a hang.

const tmp = mkdtempSync(join(tmpdir(), 'sparsecode-fuzz-formats-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const FX = join(import.meta.dirname, 'fixtures', 'formats');
const CODES = new Set(['E_FORMAT', 'E_DTYPE', 'E_SHAPE', 'E_NONFINITE']);

function check(stats: Record<string, number>, what: string, fn: () => void): void {
  const t0 = performance.now();
  try {
    fn();
    stats.ok = (stats.ok ?? 0) + 1;
  } catch (e) {
    if (!(e instanceof SparsecodeError)) assert.fail(`${what}: threw ${(e as Error)?.name}: ${(e as Error)?.message}\n${(e as Error)?.stack}`);
    if (!CODES.has(e.code)) assert.fail(`${what}: unexpected code ${e.code}: ${e.message}`);
    stats[e.code] = (stats[e.code] ?? 0) + 1;
  }
  const dt = performance.now() - t0;
  assert.ok(dt < 2000, `${what}: took ${dt.toFixed(0)} ms`);
}

function mutateBytes(src: Uint8Array, rng: Rng): Uint8Array {
  let b: Uint8Array = Uint8Array.from(src); // a copy (Buffer.slice would be a view)
  switch (rng.int(6)) {
    case 0: {
      const k = 1 + rng.int(8);
      for (let i = 0; i < k && b.length; i++) b[rng.int(b.length)] = rng.int(256);
      break;
    }
    case 1:
      b = b.subarray(0, rng.int(b.length + 1));
      break;
    case 2: {
      const c = new Uint8Array(b.length + 1 + rng.int(64));
      c.set(b);
      for (let i = b.length; i < c.length; i++) c[i] = rng.int(256);
      b = c;
      break;
    }
    case 3: {
      // zip/safetensors size and offset fields: overwrite a 4-byte little-endian word with a hostile value
      if (b.length >= 8) {
        const at = rng.int(b.length - 4);
        const v = [0, 1, 0xffffffff, 0x7fffffff, rng.nextU32(), 1 << 20][rng.int(6)];
        new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(at, v >>> 0, true);
      }
      break;
    }
    case 4: {
      // zip signatures: corrupt a local or central directory header signature
      for (let i = 0; i + 4 <= b.length; i++) {
        if (b[i] === 0x50 && b[i + 1] === 0x4b && rng.uniform() < 0.3) {
          b[i + 2 + rng.int(2)] = rng.int(256);
          break;
        }
      }
      break;
    }
    default: {
      const a = rng.int(b.length + 1), z = a + rng.int(b.length - a + 1);
      const c = new Uint8Array(b.length - (z - a));
      c.set(b.subarray(0, a));
      c.set(b.subarray(z), a);
      b = c;
    }
  }
  return b;
}

const HOSTILE: unknown[] = [null, -1, 0, 1, 2.5, 1e308, -1e308, 2 ** 53 + 2, 'x', '', [], [1], {}, true, false, 'torch.float99', 'expected_average_only_in', 'layer_norm', 'hook_z', 'topk', 'jumprelu', 'gated', '__proto__', { in: 0 }, { in: -1, out: 'x' }, '6.0.0', '5.9', 'not-a-version', 10000];

function mutateJson(text: string, rng: Rng): string {
  let v: any;
  try {
    v = JSON.parse(text);
  } catch {
    return text.slice(0, rng.int(text.length + 1));
  }
  const paths: (string | number)[][] = [];
  const walk = (o: any, p: (string | number)[]) => {
    if (o && typeof o === 'object') for (const k of Object.keys(o)) { paths.push([...p, k]); if (p.length < 2) walk(o[k], [...p, k]); }
  };
  walk(v, []);
  const op = rng.int(5);
  if (op === 4 || !paths.length) return rng.uniform() < 0.5 ? text.slice(0, rng.int(text.length + 1)) : JSON.stringify({ ...v, [['architecture', 'sparsecode', 'metadata', 'k', 'weird'][rng.int(5)]]: HOSTILE[rng.int(HOSTILE.length)] });
  const p = paths[rng.int(paths.length)];
  let o = v;
  for (let i = 0; i < p.length - 1; i++) o = o[p[i]];
  const k = p[p.length - 1];
  if (op === 0) delete o[k];
  else o[k] = HOSTILE[rng.int(HOSTILE.length)];
  return JSON.stringify(v);
}

function files(dir: string): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else out.push(p);
  }
  return out;
}

test('fuzz decodeNpz: 4000 mutated .npz archives give arrays or E_FORMAT/E_DTYPE/E_SHAPE', () => {
  const rng = new Rng('fuzz-npz');
  const stats: Record<string, number> = {};
  for (let i = 0; i < 4000; i++) {
    const arrays: Record<string, { shape: number[]; data: Float32Array | Float64Array }> = {};
    const n = 1 + rng.int(3);
    for (let t = 0; t < n; t++) {
      const shape = Array.from({ length: 1 + rng.int(2) }, () => rng.int(5));
      const count = shape.reduce((a, b) => a * b, 1);
      arrays[['w_enc', 'b_enc', 'threshold', 'x'][t]] = { shape, data: rng.uniform() < 0.5 ? new Float32Array(count) : new Float64Array(count) };
    }
    const valid = encodeNpz(arrays, { compress: rng.uniform() < 0.5 });
    const bytes = i % 10 === 0 ? valid : mutateBytes(valid, rng);
    check(stats, `npz case ${i}`, () => {
      const r = decodeNpz(bytes, `case${i}`);
      for (const a of Object.values(r.arrays)) assert.equal(a.data.length, a.shape.reduce((x, y) => x * y, 1));
    });
  }
  assert.ok((stats.ok ?? 0) >= 400, `the unmutated archives read (${JSON.stringify(stats)})`);
  assert.ok((stats.E_FORMAT ?? 0) > 1000, JSON.stringify(stats));
});

test('fuzz model folders: 6000 mutated copies of every fixture layout load and encode, or fail cleanly', () => {
  const spec = JSON.parse(readFileSync(join(FX, 'cases.json'), 'utf8')) as { X: string; cases: { name: string; path: string }[] };
  const X = readNpyMatrix(join(FX, spec.X));
  const rng = new Rng('fuzz-model-folders');
  const stats: Record<string, number> = {};
  const perCase = Math.ceil(6000 / spec.cases.length);
  for (const c of spec.cases) {
    const src = join(FX, c.path);
    const isFile = statSync(src).isFile();
    const base = isFile ? join(FX, c.path, '..') : src;
    const copy = join(tmp, c.name);
    cpSync(base, copy, { recursive: true });
    const target = isFile ? join(copy, relative(base, src)) : copy;
    const all = files(copy).filter((f) => !/\.pt$|config\.json$/.test(f) || f.endsWith('cfg.json'));
    const originals = new Map(all.map((f) => [f, readFileSync(f)]));
    for (let i = 0; i < perCase; i++) {
      const f = all[rng.int(all.length)];
      const orig = originals.get(f)!;
      const mutated = f.endsWith('.json') && rng.uniform() < 0.8 ? Buffer.from(mutateJson(orig.toString('utf8'), rng)) : mutateBytes(orig, rng);
      writeFileSync(f, mutated);
      check(stats, `${c.name} case ${i} (${relative(copy, f)})`, () => {
        const m = loadModel(target);
        const Z = m.encode(X);
        assert.equal(Z.cols, m.atoms);
        for (const v of Z.data) assert.ok(Number.isFinite(v));
        inspectPath(target);
      });
      writeFileSync(f, orig);
    }
  }
  assert.ok((stats.ok ?? 0) > 100, JSON.stringify(stats));
  assert.ok((stats.E_FORMAT ?? 0) + (stats.E_SHAPE ?? 0) > 2000, JSON.stringify(stats));
});
