import { join, resolve } from 'node:path';
import { fail } from '../../core/errors.js';
import { duration } from '../progress.js';
import type { Command, Context } from '../command.js';
import type { Opts } from '../args.js';
import { EXIT } from '../exit.js';
import { formatMeanStd, markdownTable, type SummaryRow } from '../../experiments/report.js';
import type { Cell, SweepProgress, SweepSummary } from '../../experiments/runner.js';
import { METRIC_NAMES, STOP_PROBING_METHODS, runStopProbing, type PresetName, type SweepName } from '../../experiments/stop-probing.js';
import { ALIGNMENT_SUPERPOSITION_METHODS, AS_METRICS, runAlignmentSuperposition, type AsSweepName } from '../../experiments/alignment-superposition.js';
import { HA_METRICS, HIDDEN_ALIGNMENT_METHODS, runHiddenAlignment } from '../../experiments/hidden-alignment.js';
import { AMORTISATION_METHODS, AMORTISATION_SETTINGS, runAmortisationGap, type AmortisationSetting } from '../../experiments/amortisation-gap.js';
import { PREPROCESSINGS, WHITENING_METHODS, WHITENING_METRICS, runWhiteningRepro } from '../../experiments/whitening.js';
import { RICH_LAZY_METHODS, runRichLazy } from '../../experiments/rich-lazy.js';
import { CROSS_ENTROPY_METHODS, runCrossEntropy } from '../../experiments/cross-entropy.js';
import { SLOWVAE_METHODS, SLOWVAE_WORLDS, runSlowVae } from '../../experiments/slowvae.js';

/** What every experiment's run function gets from the driver. */
interface ReproRunArgs {
  out: string;
  preset: 'quick' | 'full';
  seeds: number[] | undefined;
  methods: string[] | undefined;
  signal: AbortSignal;
  onProgress: (p: SweepProgress) => void;
  /** one-line notes from inside a cell (e.g. "resumed from its checkpoint at step ...") */
  onNote: (message: string) => void;
}

/** One `repro` experiment: what it accepts, how to run it and how to print its summary. */
interface ReproExperiment {
  name: string;
  /** options it accepts besides the shared ones (REPRO_SHARED); any other option is refused (exit 2) */
  options: readonly string[];
  /** the values --methods may take, and how the usage error lists them */
  methods: readonly string[];
  methodsHint?: string;
  /** the values --sweep may take (when `sweep` is accepted) */
  sweeps?: readonly string[];
  run: (o: Opts, a: ReproRunArgs) => Promise<{ summary: SweepSummary; rows: SummaryRow[]; reportPath: string }>;
  /** the progress bar's "last cell" text (default: method and config as JSON) */
  progressLabel?: (cell: Cell) => string;
  /** stdout table: config columns (header, key, alignment), then method, seeds and these metrics (those present) */
  columns: { header: string; key: string; align?: 'l' | 'r' }[];
  metrics: readonly string[];
  /** one metric's table cell (default mean ± std, 3 decimals) */
  format?: (r: SummaryRow, metric: string) => string;
  /** --json prints only { rows } (stop-probing's historical output) instead of { experiment, rows, results, report } */
  jsonRowsOnly?: boolean;
}

/** Options every experiment accepts. */
const REPRO_SHARED = ['preset', 'seeds', 'methods', 'out', 'json'];
/** Integer options that must be >= 1 where accepted. */
const REPRO_POSITIVE = ['epochs', 'steps'];

