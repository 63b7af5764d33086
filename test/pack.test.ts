import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * `npm pack` makes a tarball that installs in a fresh folder (no clone there) and runs: the CLI
 * (`npx sparsecode demo`) and the library (`import ... from 'sparsecode'`). Uses the dist/ built
 * by `npm install`; skipped with a message when dist/ is missing.
 */
const root = join(import.meta.dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

test('npm pack: the tarball installs in a fresh folder and runs the demo and the library', { timeout: 300_000 }, (t) => {
  if (!existsSync(join(root, 'dist', 'src', 'index.js'))) {
    t.skip('dist/ is not built (run npm install or npm run build)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'sparsecode-pack-'));
  try {
    const packed = spawnSync(npm, ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: root, encoding: 'utf8' });
    assert.equal(packed.status, 0, packed.stderr);
    const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    assert.ok(tgz, 'npm pack wrote a .tgz');
    const app = join(dir, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    const env = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
    const inst = spawnSync(npm, ['install', '--prefer-offline', join(dir, tgz)], { cwd: app, encoding: 'utf8', env });
    assert.equal(inst.status, 0, `npm install of the tarball failed:\n${inst.stdout}\n${inst.stderr}`);
    const demo = spawnSync(npm, ['exec', '--', 'sparsecode', 'demo', '--quiet'], { cwd: app, encoding: 'utf8', env });
    assert.equal(demo.status, 0, `npx sparsecode demo failed:\n${demo.stdout}\n${demo.stderr}`);
    assert.match(demo.stdout, /FISTA oracle\s+0\.9\d\d/);
    writeFileSync(join(app, 'use.mjs'), "import { Matrix, Rng, mcc } from 'sparsecode';\nconst m = new Matrix(3, 2); new Rng(0).fillNormal(m.data);\nconsole.log(JSON.stringify({ rows: m.rows, mcc: typeof mcc }));\n");
    const lib = spawnSync(process.execPath, ['use.mjs'], { cwd: app, encoding: 'utf8' });
    assert.equal(lib.status, 0, lib.stderr);
    assert.deepEqual(JSON.parse(lib.stdout), { rows: 3, mcc: 'function' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
