// Ctrl-C (SIGINT) and SIGTERM stop the long synchronous commands within about a second, exit
// 130, and leave no partial output: `encode`, `align` and `eval` compute in an isolated child
// process (src/cli/isolate.ts) while the parent waits and handles the signal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matrix } from '../src/core/matrix.js';
import { Rng } from '../src/core/rng.js';
import { writeNpy } from '../src/io/npy.js';

interface Ended { code: number | null; signal: string | null; stderr: string; afterSignalMs: number }

/** The pids of a process's children (Linux /proc). */
function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * Start the CLI; once its isolated child computes (it exists, then `delayMs` more), send `sig`
 * to the CLI process and time how long it takes to end after that.
 */
function interruptAfter(args: string[], delayMs: number, sig: NodeJS.Signals): Promise<Ended> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], { env: { ...process.env, SPARSECODE_BACKEND: 'js' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  child.stdout.resume();
  let sentAt = 0;
  let timer: NodeJS.Timeout | undefined;
  const poll = setInterval(() => {
    if (timer || !children(child.pid!).length) return;
    clearInterval(poll);
    timer = setTimeout(() => {
      sentAt = Date.now();
      child.kill(sig);
    }, delayMs);
  }, 20);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve({ code, signal, stderr, afterSignalMs: sentAt ? Date.now() - sentAt : -1 });
    });
  });
}

function setup(): { dir: string; D: string; X: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sparsecode-int-'));
  const rng = new Rng(3);
  const D = new Matrix(512, 64);
  rng.fillNormal(D.data);
  const X = new Matrix(20000, 64);
  rng.fillNormal(X.data);
  writeNpy(join(dir, 'D.npy'), D);
  writeNpy(join(dir, 'X.npy'), X);
  return { dir, D: join(dir, 'D.npy'), X: join(dir, 'X.npy') };
}

test('encode: SIGINT during a long FISTA run exits 130 within a second and writes nothing', async () => {
  const { dir, D, X } = setup();
  try {
    const out = join(dir, 'out', 'Z.npy');
    const r = await interruptAfter(['encode', '--dictionary', D, '--input', X, '--out', out, '--method', 'fista', '--iters', '3000', '--tol', '0', '--batch', '20000', '--quiet'], 1500, 'SIGINT');
    assert.ok(r.afterSignalMs >= 0, `encode ended before the signal: ${r.stderr}`);
    assert.equal(r.code, 130, r.stderr);
    assert.ok(r.afterSignalMs < 1500, `took ${r.afterSignalMs} ms to stop`);
    assert.match(r.stderr, /interrupted/);
    assert.ok(!existsSync(out), 'no output file');
    const left = existsSync(join(dir, 'out')) ? readdirSync(join(dir, 'out')) : [];
    assert.deepEqual(left, [], `temporary files left: ${left.join(', ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('align and eval: SIGTERM / SIGINT during the computation exit 130 within a second', async () => {
  const { dir, X } = setup();
  try {
    const a = await interruptAfter(['align', '--a', X, '--b', X, '--metric', 'soft-matching', '--json'], 1500, 'SIGTERM');
    assert.ok(a.afterSignalMs >= 0, `align ended before the signal: ${a.stderr}`);
    assert.equal(a.code, 130, a.stderr);
    assert.ok(a.afterSignalMs < 1500, `align took ${a.afterSignalMs} ms to stop`);
    const e = await interruptAfter(['eval', '--codes', X, '--truth', X, '--json'], 1000, 'SIGINT');
    if (e.afterSignalMs < 0) return; // eval finished within the delay on a fast machine: nothing to interrupt
    assert.equal(e.code, 130, e.stderr);
    assert.ok(e.afterSignalMs < 1500, `eval took ${e.afterSignalMs} ms to stop`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