const EXPERIMENTS: ReproExperiment[] = [
  {
    name: 'stop-probing',
    options: ['sweep', 'latents', 'active', 'samples', 'dim', 'epochs'],
    methods: STOP_PROBING_METHODS,
    sweeps: ['latents', 'sparsity', 'samples'],
    run: (o, a) => runStopProbing({
      ...a, preset: a.preset as PresetName, sweep: o.sweep as SweepName | undefined, latents: o.latents, active: o.active, samples: o.samples, dim: o.dim,
      settings: o.epochs !== undefined ? { saeEpochs: o.epochs } : undefined,
    }),
    progressLabel: (c) => `${c.method} n=${c.config.latents} seed=${c.config.seed}`,
    columns: [{ header: 'n', key: 'latents' }, { header: 'k', key: 'active' }, { header: 'N', key: 'samples' }],
    metrics: METRIC_NAMES,
    jsonRowsOnly: true,
  },
  {
    name: 'alignment-superposition',
    options: ['sweep', 'latents', 'dims', 'active', 'samples'],
    methods: ALIGNMENT_SUPERPOSITION_METHODS,
    sweeps: ['dims', 'latents'],
    run: (o, a) => runAlignmentSuperposition({
      ...a, sweeps: o.sweep ? [o.sweep as AsSweepName] : undefined, latents: o.latents, dims: o.dims, active: o.active, samples: o.samples,
    }),
    columns: [{ header: 'n', key: 'latents' }, { header: 'm', key: 'dim' }, { header: 'k', key: 'active' }],
    metrics: AS_METRICS,
  },
  {
    name: 'hidden-alignment',
    options: ['hidden'],
    methods: HIDDEN_ALIGNMENT_METHODS,
    run: (o, a) => runHiddenAlignment({ ...a, hidden: o.hidden }),
    columns: [{ header: 'hidden', key: 'hidden' }],
    metrics: HA_METRICS,
  },
  {
    name: 'amortisation-gap',
    options: ['setting', 'steps'],
    methods: AMORTISATION_METHODS,
    run: (o, a) => runAmortisationGap({
      ...a, settings: o.setting ? [o.setting as AmortisationSetting] : undefined, overrides: o.steps !== undefined ? { steps: o.steps as number } : undefined,
    }),
    columns: [{ header: 'D', key: 'setting', align: 'l' }],
    metrics: ['mcc', 'dict_cos', 'flops_inference', 'flops_total', 'gap', 'gap_rel'],
    format: (r, m) => (m.startsWith('flops') ? (Number.isFinite(r.mean[m]) ? r.mean[m].toExponential(2) : '—') : formatMeanStd(r.mean[m], r.std[m], m === 'gap' ? 5 : 3)),
  },
  {
    name: 'whitening',
    options: ['conditions', 'whiten'],
    methods: ['relu-sae', 'topk-sae', ...WHITENING_METHODS],
    methodsHint: `relu-sae, topk-sae or one of ${WHITENING_METHODS.join(', ')}`,
    run: (o, a) => runWhiteningRepro({ ...a, conditions: o.conditions, preprocessings: o.whiten }),
    progressLabel: (c) => `${c.method} κ=${c.config.condition} seed=${c.config.seed}`,
    columns: [{ header: 'κ', key: 'condition' }],
    metrics: WHITENING_METRICS.filter((m) => m !== 'dict_cos_train'),
  },
  {
    name: 'rich-lazy',
    options: ['deltas', 'taus', 'steps'],
    methods: RICH_LAZY_METHODS,
    run: (o, a) => runRichLazy({
      ...a, deltas: numberList('deltas', o.deltas), taus: numberList('taus', o.taus), settings: o.steps !== undefined ? { steps: o.steps as number } : undefined,
    }),
    progressLabel: (c) => (c.method === 'single-neuron' ? `single-neuron ${c.config.figure}` : `two-layer-relu δ=${c.config.delta} τ=${c.config.tau} seed=${c.config.seed}`),
    columns: [{ header: 'figure', key: 'figure', align: 'l' }, { header: 'δ', key: 'delta' }, { header: 'τ', key: 'tau' }],
    metrics: ['max_abs_theory_error', 'max_delta_drift', 'implicit_bias_error', 'kernel_distance', 'test_loss'],
    format: (r, m) => (!Number.isFinite(r.mean[m]) ? '—' : m.startsWith('max_') || m === 'implicit_bias_error' ? r.mean[m].toExponential(2) : formatMeanStd(r.mean[m], r.std[m], m === 'test_loss' ? 5 : 3)),
    jsonRowsOnly: true,
  },
  {
    name: 'cross-entropy',
    options: ['indices', 'clusters', 'kappa', 'steps'],
    methods: CROSS_ENTROPY_METHODS,
    run: (o, a) => runCrossEntropy({
      ...a, indices: o.indices,
      settings: {
        ...(o.steps !== undefined ? { steps: o.steps as number } : {}),
        ...(o.clusters !== undefined ? { clusters: o.clusters as number } : {}),
        ...(o.kappa !== undefined ? { kappa: o.kappa as number } : {}),
      },
    }),
    progressLabel: (c) => `${c.method} N_idx=${c.config.indices} seed=${c.config.seed}`,
    columns: [{ header: 'N_idx', key: 'indices' }],
    metrics: ['r2_hz', 'r2_xz', 'r2_w', 'knn_acc', 'probe_acc', 'knn_acc_before', 'probe_acc_before'],
    jsonRowsOnly: true,
  },
  {
    name: 'slowvae',
    options: ['world', 'rates', 'steps'],
    methods: SLOWVAE_METHODS,
    run: (o, a) => runSlowVae({
      ...a, worlds: o.world, rates: numberList('rates', o.rates), settings: o.steps !== undefined ? { steps: o.steps as number } : undefined,
    }),
    progressLabel: (c) => `${c.method} ${c.config.world} rate=${c.config.rate} seed=${c.config.seed}`,
    columns: [{ header: 'world', key: 'world', align: 'l' }, { header: 'rate', key: 'rate' }],
    metrics: ['mcc', 'mcc_continuous', 'recon', 'kl_normal'],
    jsonRowsOnly: true,
  },
];

