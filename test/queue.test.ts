// The queue's pieces: Redis URLs, job payloads (ids, the schema a worker reads them through),
// and, against a private redis-server on a free loopback port, the bad inputs (an unreachable
// or silent Redis, a password), a failing cell retried and then recorded while the sweep
// carries on, a malformed job refused and recorded, enqueuing twice, two settings in one --out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { useBackend } from '../src/backend/registry.js';
import { executePlan, planExperiment } from '../src/experiments/experiment.js';
import { queueExecutor, type EnqueueReport } from '../src/experiments/queue/executor.js';
import { canonicalJson, cellJob, jobIdOf, jobLines, JOB_FORMAT, QUEUE_NAME, validateCellJob, type CellJob } from '../src/experiments/queue/jobs.js';
import { checkRedis, parseRedisUrl, redact, redisOptions } from '../src/experiments/queue/redis.js';
import { queueStatus } from '../src/experiments/queue/status.js';
import { runWorker, type WorkerEvent } from '../src/experiments/queue/worker.js';
import { readResults } from '../src/experiments/runner.js';
import { FULL_SETTINGS, STOP_PROBING_METHODS, stopProbingExperiment } from '../src/experiments/stop-probing/index.js';
import { freePort, redisServerPath, startRedis } from '../bench/redis-server.js';

useBackend('js');

const code = (c: string) => (e: any) => e?.code === c;

test('Redis URLs: host, port, db, password, user and TLS; errors name the fix; messages hide the password', () => {
  const a = parseRedisUrl('redis://127.0.0.1:6380/2');
  assert.deepEqual({ ...a }, { host: '127.0.0.1', port: 6380, db: 2, username: undefined, password: undefined, tls: false, display: 'redis://127.0.0.1:6380/2' });
  const b = parseRedisUrl('rediss://:s%40cret@redis.lab:6390');
  assert.equal(b.password, 's@cret');
  assert.equal(b.tls, true);
  assert.equal(b.db, 0);
  assert.equal(b.display, 'rediss://:***@redis.lab:6390/0');
  assert.ok(!b.display.includes('cret'));
  const c = parseRedisUrl('redis://alice:pw@[::1]/0');
  assert.deepEqual([c.host, c.port, c.username, c.password], ['::1', 6379, 'alice', 'pw']);
  assert.equal(c.display, 'redis://alice:***@[::1]:6379/0');
  assert.equal(redisOptions(b).tls?.servername, 'redis.lab');
  assert.equal(redisOptions(a).tls, undefined);
  for (const bad of ['', 'http://127.0.0.1:6379', 'redis://127.0.0.1:0', 'redis://127.0.0.1:6379/x', 'redis://127.0.0.1:6379/0?tls=1', 'not a url', 'redis://:6379']) {
    assert.throws(() => parseRedisUrl(bad), code('E_USAGE'), bad);
  }
  assert.throws(() => parseRedisUrl('nonsense://:topsecret@x'), (e: any) => !e.message.includes('topsecret'));
  assert.equal(redact('redis://:topsecret@h:1/0'), 'redis://:***@h:1/0');
});

const settings = { ...FULL_SETTINGS, saeEpochs: 2 };
const config = { latents: 20, active: 3, samples: 400, dim: 12, seed: 0 };
const schemaOf = (name: string) => (name === 'stop-probing' ? { methods: STOP_PROBING_METHODS, settings: FULL_SETTINGS } : undefined);

test('job ids: the hash of the payload (experiment, settings, config, methods), whatever the key order', () => {
  const job = cellJob('stop-probing', settings, [{ config, method: 'topk-sae' }, { config, method: 'fista-on-topk-sae' }]);
  assert.deepEqual(job, { format: JOB_FORMAT, experiment: 'stop-probing', settings, config, methods: ['topk-sae', 'fista-on-topk-sae'] });
  const id = jobIdOf(job);
  assert.match(id, /^stop-probing\.[0-9a-f]{32}$/);
  const reordered: CellJob = JSON.parse(canonicalJson(job));
  assert.notDeepEqual(Object.keys(reordered), Object.keys(job));
  assert.equal(jobIdOf(reordered), id, 'key order does not matter');
  assert.notEqual(jobIdOf({ ...job, settings: { ...settings, saeEpochs: 3 } }), id);
  assert.notEqual(jobIdOf({ ...job, config: { ...config, seed: 1 } }), id);
  assert.notEqual(jobIdOf({ ...job, methods: ['topk-sae'] }), id);
  assert.throws(() => cellJob('stop-probing', settings, [{ config, method: 'oracle' }, { config: { ...config, seed: 1 }, method: 'probe' }]), code('E_ARG'));
});

