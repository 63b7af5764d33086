import { join, resolve } from 'node:path';
import { fail } from '../../core/errors.js';
import { duration } from '../progress.js';
import type { Command } from '../command.js';
import { formatMeanStd, markdownTable } from '../../experiments/report.js';
import { METRIC_NAMES, STOP_PROBING_METHODS, runStopProbing, type PresetName, type SweepName } from '../../experiments/stop-probing.js';
import { EXIT } from '../exit.js';

/** `sparsecode repro <experiment>`: reproduce a paper's results with one command. */
export const reproCommand: Command = {
  name: 'repro',
  summary: "reproduce a paper's experiment (stop-probing: probes vs SAEs vs sparse coding, in and out of distribution)",
  usage: 'repro stop-probing [--preset quick|full] [--sweep latents|sparsity|samples] [--latents N,..] [--active K,..] [--samples S,..] [--seeds 0,1,2] [--methods a,b] [--out DIR] [--json]',
  description: [
    'stop-probing (PAPERS.md section 1, "Stop Probing, Start Coding"): compositional worlds of n latents,',
    'k active, N samples; codes from a ridge probe, SAEs (ReLU, TopK, JumpReLU, matching pursuit), FISTA on',
    "the SAEs' frozen decoders, dictionary learning + FISTA and the FISTA oracle (D = A); MCC, logistic",
    'accuracy and best-unit AUC in and out of distribution, dictionary recovery.',
    '',
    'Each config x seed x method is one line of DIR/results.jsonl, written as soon as it finishes; running',
    'the same command again resumes (finished cells are skipped, failed ones retried). DIR/report.md holds',
    'tables and SVG plots. --preset quick runs small worlds in a few minutes; --preset full is the paper',
    '(hours to days on a laptop). --latents/--active/--samples take one value or a comma list and override',
    "the sweep's values.",
    '',
    `Methods: ${STOP_PROBING_METHODS.join(', ')}.`,
  ].join('\n'),
  positionals: [{ name: 'experiment', help: 'which experiment', required: true, choices: ['stop-probing'] }],
  options: [
    { name: 'preset', type: 'string', help: 'quick (minutes) or full (the paper)', default: 'quick', choices: ['quick', 'full'] },
    { name: 'sweep', type: 'string', help: 'which sweep: n (latents), k (sparsity) or N (samples); default latents', choices: ['latents', 'sparsity', 'samples'] },
    { name: 'latents', type: 'intlist', help: 'n: number of latents (one or a comma list)', metavar: 'N[,N..]' },
    { name: 'active', type: 'intlist', help: 'k: active latents per sample', metavar: 'K[,K..]' },
    { name: 'samples', type: 'intlist', help: 'N: in-distribution samples (half train, half validation)', metavar: 'S[,S..]' },
    { name: 'dim', type: 'int', help: 'observation dimension (default max(k+1, ceil(2k ln(n/k))))' },
    { name: 'seeds', type: 'intlist', help: 'seeds (default: quick 0; full 0,1,2)', metavar: '0,1,2' },
    { name: 'methods', type: 'list', help: 'methods to run (default: the preset\'s)', metavar: 'a,b,..', choices: STOP_PROBING_METHODS },
    { name: 'epochs', type: 'int', help: "SAE epochs (default: the preset's; quick 60, full 500)" },
    { name: 'out', type: 'string', help: 'output folder (default: runs/stop-probing-<preset>)', metavar: 'DIR' },
    { name: 'json', type: 'boolean', help: 'print the summary as one JSON object instead of a table' },
  ],
  examples: [
    'sparsecode repro stop-probing --preset quick',
    'sparsecode repro stop-probing --preset full --sweep latents --out runs/latents',
    'sparsecode repro stop-probing --latents 50 --active 5 --samples 1000 --methods oracle,probe --json',
  ],
  async run(ctx) {
    const experiment = ctx.positionals[0];
    if (experiment !== 'stop-probing') {
      fail('E_USAGE', experiment ? `unknown experiment "${experiment}"; available: stop-probing` : 'name the experiment: sparsecode repro stop-probing');
    }
    if (ctx.positionals.length > 1) fail('E_USAGE', `unexpected argument "${ctx.positionals[1]}"`);
    const o = ctx.opts;
    const preset = o.preset as PresetName;
    if (o.epochs !== undefined && !(o.epochs >= 1)) fail('E_USAGE', `--epochs must be >= 1, got ${o.epochs}`);
    const out = resolve(o.out ?? join('runs', `stop-probing-${preset}`));
    let progressBar = ctx.progress('stop-probing', 1, 'cells');
    let lastNote = 0;
    const t0 = Date.now();
    const result = await runStopProbing({
      out,
      preset,
      sweep: o.sweep as SweepName | undefined,
      latents: o.latents,
      active: o.active,
      samples: o.samples,
      dim: o.dim,
      seeds: o.seeds,
      methods: o.methods,
      settings: o.epochs !== undefined ? { saeEpochs: o.epochs } : undefined,
      signal: ctx.signal,
      onProgress: (p) => {
        if (!p.cell) {
          progressBar = ctx.progress('stop-probing', p.total, 'cells');
          ctx.note(`stop-probing: ${p.total} cells (${preset} preset), ${p.skipped} already in ${join(out, 'results.jsonl')}`);
          progressBar.update(p.done);
          return;
        }
        const eta = Number.isFinite(p.eta) ? duration(p.eta) : '?';
        progressBar.update(p.done, { last: `${p.cell.method} n=${p.cell.config.latents} seed=${p.cell.config.seed}`, failed: p.failed });
        // a plain line now and then for logs (no TTY)
        if (!process.stderr.isTTY && Date.now() - lastNote > 5000) {
          lastNote = Date.now();
          ctx.note(`  ${p.done}/${p.total} cells, ${p.failed} failed, elapsed ${duration(p.elapsed)}, ETA ${eta}`);
        }
        if (p.line?.error) ctx.note(`  cell failed: ${p.cell.method} ${JSON.stringify(p.cell.config)}: ${p.line.error}`);
      },
    });
    progressBar.finish();
    const { summary, rows } = result;
    if (o.json) {
      ctx.print(JSON.stringify({ rows: rows.map((r) => ({ config: r.config, method: r.method, seeds: r.seeds, mean: r.mean, std: r.std })) }));
    } else {
      const metrics = METRIC_NAMES.filter((m) => rows.some((r) => r.mean[m] !== undefined));
      const header = ['n', 'k', 'N', 'method', 'seeds', ...metrics];
      const body = rows.map((r) => [
        String(r.config.latents), String(r.config.active), String(r.config.samples), r.method,
        `${r.seeds.length}${r.failed ? `+${r.failed}!` : ''}`,
        ...metrics.map((m) => formatMeanStd(r.mean[m], r.std[m])),
      ]);
      ctx.print(markdownTable(header, body, ['r', 'r', 'r', 'l', 'r', ...metrics.map(() => 'r' as const)]));
    }
    ctx.note(`stop-probing: ${summary.ran} cells run, ${summary.skipped} skipped, ${summary.failed} failed in ${duration((Date.now() - t0) / 1000)}; results ${summary.path}, report ${result.reportPath}`);
    if (summary.cancelled) return EXIT.interrupted;
    return summary.failed > 0 ? EXIT.failed : EXIT.ok;
  },
};
