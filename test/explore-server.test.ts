// The explore server: loopback binding, path traversal refused, content types, isolation
// headers, the JSON API's numbers (against the library), and the explore command's errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { makeModelFixture, makeReproFixture, FIX } from './explore-fixtures.js';
import { startExploreServer, detectDirKind, type ExploreServer } from '../src/explore/server.js';
import { resolveInside } from '../src/explore/safe-path.js';
import { loadModel } from '../src/dictionary/model-runtime.js';
import { readNpyMatrix } from '../src/io/npy.js';
import { activationCounts } from '../src/metrics/reconstruction.js';
import { mcc } from '../src/metrics/mcc.js';
import { fve } from '../src/metrics/reconstruction.js';

function cli(args: string[], o: { env?: Record<string, string> } = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], { encoding: 'utf8', env: { ...process.env, ...o.env }, timeout: 60000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let tmp = '';
let web = '';
let fx: ReturnType<typeof makeModelFixture>;
let modelSrv: ExploreServer;
let reproSrv: ExploreServer;

interface Res { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** A raw request: the path goes on the wire exactly as given (no URL normalisation). */
function get(port: number, path: string, o: { method?: string; host?: string } = {}): Promise<Res> {
  return new Promise((ok, bad) => {
    const req = request({ host: '127.0.0.1', port, path, method: o.method ?? 'GET', headers: { host: o.host ?? `127.0.0.1:${port}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => ok({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', bad);
    req.end();
  });
}

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'sc-explore-'));
  web = join(tmp, 'web');
  mkdirSync(join(web, 'assets'), { recursive: true });
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>x</title>');
  writeFileSync(join(web, 'assets', 'app.js'), 'export {};');
  writeFileSync(join(web, 'assets', 'app.css'), 'body{}');
  writeFileSync(join(web, 'k.wasm'), Buffer.from([0, 97, 115, 109]));
  fx = makeModelFixture(tmp);
  // things that must never be served: a secret beside DIR, symlinks out of DIR
  writeFileSync(join(tmp, 'secret.txt'), 'TOP SECRET');
  symlinkSync(join(tmp, 'secret.txt'), join(fx.model, 'link-out.txt'));
  symlinkSync(tmp, join(fx.model, 'dir-out'));
  writeFileSync(join(fx.model, 'notes.txt'), 'inside');
  writeFileSync(join(fx.model, '.hidden'), 'dotfile');
  modelSrv = await startExploreServer({ dir: fx.model, webRoot: web, data: fx.X, truth: fx.Z });
  reproSrv = await startExploreServer({ dir: makeReproFixture(join(tmp, 'repro')).dir, webRoot: web });
});

after(async () => {
  await modelSrv?.close();
  await reproSrv?.close();
  rmSync(tmp, { recursive: true, force: true });
});

test('binds the loopback only and prints a 127.0.0.1 URL', () => {
  const a = modelSrv.server.address();
  assert.ok(a && typeof a === 'object');
  assert.equal(a.address, '127.0.0.1');
  assert.equal(modelSrv.url, `http://127.0.0.1:${a.port}/`);
});

test('path traversal attempts are refused', async () => {
  const p = modelSrv.port;
  const attempts = [
    '/files/../secret.txt',
    '/files/%2e%2e/secret.txt',
    '/files/%2E%2E%2Fsecret.txt',
    '/files/..%2fsecret.txt',
    '/files/..%5csecret.txt',
    '/files/%252e%252e/secret.txt',
    '/files/./cfg.json',
    '/files//etc/passwd',
    '/files/%2Fetc%2Fpasswd',
    '/files/link-out.txt',
    '/files/dir-out/secret.txt',
    '/files/.hidden',
    '/files/notes.txt%00.json',
    '/files/%e0%a4%a',
    '/../secret.txt',
    '/assets/../../secret.txt',
    '/%2e%2e/%2e%2e/secret.txt',
    '/files/',
    '/files/nope.txt',
  ];
  for (const path of attempts) {
    const r = await get(p, path);
    assert.ok(r.status === 403 || r.status === 404, `${path}: status ${r.status}`);
    assert.ok(!r.body.includes('TOP SECRET'), `${path} leaked the secret`);
  }
  // a file inside DIR is served
  const ok = await get(p, '/files/notes.txt');
  assert.equal(ok.status, 200);
  assert.equal(ok.body, 'inside');
});

test('resolveInside: the same rules as a function', () => {
  const root = fx.model;
  assert.ok(resolveInside(root, 'cfg.json')?.endsWith('cfg.json'));
  for (const bad of ['../secret.txt', '%2e%2e/secret.txt', '/etc/passwd', 'C:/x', 'a\\..\\b', 'link-out.txt', 'dir-out/secret.txt', '.hidden', '', 'x%00', '%zz', '.', 'dir-out']) {
    assert.equal(resolveInside(root, bad), null, bad);
  }
});

test('only loopback Host headers, only GET and HEAD', async () => {
  const p = modelSrv.port;
  assert.equal((await get(p, '/api/info', { host: 'evil.example:80' })).status, 403);
  assert.equal((await get(p, '/api/info', { host: `evil.example:${p}` })).status, 403);
  assert.equal((await get(p, '/api/info', { host: `localhost:${p}` })).status, 200);
  const post = await get(p, '/api/info', { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.allow, 'GET, HEAD');
  const head = await get(p, '/api/info', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
});

test('content types and cross-origin isolation headers', async () => {
  const p = modelSrv.port;
  const cases: [string, RegExp][] = [
    ['/', /^text\/html; charset=utf-8$/],
    ['/assets/app.js', /^text\/javascript/],
    ['/assets/app.css', /^text\/css/],
    ['/k.wasm', /^application\/wasm$/],
    ['/api/info', /^application\/json/],
    ['/files/cfg.json', /^application\/json/],
    ['/files/sae_weights.safetensors', /^application\/octet-stream$/],
  ];
  for (const [path, type] of cases) {
    const r = await get(p, path);
    assert.equal(r.status, 200, path);
    assert.match(String(r.headers['content-type']), type, path);
    assert.equal(r.headers['cross-origin-opener-policy'], 'same-origin', path);
    assert.equal(r.headers['cross-origin-embedder-policy'], 'require-corp', path);
    assert.equal(r.headers['x-content-type-options'], 'nosniff', path);
  }
  // DIR's files are sandboxed (an SVG or HTML there cannot script the app)
  const svg = await get(reproSrv.port, '/files/mcc_ood_vs_latents.svg');
  assert.equal(svg.status, 200);
  assert.equal(svg.headers['content-type'], 'image/svg+xml');
  assert.match(String(svg.headers['content-security-policy']), /^sandbox/);
  const md = await get(reproSrv.port, '/files/report.md');
  assert.match(String(md.headers['content-type']), /^text\/markdown/);
  assert.match(md.body, /Stop Probing/);
  assert.equal((await get(p, '/assets/missing.js')).status, 404);
  assert.equal((await get(p, '/api/nope')).status, 404);
});

test('model API: feature table and details agree with the library', async () => {
  const p = modelSrv.port;
  const info = JSON.parse((await get(p, '/api/info')).body);
  assert.equal(info.kind, 'model');
  const { summary, features } = JSON.parse((await get(p, '/api/model')).body);
  assert.equal(summary.atoms, FIX.latents);
  assert.equal(summary.dim, FIX.dim);
  assert.equal(features.length, FIX.latents);
  const model = loadModel(fx.model);
  const X = readNpyMatrix(fx.X), Z = readNpyMatrix(fx.Z);
  const codes = model.encode(X);
  const counts = activationCounts(codes);
  for (let j = 0; j < FIX.latents; j++) assert.ok(Math.abs(features[j].frequency - counts[j] / X.rows) < 1e-12, `frequency of ${j}`);
  const m = mcc(codes, Z, { pad: 'none' });
  assert.ok(Math.abs(summary.metrics.mcc - m.mcc) < 1e-12);
  assert.ok(Math.abs(summary.metrics.fve - fve(X, model.decode(codes))) < 1e-9);
  assert.equal(summary.metrics.l0, FIX.active);
  // matched latents: the MCC matching; the fixture dictionary is a shuffled noisy copy of A, so atoms match their true direction well
  for (let l = 0; l < FIX.latents; l++) {
    const j = m.matching[l];
    if (j >= 0) assert.equal(features[j].latent, l);
  }
  const cosMean = features.reduce((s: number, f: { cos: number }) => s + f.cos, 0) / FIX.latents;
  assert.ok(cosMean > 0.9, `atom cosines with the estimated true directions: mean ${cosMean}`);
  // nearest atom by |cosine| (GEMM blocks on the server) against a float64 brute force
  const Dm = model.weights.W_dec;
  const cosAB = (a: number, b: number) => {
    let s = 0, na = 0, nb = 0;
    for (let c = 0; c < FIX.dim; c++) {
      const x = Dm.data[a * FIX.dim + c], y = Dm.data[b * FIX.dim + c];
      s += x * y; na += x * x; nb += y * y;
    }
    return Math.abs(s) / Math.sqrt(na * nb);
  };
  for (let i = 0; i < FIX.latents; i++) {
    let best = 0;
    for (let j = 0; j < FIX.latents; j++) if (j !== i) best = Math.max(best, cosAB(i, j));
    assert.ok(Math.abs(features[i].nearestCos - best) < 1e-5, `nearest |cos| of atom ${i}: ${features[i].nearestCos} vs ${best}`);
    assert.ok(Math.abs(cosAB(i, features[i].nearest) - best) < 1e-5);
  }
  const d = JSON.parse((await get(p, '/api/feature/3')).body);
  assert.equal(d.index, 3);
  assert.equal(d.atom.length, FIX.dim);
  assert.deepEqual(d.atom, Array.from(model.weights.W_dec.data.subarray(3 * FIX.dim, 4 * FIX.dim)));
  assert.equal(d.histogram.counts.reduce((a: number, b: number) => a + b, 0), counts[3]);
  for (let i = 1; i < d.top.length; i++) assert.ok(d.top[i - 1].value >= d.top[i].value);
  assert.equal(d.top[0].value, Math.max(...Array.from({ length: X.rows }, (_, r) => codes.data[r * FIX.latents + 3])));
  for (let i = 1; i < d.neighbours.length; i++) assert.ok(Math.abs(d.neighbours[i - 1].cos) >= Math.abs(d.neighbours[i].cos));
  assert.equal((await get(p, `/api/feature/${FIX.latents}`)).status, 404);
  assert.equal((await get(p, '/api/experiment')).status, 404);
});

test('experiment API: aggregated rows from results.jsonl', async () => {
  const info = JSON.parse((await get(reproSrv.port, '/api/info')).body);
  assert.equal(info.kind, 'experiment');
  const v = JSON.parse((await get(reproSrv.port, '/api/experiment')).body);
  assert.equal(v.lines, 12);
  assert.equal(v.rows.length, 6);
  assert.deepEqual(v.methods, ['oracle', 'probe', 'topk-sae']);
  assert.deepEqual(v.varying, ['latents']);
  const row = v.rows.find((r: { method: string; config: { latents: number } }) => r.method === 'probe' && r.config.latents === 100);
  assert.ok(Math.abs(row.mean.mcc_ood - 0.555) < 1e-12);
  assert.ok(v.files.includes('report.md'));
  assert.equal((await get(reproSrv.port, '/api/model')).status, 404);
});

test('detectDirKind and the explore command: clear errors', () => {
  assert.equal(detectDirKind(fx.model), 'model');
  assert.equal(detectDirKind(join(tmp, 'repro')), 'experiment');
  assert.throws(() => detectDirKind(web), /neither a model directory/);
  const r = cli(['explore', web, '--no-open'], { env: { SPARSECODE_WEB_ROOT: web } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /neither a model directory/);
  const nb = cli(['explore', fx.model, '--no-open'], { env: { SPARSECODE_WEB_ROOT: join(tmp, 'nowhere') } });
  assert.equal(nb.code, 2);
  assert.match(nb.stderr, /npm run build:web/);
  const bad = cli(['explore', fx.model, '--port', '70000', '--no-open']);
  assert.equal(bad.code, 2);
});

test('explore command: prints the URL, serves, stops on SIGTERM', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', 'explore', fx.model, '--port', '0', '--no-open', '--quiet'], {
    env: { ...process.env, SPARSECODE_WEB_ROOT: web },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = await new Promise<string>((ok, bad) => {
    const timer = setTimeout(() => bad(new Error(`no URL printed: ${out}`)), 20000);
    child.stdout.on('data', (c) => {
      out += c;
      const m = /at (http:\/\/127\.0\.0\.1:(\d+)\/)/.exec(out);
      if (m) { clearTimeout(timer); ok(m[1]); }
    });
    child.on('exit', (code) => bad(new Error(`exited ${code}: ${out}`)));
  });
  const port = Number(new URL(url).port);
  const r = await get(port, '/api/info');
  assert.equal(JSON.parse(r.body).kind, 'model');
  const code = await new Promise<number | null>((ok) => {
    child.on('exit', (c) => ok(c));
    child.kill('SIGTERM');
  });
  assert.equal(code, 0);
});