test('a worker reads a job only through its schema: every malformed payload is refused with the reason', () => {
  const good = cellJob('stop-probing', settings, [{ config, method: 'oracle' }]);
  assert.deepEqual(validateCellJob(JSON.parse(JSON.stringify(good)), schemaOf), good);
  const bad: [unknown, RegExp][] = [
    [null, /expected an object/],
    ['{"experiment":"stop-probing"}', /expected an object/],
    [{ ...good, format: 'sparsecode-cells/0' }, /job format/],
    [{ ...good, experiment: 'rm -rf /' }, /registered experiment name/],
    [{ ...good, experiment: 'no-such-thing' }, /unknown experiment/],
    [{ ...good, code: 'process.exit(1)' }, /unexpected field "code"/],
    [{ ...good, settings: { ...settings, saeLr: '5e-4' } }, /settings\.saeLr is string, expected number/],
    [{ ...good, settings: { ...settings, extra: 1 } }, /settings\.extra is not a setting/],
    [{ ...good, settings: Object.fromEntries(Object.entries(settings).filter(([k]) => k !== 'saeLr')) }, /settings\.saeLr is missing/],
    [{ ...good, settings: { ...settings, probeAlphas: [1, 'x'] } }, /settings\.probeAlphas\[1\] is string/],
    [{ ...good, config: { ...config, latents: { $gt: 1 } } }, /config\.latents must be/],
    [{ ...good, config: {} }, /config has 0 fields/],
    [{ ...good, methods: [] }, /1-64 method names/],
    [{ ...good, methods: ['oracle', 'oracle'] }, /appears twice/],
    [{ ...good, methods: ['__proto__'] }, /not a method of stop-probing/],
    [{ ...good, config: { ...config, note: 'x'.repeat(300 * 1024) } }, /over the 262144-byte limit/],
  ];
  for (const [data, re] of bad) assert.throws(() => validateCellJob(data, schemaOf), (e: any) => e.code === 'E_FORMAT' && re.test(e.message), String(re));
  // result lines read back from a job: its own cells only, numbers only
  const lines = jobLines({ lines: [
    { config, method: 'oracle', metrics: { mcc: 0.9, bad: 'x' }, seconds: 1 },
    { config: { ...config, seed: 9 }, method: 'oracle', metrics: { mcc: 1 }, seconds: 1 },
    { config, method: 'probe', metrics: { mcc: 1 }, seconds: 1 },
    { config, method: 'oracle', error: 'E_ARG: boom', seconds: 'x' },
  ] }, good);
  assert.deepEqual(lines, [{ config, method: 'oracle', metrics: { mcc: 0.9 }, seconds: 1 }]);
  assert.deepEqual(jobLines('garbage', good), []);
});

const haveRedis = redisServerPath() !== null;
const skip = !haveRedis && process.env.CI !== 'true' ? 'redis-server is not installed (apt-get install redis-server); the queue tests against Redis are skipped' : false;
if (skip) process.stderr.write(`# queue.test.ts: ${skip}\n`);

