import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { decodeNpy, writeNpy } from '../src/io/npy.js';
import {
  STRAIGHTENING_FEATURE_NAMES, batchStraighteningFeatures, meanCurvature, straighteningFeatures, trajectoryGeometry,
} from '../src/metrics/curvature.js';
import { trajectoryFileFeatures } from '../src/cli/trajectories.js';
import { assertAllClose, assertThrowsCode } from './helpers.js';

const FIX = 'test/fixtures/curvature';
const ref = JSON.parse(readFileSync(join(FIX, 'features.json'), 'utf8'));
const load = (name: string) => {
  const b = readFileSync(join(FIX, name));
  return decodeNpy(new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)), name);
};

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], { encoding: 'utf8', timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'sparsecode-curvature-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('the 21 features and the geometry equal the NumPy fixture (1e-5)', () => {
  assert.deepEqual([...STRAIGHTENING_FEATURE_NAMES], ref.names);
  const a = load('traj2d.npy');
  const [T, D] = a.shape;
  const f = straighteningFeatures({ data: a.data, frames: T, dim: D });
  assertAllClose(f, ref.traj2d.features, 1e-7, 1e-7, 'traj2d features');
  const g = trajectoryGeometry({ data: a.data, frames: T, dim: D });
  assertAllClose(g.distances, ref.traj2d.distances, 1e-7, 1e-9, 'distances');
  assertAllClose(g.angles, ref.traj2d.angles, 1e-7, 1e-7, 'angles');
  const b = load('traj3d.npy');
  const [V, T3, D3] = b.shape;
  const F = batchStraighteningFeatures(b.data, V, T3, D3);
  for (let v = 0; v < V; v++) {
    assertAllClose(F.subarray(v * 21, (v + 1) * 21), ref.traj3d.features[v], 1e-5, 1e-5, `traj3d ${v}`);
  }
});

test('a Matrix, nested arrays and flat data give the same features', () => {
  const a = load('traj2d.npy');
  const [T, D] = a.shape;
  const M = new Matrix(T, D, Float32Array.from(a.data));
  const rows = M.toArray();
  const f1 = straighteningFeatures(M);
  assert.deepEqual(Array.from(straighteningFeatures(rows)), Array.from(f1));
  assert.deepEqual(Array.from(straighteningFeatures({ data: a.data, frames: T, dim: D })), Array.from(f1));
  assert.equal(meanCurvature(M), f1[17]);
});

test('closed forms: a straight line has 0 degree angles, a regular polygon 360/n, a back-and-forth 180', () => {
  const line = Array.from({ length: 10 }, (_, t) => [t, 2 * t, -t]);
  const gl = trajectoryGeometry(line);
  for (const th of gl.angles) assert.ok(Math.abs(th) < 1e-6);
  for (const d of gl.distances) assert.ok(Math.abs(d - Math.sqrt(6)) < 1e-12);
  const n = 12;
  const poly = Array.from({ length: 10 }, (_, t) => [Math.cos((2 * Math.PI * t) / n), Math.sin((2 * Math.PI * t) / n)]);
  for (const th of trajectoryGeometry(poly).angles) assert.ok(Math.abs(th - 360 / n) < 1e-9, `polygon angle ${th}`);
  const zig = Array.from({ length: 9 }, (_, t) => [t % 2, 0]);
  const f = straighteningFeatures(zig);
  for (let i = 0; i < 6; i++) assert.ok(Math.abs(f[7 + i] - 180) < 1e-9);
  assert.equal(f[16], 0); // variance of equal distances
  assert.equal(f[20], 0);
  // square path: 90 degrees
  const sq = [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0], [1, 0], [1, 1], [0, 1]];
  for (const th of trajectoryGeometry(sq).angles) assert.ok(Math.abs(th - 90) < 1e-9);
});

test('bad trajectories: too short, repeated frames, NaN, ragged frames name the trajectory and frame', () => {
  const short = Array.from({ length: 7 }, (_, t) => [t, t * t]);
  assertThrowsCode(() => straighteningFeatures(short, { name: 'clip 4' }), 'E_SHAPE', /clip 4 has 7 frames; at least 8/);
  const rep = Array.from({ length: 10 }, (_, t) => [t, Math.sin(t)]);
  rep[5] = [...rep[4]];
  assertThrowsCode(() => straighteningFeatures(rep, { name: 'clip 2' }), 'E_ARG', /clip 2: frames 4 and 5 are identical.*angle at frames 4 and 5/);
  const first = Array.from({ length: 10 }, (_, t) => [t, 0]);
  first[1] = [0, 0];
  assertThrowsCode(() => trajectoryGeometry(first), 'E_ARG', /frames 0 and 1 are identical.*angle at frame 1 is undefined/);
  const nan = Array.from({ length: 10 }, (_, t) => [t, t]);
  nan[6][1] = NaN;
  assertThrowsCode(() => straighteningFeatures(nan, { name: 'v' }), 'E_NONFINITE', /v: frame 6, dimension 1 is NaN/);
  assertThrowsCode(() => straighteningFeatures([[0, 1], [1, 2, 3]]), 'E_SHAPE', /frame 1 has 3 dimensions, frame 0 has 2/);
  assertThrowsCode(() => batchStraighteningFeatures(new Float32Array(10), 2, 8, 1), 'E_SHAPE', /10 values do not make 2 trajectories/);
});

