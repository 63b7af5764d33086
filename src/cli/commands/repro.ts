import { join, resolve } from 'node:path';
import { fail } from '../../core/errors.js';
import { duration } from '../progress.js';
import type { Command } from '../command.js';
import { formatMeanStd, markdownTable } from '../../experiments/report.js';
import { METRIC_NAMES, STOP_PROBING_METHODS, runStopProbing, type PresetName, type SweepName } from '../../experiments/stop-probing.js';
import { EXIT } from '../exit.js';
import { ALIGNMENT_SUPERPOSITION_METHODS, AS_METRICS, runAlignmentSuperposition, type AsSweepName } from '../../experiments/alignment-superposition.js';
import { HA_METRICS, HIDDEN_ALIGNMENT_METHODS, runHiddenAlignment } from '../../experiments/hidden-alignment.js';
import type { Context } from '../command.js';
import type { SweepProgress } from '../../experiments/runner.js';
import { AMORTISATION_METHODS, AMORTISATION_SETTINGS, runAmortisationGap, type AmortisationSetting } from '../../experiments/amortisation-gap.js';
import { PREPROCESSINGS, WHITENING_METHODS, WHITENING_METRICS, runWhiteningRepro } from '../../experiments/whitening.js';

/** `sparsecode repro <experiment>`: reproduce a paper's results with one command. */
export const reproCommand: Command = {
  name: 'repro',
  summary: "reproduce a paper's experiment (stop-probing: probes vs SAEs vs sparse coding, in and out of distribution; alignment-superposition; hidden-alignment)",
  usage: 'repro stop-probing [--preset quick|full] [--sweep latents|sparsity|samples] [--latents N,..] [--active K,..] [--samples S,..] [--seeds 0,1,2] [--methods a,b] [--out DIR] [--json]\n       sparsecode repro alignment-superposition [--preset quick|full] [--sweep dims|latents] [--latents N,..] [--dims M,..] [--active K,..] [--samples S,..] [--seeds 0,1,2] [--methods a,b] [--out DIR] [--json]\n       sparsecode repro hidden-alignment [--preset quick|full] [--hidden 8,16,32] [--seeds 0,1,2] [--methods a,b] [--out DIR] [--json]\n       sparsecode repro amortisation-gap [--preset quick|full] [--setting known|learned] [--steps T] [--seeds 0,1,2] [--methods a,b] [--out DIR] [--json]\n       sparsecode repro whitening [--preset quick|full] [--conditions 1,10,100,1000] [--whiten none,center,pca,zca] [--seeds 0,1,2] [--methods relu-sae,topk-sae] [--out DIR] [--json]',
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
    '',
    'alignment-superposition (PAPERS.md section 4): two systems y_A = z·A, y_B = z·B read the same k-sparse latents',
    'through different random maps; linear/debiased CKA, RSA, ridge regression, semi-/soft-matching on raw activations',
    'vs the closed form, and on sparse codes extracted from each system (FISTA with the true maps, DL-FISTA, TopK SAE).',
    'Sweeps over m (--sweep dims) and n (--sweep latents); both by default.',
    `Methods: ${ALIGNMENT_SUPERPOSITION_METHODS.join(', ')}.`,
    '',
    'hidden-alignment (PAPERS.md section 5): two toy models of superposition (64 features, hidden --hidden) trained from',
    'different seeds on the same data, a TopK SAE (k = 7, width 64) on each; semi-matching, soft-matching and 5-fold',
    'ridge regression for neuron->neuron, SAE->neuron, SAE->SAE and an untrained random-SAE control.',
    `Methods: ${HIDDEN_ALIGNMENT_METHODS.join(', ')}.`,
    '',
    'amortisation-gap (PAPERS.md section 2): 16 sources, 8 dims, 3 active; SAE, MLP encoders (hidden 32/256/1024), per-sample',
    'sparse coding (FISTA) and SAE + inference-time optimisation, with the decoder known (--setting known) or learned; code MCC,',
    'dictionary recovery, FLOPs per sample, the amortisation gap; report.md with MCC-vs-FLOPs plots. --steps overrides Adam steps.',
    `Methods: ${AMORTISATION_METHODS.join(', ')}.`,
    '',
    'whitening (PAPERS.md section 3): anisotropic worlds (activation covariance with condition number κ, --conditions); ReLU and',
    'TopK SAEs trained with the same budget on raw, centred, PCA- and ZCA-whitened inputs (--whiten); MCC, dictionary recovery of',
    'the un-whitened decoder, sparse probing (best-unit and k-sparse probe AUC), FVE/MSE and L0, all in the original space.',
    `Methods: relu-sae, topk-sae, or one pair such as relu-sae/zca (${WHITENING_METHODS.length} in all).`,
  ].join('\n'),
  positionals: [{ name: 'experiment', help: 'which experiment', required: true, choices: ['stop-probing', 'alignment-superposition', 'hidden-alignment', 'amortisation-gap', 'whitening'] }],
  options: [
    { name: 'preset', type: 'string', help: 'quick (minutes) or full (the paper)', default: 'quick', choices: ['quick', 'full'] },
    { name: 'sweep', type: 'string', help: 'which sweep: n (latents), k (sparsity) or N (samples); default latents', choices: ['latents', 'sparsity', 'samples', 'dims'] },
    { name: 'latents', type: 'intlist', help: 'n: number of latents (one or a comma list)', metavar: 'N[,N..]' },
    { name: 'active', type: 'intlist', help: 'k: active latents per sample', metavar: 'K[,K..]' },
    { name: 'samples', type: 'intlist', help: 'N: in-distribution samples (half train, half validation)', metavar: 'S[,S..]' },
    { name: 'dim', type: 'int', help: 'observation dimension (default max(k+1, ceil(2k ln(n/k))))' },
    { name: 'seeds', type: 'intlist', help: 'seeds (default: quick 0; full 0,1,2)', metavar: '0,1,2' },
    { name: 'methods', type: 'list', help: 'methods to run (default: the preset\'s)', metavar: 'a,b,..', choices: [...STOP_PROBING_METHODS, ...ALIGNMENT_SUPERPOSITION_METHODS, ...HIDDEN_ALIGNMENT_METHODS, ...AMORTISATION_METHODS, ...WHITENING_METHODS] },
    { name: 'dims', type: 'intlist', help: 'alignment-superposition: m, the width of each system', metavar: 'M[,M..]' },
    { name: 'conditions', type: 'intlist', help: 'whitening: condition numbers κ of the activation covariance (default 1,10,100,1000)', metavar: 'K[,K..]' },
    { name: 'whiten', type: 'list', help: 'whitening: input preprocessings (default none,center,pca,zca)', metavar: 'a,b,..', choices: [...PREPROCESSINGS] },
    { name: 'hidden', type: 'intlist', help: 'hidden-alignment: hidden widths of the toy models (default 8,16,32)', metavar: 'H[,H..]' },
    { name: 'setting', type: 'string', help: 'amortisation-gap: known or learned decoder (default both)', choices: [...AMORTISATION_SETTINGS] },
    { name: 'steps', type: 'int', help: "amortisation-gap: Adam steps of the encoders (default: the preset's; quick 4000, full 20000)", metavar: 'T' },
    { name: 'epochs', type: 'int', help: "SAE epochs (default: the preset's; quick 60, full 500)" },
    { name: 'out', type: 'string', help: 'output folder (default: runs/stop-probing-<preset>)', metavar: 'DIR' },
    { name: 'json', type: 'boolean', help: 'print the summary as one JSON object instead of a table' },
  ],
  examples: [
    'sparsecode repro stop-probing --preset quick',
    'sparsecode repro stop-probing --preset full --sweep latents --out runs/latents',
    'sparsecode repro stop-probing --latents 50 --active 5 --samples 1000 --methods oracle,probe --json',
    'sparsecode repro alignment-superposition --preset quick --out runs/alignment',
    'sparsecode repro hidden-alignment --hidden 16,32 --seeds 0,1 --json',
    'sparsecode repro amortisation-gap --preset quick --out runs/amortisation',
    'sparsecode repro whitening --preset quick --out runs/whitening',
  ],
  async run(ctx) {
    const experiment = ctx.positionals[0];
    if (experiment === 'whitening') return runWhiteningCli(ctx);
    if (experiment === 'amortisation-gap') return runAmortisationRepro(ctx);
    if (experiment === 'alignment-superposition' || experiment === 'hidden-alignment') {
      if (ctx.positionals.length > 1) fail('E_USAGE', `unexpected argument "${ctx.positionals[1]}"`);
      return runAlignmentRepro(ctx, experiment);
    }
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

/** `repro alignment-superposition` and `repro hidden-alignment` (PAPERS.md sections 4 and 5). */
async function runAlignmentRepro(ctx: Context, experiment: 'alignment-superposition' | 'hidden-alignment'): Promise<number> {
  const o = ctx.opts;
  const preset = o.preset as 'quick' | 'full';
  const allowed = experiment === 'hidden-alignment' ? HIDDEN_ALIGNMENT_METHODS : ALIGNMENT_SUPERPOSITION_METHODS;
  for (const m of (o.methods as string[] | undefined) ?? []) {
    if (!(allowed as readonly string[]).includes(m)) fail('E_USAGE', `--methods: "${m}" is not a method of ${experiment}; choose from ${allowed.join(', ')}`);
  }
  const foreign = experiment === 'hidden-alignment' ? ['sweep', 'latents', 'active', 'samples', 'dim', 'dims', 'epochs'] : ['hidden', 'dim', 'epochs'];
  for (const f of foreign) if (o[f] !== undefined) fail('E_USAGE', `--${f} does not apply to repro ${experiment}`);
  if (o.sweep !== undefined && o.sweep !== 'dims' && o.sweep !== 'latents') fail('E_USAGE', `--sweep for alignment-superposition is dims or latents, got ${o.sweep}`);
  const out = resolve(o.out ?? join('runs', `${experiment}-${preset}`));
  let bar = ctx.progress(experiment, 1, 'cells');
  const t0 = Date.now();
  const onProgress = (p: SweepProgress) => {
    if (!p.cell) {
      bar = ctx.progress(experiment, p.total, 'cells');
      ctx.note(`${experiment}: ${p.total} cells (${preset} preset), ${p.skipped} already in ${join(out, 'results.jsonl')}`);
      bar.update(p.done);
      return;
    }
    bar.update(p.done, { last: `${p.cell.method} ${JSON.stringify(p.cell.config)}`, failed: p.failed });
    if (p.line?.error) ctx.note(`  cell failed: ${p.cell.method} ${JSON.stringify(p.cell.config)}: ${p.line.error}`);
  };
  const common = { out, preset, seeds: o.seeds as number[] | undefined, methods: o.methods as string[] | undefined, signal: ctx.signal, onProgress };
  const result = experiment === 'hidden-alignment'
    ? await runHiddenAlignment({ ...common, hidden: o.hidden as number[] | undefined })
    : await runAlignmentSuperposition({
      ...common, sweeps: o.sweep ? [o.sweep as AsSweepName] : undefined,
      latents: o.latents as number[] | undefined, dims: o.dims as number[] | undefined, active: o.active as number[] | undefined, samples: o.samples as number[] | undefined,
    });
  bar.finish();
  const { summary, rows } = result;
  if (o.json) {
    ctx.print(JSON.stringify({ experiment, rows: rows.map((r) => ({ config: r.config, method: r.method, seeds: r.seeds, mean: r.mean, std: r.std })), results: summary.path, report: result.reportPath }));
  } else {
    const keys = experiment === 'hidden-alignment' ? ['hidden'] : ['latents', 'dim', 'active'];
    const metrics = (experiment === 'hidden-alignment' ? [...HA_METRICS] : [...AS_METRICS]).filter((m) => rows.some((r) => r.mean[m] !== undefined));
    const body = rows.map((r) => [...keys.map((k) => String(r.config[k])), r.method, `${r.seeds.length}${r.failed ? `+${r.failed}!` : ''}`, ...metrics.map((m) => formatMeanStd(r.mean[m], r.std[m]))]);
    ctx.print(markdownTable([...keys.map((k) => (k === 'latents' ? 'n' : k === 'dim' ? 'm' : k === 'active' ? 'k' : k)), 'method', 'seeds', ...metrics], body, [...keys.map(() => 'r' as const), 'l', 'r', ...metrics.map(() => 'r' as const)]));
  }
  ctx.note(`${experiment}: ${summary.ran} cells run, ${summary.skipped} skipped, ${summary.failed} failed in ${duration((Date.now() - t0) / 1000)}; results ${summary.path}, report ${result.reportPath}`);
  if (summary.cancelled) return EXIT.interrupted;
  return summary.failed > 0 ? EXIT.failed : EXIT.ok;
}

/** `repro amortisation-gap` (PAPERS.md section 2). */
async function runAmortisationRepro(ctx: Context): Promise<number> {
  const o = ctx.opts;
  if (ctx.positionals.length > 1) fail('E_USAGE', `unexpected argument "${ctx.positionals[1]}"`);
  const preset = o.preset as 'quick' | 'full';
  for (const m of (o.methods as string[] | undefined) ?? []) {
    if (!(AMORTISATION_METHODS as readonly string[]).includes(m)) fail('E_USAGE', `--methods: "${m}" is not a method of amortisation-gap; choose from ${AMORTISATION_METHODS.join(', ')}`);
  }
  for (const f of ['sweep', 'latents', 'active', 'samples', 'dim', 'dims', 'hidden', 'epochs']) if (o[f] !== undefined) fail('E_USAGE', `--${f} does not apply to repro amortisation-gap`);
  if (o.steps !== undefined && !(o.steps >= 1)) fail('E_USAGE', `--steps must be >= 1, got ${o.steps}`);
  const out = resolve(o.out ?? join('runs', `amortisation-gap-${preset}`));
  let bar = ctx.progress('amortisation-gap', 1, 'cells');
  const t0 = Date.now();
  const result = await runAmortisationGap({
    out, preset, seeds: o.seeds as number[] | undefined, methods: o.methods as string[] | undefined,
    settings: o.setting ? [o.setting as AmortisationSetting] : undefined,
    overrides: o.steps !== undefined ? { steps: o.steps as number } : undefined,
    signal: ctx.signal,
    onProgress: (p) => {
      if (!p.cell) {
        bar = ctx.progress('amortisation-gap', p.total, 'cells');
        ctx.note(`amortisation-gap: ${p.total} cells (${preset} preset), ${p.skipped} already in ${join(out, 'results.jsonl')}`);
        bar.update(p.done);
        return;
      }
      bar.update(p.done, { last: `${p.cell.method} ${JSON.stringify(p.cell.config)}`, failed: p.failed });
      if (p.line?.error) ctx.note(`  cell failed: ${p.cell.method} ${JSON.stringify(p.cell.config)}: ${p.line.error}`);
    },
  });
  bar.finish();
  const { summary, rows } = result;
  if (o.json) {
    ctx.print(JSON.stringify({ experiment: 'amortisation-gap', rows: rows.map((r) => ({ config: r.config, method: r.method, seeds: r.seeds, mean: r.mean, std: r.std })), results: summary.path, report: result.reportPath }));
  } else {
    const metrics = ['mcc', 'dict_cos', 'flops_inference', 'flops_total', 'gap', 'gap_rel'].filter((m) => rows.some((r) => r.mean[m] !== undefined));
    const cell = (r: (typeof rows)[number], m: string) => (m.startsWith('flops') ? (Number.isFinite(r.mean[m]) ? r.mean[m].toExponential(2) : '—') : formatMeanStd(r.mean[m], r.std[m], m === 'gap' ? 5 : 3));
    const body = rows.map((r) => [String(r.config.setting), r.method, `${r.seeds.length}${r.failed ? `+${r.failed}!` : ''}`, ...metrics.map((m) => cell(r, m))]);
    ctx.print(markdownTable(['D', 'method', 'seeds', ...metrics], body, ['l', 'l', 'r', ...metrics.map(() => 'r' as const)]));
  }
  ctx.note(`amortisation-gap: ${summary.ran} cells run, ${summary.skipped} skipped, ${summary.failed} failed in ${duration((Date.now() - t0) / 1000)}; results ${summary.path}, report ${result.reportPath}`);
  if (summary.cancelled) return EXIT.interrupted;
  return summary.failed > 0 ? EXIT.failed : EXIT.ok;
}

/** `repro whitening` (PAPERS.md section 3). */
async function runWhiteningCli(ctx: Context): Promise<number> {
  const o = ctx.opts;
  if (ctx.positionals.length > 1) fail('E_USAGE', `unexpected argument "${ctx.positionals[1]}"`);
  const preset = o.preset as 'quick' | 'full';
  const allowed = ['relu-sae', 'topk-sae', ...WHITENING_METHODS];
  for (const m of (o.methods as string[] | undefined) ?? []) if (!allowed.includes(m)) fail('E_USAGE', `--methods: "${m}" is not a method of whitening; choose relu-sae, topk-sae or one of ${WHITENING_METHODS.join(', ')}`);
  for (const f of ['sweep', 'latents', 'active', 'samples', 'dim', 'dims', 'hidden', 'epochs', 'setting', 'steps']) if (o[f] !== undefined) fail('E_USAGE', `--${f} does not apply to repro whitening`);
  const out = resolve(o.out ?? join('runs', `whitening-${preset}`));
  let bar = ctx.progress('whitening', 1, 'cells');
  const t0 = Date.now();
  const result = await runWhiteningRepro({
    out, preset, seeds: o.seeds as number[] | undefined, methods: o.methods as string[] | undefined,
    conditions: o.conditions as number[] | undefined, preprocessings: o.whiten as string[] | undefined, signal: ctx.signal,
    onProgress: (p) => {
      if (!p.cell) {
        bar = ctx.progress('whitening', p.total, 'cells');
        ctx.note(`whitening: ${p.total} cells (${preset} preset), ${p.skipped} already in ${join(out, 'results.jsonl')}`);
        bar.update(p.done);
        return;
      }
      bar.update(p.done, { last: `${p.cell.method} κ=${p.cell.config.condition} seed=${p.cell.config.seed}`, failed: p.failed });
      if (p.line?.error) ctx.note(`  cell failed: ${p.cell.method} ${JSON.stringify(p.cell.config)}: ${p.line.error}`);
    },
  });
  bar.finish();
  const { summary, rows } = result;
  if (o.json) {
    ctx.print(JSON.stringify({ experiment: 'whitening', rows: rows.map((r) => ({ config: r.config, method: r.method, seeds: r.seeds, mean: r.mean, std: r.std })), results: summary.path, report: result.reportPath }));
  } else {
    const metrics = WHITENING_METRICS.filter((m) => m !== 'dict_cos_train' && rows.some((r) => r.mean[m] !== undefined));
    const body = rows.map((r) => [String(r.config.condition), r.method, `${r.seeds.length}${r.failed ? `+${r.failed}!` : ''}`, ...metrics.map((m) => formatMeanStd(r.mean[m], r.std[m]))]);
    ctx.print(markdownTable(['κ', 'method', 'seeds', ...metrics], body, ['r', 'l', 'r', ...metrics.map(() => 'r' as const)]));
  }
  ctx.note(`whitening: ${summary.ran} cells run, ${summary.skipped} skipped, ${summary.failed} failed in ${duration((Date.now() - t0) / 1000)}; results ${summary.path}, report ${result.reportPath}`);
  if (summary.cancelled) return EXIT.interrupted;
  return summary.failed > 0 ? EXIT.failed : EXIT.ok;
}
