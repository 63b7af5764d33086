// The queue end to end, from the command line, against a private redis-server on a free
// loopback port: `repro --queue` enqueues a 24-cell sweep, two `sparsecode worker` processes run
// it (one of them two jobs at a time), one is killed with SIGKILL inside an SAE's training, the
// other resumes that cell from its checkpoint in the shared folder, and `queue collect --wait`
// writes exactly one line per cell, equal to a local run's. Then Ctrl-C on a worker puts its cell back on the queue at a
// checkpoint, and the next worker finishes it with the same numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { checkpointPath, loadCheckpoint } from '../src/dictionary/checkpoint.js';
import { QUEUE_NAME } from '../src/experiments/queue/jobs.js';
import { parseRedisUrl, redisOptions } from '../src/experiments/queue/redis.js';
import { cellKey, readResults, type ResultLine } from '../src/experiments/runner.js';
import { useBackend } from '../src/backend/registry.js';
import { runStopProbing } from '../src/experiments/stop-probing/index.js';
import { redisServerPath, startRedis } from '../bench/redis-server.js';

useBackend('js');

/** SAE epochs: ~2000 steps at this size; the workers checkpoint every 0.05 s (--checkpoint-seconds), so a kill lands inside the training */
const EPOCHS = 600;
const CLI = fileURLToPath(new URL('./run-cli.ts', import.meta.url));
const ENV = { ...process.env, SPARSECODE_BACKEND: 'js', SPARSECODE_THREADS: '1' };
const skip = redisServerPath() === null && process.env.CI !== 'true' ? 'redis-server is not installed (apt-get install redis-server); the queue tests against Redis are skipped' : false;
if (skip) process.stderr.write(`# queue-workers.test.ts: ${skip}\n`);

/** A CLI process whose output is kept. */
interface Proc {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function cli(args: string[]): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return { child, out: () => out, err: () => err, exit };
}

/** Run a CLI command to its end without blocking this process (the workers' output keeps flowing). */
async function cliRun(args: string[]): Promise<{ status: number | null; out: string }> {
  const p = cli(args);
  const { code } = await p.exit;
  return { status: code, out: `${p.out()}${p.err()}` };
}

