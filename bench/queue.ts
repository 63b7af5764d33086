/**
 * `sparsecode bench queue`: a sweep of many small cells through the Redis queue, with one and
 * then two single-threaded `sparsecode worker` processes on this machine, and the same sweep
 * run locally in this process.
 *
 * The sweep: Stop-Probing, n ∈ {16, 20, 24, 32}, k = 3, N = 600, seeds 0–7, methods oracle,
 * probe, topk-sae and FISTA on its decoder with 3000 SAE epochs: 32 configs × 4 = 128 cells in 64
 * jobs of a fraction of a second each. A private redis-server runs on a free loopback port
 * (bench/redis-server.ts). Workers get SPARSECODE_THREADS=1 and this process's backend; they are
 * started, then warmed on a throw-away sweep (module loading and the compute thread are not
 * timed). Each timed run enqueues the sweep and waits for its last line (executePlan with the
 * queue executor, as `repro --queue --wait`), on an emptied queue.
 *
 * Rows: `local` (in this process, one thread), `queue` with 1 and 2 workers: wall seconds, the
 * sum of the cells' own seconds (the lines' `seconds`), and overheadMsPerCell = (wall with one
 * worker − the cells' seconds) / cells: enqueue, dispatch, progress and result traffic, collect.
 * speedup = wall(1 worker) / wall(2 workers). The load average is reported: other work on the
 * machine takes cores from the workers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { backend } from '../src/backend/index.js';
import { executePlan, planExperiment } from '../src/experiments/experiment.js';
import { queueExecutor } from '../src/experiments/queue/executor.js';
import { QUEUE_NAME } from '../src/experiments/queue/jobs.js';
import { parseRedisUrl, redisOptions, type RedisTarget } from '../src/experiments/queue/redis.js';
import { sweepsKey } from '../src/experiments/queue/store.js';
import type { ResultLine } from '../src/experiments/runner.js';
import { stopProbingExperiment } from '../src/experiments/stop-probing/index.js';
import { redisServerPath, startRedis } from './redis-server.js';
import type { Bench } from './types.js';

const GRID = { latents: [16, 20, 24, 32], active: [3], samples: [600], seeds: [0, 1, 2, 3, 4, 5, 6, 7], methods: ['oracle', 'probe', 'topk-sae', 'fista-on-topk-sae'] };
const OVERRIDES = { saeEpochs: Number(process.env.SPARSECODE_BENCH_QUEUE_EPOCHS ?? 3000) };

/** The CLI entry of this build: the TypeScript sources through tsx, or the compiled bin. */
function cliCommand(): string[] {
  const here = import.meta.url;
  if (here.endsWith('.ts')) return ['--import', 'tsx', fileURLToPath(new URL('../test/run-cli.ts', here))];
  return [fileURLToPath(new URL('../../bin/sparsecode.js', here))];
}

function startWorker(url: string): ChildProcess {
  const env = { ...process.env, SPARSECODE_THREADS: '1', SPARSECODE_BACKEND: backend().name };
  return spawn(process.execPath, [...cliCommand(), 'worker', '--queue', url, '--quiet'], { env, stdio: 'ignore' });
}

async function emptyQueue(target: RedisTarget): Promise<void> {
  const q = new Queue(QUEUE_NAME, { connection: redisOptions(target) });
  await q.obliterate({ force: true });
  await (await q.client).del(sweepsKey());
  await q.close();
}

/** Enqueue a sweep and wait for its last line; seconds of wall time and the lines. */
async function timedQueueRun(target: RedisTarget, out: string, seeds: number[]): Promise<{ seconds: number; lines: ResultLine[] }> {
  const plan = planExperiment(stopProbingExperiment({ ...GRID, seeds }), { preset: 'quick', overrides: OVERRIDES });
  const t0 = performance.now();
  const r = await executePlan(plan, { out, executor: queueExecutor({ target, wait: true, pollSeconds: 2 }) });
  const seconds = (performance.now() - t0) / 1000;
  if (r.summary.pending) throw new Error(`bench queue: ${r.summary.pending} cells did not land`);
  return { seconds, lines: r.summary.lines as ResultLine[] };
}

export const queueBench: Bench = {
  name: 'queue',
  summary: 'a sweep of 128 small cells through Redis with 1 and 2 workers (throughput, overhead per cell) vs local',
  async run(ctx) {
    if (!redisServerPath()) {
      ctx.note('bench queue: redis-server is not installed (apt-get install redis-server); skipped');
      return;
    }
    const r = await startRedis();
    const target = parseRedisUrl(r.url);
    const tmp = mkdtempSync(join(tmpdir(), 'sparsecode-bench-queue-'));
    const workers: ChildProcess[] = [];
    const cells = GRID.latents.length * GRID.seeds.length * GRID.methods.length;
    try {
      const runs: { workers: number; seconds: number; cellSeconds: number }[] = [];
      for (const n of [1, 2]) {
        await emptyQueue(target);
        while (workers.length < n) workers.push(startWorker(r.url));
        // warm every worker: module loading and its compute thread are not timed
        ctx.note(`bench queue: ${n} worker(s) starting and warming up`);
        await timedQueueRun(target, join(tmp, `warm-${n}`), [100, 101, 102, 103].slice(0, 2 * n));
        await emptyQueue(target);
        ctx.note(`bench queue: ${cells} cells through the queue with ${n} worker(s)`);
        const q = await timedQueueRun(target, join(tmp, `queue-${n}`), GRID.seeds);
        const cellSeconds = q.lines.reduce((s, l) => s + l.seconds, 0);
        runs.push({ workers: n, seconds: q.seconds, cellSeconds });
      }
      for (const w of workers) w.kill('SIGTERM');
      ctx.note(`bench queue: the same ${cells} cells here, without a queue`);
      const plan = planExperiment(stopProbingExperiment(GRID), { preset: 'quick', overrides: OVERRIDES });
      const t0 = performance.now();
      const local = await executePlan(plan, { out: join(tmp, 'local') });
      const localSeconds = (performance.now() - t0) / 1000;
      const localCells = (local.summary.lines as ResultLine[]).reduce((s, l) => s + l.seconds, 0);
      const load = Number(loadavg()[0].toFixed(1));
      ctx.emit({ bench: 'queue', run: 'local', cells, seconds: Number(localSeconds.toFixed(2)), cellSeconds: Number(localCells.toFixed(2)), backend: backend().name, load });
      for (const q of runs) {
        ctx.emit({
          bench: 'queue', run: `${q.workers} worker${q.workers > 1 ? 's' : ''}`, cells, seconds: Number(q.seconds.toFixed(2)), cellSeconds: Number(q.cellSeconds.toFixed(2)),
          overheadMsPerCell: q.workers === 1 ? Number((((q.seconds - q.cellSeconds) / cells) * 1000).toFixed(1)) : undefined,
          speedup: q.workers === 2 ? Number((runs[0].seconds / q.seconds).toFixed(2)) : undefined,
          backend: backend().name, load,
        });
      }
    } finally {
      for (const w of workers) w.kill('SIGKILL');
      rmSync(tmp, { recursive: true, force: true });
      await r.stop();
    }
  },
};
