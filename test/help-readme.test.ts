import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { commands } from '../src/cli/commands/index.js';
import { commandHelp } from '../src/cli/main.js';

/** Everything `--help` offers is documented in the README, and the README names no file a clone lacks. */
const root = join(import.meta.dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

test('README: every command in `sparsecode --help` appears in the README', () => {
  const missing = commands.map((c) => c.name).filter((n) => !readme.includes(`\`${n}`) && !readme.includes(`sparsecode ${n}`));
  assert.deepEqual(missing, [], `commands missing from README.md: ${missing.join(', ')}`);
});

test('README: every experiment of `sparsecode repro --help` appears in the README', () => {
  const repro = commands.find((c) => c.name === 'repro');
  assert.ok(repro);
  const experiments = repro.positionals?.find((p) => p.name === 'experiment')?.choices ?? [];
  assert.ok(experiments.length >= 5, 'repro lists its experiments');
  const help = commandHelp(repro);
  for (const e of experiments) assert.ok(help.includes(e), `repro --help mentions ${e}`);
  const missing = experiments.filter((e) => !readme.includes(`repro ${e}`));
  assert.deepEqual(missing, [], `experiments missing from README.md (as "repro <name>"): ${missing.join(', ')}`);
});

test('README: no links to files outside the repository', () => {
  assert.doesNotMatch(readme, /\]\(\.\.\//, 'README links a file outside the clone');
  assert.doesNotMatch(readme, /shared\/(DESIGN|PAPERS|PROTOCOLS|ECOSYSTEM)\.md/);
  for (const m of readme.matchAll(/\]\(((?:docs|test|bench|src)\/[^)#]+)\)/g)) {
    assert.ok(existsSync(join(root, m[1])), `README links ${m[1]}, which does not exist`);
  }
});
