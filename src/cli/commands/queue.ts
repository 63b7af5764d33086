import { resolve } from 'node:path';
import { fail } from '../../core/errors.js';
import { parseRedisUrl } from '../../experiments/queue/redis.js';
import { collectSweep, queueStatus } from '../../experiments/queue/status.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit.js';
import { duration } from '../progress.js';

/** `sparsecode queue status|collect URL`: a queued sweep's progress, and its results into a folder. */
export const queueCommand: Command = {
  name: 'queue',
  summary: 'progress of the sweeps on a Redis queue (status) and their results into a folder (collect)',
  usage: 'queue status redis://[:password@]host:port[/db] [--out DIR | --sweep ID] [--json]\n       sparsecode queue collect redis://[:password@]host:port[/db] --out DIR [--sweep ID] [--wait] [--json]',
  description: [
    'status: the job counts of the queue, its workers, refused jobs, and per sweep the cells done / running /',
    'waiting / failed / total with an ETA (mean cell time x cells left / workers). With --out DIR, only the sweep',
    'that DIR collects (DIR/queue.json, written by repro --queue), counting the lines DIR/results.jsonl holds.',
    '',
    'collect: writes the cells that finished on the queue into DIR/results.jsonl (each cell once; running it again',
    'adds only new lines), and DIR/report.md with the plots once every cell has its line. --wait stays until the',
    'last one. The sweep is the one DIR/queue.json names, else --sweep ID, else the only sweep on the queue.',
    'Finished jobs stay on the queue for 14 days.',
  ].join('\n'),
  positionals: [
    { name: 'action', help: 'status or collect', required: true, choices: ['status', 'collect'] },
    { name: 'url', help: 'the Redis queue URL' },
  ],
  options: [
    { name: 'out', type: 'string', metavar: 'DIR', help: 'the output folder of the sweep (repro --out)' },
    { name: 'sweep', type: 'string', metavar: 'ID', help: 'the sweep id (queue status lists them)' },
    { name: 'wait', type: 'boolean', help: 'collect: wait until every cell has its line' },
    { name: 'json', type: 'boolean', help: 'print one JSON object' },
  ],
  examples: [
    'sparsecode queue status redis://127.0.0.1:6379/0',
    'sparsecode queue status redis://127.0.0.1:6379/0 --out runs/sparsity',
    'sparsecode queue collect redis://127.0.0.1:6379/0 --out runs/sparsity --wait',
  ],
  async run(ctx) {
    const [action, url, extra] = ctx.positionals;
    if (extra !== undefined) fail('E_USAGE', `unexpected argument "${extra}"`);
    if (!url) fail('E_USAGE', `name the queue: sparsecode queue ${action} redis://host:6379/0`);
    const target = parseRedisUrl(url);
    const o = ctx.opts;
    const out = o.out ? resolve(o.out) : undefined;
    if (action === 'status') {
      if (o.wait) fail('E_USAGE', '--wait applies to queue collect');
      const s = await queueStatus(target, { out, sweep: o.sweep });
      if (o.json) {
        ctx.print(JSON.stringify(s, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)));
        return EXIT.ok;
      }
      const c = s.counts;
      ctx.print(`${s.redis} (Redis ${s.version}): ${s.workers} worker connection(s); jobs waiting ${c.waiting + (c.prioritized ?? 0) + (c.paused ?? 0)}, active ${c.active}, delayed (retry backoff) ${c.delayed}, completed ${c.completed}, failed ${c.failed}`);
      if (!s.sweeps.length) ctx.print('no sweeps on this queue');
      for (const w of s.sweeps) {
        const eta = w.running + w.waiting === 0 ? 'finished' : Number.isFinite(w.eta) ? `ETA ${duration(w.eta)}` : 'ETA ?';
        ctx.print(`sweep ${w.id}  ${w.experiment} (${w.preset})  ${w.done}/${w.total} done, ${w.running} running, ${w.waiting} waiting, ${w.failed} failed${w.missing ? `, ${w.missing} not on the queue` : ''}  ${eta}  ${w.out ? `(out ${w.out})` : ''}`);
      }
      for (const r of s.refused) ctx.print(`refused job ${r.id}: ${r.reason}`);
      return EXIT.ok;
    }
    if (!out) fail('E_USAGE', 'queue collect needs --out DIR (where results.jsonl and report.md go)');
    let bar = ctx.progress('collect', 1, 'cells');
    let notEnqueued = 0;
    const r = await collectSweep({
      target,
      out,
      sweep: o.sweep,
      wait: !!o.wait,
      signal: ctx.signal,
      onNote: (m) => ctx.note(`  ${m}`),
      onEnqueued: (e) => {
        notEnqueued = e.notEnqueued;
        ctx.note(`sweep ${e.sweep}: ${e.landed} cell(s) collected from finished jobs, ${e.pending} in ${e.jobs} job(s) still on the queue${e.notEnqueued ? `, ${e.notEnqueued} with no job (failed before, or expired): run the repro command with --queue again to enqueue them` : ''}`);
      },
      onProgress: (p) => {
        if (!p.cell && !p.tick) {
          bar = ctx.progress('collect', p.total, 'cells');
          bar.update(p.done);
          return;
        }
        bar.update(p.done, { running: p.running ?? 0, failed: p.failed });
      },
    });
    bar.finish();
    const s = r.summary;
    const finished = s.pending === 0;
    if (o.json) ctx.print(JSON.stringify({ sweep: r.record.id, experiment: r.record.experiment, collected: s.ran, failed: s.failed, pending: s.pending, notEnqueued, results: s.path, report: finished ? r.reportPath : null }));
    else ctx.note(`${r.record.experiment}: ${s.ran} line(s) written to ${s.path} (${s.failed} failed), ${s.pending} cell(s) still pending${finished ? `; report ${r.reportPath}` : `; collect again later (or --wait)`}`);
    if (s.cancelled) return EXIT.interrupted;
    return EXIT.ok;
  },
};

