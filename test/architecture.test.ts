import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The layers of docs/architecture.md (.dependency-cruiser.cjs): no import cycle, no import up
 * the layers, no folder of src/ outside the layer list. dependency-cruiser reads the imports
 * from the TypeScript sources, type-only imports included.
 */
const root = join(import.meta.dirname, '..');
const cruiser = join(root, 'node_modules', '.bin', 'depcruise');

function cruise(paths: string[]): { status: number | null; out: string } {
  const r = spawnSync(cruiser, [...paths, '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], { cwd: root, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test('architecture: no import cycles and no upward imports in src/ and web/', () => {
  const r = cruise(['src', 'web/src']);
  assert.equal(r.status, 0, `dependency violations (see docs/architecture.md for the layers):\n${r.out}`);
});

test('architecture: the rules catch an upward import and a cycle (the check can fail)', () => {
  const dir = mkdtempSync(join(root, 'src', 'core', '.arch-'));
  try {
    writeFileSync(join(dir, 'up.ts'), "import { commands } from '../../cli/commands/index.js';\nexport const n = commands.length;\n");
    writeFileSync(join(dir, 'a.ts'), "import { b } from './b.js';\nexport const a = () => b;\n");
    writeFileSync(join(dir, 'b.ts'), "import { a } from './a.js';\nexport const b = () => a;\n");
    const r = cruise([dir]);
    assert.notEqual(r.status, 0);
    assert.match(r.out, /no-upward-from-core/);
    assert.match(r.out, /no-circular/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