test('from the command line, an unreachable Redis exits 3 in seconds with the fix, and writes nothing', async () => {
  const port = await freePort();
  const tmp = mkdtempSync(join(tmpdir(), 'sc-queue-cli-'));
  try {
    const url = `redis://:secret@127.0.0.1:${port}/0`;
    for (const args of [
      ['repro', 'stop-probing', '--latents', '20', '--active', '3', '--samples', '300', '--methods', 'oracle', '--out', join(tmp, 'out'), '--queue', url],
      ['worker', '--queue', url],
    ]) {
      const t0 = Date.now();
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], { encoding: 'utf8', env: { ...process.env, SPARSECODE_BACKEND: 'js' }, timeout: 60_000 });
      assert.equal(r.status, 3, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`cannot reach Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}/0: .*ECONNREFUSED.*start redis-server`));
      assert.ok(!r.stderr.includes('secret'), 'the password is never printed');
      assert.ok(Date.now() - t0 < 30_000, `${args[0]} gave up in ${Date.now() - t0} ms`);
    }
    assert.ok(!existsSync(join(tmp, 'out')), 'nothing written');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('an unreachable or silent Redis is a clear error in seconds; a password is honoured', { skip }, async () => {
  assert.ok(haveRedis, 'CI=true: redis-server must be installed (.ci/run installs it)');
  // nothing listens on this port
  const closed = await freePort();
  const t0 = Date.now();
  await assert.rejects(checkRedis(parseRedisUrl(`redis://127.0.0.1:${closed}/0`), 3000), (e: any) => e.code === 'E_IO' && /cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+\/0: .*ECONNREFUSED.*start redis-server/.test(e.message));
  assert.ok(Date.now() - t0 < 3000, 'refused at once');
  // something listens but never answers (a firewall, the wrong service)
  const silent = createServer(() => {});
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as { port: number }).port;
  const t1 = Date.now();
  try {
    await assert.rejects(checkRedis(parseRedisUrl(`redis://127.0.0.1:${port}/0`), 1500), (e: any) => e.code === 'E_IO' && /no answer within 2 s|no answer within 1 s/.test(e.message));
    assert.ok(Date.now() - t1 < 4000, `gave up in ${Date.now() - t1} ms`);
  } finally {
    silent.close();
  }
  const r = await startRedis({ password: 'pa ss@word' });
  try {
    const withPw = parseRedisUrl(r.url);
    assert.equal(withPw.password, 'pa ss@word');
    assert.match((await checkRedis(withPw)).version, /^\d+\.\d+/);
    await assert.rejects(checkRedis({ ...withPw, password: undefined }), (e: any) => e.code === 'E_IO' && /NOAUTH/.test(e.message) && /password/.test(e.message));
    await assert.rejects(checkRedis({ ...withPw, password: 'wrong' }), (e: any) => e.code === 'E_IO' && /WRONGPASS|invalid/i.test(e.message) && !e.message.includes('wrong@'));
  } finally {
    await r.stop();
  }
});

const haveOpenssl = spawnSync('openssl', ['version']).status === 0;

