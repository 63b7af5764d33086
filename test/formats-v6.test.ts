import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNpy, readNpyMatrix } from '../src/io/npy.js';
import { loadModel } from '../src/dictionary/model-runtime.js';
import { exportSaelens } from '../src/dictionary/model-export.js';
import { assertAllClose } from './helpers.js';

/**
 * sparsecode's SAELens v6 output, read back by test/fixtures/formats/check_v6.py (which follows
 * SAELens 6.18's load_from_disk). The committed v6/<case>/ folders were written by write_v6.ts and
 * checked by check_v6.py, which stored the codes it computes (codes_saelens.npy). Here: the
 * writer still produces those exact bytes (so the Python check covers today's writer), and
 * sparsecode reads them back to the same codes, with and without its own `sparsecode` block.
 */
const FX = join(import.meta.dirname, 'fixtures', 'formats');
const spec = JSON.parse(readFileSync(join(FX, 'cases.json'), 'utf8')) as { X: string; cases: { name: string; path: string }[] };
const X = readNpyMatrix(join(FX, spec.X));
const tmp = mkdtempSync(join(tmpdir(), 'sc-v6-'));

for (const c of spec.cases) {
  test(`${c.name}: export saelens writes the bytes check_v6.py accepted, and they read back to SAELens' codes`, () => {
    const committed = join(FX, 'v6', c.name);
    const out = join(tmp, c.name);
    exportSaelens(loadModel(join(FX, c.path)), out, { data: X });
    const unversioned = (p: string) => {
      const j = JSON.parse(readFileSync(p, 'utf8'));
      delete j.metadata.sparsecode_version;
      delete j.sparsecode.version;
      return j;
    };
    assert.deepEqual(unversioned(join(out, 'cfg.json')), unversioned(join(committed, 'cfg.json')), 'cfg.json changed: rerun write_v6.ts and check_v6.py');
    for (const f of ['sae_weights.safetensors', 'sparsity.safetensors']) {
      assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(committed, f))), `${f} changed: rerun write_v6.ts and check_v6.py`);
    }
    const want = readNpy(join(committed, 'codes_saelens.npy')).data;
    const Z = loadModel(committed).encode(X);
    assertAllClose(Z.data, want, 1e-4, 1e-5, `${c.name} codes`);
    // without the sparsecode block the folder is a plain SAELens v6 folder
    const plain = join(tmp, `${c.name}-plain`);
    cpSync(committed, plain, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(plain, 'cfg.json'), 'utf8'));
    delete cfg.sparsecode;
    writeFileSync(join(plain, 'cfg.json'), JSON.stringify(cfg));
    const m = loadModel(plain);
    assert.equal(m.layout.name, 'saelens-v6');
    assertAllClose(m.encode(X).data, want, 1e-4, 1e-5, `${c.name} codes (plain v6)`);
    assert.ok(m.logSparsity && m.logSparsity.length === m.atoms);
  });
}
