import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

/** Run the CLI from source (no build needed). */
export function cli(args: string[], opts: { env?: Record<string, string>; input?: string } = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
    input: opts.input,
    timeout: 120000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('sparsecode --help lists commands; --version prints the package version', () => {
  const h = cli(['--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /Usage: sparsecode <command>/);
  assert.match(h.stdout, /backends/);
  const v = cli(['--version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout.trim(), /^\d+\.\d+\.\d+$/);
});

test('unknown commands and options exit 2 with a suggestion', () => {
  const r = cli(['backendz']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /did you mean "backends"/);
  const o = cli(['backends', '--jsno']);
  assert.equal(o.code, 2);
  assert.match(o.stderr, /did you mean --json/);
});

test('backends --json reports js as available; SPARSECODE_BACKEND forces one', () => {
  const r = cli(['backends', '--json'], { env: { SPARSECODE_BACKEND: 'js' } });
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.active, 'js');
  assert.ok(j.backends.find((b: any) => b.name === 'js').available);
  const bad = cli(['backends'], { env: { SPARSECODE_BACKEND: 'cuda' } });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown backend "cuda"/);
});

test('demo recovers the latents with the oracle and prints every method', () => {
  const r = cli(['demo', '--latents', '20', '--active', '3', '--samples', '600', '--epochs', '20', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  for (const label of ['FISTA oracle', 'DL-FISTA', 'SAE TopK', 'FISTA on SAE TopK decoder', 'Linear probe']) assert.match(r.stdout, new RegExp(label));
  const oracle = /FISTA oracle\s+([\d.]+)\s+([\d.]+)/.exec(r.stdout);
  assert.ok(oracle, r.stdout);
  assert.ok(Number(oracle[1]) > 0.9 && Number(oracle[2]) > 0.9, `oracle MCC ${oracle[1]} / ${oracle[2]}`);
});
