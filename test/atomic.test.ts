import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../src/io/atomic.js';

test('writeFileAtomic writes chunks, replaces the old file, and removes temps of dead writers only', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-atomic-'));
  const target = join(dir, 'out.npy');
  writeFileSync(target, 'old');
  // a temp left by a killed writer (pid 2^22 + 7 is above Linux's default pid_max), one by us, one unrelated
  const dead = join(dir, `.out.npy.${4194311}.abc.tmp`);
  const live = join(dir, `.out.npy.${process.pid}.zzz.tmp`);
  const other = join(dir, `.other.npy.${4194311}.abc.tmp`);
  for (const f of [dead, live, other]) writeFileSync(f, 'x');
  writeFileAtomic(target, ['ab', new Uint8Array([99, 100])]);
  assert.equal(readFileSync(target, 'utf8'), 'abcd');
  assert.ok(!existsSync(dead), 'stale temp of a dead writer removed');
  assert.ok(existsSync(live), 'a live writer\'s temp is kept');
  assert.ok(existsSync(other), 'temps of other files are not touched');
});

test('writeFileAtomic reports an unwritable target as E_IO and leaves no temp', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-atomic-'));
  writeFileSync(join(dir, 'afile'), 'x');
  assert.throws(() => writeFileAtomic(join(dir, 'afile', 'sub', 'x.bin'), 'data'), (e: any) => e.code === 'E_IO');
});
