// The Stop-Probing repro survives kills inside a cell: DL-FISTA and the SAEs checkpoint into
// DIR/checkpoints/, a rerun resumes them, the results equal those of an uninterrupted run, and
// the folders go once the cells that use them have their lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useBackend } from '../src/backend/registry.js';
import { loadCheckpoint, checkpointPath } from '../src/dictionary/checkpoint.js';
import {
  FULL_SETTINGS, configSlug, runStopProbing, runStopProbingCell, stopProbingCheckpointFolder,
  type StopProbingConfig, type StopProbingOptions,
} from '../src/experiments/stop-probing/index.js';
import { readResults, type ResultLine } from '../src/experiments/runner.js';

useBackend('js');

const SETTINGS = { saeEpochs: 300, dlMaxOuter: 100, dlTol: 0, dlOodIters: 200 };
const METHODS = ['dl-fista', 'topk-sae', 'fista-on-topk-sae'];
const CONFIG: StopProbingConfig = { latents: 20, active: 3, samples: 400, dim: 12, seed: 0 };
const grid = { latents: [CONFIG.latents], active: [CONFIG.active], samples: [CONFIG.samples], seeds: [CONFIG.seed], methods: METHODS, settings: SETTINGS };

const STOP_PROBING = fileURLToPath(new URL('../src/experiments/stop-probing/index.ts', import.meta.url));
const REGISTRY = fileURLToPath(new URL('../src/backend/registry.ts', import.meta.url));

/**
 * Run the sweep in a child process that SIGKILLs itself as soon as `watch` exists (polled
 * every millisecond; DL-FISTA yields after every outer step and the SAE trainer every 50 ms,
 * so the kill lands inside the cell): a real kill, no clean-up, no abort handler.
 */
function runAndKill(tmp: string, out: string, watch: string, o: Partial<StopProbingOptions>): void {
  const script = join(tmp, 'child.mts');
  writeFileSync(script, [
    `import { runStopProbing } from ${JSON.stringify(STOP_PROBING)};`,
    `import { useBackend } from ${JSON.stringify(REGISTRY)};`,
    `import { existsSync } from 'node:fs';`,
    `useBackend('js');`,
    `setInterval(() => { if (existsSync(${JSON.stringify(watch)})) process.kill(process.pid, 'SIGKILL'); }, 1);`,
    `await runStopProbing(${JSON.stringify({ out, ...grid, ...o })});`,
    `console.log('finished without being killed');`,
    `process.exit(0);`,
  ].join('\n'));
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60000 });
  assert.equal(r.signal, 'SIGKILL', `the child was to be killed inside the cell: status ${r.status}, ${r.stdout}${r.stderr}`);
}

const linesOf = (out: string): ResultLine[] => readResults(join(out, 'results.jsonl')).lines;
const metricsOf = (out: string, method: string) => linesOf(out).find((l) => l.method === method)?.metrics;

