// The small things a newcomer hits (issue 15, item 6), run in-process through the CLI's main():
// output paths (a new directory tree is announced, a directory where a file goes and a file where
// a directory goes are refused clearly), options a method does not take are refused the same way
// for every method, arguments are checked before the input is read, no doubled prefixes,
// `repro <experiment> --help` and --methods only about that experiment, no arguments exits 2,
// `fit --val` reports the held-out FVU (checked against the saved model, encoded here), and the
// explorer's count formatting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { writeNpy, readNpyMatrix } from '../src/io/npy.js';
import { loadModel } from '../src/dictionary/model-runtime.js';
import { main, withoutPrefix } from '../src/cli/main.js';
import { fmtMetric, isCountKey } from '../web/src/dom.js';

/** Run the CLI in this process, capturing what it writes. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '', stderr = '';
  const ow = process.stdout.write.bind(process.stdout), ew = process.stderr.write.bind(process.stderr);
  // the CLI writes strings; the test runner's own (binary) reports pass through
  process.stdout.write = ((c: string | Uint8Array, ...rest: never[]) => (typeof c === 'string' ? ((stdout += c), true) : ow(c, ...rest))) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array, ...rest: never[]) => (typeof c === 'string' ? ((stderr += c), true) : ew(c, ...rest))) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'cli-small-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function data(seed: number, n: number, d = 8, atoms = 12): Matrix {
  const rng = new Rng(seed);
  const A = new Matrix(atoms, d);
  new Rng(99).fillNormal(A.data);
  const X = new Matrix(n, d);
  for (let i = 0; i < n; i++) for (let t = 0; t < 2; t++) {
    const j = rng.int(atoms), c = rng.uniform();
    for (let k = 0; k < d; k++) X.data[i * d + k] += c * A.data[j * d + k];
  }
  return X;
}
const X = join(dir, 'X.npy');
const V = join(dir, 'V.npy');
const D = join(dir, 'D.npy');
writeNpy(X, data(1, 400));
writeNpy(V, data(2, 150));
writeNpy(D, new Matrix(12, 8, Float32Array.from({ length: 96 }, (_, i) => Math.sin(i + 1))));
const FILE = join(dir, 'a-file');
writeFileSync(FILE, 'x');
const MISSING = join(dir, 'no-such.npy');

test('sparsecode with no arguments prints the help on stderr and exits 2', async () => {
  const r = await cli([]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Usage: sparsecode <command>/);
  assert.equal(r.stdout, '');
});

test('fit: options a method does not take are refused alike, naming its options', async () => {
  for (const [method, flag, extra] of [['dl-fista', '--k', '4'], ['topk-sae', '--nonneg', null], ['online-dl', '--lr', '0.1'], ['relu-sae', '--extrapolate', '1']] as const) {
    const args = ['fit', method, '--input', X, '--atoms', '12', '--out', join(dir, 'm'), flag, ...(extra ? [extra] : [])];
    if (method === 'topk-sae') args.push('--k', '2');
    const r = await cli(args);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`sparsecode fit: ${method} does not take ${flag}; its options are --`));
  }
  const help = await cli(['fit', 'dl-fista', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--coder lasso-cd\|fista/);
  assert.match(help.stdout, /--extrapolate W/);
  assert.doesNotMatch(help.stdout, /^ {2}--(k|lr|batch|widths) /m);
  const r = await cli(['fit', 'dl-fista', '--input', X, '--atoms', '12', '--out', join(dir, 'm'), '--fista-iters', '5']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--fista-iters sets the iterations of --coder fista; dl-fista codes with lasso-cd by default: add --coder fista/);
});

test('fit: arguments are checked before the input is read', async () => {
  for (const [args, re] of [
    [['--atoms', '0'], /--atoms must be >= 1, got 0/],
    [['--atoms', '4', '--l1', '-1'], /--l1 must be >= 0/],
    [['--atoms', '4', '--extrapolate', '2'], /--extrapolate must be in \[0, 1\]/],
    [['--atoms', '4', '--out', FILE], /--out .*a-file is a file; fit writes a directory of files there: pass a directory path/],
  ] as const) {
    const r = await cli(['fit', 'dl-fista', '--input', MISSING, '--out', join(dir, 'm0'), ...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /ENOENT|cannot read/);
  }
  const k = await cli(['fit', 'topk-sae', '--input', MISSING, '--atoms', '4', '--k', '8', '--out', join(dir, 'm0')]);
  assert.equal(k.code, 2);
  assert.match(k.stderr, /--k must be between 1 and --atoms \(4\), got 8/);
});

test('encode --out . and a directory: a clear usage error; a new directory tree is announced', async () => {
  const r = await cli(['encode', '--dictionary', D, '--input', X, '--lambda', '0.1', '--out', '.']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--out \. is a directory; encode writes one file: pass a file name, e.g\. --out Z\.npy/);
  assert.doesNotMatch(r.stderr, /EBUSY|rename/);
  const out = join(dir, 'new', 'deeper', 'Z.npy');
  const ok = await cli(['encode', '--dictionary', D, '--input', X, '--lambda', '0.1', '--out', out]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /encode: creating the directory .*new\/deeper for /);
  assert.ok(existsSync(out));
});

test('world --out: a new tree is announced, a file refused', async () => {
  const r = await cli(['world', 'iid', '--latents', '8', '--active', '2', '--samples', '40', '--out', join(dir, 'w1', 'sub')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /world: creating the directory .*w1\/sub \(and the missing ones above it, from .*w1\)/);
  const f = await cli(['world', 'iid', '--latents', '8', '--active', '2', '--samples', '40', '--out', FILE]);
  assert.equal(f.code, 2);
  assert.match(f.stderr, /--out .*a-file is a file; world writes a directory of files there/);
});

test('fit --val: the held-out FVU beside the training FVU, equal to the saved model\'s on those rows', async () => {
  const out = join(dir, 'fresh', 'dl');
  const r = await cli(['fit', 'dl-fista', '--input', X, '--val', V, '--atoms', '12', '--l1', '0.05', '--steps', '15', '--seed', '0', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /fit: creating the directory .*fresh\/dl \(and the missing ones above it, from .*fresh\)/);
  const j = JSON.parse(r.stdout);
  assert.equal(typeof j.val_fvu, 'number');
  // independently: encode V with the saved model, FVU in float64
  const Vm = readNpyMatrix(V);
  const m = loadModel(out);
  const R = m.decode(m.encode(Vm));
  const d = Vm.cols;
  const mean = new Float64Array(d);
  for (let i = 0; i < Vm.rows; i++) for (let c = 0; c < d; c++) mean[c] += Vm.data[i * d + c] / Vm.rows;
  let sse = 0, sst = 0;
  for (let i = 0; i < Vm.rows; i++) for (let c = 0; c < d; c++) {
    sse += (Vm.data[i * d + c] - R.data[i * d + c]) ** 2;
    sst += (Vm.data[i * d + c] - mean[c]) ** 2;
  }
  assert.ok(Math.abs(j.val_fvu - sse / sst) < 1e-6, `val_fvu ${j.val_fvu} vs ${sse / sst}`);
  const t = await cli(['fit', 'dl-fista', '--input', X, '--val', V, '--atoms', '12', '--steps', '3', '--out', join(dir, 'dl2'), '--quiet']);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /FVU \d\.\d{4} on training rows, held-out FVU \d\.\d{4} on 150 rows of /);
  const W5 = join(dir, 'W5.npy');
  writeNpy(W5, new Matrix(10, 5));
  const bad = await cli(['fit', 'dl-fista', '--input', X, '--val', W5, '--atoms', '12', '--out', join(dir, 'dl3')]);
  assert.equal(bad.code, 3, bad.stderr);
  assert.match(bad.stderr, /--val .*W5\.npy is \[10 x 5\]; it must have the columns of --input \(8\)/);
  assert.ok(!existsSync(join(dir, 'dl3', 'cfg.json')));
});

test('no doubled prefixes', async () => {
  assert.equal(withoutPrefix('encode: method fista needs lambda', 'encode'), 'method fista needs lambda');
  assert.equal(withoutPrefix('sparsecode: sparsecode encode: x', 'encode'), 'x');
  assert.equal(withoutPrefix('lasso-cd: x', 'encode'), 'lasso-cd: x');
  for (const args of [['encode', '--dictionary', D, '--input', X, '--method', 'mp', '--out', join(dir, 'z.npy')], ['fit', 'nope', '--input', X, '--atoms', '2', '--out', 'x']]) {
    const r = await cli(args);
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stderr, /sparsecode( \w+)?: (sparsecode|encode|fit)( \w+)?: |(E_[A-Z]+): \1/);
  }
});

test('repro <experiment> --help and --methods: that experiment only', async () => {
  const r = await cli(['repro', 'cross-entropy', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Usage: sparsecode repro cross-entropy /);
  assert.match(r.stdout, /Methods \(--methods\): diet, supervised, diet-cp/);
  assert.match(r.stdout, /--kappa/);
  for (const other of ['stop-probing', 'whitening', '--latents', '--conditions', '--hidden', 'slowvae,']) assert.ok(!r.stdout.includes(other), `mentions ${other}`);
  const m = await cli(['repro', 'cross-entropy', '--methods', 'oracle']);
  assert.equal(m.code, 2);
  assert.match(m.stderr, /"oracle" is not a method of cross-entropy; choose from diet, supervised, diet-cp\n/);
  const all = await cli(['repro', '--help']);
  assert.match(all.stdout, /repro stop-probing/);
  assert.match(all.stdout, /repro cross-entropy/);
});

test('explorer views: counts as integers, other metrics with 3 decimals', () => {
  assert.equal(fmtMetric('samples', 10000), '10000');
  assert.equal(fmtMetric('dead', 3), '3');
  assert.equal(fmtMetric('steps', 1502.5), '1502.5');
  assert.equal(fmtMetric('mcc', 0.91234), '0.912');
  assert.equal(fmtMetric('mcc', 1), '1.000');
  assert.equal(fmtMetric('epochs_run', 12, true), '12');
  assert.equal(fmtMetric('fve', null), '—');
  assert.ok(isCountKey('n_latents') && isCountKey('dead') && !isCountKey('fvu') && !isCountKey('l0'));
});