async function waitFor<T>(what: string, f: () => T | undefined | false, ms = 60_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The SAE checkpoint files under a worker checkpoint root: <root>/<job id>/<config>/sae-<kind>/. */
function saeCheckpoints(root: string): { job: string; dir: string }[] {
  if (!existsSync(root)) return [];
  const found: { job: string; dir: string }[] = [];
  for (const job of readdirSync(root)) {
    let configs: string[] = [];
    try {
      configs = readdirSync(join(root, job));
    } catch {
      continue;
    }
    for (const c of configs) {
      const dir = join(root, job, c, 'sae-topk');
      if (existsSync(checkpointPath(dir))) found.push({ job, dir });
    }
  }
  return found;
}

const started = (p: Proc, job: string) => p.out().split('\n').some((l) => l.includes('"type":"start"') && l.includes(job));
const byCell = (lines: ResultLine[]) => new Map(lines.map((l) => [cellKey(l.config, l.method), l]));
const strip = ({ seconds, seconds_before_resume, ...rest }: ResultLine) => (void seconds, void seconds_before_resume, rest);

test('queue: two workers (concurrency 1 and 2), one killed with SIGKILL mid-cell; every cell lands exactly once and equals a local run', { skip, timeout: 240_000 }, async () => {
  assert.ok(redisServerPath(), 'CI=true: redis-server must be installed (.ci/run installs it)');
  const r = await startRedis();
  const tmp = mkdtempSync(join(tmpdir(), 'sc-qworkers-'));
  const workers: Proc[] = [];
  try {
    const out = join(tmp, 'queued');
    const ck = join(tmp, 'shared-checkpoints');
    const sweep = ['repro', 'stop-probing', '--latents', '16,20', '--active', '3', '--samples', '300', '--seeds', '0,1,2', '--methods', 'oracle,probe,topk-sae,fista-on-topk-sae', '--epochs', String(EPOCHS)];
    const enq = await cliRun([...sweep, '--out', out, '--queue', r.url]);
    assert.equal(enq.status, 0, enq.out);
    assert.match(enq.out, /12 job\(s\) added/);
    assert.match(enq.out, /24 cell\(s\) on the queue/);

    // one worker runs one job at a time, the other two (two compute threads)
    const worker = (concurrency: number) => cli(['worker', '--queue', r.url, '--checkpoints', ck, '--checkpoint-seconds', '0.05', '--lock-seconds', '2', '--concurrency', String(concurrency), '--json']);
    workers.push(worker(1), worker(2));
    // the first SAE checkpoint written: kill the worker that runs it, mid-training
    const victim = await waitFor('an SAE checkpoint', () => saeCheckpoints(ck)[0], 120_000);
    const owner = await waitFor('the owner of the job', () => workers.find((w) => started(w, victim.job)), 10_000);
    owner.child.kill('SIGKILL');
    assert.equal((await owner.exit).signal, 'SIGKILL');
    const at = loadCheckpoint(victim.dir)!;
    const total = (at.state.settings as { totalSteps: number }).totalSteps;
    assert.ok(at.step > 0 && at.step < total, `killed inside the training (checkpoint at step ${at.step} of ${total})`);
    const survivor = workers.find((w) => w !== owner)!;

    const collect = await cliRun(['queue', 'collect', r.url, '--out', out, '--wait']);
    assert.equal(collect.status, 0, collect.out);
    // the survivor took the stalled job over and continued the cell from the shared checkpoint
    assert.ok(started(survivor, victim.job), `the survivor ran the killed job ${victim.job}:\n${survivor.out()}\n${survivor.err()}\nowner:\n${owner.out()}`);
    assert.match(survivor.err(), new RegExp(`topk SAE .*resumed from its checkpoint at step \\d+ of ${total}`));

    const queued = readResults(join(out, 'results.jsonl'));
    assert.equal(queued.bad.length, 0);
    assert.equal(queued.lines.length, 24, 'exactly one line per cell');
    assert.equal(byCell(queued.lines).size, 24, 'no cell twice');
    assert.ok(queued.lines.every((l) => l.metrics), 'no failed cell');
    assert.ok(existsSync(join(out, 'report.md')));
    assert.ok(queued.lines.some((l) => (l.seconds_before_resume ?? 0) > 0), 'the resumed cell counts the killed worker\'s time');

    // the same sweep run here, without a queue
    const local = await runStopProbing({ out: join(tmp, 'local'), latents: [16, 20], active: [3], samples: [300], seeds: [0, 1, 2], methods: ['oracle', 'probe', 'topk-sae', 'fista-on-topk-sae'], settings: { saeEpochs: EPOCHS } });
    const want = byCell(local.summary.lines as ResultLine[]);
    assert.equal(want.size, 24);
    for (const [k, l] of byCell(queued.lines)) assert.deepEqual(strip(l), strip(want.get(k)!), `${k}: the queue gives the local numbers`);

    // the checkpoints of finished jobs are gone; the queue holds every job as completed
    assert.deepEqual(saeCheckpoints(ck), []);
    const q = new Queue(QUEUE_NAME, { connection: redisOptions(parseRedisUrl(r.url)) });
    const counts = await q.getJobCounts('completed', 'failed', 'waiting', 'active', 'delayed');
    await q.close();
    assert.deepEqual([counts.completed, counts.failed, counts.waiting, counts.active, counts.delayed], [12, 0, 0, 0, 0]);
    survivor.child.kill('SIGINT');
    assert.equal((await survivor.exit).code, 0, survivor.err());
  } finally {
    for (const w of workers) w.child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
    await r.stop();
  }
});

test('queue: Ctrl-C on a worker puts its cell back on the queue at a checkpoint; the next worker finishes it with the same numbers', { skip, timeout: 180_000 }, async () => {
  const r = await startRedis();
  const tmp = mkdtempSync(join(tmpdir(), 'sc-qrelease-'));
  const workers: Proc[] = [];
  try {
    const out = join(tmp, 'queued');
    const ck = join(tmp, 'ck');
    const sweep = ['repro', 'stop-probing', '--latents', '16', '--active', '3', '--samples', '300', '--seeds', '0', '--methods', 'topk-sae', '--epochs', String(2 * EPOCHS)];
    const enq = await cliRun([...sweep, '--out', out, '--queue', r.url]);
    assert.equal(enq.status, 0, enq.out);
    const first = cli(['worker', '--queue', r.url, '--checkpoints', ck, '--checkpoint-seconds', '0.05', '--grace', '0', '--json']);
    workers.push(first);
    const cp = await waitFor('an SAE checkpoint', () => saeCheckpoints(ck)[0], 120_000);
    first.child.kill('SIGINT');
    const ended = await first.exit;
    assert.equal(ended.code, 0, first.err());
    assert.match(first.out(), /"type":"released"/);
    assert.match(first.err(), /1 put back/);
    const at = loadCheckpoint(cp.dir)!;
    const total = (at.state.settings as { totalSteps: number }).totalSteps;
    assert.ok(at.step > 0 && at.step < total, `stopped inside the training (step ${at.step} of ${total})`);
    const q = new Queue(QUEUE_NAME, { connection: redisOptions(parseRedisUrl(r.url)) });
    assert.equal(await (await q.getJob(cp.job))!.getState(), 'waiting', 'back on the queue');
    await q.close();

    const second = cli(['worker', '--queue', r.url, '--checkpoints', ck]);
    workers.push(second);
    const collect = await cliRun(['queue', 'collect', r.url, '--out', out, '--wait']);
    assert.equal(collect.status, 0, collect.out);
    assert.match(second.err(), new RegExp(`resumed from its checkpoint at step ${at.step} of ${total}`), `collect:\n${collect.out}\nfirst:\n${first.out()}\n${first.err()}`);
    const local = await runStopProbing({ out: join(tmp, 'local'), latents: [16], active: [3], samples: [300], seeds: [0], methods: ['topk-sae'], settings: { saeEpochs: 2 * EPOCHS } });
    const got = readResults(join(out, 'results.jsonl')).lines;
    assert.equal(got.length, 1);
    assert.deepEqual(strip(got[0]), strip(local.summary.lines[0]!));
    second.child.kill('SIGINT');
    assert.equal((await second.exit).code, 0);
  } finally {
    for (const w of workers) w.child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
    await r.stop();
  }
});