test('stop-probing: cells killed mid-training resume from their checkpoints and give the uninterrupted results', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'sc-spresume-'));
  try {
    // the reference: uninterrupted, no checkpoints at all
    const ref = join(tmp, 'ref');
    await runStopProbing({ out: ref, ...grid, checkpoints: false });
    assert.equal(linesOf(ref).length, 3);
    for (const m of METHODS) assert.ok(metricsOf(ref, m), `reference ${m}`);

    const out = join(tmp, 'run');
    const root = join(out, 'checkpoints');
    const dlDir = stopProbingCheckpointFolder(root, CONFIG, 'dl-fista')!;
    const saeDir = stopProbingCheckpointFolder(root, CONFIG, 'topk-sae')!;
    assert.equal(saeDir, stopProbingCheckpointFolder(root, CONFIG, 'fista-on-topk-sae'), 'an SAE and FISTA on its decoder share one folder');
    assert.equal(dlDir, join(root, configSlug(CONFIG), 'dl-fista'));
    const ckOpts = { dlCheckpointSeconds: 0, saeCheckpointEpochs: 1 };

    // 1. killed inside DL-FISTA (a checkpoint after every outer step)
    runAndKill(tmp, out, checkpointPath(dlDir), ckOpts);
    assert.equal(linesOf(out).length, 0, 'no cell finished');
    const dlStep = loadCheckpoint(dlDir)!.step;
    assert.ok(dlStep >= 1 && dlStep < SETTINGS.dlMaxOuter, `killed mid-run (checkpoint at outer step ${dlStep})`);

    // 2. rerun: DL-FISTA resumes; stop (abort) once its line is written
    const notes: string[] = [];
    const ac = new AbortController();
    const r2 = await runStopProbing({ out, ...grid, ...ckOpts, signal: ac.signal, onNote: (m) => notes.push(m), onProgress: (p) => { if (p.line?.method === 'dl-fista') ac.abort(); } });
    assert.equal(r2.summary.cancelled, true);
    assert.ok(notes.some((m) => m.startsWith('dl-fista') && m.includes(`outer step ${dlStep}`)), notes.join('\n'));
    assert.deepEqual(metricsOf(out, 'dl-fista'), metricsOf(ref, 'dl-fista'), 'resumed DL-FISTA = uninterrupted');
    {
      // its seconds include the killed process's, as its checkpoint recorded them
      const line = linesOf(out).find((l: any) => l.method === 'dl-fista') as any;
      assert.ok(line.seconds_before_resume > 0, JSON.stringify(line));
      assert.ok(line.seconds >= line.seconds_before_resume);
    }
    assert.ok(!existsSync(dlDir), 'the DL-FISTA folder is removed once its line is written');

    // 3. killed inside the SAE's training (a checkpoint every epoch)
    runAndKill(tmp, out, checkpointPath(saeDir), ckOpts);
    const saeCk = loadCheckpoint(saeDir)!;
    const total = (saeCk.state.settings as { totalSteps: number }).totalSteps;
    assert.ok(saeCk.step > 0 && saeCk.step < total, `killed mid-training (checkpoint at step ${saeCk.step} of ${total})`);
    assert.equal(linesOf(out).length, 1);

    // 4. rerun: the SAE resumes; stop after its line, before FISTA on its decoder
    notes.length = 0;
    const ac2 = new AbortController();
    await runStopProbing({ out, ...grid, ...ckOpts, signal: ac2.signal, onNote: (m) => notes.push(m), onProgress: (p) => { if (p.line?.method === 'topk-sae') ac2.abort(); } });
    assert.ok(notes.some((m) => m.startsWith('topk SAE') && m.includes(`step ${saeCk.step} of ${total}`)), notes.join('\n'));
    assert.deepEqual(metricsOf(out, 'topk-sae'), metricsOf(ref, 'topk-sae'), 'resumed SAE = uninterrupted');
    assert.ok((linesOf(out).find((l: any) => l.method === 'topk-sae') as any).seconds_before_resume > 0, 'the SAE line counts the killed training');
    // FISTA on its decoder still needs the trained SAE: its final checkpoint is kept
    assert.equal(loadCheckpoint(saeDir)!.step, total);

    // 5. rerun: FISTA on the SAE decoder does not train it again
    notes.length = 0;
    await runStopProbing({ out, ...grid, ...ckOpts, onNote: (m) => notes.push(m) });
    assert.ok(notes.some((m) => m.startsWith('topk SAE') && m.includes(`step ${total} of ${total}`)), `not retrained: ${notes.join('\n')}`);
    assert.deepEqual(metricsOf(out, 'fista-on-topk-sae'), metricsOf(ref, 'fista-on-topk-sae'), 'FISTA on the resumed SAE = uninterrupted');
    assert.equal(linesOf(out).length, 3);
    assert.ok(!existsSync(root), 'every checkpoint folder is gone once every cell has its line');

    // a folder left by a kill between a cell's line and its clean-up goes on the next start
    mkdirSync(dlDir, { recursive: true });
    writeFileSync(join(dlDir, 'checkpoint.safetensors'), 'stale');
    await runStopProbing({ out, ...grid });
    assert.ok(!existsSync(root), 'stale folder removed');
    assert.equal(linesOf(out).length, 3, 'nothing ran again');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('stop-probing: a checkpoint made with other hyperparameters is refused, not resumed', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'sc-spresume-'));
  try {
    const settings = { ...FULL_SETTINGS, ...SETTINGS, saeEpochs: 4, dlMaxOuter: 5 };
    const opts = { checkpointDir: tmp, dlCheckpointSeconds: 0 };
    await runStopProbingCell(CONFIG, 'topk-sae', settings, new Map(), undefined, opts);
    await runStopProbingCell(CONFIG, 'dl-fista', settings, new Map(), undefined, opts);
    // runStopProbingCell alone never removes its folders
    assert.ok(existsSync(checkpointPath(stopProbingCheckpointFolder(tmp, CONFIG, 'topk-sae')!)));
    assert.ok(existsSync(checkpointPath(stopProbingCheckpointFolder(tmp, CONFIG, 'dl-fista')!)));
    await assert.rejects(
      runStopProbingCell(CONFIG, 'topk-sae', { ...settings, saeLr: 1e-3 }, new Map(), undefined, opts),
      (e: any) => e.code === 'E_ARG' && /trained with lr = 0\.0005, this run has lr = 0\.001/.test(e.message),
    );
    await assert.rejects(
      runStopProbingCell(CONFIG, 'dl-fista', { ...settings, dlLambda: 0.2 }, new Map(), undefined, opts),
      (e: any) => e.code === 'E_ARG' && /written for lambda = 0\.1, this run has lambda = 0\.2/.test(e.message),
    );
    // the dead-atom rule reaches the learner (and its checkpoint identity)
    const ck = loadCheckpoint(stopProbingCheckpointFolder(tmp, CONFIG, 'dl-fista')!)!;
    assert.equal((ck.state.identity as Record<string, unknown>).deadAtoms, 'redraw');
    await assert.rejects(
      runStopProbingCell(CONFIG, 'dl-fista', { ...settings, dlDeadAtoms: 'zero' }, new Map(), undefined, opts),
      (e: any) => e.code === 'E_ARG' && /written for deadAtoms = "redraw", this run has deadAtoms = "zero"/.test(e.message),
    );
    // the same settings resume (the finished checkpoints), and equal a run without checkpoints
    const notes: string[] = [];
    const again = await runStopProbingCell(CONFIG, 'topk-sae', settings, new Map(), undefined, { ...opts, onNote: (m) => notes.push(m) });
    assert.deepEqual(again, await runStopProbingCell(CONFIG, 'topk-sae', settings));
    assert.equal(notes.length, 1);
    // the old call form still works and writes nothing
    const dl = await runStopProbingCell(CONFIG, 'dl-fista', settings, new Map());
    assert.deepEqual(await runStopProbingCell(CONFIG, 'dl-fista', settings, new Map(), undefined, opts), dl);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('stop-probing checkpoint folder names are filesystem-safe and distinct per config', () => {
  const a = configSlug({ latents: 100, active: 10, samples: 5000, dim: 47, seed: 0 });
  assert.equal(a, 'active-10_dim-47_latents-100_samples-5000_seed-0');
  assert.notEqual(a, configSlug({ latents: 100, active: 10, samples: 5000, dim: 47, seed: 1 }));
  assert.equal(stopProbingCheckpointFolder('/r', { latents: 2, active: 1, samples: 4, dim: 1, seed: 0 }, 'oracle'), null);
  assert.equal(stopProbingCheckpointFolder('/r', { latents: 2, active: 1, samples: 4, dim: 1, seed: 0 }, 'probe'), null);
  assert.match(stopProbingCheckpointFolder('/r', { latents: 2, active: 1, samples: 4, dim: 1, seed: 0 }, 'fista-on-mp-sae')!, /sae-mp$/);
});

test('stop-probing: the cells that learn send progress notes (DL-FISTA outer steps, SAE epochs) without changing their results', async () => {
  const cfg: StopProbingConfig = { latents: 16, active: 3, samples: 200, dim: 10, seed: 1 };
  const settings = { ...FULL_SETTINGS, saeEpochs: 40, dlMaxOuter: 20, dlTol: 0, dlOodIters: 50 };
  const notes: string[] = [];
  const quiet = await runStopProbingCell(cfg, 'dl-fista', settings);
  const loud = await runStopProbingCell(cfg, 'dl-fista', settings, new Map(), undefined, { onNote: (m) => notes.push(m), progressSeconds: 0 });
  assert.deepEqual(loud, quiet, 'progress notes change nothing');
  assert.ok(notes.some((m) => /^dl-fista n=16 seed=1: outer step \d+\/20 \(stops when ‖ΔD‖\/‖D‖ < 0: now [\d.e+-]+\), L0 [\d.]+, [\d.]+ s\/step/.test(m)), notes.join('\n'));
  notes.length = 0;
  await runStopProbingCell(cfg, 'topk-sae', settings, new Map(), undefined, { onNote: (m) => notes.push(m), progressSeconds: 0 });
  assert.ok(notes.some((m) => /^topk SAE n=16 seed=1: epoch \d+\/40, FVU [\d.]+, L0 [\d.]+, ETA/.test(m)), notes.join('\n'));
});
