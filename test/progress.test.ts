import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Progress } from '../src/cli/progress.js';

/** A stand-in for process.stderr that records what is written. */
function sink(isTTY: boolean): { stream: NodeJS.WriteStream; out: string[] } {
  const out: string[] = [];
  const stream = { isTTY, columns: 200, write: (s: string) => (out.push(s), true) } as unknown as NodeJS.WriteStream;
  return { stream, out };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('progress to a log (not a terminal): whole lines at the interval, the final state once, nothing when quiet', async () => {
  const before = process.env.SPARSECODE_PROGRESS_SECONDS;
  process.env.SPARSECODE_PROGRESS_SECONDS = '0.05';
  try {
    const { stream, out } = sink(false);
    const p = new Progress('fit', 10, { stream, unit: 'steps' });
    p.update(1);
    assert.equal(out.length, 0, 'nothing before the first interval');
    await sleep(70);
    p.update(5, { loss: 0.5 });
    assert.equal(out.length, 1);
    assert.match(out[0], /^fit \[#+-+\] 5\/10 steps .*loss 0\.5000\n$/);
    assert.ok(!out[0].includes('\r'), 'no carriage returns in a log');
    p.update(10);
    p.finish('done');
    assert.equal(out.length, 2, 'the final state once, no terminal-only message');
    assert.match(out[1], / 10\/10 steps /);

    const quiet = sink(false);
    const q = new Progress('fit', 10, { stream: quiet.stream, enabled: false });
    await sleep(70);
    q.update(10);
    q.finish();
    assert.equal(quiet.out.length, 0);

    const short = sink(false);
    process.env.SPARSECODE_PROGRESS_SECONDS = '60';
    const s = new Progress('fit', 10, { stream: short.stream });
    s.update(10);
    s.finish('done');
    assert.equal(short.out.length, 0, 'a run shorter than the interval leaves the log alone');
  } finally {
    if (before === undefined) delete process.env.SPARSECODE_PROGRESS_SECONDS;
    else process.env.SPARSECODE_PROGRESS_SECONDS = before;
  }
});

test('progress on a terminal redraws in place and ends with a newline and the message', () => {
  const { stream, out } = sink(true);
  const p = new Progress('fit', 4, { stream });
  p.update(4);
  p.finish('done');
  assert.ok(out[0].startsWith('\r\x1b[2K'));
  assert.deepEqual(out.slice(-2), ['\n', 'done\n']);
});