test('rediss:// speaks TLS and checks the server certificate; a plain URL to a TLS port fails clearly', { skip: skip || (!haveOpenssl && 'openssl is not installed') }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'sc-queue-tls-'));
  const cert = join(tmp, 'cert.pem');
  const key = join(tmp, 'key.pem');
  const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
  assert.equal(gen.status, 0, gen.stderr);
  const r = await startRedis({ tls: { cert, key } });
  try {
    assert.match(r.url, /^rediss:\/\/127\.0\.0\.1:\d+\/0$/);
    // a certificate this process does not trust is refused
    await assert.rejects(checkRedis(parseRedisUrl(r.url), 3000), (e: any) => e.code === 'E_IO' && /self[- ]signed|certificate/i.test(e.message));
    // trusted (NODE_EXTRA_CA_CERTS, as a user would for a private CA), the queue works over TLS
    const ok = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', 'queue', 'status', r.url], { encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: cert }, timeout: 60_000 });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /rediss:\/\/127\.0\.0\.1:\d+\/0 \(Redis \d+\.\d+/);
    assert.match(ok.stdout, /no sweeps on this queue/);
    // plain Redis protocol against the TLS port: a clear error within the timeout, not a hang
    const t0 = Date.now();
    await assert.rejects(checkRedis(parseRedisUrl(r.url.replace('rediss:', 'redis:')), 2000), (e: any) => e.code === 'E_IO' && /cannot reach Redis/.test(e.message));
    assert.ok(Date.now() - t0 < 4000);
  } finally {
    await r.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('queue: a failing cell is retried then recorded and the sweep carries on; a malformed job is refused and recorded; enqueuing twice adds nothing; one --out holds one set of settings', { skip }, async () => {
  const r = await startRedis();
  const tmp = mkdtempSync(join(tmpdir(), 'sc-queue-'));
  const ac = new AbortController();
  try {
    const target = parseRedisUrl(r.url);
    const out = join(tmp, 'out');
    const def = stopProbingExperiment({ latents: [20], active: [3], samples: [300], seeds: [0, 1], methods: ['oracle', 'probe', 'topk-sae', 'fista-on-topk-sae'] });
    // saeLr = -1: every SAE cell fails (E_ARG), oracle and probe do not
    const plan = planExperiment(def, { preset: 'quick', overrides: { saeEpochs: 2, saeLr: -1 } });
    assert.equal(plan.cells.length, 8);
    const reports: EnqueueReport[] = [];
    const enqueue = () => executePlan(plan, { out, executor: queueExecutor({ target, attempts: 2, onEnqueued: (e) => reports.push(e) }) });
    const first = await enqueue();
    assert.equal(first.summary.detached, true);
    assert.equal(first.summary.pending, 8);
    const again = await enqueue();
    assert.equal(again.summary.pending, 8);
    assert.deepEqual(reports.map((e) => [e.jobs, e.added]), [[4, 4], [4, 0]], 'the second enqueue adds nothing');
    // the same --out with other settings is refused before anything is enqueued
    const other = planExperiment(def, { preset: 'quick', overrides: { saeEpochs: 3 } });
    await assert.rejects(executePlan(other, { out, executor: queueExecutor({ target }) }), (e: any) => e.code === 'E_USAGE' && /other hyperparameters/.test(e.message));
    assert.equal(reports.length, 2);

    // a job someone else put on the queue, malformed
    const q = new Queue(QUEUE_NAME, { connection: redisOptions(target) });
    await q.add('stop-probing', { format: JOB_FORMAT, experiment: 'stop-probing', settings: { eval: 'process.exit(1)' }, config, methods: ['oracle'] }, { jobId: 'stop-probing.forged' });
    await q.close();

    const events: WorkerEvent[] = [];
    const worker = runWorker({ target, backend: 'js', lockSeconds: 5, signal: ac.signal, onEvent: (e) => events.push(e) });
    const done = await executePlan(plan, { out, executor: queueExecutor({ target, wait: true, pollSeconds: 1 }) });
    assert.equal(done.summary.pending, 0);
    const lines = readResults(join(out, 'results.jsonl')).lines;
    assert.equal(lines.length, 8, 'one line per cell');
    for (const l of lines) {
      if (l.method === 'oracle' || l.method === 'probe') assert.ok(l.metrics && l.metrics.mcc_ood > 0, JSON.stringify(l));
      else assert.match(l.error!, /^E_ARG: lr must be a positive number, got -1/);
    }
    const retries = events.filter((e) => e.type === 'retry');
    assert.equal(retries.length, 2, 'each SAE job ran twice (attempts 2)');
    assert.ok(retries.every((e) => e.type === 'retry' && /2 of 2 cells failed \(attempt 1 of 2\)/.test(e.error)));
    const refused = events.find((e) => e.type === 'refused');
    assert.ok(refused && refused.type === 'refused' && /settings\.eval is not a setting/.test(refused.reason), JSON.stringify(refused));
    const status = await queueStatus(target, { out });
    assert.equal(status.sweeps.length, 1);
    assert.deepEqual([status.sweeps[0].total, status.sweeps[0].done, status.sweeps[0].failed, status.sweeps[0].running + status.sweeps[0].waiting], [8, 4, 4, 0]);
    assert.deepEqual(status.refused.map((x) => x.id), ['stop-probing.forged']);
    assert.match(status.refused[0].reason, /^refused: E_FORMAT: settings\.eval is not a setting/);
    // the report is written once the last cell has landed, with the failed cells listed
    assert.ok(done.reportPath.endsWith('report.md'));
    ac.abort();
    const summary = await worker;
    assert.deepEqual([summary.jobs, summary.cells, summary.failedCells, summary.refused], [4, 8, 4, 1]);

    // the same sweep into a second folder: every cell is collected from the finished jobs, none runs again
    reports.length = 0;
    const copy = await executePlan(plan, { out: join(tmp, 'copy'), executor: queueExecutor({ target, onEnqueued: (e) => reports.push(e) }) });
    assert.deepEqual([reports[0].added, reports[0].landed, reports[0].pending, copy.summary.pending, copy.summary.detached], [0, 8, 0, 0, false]);
    assert.equal(readResults(join(tmp, 'copy', 'results.jsonl')).lines.length, 8);
    // enqueuing the first folder again re-runs its failed cells (as a local rerun retries them), and only those
    reports.length = 0;
    const retry = await executePlan(plan, { out, executor: queueExecutor({ target, onEnqueued: (e) => reports.push(e) }) });
    assert.deepEqual([reports[0].added, reports[0].jobs, reports[0].pending, retry.summary.pending], [2, 2, 4, 4]);
  } finally {
    ac.abort();
    rmSync(tmp, { recursive: true, force: true });
    await r.stop();
  }
});