/** A comma list of numbers given as a string list (--deltas -1,0,1). */
function numberList(flag: string, v: unknown): number[] | undefined {
  if (v === undefined) return undefined;
  return (v as string[]).map((s) => {
    const x = Number(s);
    if (s.trim() === '' || !Number.isFinite(x)) fail('E_USAGE', `--${flag} needs comma-separated numbers, got "${s}"`);
    return x;
  });
}

/** `sparsecode repro <experiment>`: reproduce a paper's results with one command. */
export const reproCommand: Command = {
  name: 'repro',
  get summary() {
    return `reproduce a paper's experiment: ${EXPERIMENTS.map((e) => e.name).join(', ')}`;
  },
  usage: 'repro stop-probing [--preset quick|full] [--sweep latents|sparsity|samples] [--latents N,..] [--active K,..] [--samples S,..] [--seeds 0,1,2] [--methods a,b] [--out DIR] [--json]\n       sparsecode repro alignment-superposition [--preset quick|full] [--sweep dims|latents] [--latents N,..] [--dims M,..] [--active K,..] [--samples S,..] [--seeds 0,1,2] [--methods a,b] [--out DIR] [--json]\n       sparsecode repro hidden-alignment [--preset quick|full] [--hidden 8,16,32] [--seeds 0,1,2] [--methods a,b] [--out DIR] [--json]\n       sparsecode repro amortisation-gap [--preset quick|full] [--setting known|learned] [--steps T] [--seeds 0,1,2] [--methods a,b] [--out DIR] [--json]\n       sparsecode repro whitening [--preset quick|full] [--conditions 1,10,100,1000] [--whiten none,center,pca,zca] [--seeds 0,1,2] [--methods relu-sae,topk-sae] [--out DIR] [--json]\n       sparsecode repro cross-entropy [--preset quick|full] [--indices 1000] [--clusters 100] [--kappa 10] [--steps T] [--seeds 0,1,2] [--methods diet,supervised,diet-cp] [--out DIR] [--json]\n       sparsecode repro slowvae [--preset quick|full] [--world sprites,vector] [--rates 1,3,10] [--steps T] [--seeds 0,1,2] [--methods slowvae,beta-vae] [--out DIR] [--json]\n       sparsecode repro rich-lazy [--preset quick|full] [--deltas -1,0,1] [--taus 0.1,1] [--steps T] [--seeds 0,1] [--methods single-neuron,two-layer-relu] [--out DIR] [--json]',
  description: [
    'stop-probing (docs/papers.md § 1, "Stop Probing, Start Coding"): compositional worlds of n latents,',
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
    'alignment-superposition (docs/papers.md § 4): two systems y_A = z·A, y_B = z·B read the same k-sparse latents',
    'through different random maps; linear/debiased CKA, RSA, ridge regression, semi-/soft-matching on raw activations',
    'vs the closed form, and on sparse codes extracted from each system (FISTA with the true maps, DL-FISTA, TopK SAE).',
    'Sweeps over m (--sweep dims) and n (--sweep latents); both by default.',
    `Methods: ${ALIGNMENT_SUPERPOSITION_METHODS.join(', ')}.`,
    '',
    'hidden-alignment (docs/papers.md § 5): two toy models of superposition (64 features, hidden --hidden) trained from',
    'different seeds on the same data, a TopK SAE (k = 7, width 64) on each; semi-matching, soft-matching and 5-fold',
    'ridge regression for neuron->neuron, SAE->neuron, SAE->SAE and an untrained random-SAE control.',
    `Methods: ${HIDDEN_ALIGNMENT_METHODS.join(', ')}.`,
    '',
    'amortisation-gap (docs/papers.md § 2): 16 sources, 8 dims, 3 active; SAE, MLP encoders (hidden 32/256/1024), per-sample',
    'sparse coding (FISTA) and SAE + inference-time optimisation, with the decoder known (--setting known) or learned; code MCC,',
    'dictionary recovery, FLOPs per sample, the amortisation gap; report.md with MCC-vs-FLOPs plots. --steps overrides Adam steps.',
    `Methods: ${AMORTISATION_METHODS.join(', ')}.`,
    '',
    'whitening (docs/papers.md § 3): anisotropic worlds (activation covariance with condition number κ, --conditions); ReLU and',
    'TopK SAEs trained with the same budget on raw, centred, PCA- and ZCA-whitened inputs (--whiten); MCC, dictionary recovery of',
    'the un-whitened decoder, sparse probing (best-unit and k-sparse probe AUC), FVE/MSE and L0, all in the original space.',
    `Methods: relu-sae, topk-sae, or one pair such as relu-sae/zca (${WHITENING_METHODS.length} in all).`,
    '',
    'cross-entropy (docs/papers.md, "Cross-Entropy Is All You Need", DIET, DIET-CP): vMF latents around C cluster vectors',
    '(--clusters, concentration --kappa) through a frozen leaky-ReLU mixing; the paper\'s BatchNorm encoder trained with a DIET',
    'head over the --indices (index mod C = cluster) or a supervised head over the clusters; linear R² h→z (r2_hz) against',
    'the raw-observation baseline (r2_xz); the DIET-CP toy: k-NN and linear-probe accuracy before/after continued pre-training.',
    `Methods: ${CROSS_ENTROPY_METHODS.join(', ')}.`,
    '',
    'slowvae (docs/papers.md, SlowVAE): pairs of frames of a factor grid with truncated-Laplace transitions (--rates; categorical',
    'factors fixed), rendered as 16x16 sprites or through a frozen MLP (--world sprites,vector); MLP VAEs trained with the SlowVAE',
    'loss (2·recon + β·KL_N + γ·KL_L, λ = 6) or as a β-VAE (γ = 0); Spearman MCC of the encoder means (noise-padded, Hungarian).',
    `Methods: ${SLOWVAE_METHODS.join(', ')}.`,
    '',
    'rich-lazy (docs/papers.md, "Get rich quick"): the single neuron f = a·wᵀx under gradient flow, RK45 at rtol = atol = 1e-11',
    'against the exact solutions at the paper\'s Fig. 2/3/4a, 4b (implicit bias), 7 (basins) and 8 settings, δ conserved; SVG plots of',
    'ν(t), μ(t), the kernel distance S(t), parameter and β-space trajectories; and a reduced two-layer ReLU teacher-student grid',
    '(δ x τ, --deltas/--taus, GD --steps) with kernel distance and test loss against δ.',
    `Methods: ${RICH_LAZY_METHODS.join(', ')}.`,
  ].join('\n'),
  positionals: [{ name: 'experiment', help: 'which experiment', required: true, choices: EXPERIMENTS.map((e) => e.name) }],
  options: [
    { name: 'preset', type: 'string', help: 'quick (minutes) or full (the paper)', default: 'quick', choices: ['quick', 'full'] },
    { name: 'sweep', type: 'string', help: 'which sweep: n (latents), k (sparsity) or N (samples); default latents', choices: ['latents', 'sparsity', 'samples', 'dims'] },
    { name: 'latents', type: 'intlist', help: 'n: number of latents (one or a comma list)', metavar: 'N[,N..]' },
    { name: 'active', type: 'intlist', help: 'k: active latents per sample', metavar: 'K[,K..]' },
    { name: 'samples', type: 'intlist', help: 'N: in-distribution samples (half train, half validation)', metavar: 'S[,S..]' },
    { name: 'dim', type: 'int', help: 'observation dimension (default max(k+1, ceil(2k ln(n/k))))' },
    { name: 'seeds', type: 'intlist', help: 'seeds (default: quick 0; full 0,1,2)', metavar: '0,1,2' },
    { name: 'methods', type: 'list', help: 'methods to run (default: the preset\'s)', metavar: 'a,b,..', choices: [...STOP_PROBING_METHODS, ...ALIGNMENT_SUPERPOSITION_METHODS, ...HIDDEN_ALIGNMENT_METHODS, ...AMORTISATION_METHODS, ...WHITENING_METHODS, ...RICH_LAZY_METHODS, ...CROSS_ENTROPY_METHODS, ...SLOWVAE_METHODS] },
    { name: 'dims', type: 'intlist', help: 'alignment-superposition: m, the width of each system', metavar: 'M[,M..]' },
    { name: 'conditions', type: 'intlist', help: 'whitening: condition numbers κ of the activation covariance (default 1,10,100,1000)', metavar: 'K[,K..]' },
    { name: 'whiten', type: 'list', help: 'whitening: input preprocessings (default none,center,pca,zca)', metavar: 'a,b,..', choices: [...PREPROCESSINGS] },
    { name: 'hidden', type: 'intlist', help: 'hidden-alignment: hidden widths of the toy models (default 8,16,32)', metavar: 'H[,H..]' },
    { name: 'setting', type: 'string', help: 'amortisation-gap: known or learned decoder (default both)', choices: [...AMORTISATION_SETTINGS] },
    { name: 'steps', type: 'int', help: "amortisation-gap: Adam steps of the encoders (quick 4000, full 20000); rich-lazy: GD steps of the two-layer grid (quick 5000, full 20000); cross-entropy, slowvae: Adam steps", metavar: 'T' },
    { name: 'indices', type: 'intlist', help: 'cross-entropy: size of the index space N_idx (default quick 1000, full 10240)', metavar: 'N[,N..]' },
    { name: 'clusters', type: 'int', help: 'cross-entropy: cluster vectors C (default 100; at most the indices)', metavar: 'C' },
    { name: 'kappa', type: 'number', help: 'cross-entropy: vMF concentration κ > 0 (default 10)', metavar: 'K' },
    { name: 'world', type: 'list', help: 'slowvae: worlds (default quick sprites; full sprites,vector)', metavar: 'W[,W..]', choices: [...SLOWVAE_WORLDS] },
    { name: 'rates', type: 'list', help: 'slowvae: data transition rates (default quick 1; full 1,3,10; -1 = U(1, 10) per pair)', metavar: 'R[,R..]' },
    { name: 'deltas', type: 'list', help: 'rich-lazy: δ values of the two-layer grid (default: 5 (quick) or 9 (full) in [-1, 1])', metavar: 'D[,D..]' },
    { name: 'taus', type: 'list', help: 'rich-lazy: initial scales τ of the two-layer grid (default: logspace(-1, 0.3))', metavar: 'T[,T..]' },
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
    'sparsecode repro rich-lazy --methods single-neuron --out runs/rich-lazy',
    'sparsecode repro cross-entropy --preset quick --out runs/cross-entropy',
    'sparsecode repro slowvae --preset quick --out runs/slowvae',
  ],
  async run(ctx) {
    return runRepro(ctx);
  },
};

