import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendLine, cellKey, configKey, readResults, runSweep, type Cell } from '../src/experiments/runner.js';
import { aggregate, markdownTable, meanStd, pivotTable, summaryTable, varyingKeys } from '../src/experiments/report.js';
import { fail } from '../src/core/errors.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'sparsecode-exp-'));
}

function cells(methods: string[], seeds: number[]): Cell[] {
  const out: Cell[] = [];
  for (const n of [10, 20]) for (const seed of seeds) for (const method of methods) out.push({ config: { latents: n, seed }, method });
  return out;
}

test('configKey is independent of key order; cellKey adds the method', () => {
  assert.equal(configKey({ a: 1, b: 2 }), configKey({ b: 2, a: 1 }));
  assert.notEqual(configKey({ a: 1, b: 2 }), configKey({ a: 2, b: 1 }));
  assert.notEqual(cellKey({ a: 1 }, 'x'), cellKey({ a: 1 }, 'y'));
});

test('runSweep writes one JSON line per cell with config, method, metrics, seconds', async () => {
  const dir = tmp();
  try {
    const all = cells(['m1', 'm2'], [0, 1]);
    const progress: number[] = [];
    const s = await runSweep({
      dir,
      cells: all,
      run: (c) => ({ score: (c.config.latents as number) + (c.config.seed as number) + (c.method === 'm2' ? 0.5 : 0), nan: NaN }),
      onProgress: (p) => progress.push(p.done),
    });
    assert.equal(s.ran, 8);
    assert.equal(s.skipped, 0);
    assert.deepEqual(progress, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const text = readFileSync(join(dir, 'results.jsonl'), 'utf8');
    const lines = text.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 8);
    for (const l of lines) {
      assert.deepEqual(Object.keys(l).sort(), ['config', 'method', 'metrics', 'seconds']);
      assert.equal(typeof l.seconds, 'number');
      assert.ok(!('nan' in l.metrics), 'non-finite metrics are omitted');
    }
    assert.deepEqual(lines[3], { ...lines[3], config: { latents: 10, seed: 1 }, method: 'm2', metrics: { score: 11.5 } });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('runSweep: a cell that resumed a checkpoint counts the seconds it recorded (seconds_before_resume)', async () => {
  const dir = tmp();
  try {
    const all = cells(['m1', 'm2'], [0]);
    await runSweep({ dir, cells: all, run: (c, _cache, _signal, ctx) => { if (c.method === 'm2') ctx!.priorSeconds += 12.5; return { score: 1 }; } });
    const { lines } = readResults(join(dir, 'results.jsonl'));
    assert.equal(lines.length, all.length);
    for (const l of lines) {
      if (l.method === 'm1') assert.ok(!('seconds_before_resume' in l));
      else {
        assert.equal(l.seconds_before_resume, 12.5);
        assert.ok(l.seconds >= 12.5 && l.seconds < 12.5 + 60, `whole time ${l.seconds}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('resume: completed cells are skipped, a torn last line is dropped and its cell re-run', async () => {
  const dir = tmp();
  try {
    const all = cells(['m1', 'm2'], [0]);
    // a previous run finished 2 cells, then was killed while writing the third
    const path = join(dir, 'results.jsonl');
    appendLine(path, { config: { latents: 10, seed: 0 }, method: 'm1', metrics: { score: 1 }, seconds: 0.1 });
    appendLine(path, { config: { seed: 0, latents: 10 }, method: 'm2', metrics: { score: 2 }, seconds: 0.1 });
    appendFileSync(path, '{"config":{"latents":20,"seed":0},"method":"m1","metr');
    const r0 = readResults(path);
    assert.equal(r0.lines.length, 2);
    assert.equal(r0.torn, true);
    const ran: string[] = [];
    const s = await runSweep({ dir, cells: all, run: (c) => (ran.push(`${c.config.latents}/${c.method}`), { score: 9 }) });
    assert.deepEqual(ran, ['20/m1', '20/m2']);
    assert.equal(s.skipped, 2);
    assert.equal(s.ran, 2);
    const text = readFileSync(path, 'utf8');
    assert.ok(text.endsWith('\n'));
    const lines = text.trim().split('\n').map((l) => JSON.parse(l)); // every line parses: the torn tail is gone
    assert.equal(lines.length, 4);
    assert.equal(s.lines[0]!.metrics!.score, 1, 'skipped cells report their stored line');
    // a second resume runs nothing
    const again = await runSweep({ dir, cells: all, run: () => fail('E_ARG', 'must not run') });
    assert.equal(again.ran, 0);
    assert.equal(again.skipped, 4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failing cell is recorded with its error and the sweep carries on; it is retried on resume', async () => {
  const dir = tmp();
  try {
    const all = cells(['ok', 'bad'], [0]);
    const s = await runSweep({
      dir,
      cells: all,
      run: (c) => {
        if (c.method === 'bad') fail('E_DIVERGED', `diverged at n=${c.config.latents}`);
        return { score: 1 };
      },
    });
    assert.equal(s.ran, 4);
    assert.equal(s.failed, 2);
    const lines = readResults(join(dir, 'results.jsonl')).lines;
    assert.equal(lines.length, 4);
    const bad = lines.filter((l) => l.method === 'bad');
    assert.equal(bad.length, 2);
    for (const b of bad) {
      assert.match(b.error!, /^E_DIVERGED: diverged at n=\d+/);
      assert.equal(b.metrics, undefined);
    }
    // resume retries only the failed cells; then aggregation sees the success
    const ran: string[] = [];
    const s2 = await runSweep({ dir, cells: all, run: (c) => (ran.push(c.method), { score: 2 }) });
    assert.deepEqual(ran, ['bad', 'bad']);
    assert.equal(s2.failed, 0);
    const rows = aggregate(readResults(join(dir, 'results.jsonl')).lines);
    assert.equal(rows.find((r) => r.method === 'bad')!.mean.score, 2);
    assert.equal(rows.find((r) => r.method === 'bad')!.failed, 0);
    // retryFailed: false keeps the error line
    const dir2 = tmp();
    try {
      await runSweep({ dir: dir2, cells: all.slice(1, 2), run: () => fail('E_ARG', 'no') });
      const s3 = await runSweep({ dir: dir2, cells: all.slice(1, 2), retryFailed: false, run: () => ({ score: 1 }) });
      assert.equal(s3.ran, 0);
      assert.match(s3.lines[0]!.error!, /no/);
    } finally {
      rmSync(dir2, { recursive: true, force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cancelling stops between cells without recording the cancelled cell', async () => {
  const dir = tmp();
  try {
    const ac = new AbortController();
    const s = await runSweep({
      dir,
      cells: cells(['m'], [0, 1]),
      signal: ac.signal,
      run: (c) => {
        if (c.config.seed === 1) ac.abort();
        if (ac.signal.aborted) fail('E_CANCELLED', 'operation cancelled');
        return { v: 1 };
      },
    });
    assert.equal(s.cancelled, true);
    assert.equal(s.ran, 1);
    assert.equal(readResults(join(dir, 'results.jsonl')).lines.length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('progress reports ETA from the mean cell time; duplicate cells are refused', async () => {
  const dir = tmp();
  try {
    const etas: number[] = [];
    await runSweep({ dir, cells: cells(['m'], [0]), run: () => ({ v: 1 }), onProgress: (p) => etas.push(p.eta) });
    assert.ok(Number.isNaN(etas[0]));
    assert.equal(etas.at(-1), 0);
    await assert.rejects(
      runSweep({ dir, cells: [{ config: { a: 1 }, method: 'x' }, { config: { a: 1 }, method: 'x' }], run: () => ({}) }),
      (e: any) => e.code === 'E_ARG' && /appears twice/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('readResults lists malformed lines and ignores them', () => {
  const dir = tmp();
  try {
    const path = join(dir, 'r.jsonl');
    writeFileSync(path, '{"config":{"a":1},"method":"m","metrics":{"x":1},"seconds":1}\nnot json\n{"foo":1}\n\n');
    const r = readResults(path);
    assert.equal(r.lines.length, 1);
    assert.deepEqual(r.bad.map((b) => b.line), [2, 3]);
    assert.equal(r.torn, false);
    assert.deepEqual(readResults(join(dir, 'missing.jsonl')).lines, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('meanStd: mean and sample standard deviation (n - 1)', () => {
  const { mean, std } = meanStd([1, 2, 3, 4]);
  assert.equal(mean, 2.5);
  assert.ok(Math.abs(std - Math.sqrt(5 / 3)) < 1e-15); // sum of squares 5, n - 1 = 3
  assert.deepEqual(meanStd([7]), { mean: 7, std: 0 });
  assert.ok(Number.isNaN(meanStd([]).mean));
});

test('aggregate groups by config without seed and method; the last line of a cell wins', () => {
  const L = (latents: number, seed: number, method: string, metrics?: Record<string, number>, error?: string) =>
    error ? { config: { latents, seed }, method, error, seconds: 0 } : { config: { latents, seed }, method, metrics, seconds: 0 };
  const rows = aggregate([
    L(10, 0, 'a', { x: 1, y: 10 }),
    L(10, 1, 'a', { x: 3 }),
    L(10, 2, 'a', { x: 100 }),
    L(10, 2, 'a', { x: 5 }), // replaces the line above (same cell)
    L(10, 0, 'b', undefined, 'E_ARG: boom'),
    L(20, 0, 'a', { x: 2 }),
  ]);
  assert.equal(rows.length, 3);
  const a10 = rows[0];
  assert.deepEqual(a10.config, { latents: 10 });
  assert.equal(a10.method, 'a');
  assert.deepEqual(a10.seeds, [0, 1, 2]);
  assert.equal(a10.mean.x, 3);
  assert.equal(a10.std.x, 2); // values 1, 3, 5
  assert.equal(a10.mean.y, 10); // only seed 0 reports y
  assert.equal(a10.std.y, 0);
  const b = rows[1];
  assert.equal(b.method, 'b');
  assert.equal(b.failed, 1);
  assert.deepEqual(b.seeds, []);
  assert.deepEqual(varyingKeys(rows), ['latents']);
});

test('markdown tables: header, alignment, escaping, pivot by a config key', () => {
  const t = markdownTable(['a', 'b|c'], [[1, 'x|y']], ['l', 'r']);
  assert.equal(t, '| a | b\\|c |\n|:---|---:|\n| 1 | x\\|y |');
  assert.throws(() => markdownTable(['a'], [[1, 2]]), (e: any) => e.code === 'E_SHAPE');
  const rows = aggregate([
    { config: { latents: 100, seed: 0 }, method: 'm', metrics: { s: 0.5 }, seconds: 0 },
    { config: { latents: 100, seed: 1 }, method: 'm', metrics: { s: 0.7 }, seconds: 0 },
    { config: { latents: 50, seed: 0 }, method: 'm', metrics: { s: 0.25 }, seconds: 0 },
  ]);
  const p = pivotTable(rows, 'latents', 's').split('\n');
  assert.equal(p[0], '| s \\ latents | 50 | 100 |');
  assert.equal(p[2], `| m | 0.250 | 0.600 ± ${Math.sqrt(0.02).toFixed(3)} |`);
  const s = summaryTable(rows, ['s', 'missing']).split('\n');
  assert.equal(s[0], '| latents | method | seeds | s | missing |');
  assert.match(s[2], /\| 100 \| m \| 2 \| 0\.600 ± 0\.141 \| — \|/);
});

test('one runner, any executor: units are consecutive cells of one group and config; lines land in any order, each cell once; a detached executor leaves cells pending', async () => {
  const { cellUnits, localExecutor } = await import('../src/experiments/runner.js');
  const all: Cell[] = [
    { config: { n: 1, seed: 0 }, method: 'a', group: 'g1' },
    { config: { n: 1, seed: 0 }, method: 'b', group: 'g1' },
    { config: { n: 1, seed: 0 }, method: 'c', group: 'g2' },
    { config: { n: 2, seed: 0 }, method: 'a', group: 'g1' },
    { config: { n: 2, seed: 0 }, method: 'b' },
  ];
  assert.deepEqual(cellUnits(all).map((u) => u.cells.map((c) => `${c.config.n}${c.method}`)), [['1a', '1b'], ['1c'], ['2a'], ['2b']]);
  const dir = tmp();
  try {
    // an executor that runs the units backwards and lands a line twice: the file gets each cell once
    const seen: string[] = [];
    const s = await runSweep({
      dir, cells: all, run: (c) => ({ v: (c.config.n as number) * 10 + c.method.charCodeAt(0) }),
      executor: {
        name: 'backwards', parallel: true,
        async execute(units, ctx) {
          for (const u of [...units].reverse()) {
            ctx.running(u.cells.length);
            for (const c of u.cells) {
              const line = { config: c.config, method: c.method, metrics: await ctx.run(c, new Map()), seconds: 0.01 };
              ctx.land(c, line);
              ctx.land(c, line);
              seen.push(`${c.config.n}${c.method}`);
            }
          }
          return {};
        },
      },
    });
    assert.deepEqual(seen, ['2b', '2a', '1c', '1a', '1b']);
    assert.equal(s.pending, 0);
    assert.deepEqual(s.lines.map((l) => l!.metrics!.v), [107, 108, 109, 117, 118], 'lines in cell order in the summary');
    assert.equal(readResults(join(dir, 'results.jsonl')).lines.length, 5);
    // a detached executor (handed the cells elsewhere): nothing more lands, the rest is pending
    const dir2 = tmp();
    try {
      const d = await runSweep({ dir: dir2, cells: all, run: () => ({ v: 1 }), executor: { name: 'elsewhere', async execute(units, ctx) { ctx.land(units[0].cells[0], { config: units[0].cells[0].config, method: 'a', metrics: { v: 1 }, seconds: 0 }); return { detached: true }; } } });
      assert.deepEqual([d.detached, d.pending, d.ran], [true, 4, 1]);
      // a line for a cell outside the sweep is refused
      await assert.rejects(runSweep({ dir: dir2, cells: all, run: () => ({}), executor: { name: 'x', async execute(_u, ctx) { ctx.land({ config: { n: 9 }, method: 'a' }, { config: { n: 9 }, method: 'a', metrics: {}, seconds: 0 }); return {}; } } }), (e: any) => e.code === 'E_ARG' && /not a cell of this sweep/.test(e.message));
    } finally {
      rmSync(dir2, { recursive: true, force: true });
    }
    // the local executor is the default and runs the units in order
    assert.equal(localExecutor.name, 'local');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
