// Ctrl-C (SIGINT) during `fit dl-fista` and `fit online-dl`: the run stops within about a second,
// exits 130, writes a checkpoint into --out (and no model), and the message gives the command to
// resume; that command ends with the dictionary an uninterrupted run gives, bit for bit (js
// backend, single-threaded: reproducible).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { writeNpy } from '../src/io/npy.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { CHECKPOINT_FILE } from '../src/dictionary/checkpoint.js';

const ENV = { ...process.env, SPARSECODE_BACKEND: 'js' };

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], { env: ENV, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Start the CLI; once `ready()` holds, wait `delayMs`, send SIGINT and time the exit. */
function interruptWhen(args: string[], ready: () => boolean, delayMs: number): Promise<{ code: number | null; stderr: string; afterSignalMs: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  child.stdout.resume();
  let sentAt = 0;
  let timer: NodeJS.Timeout | undefined;
  const poll = setInterval(() => {
    if (timer || !ready()) return;
    clearInterval(poll);
    timer = setTimeout(() => {
      sentAt = Date.now();
      child.kill('SIGINT');
    }, delayMs);
  }, 10);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve({ code, stderr, afterSignalMs: sentAt ? Date.now() - sentAt : -1 });
    });
  });
}

/** Split a printed shell command (plain words, as shellQuote leaves paths without spaces). */
const words = (line: string) => line.trim().split(/\s+/);

function sparseData(path: string, n: number, d: number, atoms: number, seed: number): void {
  const rng = new Rng(seed);
  const A = new Matrix(atoms, d);
  rng.fillNormal(A.data);
  const X = new Matrix(n, d);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < 4; t++) {
      const j = rng.int(atoms), c = rng.uniform();
      for (let k = 0; k < d; k++) X.data[i * d + k] += c * A.data[j * d + k];
    }
  }
  writeNpy(path, X);
}

const W_DEC = (dir: string) => readSafetensors(join(dir, 'sae_weights.safetensors')).tensors.W_dec.data;

for (const v of [
  { method: 'dl-fista', extra: ['--steps', '20', '--checkpoint-every', '2'] },
  { method: 'online-dl', extra: ['--steps', '600', '--batch', '16', '--checkpoint-every', '40'] },
]) {
  test(`fit ${v.method}: Ctrl-C writes a checkpoint, exits 130 within a second; the printed resume command ends as an uninterrupted run`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sc-intfit-'));
    try {
      const X = join(dir, 'X.npy');
      sparseData(X, 1500, 24, 48, 1);
      const base = ['fit', v.method, '--input', X, '--atoms', '48', '--l1', '0.5', '--seed', '3', ...v.extra];
      const out = join(dir, 'model');
      const ck = join(out, CHECKPOINT_FILE);
      const r = await interruptWhen([...base, '--out', out], () => existsSync(ck), 200);
      assert.ok(r.afterSignalMs >= 0, `fit ended before the signal: ${r.stderr}`);
      assert.equal(r.code, 130, r.stderr);
      assert.ok(r.afterSignalMs < 1500, `took ${r.afterSignalMs} ms to stop`);
      assert.match(r.stderr, /interrupted; a checkpoint was written to .*checkpoint\.safetensors \(after step \d+\); no model was written/);
      assert.ok(existsSync(ck), 'the checkpoint is there');
      assert.ok(!existsSync(join(out, 'sae_weights.safetensors')) && !existsSync(join(out, 'cfg.json')), 'no model files');
      const line = r.stderr.split('\n').find((l) => l.trim().startsWith('sparsecode fit '));
      assert.ok(line, `a resume command in: ${r.stderr}`);
      const cmd = words(line!);
      assert.equal(cmd[cmd.length - 1], '--resume');
      const resumed = cli(cmd.slice(1));
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.match(resumed.stderr, /resumed from (outer )?step \d+/);
      assert.ok(!existsSync(ck), 'the checkpoint is deleted once the model is written');

      const ref = join(dir, 'ref');
      const full = cli([...base, '--out', ref, '--quiet']);
      assert.equal(full.code, 0, full.stderr);
      const a = W_DEC(out), b = W_DEC(ref);
      assert.equal(a.length, b.length);
      for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) assert.fail(`W_dec[${i}]: resumed ${a[i]} vs uninterrupted ${b[i]}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