/** Check the options against the experiment, run it with a progress bar, print the summary. */
async function runRepro(ctx: Context): Promise<number> {
  const name = ctx.positionals[0];
  const ex = EXPERIMENTS.find((e) => e.name === name);
  const names = EXPERIMENTS.map((e) => e.name).join(', ');
  if (!ex) fail('E_USAGE', name ? `unknown experiment "${name}"; available: ${names}` : `name the experiment: sparsecode repro stop-probing (or ${names})`);
  if (ctx.positionals.length > 1) fail('E_USAGE', `unexpected argument "${ctx.positionals[1]}"`);
  const o = ctx.opts;
  for (const m of (o.methods as string[] | undefined) ?? []) {
    if (!ex.methods.includes(m)) fail('E_USAGE', `--methods: "${m}" is not a method of ${ex.name}; choose from ${ex.methodsHint ?? ex.methods.join(', ')}`);
  }
  for (const spec of reproCommand.options) {
    const f = spec.name;
    if (o[f] !== undefined && !REPRO_SHARED.includes(f) && !ex.options.includes(f)) fail('E_USAGE', `--${f} does not apply to repro ${ex.name}`);
  }
  for (const f of REPRO_POSITIVE) if (o[f] !== undefined && !(o[f] >= 1)) fail('E_USAGE', `--${f} must be >= 1, got ${o[f]}`);
  if (o.sweep !== undefined && ex.sweeps && !ex.sweeps.includes(o.sweep)) {
    fail('E_USAGE', `--sweep for ${ex.name} is ${ex.sweeps.slice(0, -1).join(', ')} or ${ex.sweeps[ex.sweeps.length - 1]}, got ${o.sweep}`);
  }
  const preset = o.preset as 'quick' | 'full';
  const out = resolve(o.out ?? join('runs', `${ex.name}-${preset}`));
  let bar = ctx.progress(ex.name, 1, 'cells');
  let lastNote = 0;
  const t0 = Date.now();
  const result = await ex.run(o, {
    out, preset, seeds: o.seeds, methods: o.methods, signal: ctx.signal,
    onNote: (m) => ctx.note(`  ${m}`),
    onProgress: (p) => {
      if (!p.cell) {
        bar = ctx.progress(ex.name, p.total, 'cells');
        ctx.note(`${ex.name}: ${p.total} cells (${preset} preset), ${p.skipped} already in ${join(out, 'results.jsonl')}`);
        bar.update(p.done);
        return;
      }
      bar.update(p.done, { last: ex.progressLabel ? ex.progressLabel(p.cell) : `${p.cell.method} ${JSON.stringify(p.cell.config)}`, failed: p.failed });
      // a plain line now and then for logs (no TTY)
      if (!process.stderr.isTTY && Date.now() - lastNote > 5000) {
        lastNote = Date.now();
        ctx.note(`  ${p.done}/${p.total} cells, ${p.failed} failed, elapsed ${duration(p.elapsed)}, ETA ${Number.isFinite(p.eta) ? duration(p.eta) : '?'}`);
      }
      if (p.line?.error) ctx.note(`  cell failed: ${p.cell.method} ${JSON.stringify(p.cell.config)}: ${p.line.error}`);
    },
  });
  bar.finish();
  const { summary, rows } = result;
  if (o.json) {
    const jsonRows = rows.map((r) => ({ config: r.config, method: r.method, seeds: r.seeds, mean: r.mean, std: r.std }));
    ctx.print(JSON.stringify(ex.jsonRowsOnly ? { rows: jsonRows } : { experiment: ex.name, rows: jsonRows, results: summary.path, report: result.reportPath }));
  } else {
    const metrics = ex.metrics.filter((m) => rows.some((r) => r.mean[m] !== undefined));
    const format = ex.format ?? ((r: SummaryRow, m: string) => formatMeanStd(r.mean[m], r.std[m]));
    const body = rows.map((r) => [
      ...ex.columns.map((c) => String(r.config[c.key] ?? '')), r.method, `${r.seeds.length}${r.failed ? `+${r.failed}!` : ''}`, ...metrics.map((m) => format(r, m)),
    ]);
    ctx.print(markdownTable([...ex.columns.map((c) => c.header), 'method', 'seeds', ...metrics], body, [...ex.columns.map((c) => c.align ?? 'r'), 'l', 'r', ...metrics.map(() => 'r' as const)]));
  }
  ctx.note(`${ex.name}: ${summary.ran} cells run, ${summary.skipped} skipped, ${summary.failed} failed in ${duration((Date.now() - t0) / 1000)}; results ${summary.path}, report ${result.reportPath}`);
  if (summary.cancelled) return EXIT.interrupted;
  return summary.failed > 0 ? EXIT.failed : EXIT.ok;
}