test('CLI curvature --json on a 3-D .npy equals the NumPy fixture; --out writes [videos x 21]', () => {
  const out = join(dir, 'F.npy');
  const r = cli(['curvature', '--input', join(FIX, 'traj3d.npy'), '--json', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.deepEqual(j.names, ref.names);
  assert.equal(j.features.length, 3);
  for (let v = 0; v < 3; v++) assertAllClose(j.features[v], ref.traj3d.features[v], 1e-5, 1e-5, `cli traj ${v}`);
  assertAllClose(j.mean_curvature_deg, ref.traj3d.mean_curvature_deg, 1e-5, 1e-5, 'mean curvature');
  const b = readFileSync(out);
  const F = decodeNpy(new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
  assert.deepEqual(F.shape, [3, 21]);
  assert.equal(F.dtype, 'float32');
  assertAllClose(F.data, ref.traj3d.features.flat(), 1e-6, 1e-5, 'F.npy');
  // one 2-D trajectory, with the geometry
  const r2 = cli(['curvature', '--input', join(FIX, 'traj2d.npy'), '--json', '--geometry', '--quiet']);
  assert.equal(r2.code, 0, r2.stderr);
  const j2 = JSON.parse(r2.stdout);
  assert.equal(j2.features.length, 1);
  assertAllClose(j2.features[0], ref.traj2d.features, 1e-5, 1e-5, 'cli traj2d');
  assertAllClose(j2.angles[0], ref.traj2d.angles, 1e-5, 1e-5, 'cli angles');
  assertAllClose(j2.distances[0], ref.traj2d.distances, 1e-5, 1e-6, 'cli distances');
});

test('CLI curvature refuses short, repeated-frame, 1-D and 4-D inputs with the trajectory and frame', () => {
  const short = join(dir, 'short.npy');
  writeNpy(short, { shape: [2, 7, 3], data: new Float32Array(42).map((_, i) => i * i) });
  let r = cli(['curvature', '--input', short]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /7 frames.*at least 8/);
  const rep = join(dir, 'rep.npy');
  const data = new Float32Array(2 * 9 * 2).map((_, i) => Math.sin(i) * 10 + i);
  // trajectory 1, frames 3 and 4 identical
  const base = 9 * 2;
  data[base + 4 * 2] = data[base + 3 * 2];
  data[base + 4 * 2 + 1] = data[base + 3 * 2 + 1];
  writeNpy(rep, { shape: [2, 9, 2], data });
  r = cli(['curvature', '--input', rep]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /trajectory 1: frames 3 and 4 are identical/);
  // the rest through the same reader, in-process
  const one = join(dir, 'one.npy');
  writeNpy(one, { shape: [10], data: new Float32Array(10) });
  assertThrowsCode(() => trajectoryFileFeatures(one), 'E_SHAPE', /--input .*one.npy: shape \(10\) is not a trajectory; expected \[T x D\]/);
  const four = join(dir, 'four.npy');
  writeNpy(four, { shape: [1, 2, 9, 2], data: new Float32Array(36) });
  assertThrowsCode(() => trajectoryFileFeatures(four, { what: '--real' }), 'E_SHAPE', /--real .*not a trajectory/);
  const nan = join(dir, 'nan.npy');
  const nd = new Float32Array(3 * 8 * 2).map((_, i) => i * 1.5 + Math.cos(i));
  nd[2 * 16 + 5 * 2 + 1] = Infinity;
  writeNpy(nan, { shape: [3, 8, 2], data: nd });
  assertThrowsCode(() => trajectoryFileFeatures(nan), 'E_NONFINITE', /trajectory 2: frame 5, dimension 1 is Infinity/);
  const f = trajectoryFileFeatures(join(FIX, 'traj3d.npy'));
  assert.equal(f.videos, 3);
  assertAllClose(f.features, ref.traj3d.features.flat(), 1e-5, 1e-5, 'reader features');
});
