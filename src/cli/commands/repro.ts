import { join, resolve } from 'node:path';
import { fail } from '../../core/errors.js';
import { duration } from '../progress.js';
import type { Command, Context } from '../command.js';
import { EXIT } from '../exit.js';
import { formatMeanStd, markdownTable, type SummaryRow } from '../../experiments/report.js';
import { EXPERIMENTS, REPRO_POSITIVE, REPRO_SHARED, experimentPlan, type ReproRunArgs } from '../../experiments/registry.js';
import { executePlan } from '../../experiments/experiment.js';
import { queueExecutor } from '../../experiments/queue/executor.js';
import { checkRedis, parseRedisUrl, redact } from '../../experiments/queue/redis.js';
import { STOP_PROBING_METHODS } from '../../experiments/stop-probing/index.js';
import { ALIGNMENT_SUPERPOSITION_METHODS } from '../../experiments/alignment-superposition.js';
import { HIDDEN_ALIGNMENT_METHODS } from '../../experiments/hidden-alignment.js';
import { AMORTISATION_METHODS, AMORTISATION_SETTINGS } from '../../experiments/amortisation-gap.js';
import { PREPROCESSINGS, WHITENING_METHODS } from '../../experiments/whitening.js';
import { INTERPRETABILITY_METHODS, INTERPRETABILITY_WORLDS } from '../../experiments/interpretability.js';
import { RUNG_METHODS } from '../../experiments/causal-rungs.js';
import { FF_METHODS } from '../../experiments/federated-factory.js';
import { GENERATORS } from '../../federated/generators.js';
import { LEJEPA_EXPERIMENTS, LEJEPA_OBJECTIVES } from '../../experiments/lejepa.js';
import { SSB_JUMPRELU_LOSSES } from '../../experiments/synth-sae-bench.js';
import { RICH_LAZY_METHODS } from '../../experiments/rich-lazy.js';
import { CROSS_ENTROPY_METHODS } from '../../experiments/cross-entropy.js';
import { SLOWVAE_METHODS, SLOWVAE_WORLDS } from '../../experiments/slowvae.js';

/** `sparsecode repro <experiment>`: reproduce a paper's results with one command. */
export const reproCommand: Command = {
  name: 'repro',
  get summary() {
    return `reproduce a paper's experiment: ${EXPERIMENTS.map((e) => e.name).join(', ')}`;
  },
  usage: 'repro stop-probing [--preset quick|full] [--sweep latents|sparsity|samples] [--latents N,..] [--active K,..] [--samples S,..] [--dl-dead-atoms redraw|zero] [--seeds 0,1,2] [--methods a,b] [--out DIR] [--json]\n       sparsecode repro <experiment> ... --queue redis://[:password@]host:port[/db] [--wait] [--attempts N]\n       sparsecode repro alignment-superposition [--preset quick|full] [--sweep dims|latents] [--latents N,..] [--dims M,..] [--active K,..] [--samples S,..] [--seeds 0,1,2] [--methods a,b] [--out DIR] [--json]\n       sparsecode repro hidden-alignment [--preset quick|full] [--hidden 8,16,32] [--seeds 0,1,2] [--methods a,b] [--out DIR] [--json]\n       sparsecode repro amortisation-gap [--preset quick|full] [--setting known|learned] [--steps T] [--seeds 0,1,2] [--methods a,b] [--out DIR] [--json]\n       sparsecode repro whitening [--preset quick|full] [--conditions 1,10,100,1000] [--whiten none,center,pca,zca] [--seeds 0,1,2] [--methods relu-sae,topk-sae] [--out DIR] [--json]\n       sparsecode repro interpretability [--preset quick|full] [--ratios 1,4,8] [--worlds concepts,toy] [--seeds 0,1,2] [--methods units,kmeans-u,kmeans-f,sae,sae-dir] [--out DIR] [--json]\n       sparsecode repro causal-rungs [--preset quick|full] [--seeds 0,1,2] [--methods rung-1,rung-2,rung-3] [--out DIR] [--json]\n       sparsecode repro federated-factory [--preset quick|full] [--clients 10] [--generator gaussian,mixture,vae] [--seeds 0,1,2] [--methods a,b] [--out DIR] [--json]\n       sparsecode repro lejepa [--preset quick|full] [--experiment 2d|gennorm|scaling|grid] [--objectives sigreg,whiten,infonce] [--latents N,..] [--alphas A,..] [--steps T] [--seeds 0,1,2] [--out DIR] [--json]\n       sparsecode repro restrav [--preset quick|full] [--seeds 0,1,2] [--methods jitter,resample,flicker,mixed] [--out DIR] [--json]\n       sparsecode repro phyip [--preset quick|full] [--seeds 0,1,2] [--methods frozen-linear,finetune,mlp-probe] [--out DIR] [--json]\n       sparsecode repro cross-entropy [--preset quick|full] [--indices 1000] [--clusters 100] [--kappa 10] [--steps T] [--seeds 0,1,2] [--methods diet,supervised,diet-cp] [--out DIR] [--json]\n       sparsecode repro slowvae [--preset quick|full] [--world sprites,vector] [--rates 1,3,10] [--steps T] [--seeds 0,1,2] [--methods slowvae,beta-vae] [--out DIR] [--json]\n       sparsecode repro rich-lazy [--preset quick|full] [--deltas -1,0,1] [--taus 0.1,1] [--steps T] [--seeds 0,1] [--methods single-neuron,two-layer-relu] [--out DIR] [--json]\n       sparsecode repro synth-sae-bench [--preset quick|full] [--steps T] [--lr LR] [--jumprelu-loss tanh|step-ssb|step] [--seeds 0,1,2] [--methods relu-sae,topk-sae,batchtopk-sae,jumprelu-sae,matryoshka-sae,mp-sae] [--out DIR] [--json]',
  description: [
    'Any sweep on several machines: --queue URL puts its cells on a Redis queue as jobs (one per config and the',
    'methods that share work on it; enqueuing twice adds nothing) for `sparsecode worker`s anywhere, and returns;',
    'with --wait it stays, shows cells done / running / failed and an ETA, and writes results.jsonl as cells land',
    'and the report at the end (else: sparsecode queue status|collect URL --out DIR). The lines are those of a',
    'local run. docs/queue.md says how to run Redis and workers.',
    '',
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
    'interpretability (docs/evidence.md, Klindt et al. 2023 / MIS): F concepts read by U = 16 units (F/U = --ratios) in a random-',
    'projection ReLU layer (--worlds concepts) or a trained toy model of superposition (toy); the 2-AFC index MIS with an oracle',
    'observer (cosine in concept space) of the units, k-means directions (k = U from the identity, k = F) and TopK SAE latents.',
    `Methods: ${INTERPRETABILITY_METHODS.join(', ')}.`,
    '',
    'causal-rungs (docs/evidence.md, "Causality is Key"): a small MLP trained on a structural causal model with known latents;',
    'evidence about each latent\'s effect on the output at rung 1 (correlation, probe), rung 2 (steering, patching, ablation, SAE',
    'steering) and rung 3 (per-unit counterfactuals from a causal model fitted with latent labels), scored against the SCM in',
    'distribution (holds_id) and under a shift of the mechanism and of the law of a cause (holds_ood).',
    `Methods: ${RUNG_METHODS.join(', ')}.`,
    '',
    'federated-factory (docs/federated.md; docs/papers.md): one-shot generative federated learning on scikit-learn\'s 8×8',
    'digits with clients of mutually exclusive classes (--clients K: client k holds the classes c ≡ k mod K; 10 = one class',
    'each). FedAvg of an MLP classifier vs FederatedFactory (each client sends a generative module per class once: --generator',
    'gaussian (full covariance), mixture, vae; the server trains the same MLP on a class-balanced synthetic set) vs centralised',
    'training; accuracy, macro AUROC, bytes sent per client, and exact unlearning (delete a client\'s modules, retrain).',
    `Methods: ${FF_METHODS.join(', ')}.`,
    '',
    'lejepa (docs/papers.md § 6, "When does LeJEPA learn a world model?"): encoders trained on two OU views of hidden',
    'latents seen through a nonlinear mixing, with SIGReg (LeJEPA), whitening ("VICReg" in the paper) or Gaussian-kernel',
    'InfoNCE; linear identifiability R² (h->z, z->h, x->z, on the [-3, 3]^2 grid), orthogonality error. --experiment 2d',
    '(spiral, banana, sinusoid, coupling), gennorm (latent shape α), scaling (coupling + matched encoder, N = 2..1024) or grid',
    '(λ x ρ); one or a comma list (default: quick 2d,gennorm,scaling; full all four). --objectives picks objectives (each',
    "experiment's paper set by default; quick: sigreg only). --latents sets N of the scaling experiment, --alphas α of",
    'gennorm, --steps the training steps. One JSON line per cell {config, objective, metrics, seconds}; report.md has the',
    "scaling table and R²-vs-α plots beside the paper's numbers.",
    `Objectives: ${LEJEPA_OBJECTIVES.join(', ')}.`,
    '',
    'restrav (docs/probing.md, ReStraV): synthetic embedding trajectories (natural = smooth paths in 384 dimensions; generated =',
    'the same with frame jitter, a re-sampled segment or temporal flicker); the 21 straightening features and the paper\'s MLP',
    'detector; AUROC, accuracy, F1, the AUROC of the mean curvature alone, curvature histograms per class.',
    'Methods (the perturbation): jitter, resample, flicker, mixed. --preset full adds weaker perturbations (strength 0.25, 0.5).',
    '',
    'phyip (docs/probing.md, PhyIP): Kepler orbits; a next-step world model pretrained on unlabelled orbits and frozen; the force',
    'read out on a few labelled in-distribution orbits and scored on OOD orbits: Spearman rho, MAPE, fitted force exponent.',
    'Methods: frozen-linear (PhyIP), finetune (encoder + head trained on the labels), mlp-probe.',
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
    { name: 'latents', type: 'intlist', help: 'n: number of latents (one or a comma list); lejepa: N of the scaling experiment', metavar: 'N[,N..]' },
    { name: 'active', type: 'intlist', help: 'k: active latents per sample', metavar: 'K[,K..]' },
    { name: 'samples', type: 'intlist', help: 'N: in-distribution samples (half train, half validation)', metavar: 'S[,S..]' },
    { name: 'dim', type: 'int', help: 'observation dimension (default max(k+1, ceil(2k ln(n/k))))' },
    { name: 'seeds', type: 'intlist', help: 'seeds (default: quick 0; full 0,1,2)', metavar: '0,1,2' },
    { name: 'methods', type: 'list', help: 'methods to run (default: the preset\'s; each experiment\'s list: repro <experiment> --help)', metavar: 'a,b,..' },
    { name: 'experiment', type: 'list', help: 'lejepa: which experiments (default: quick 2d,gennorm,scaling; full all)', metavar: 'a,b,..', choices: [...LEJEPA_EXPERIMENTS] },
    { name: 'objectives', type: 'list', help: "lejepa: objectives (default: each experiment's paper set; quick sigreg)", metavar: 'a,b,..', choices: [...LEJEPA_OBJECTIVES] },
    { name: 'alphas', type: 'list', help: 'lejepa: generalised-normal shapes α of the gennorm experiment (default: quick 2,16; full 0.125..32)', metavar: 'A[,A..]' },
    { name: 'dims', type: 'intlist', help: 'alignment-superposition: m, the width of each system', metavar: 'M[,M..]' },
    { name: 'conditions', type: 'intlist', help: 'whitening: condition numbers κ of the activation covariance (default 1,10,100,1000)', metavar: 'K[,K..]' },
    { name: 'whiten', type: 'list', help: 'whitening: input preprocessings (default none,center,pca,zca)', metavar: 'a,b,..', choices: [...PREPROCESSINGS] },
    { name: 'hidden', type: 'intlist', help: 'hidden-alignment: hidden widths of the toy models (default 8,16,32)', metavar: 'H[,H..]' },
    { name: 'clients', type: 'intlist', help: 'federated-factory: number of clients K, 2..10 (default 10: one class per client)', metavar: 'K[,K..]' },
    { name: 'generator', type: 'list', help: 'federated-factory: generative modules to compare (default gaussian,mixture,vae)', metavar: 'a,b,..', choices: [...GENERATORS] },
    { name: 'setting', type: 'string', help: 'amortisation-gap: known or learned decoder (default both)', choices: [...AMORTISATION_SETTINGS] },
    { name: 'steps', type: 'int', help: "optimiser steps (default: the preset's): amortisation-gap encoders (quick 4000, full 20000); lejepa encoders (quick 3000 MLP / 6000 matched encoder); rich-lazy GD steps of the two-layer grid (quick 5000, full 20000); cross-entropy, slowvae Adam steps; synth-sae-bench SAE steps (quick 12000, full 20000)", metavar: 'T' },
    { name: 'lr', type: 'number', help: "synth-sae-bench: the SAEs' Adam learning rate (default: the preset's, quick 1e-3, full 3e-4 as the reference)", metavar: 'LR' },
    { name: 'jumprelu-loss', type: 'string', help: "synth-sae-bench: the JumpReLU SAE's sparsity penalty: tanh (default; the reference's first release), step-ssb (the reference since Apr 2026: the L0 count with bandwidth 1, threshold 1, coefficient 1), step (the count with sparsecode's defaults)", choices: [...SSB_JUMPRELU_LOSSES] },
    { name: 'ratios', type: 'intlist', help: 'interpretability: superposition ratios F/U (default quick 1,4,8; full 1,2,4,8,16)', metavar: 'R[,R..]' },
    { name: 'worlds', type: 'list', help: 'interpretability: worlds (default concepts,toy)', metavar: 'a,b', choices: [...INTERPRETABILITY_WORLDS] },
    { name: 'epochs', type: 'int', help: "SAE epochs (default: the preset's; quick 60, full 500)" },
    { name: 'dl-dead-atoms', type: 'string', help: "stop-probing: DL-FISTA atoms that no sample used in an outer step: redraw (default: a seeded random unit direction) or zero (they stay zero for good, as the reference code is written; docs/stop-probing.md, Dead atoms)", choices: ['redraw', 'zero'] },
    { name: 'indices', type: 'intlist', help: 'cross-entropy: size of the index space N_idx (default quick 1000, full 10240)', metavar: 'N[,N..]' },
    { name: 'clusters', type: 'int', help: 'cross-entropy: cluster vectors C (default 100; at most the indices)', metavar: 'C' },
    { name: 'kappa', type: 'number', help: 'cross-entropy: vMF concentration κ > 0 (default 10)', metavar: 'K' },
    { name: 'world', type: 'list', help: 'slowvae: worlds (default quick sprites; full sprites,vector)', metavar: 'W[,W..]', choices: [...SLOWVAE_WORLDS] },
    { name: 'rates', type: 'list', help: 'slowvae: data transition rates (default quick 1; full 1,3,10; -1 = U(1, 10) per pair)', metavar: 'R[,R..]' },
    { name: 'deltas', type: 'list', help: 'rich-lazy: δ values of the two-layer grid (default: 5 (quick) or 9 (full) in [-1, 1])', metavar: 'D[,D..]' },
    { name: 'taus', type: 'list', help: 'rich-lazy: initial scales τ of the two-layer grid (default: logspace(-1, 0.3))', metavar: 'T[,T..]' },
    { name: 'checkpoint-seconds', type: 'number', help: 'stop-probing, synth-sae-bench: seconds of training between a learning cell\'s checkpoints in DIR/checkpoints (default 60)', metavar: 'S' },
    { name: 'out', type: 'string', help: 'output folder (default: runs/stop-probing-<preset>)', metavar: 'DIR' },
    { name: 'json', type: 'boolean', help: 'print the summary as one JSON object instead of a table' },
    { name: 'queue', type: 'string', metavar: 'URL', help: 'run the cells as jobs on this Redis queue (redis://[:password@]host:port[/db], rediss:// for TLS) for `sparsecode worker`s anywhere' },
    { name: 'wait', type: 'boolean', help: 'with --queue: wait for every cell, then write results.jsonl and the report (else enqueue and return)' },
    { name: 'attempts', type: 'int', metavar: 'N', help: 'with --queue: runs of a job before its failed cells are recorded as failed (default 3)' },
  ],
  examples: [
    'sparsecode repro stop-probing --preset full --sweep sparsity --out runs/sparsity --queue redis://:PASSWORD@10.0.0.5:6379/0 --wait',
    'sparsecode repro stop-probing --preset quick',
    'sparsecode repro stop-probing --preset full --sweep latents --out runs/latents',
    'sparsecode repro stop-probing --latents 50 --active 5 --samples 1000 --methods oracle,probe --json',
    'sparsecode repro alignment-superposition --preset quick --out runs/alignment',
    'sparsecode repro hidden-alignment --hidden 16,32 --seeds 0,1 --json',
    'sparsecode repro amortisation-gap --preset quick --out runs/amortisation',
    'sparsecode repro whitening --preset quick --out runs/whitening',
    'sparsecode repro interpretability --preset quick --out runs/interpretability',
    'sparsecode repro causal-rungs --preset quick --out runs/causal-rungs --json',
    'sparsecode repro federated-factory --preset quick --generator gaussian --json',
    'sparsecode repro lejepa --preset quick --out runs/lejepa',
    'sparsecode repro lejepa --experiment scaling --objectives sigreg,whiten,infonce --seeds 0,1 --json',
    'sparsecode repro restrav --preset quick --out runs/restrav',
    'sparsecode repro phyip --preset quick --seeds 0,1,2 --json',
    'sparsecode repro rich-lazy --methods single-neuron --out runs/rich-lazy',
    'sparsecode repro cross-entropy --preset quick --out runs/cross-entropy',
    'sparsecode repro slowvae --preset quick --out runs/slowvae',
  ],
  helpView(positionals) {
    const ex = EXPERIMENTS.find((e) => e.name === positionals[0]);
    if (!ex) return undefined;
    const own = new Set([...REPRO_SHARED, ...ex.options]);
    const lines = reproCommand.usage.split('\n').map((l) => l.trim().replace(/^sparsecode /, ''));
    const usage = [lines.find((l) => l.startsWith(`repro ${ex.name} `)) ?? `repro ${ex.name} [--preset quick|full] [--out DIR] [--json]`, `repro ${ex.name} ... --queue redis://[:password@]host:port[/db] [--wait] [--attempts N]`];
    return {
      usage: usage.join('\n       sparsecode '),
      summary: `reproduce ${ex.name}`,
      description: [
        `Methods (--methods): ${ex.methodsHint ?? ex.methods.join(', ')}`,
        ...(ex.sweeps ? [`Sweeps (--sweep): ${ex.sweeps.join(', ')}`] : []),
        'Runs the cells of the preset (or of the options given), appends each result to DIR/results.jsonl',
        '(a rerun skips the cells already there) and writes DIR/report.md. Other experiments: sparsecode repro --help.',
      ].join('\n'),
      positionals: [],
      options: reproCommand.options.filter((o) => own.has(o.name)).map((o) => (o.name === 'out' ? { ...o, help: `output folder (default: runs/${ex.name}-<preset>)` } : o)),
      examples: reproCommand.examples.filter((e) => e.startsWith(`sparsecode repro ${ex.name} `)),
    };
  },
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
  if (!o.queue && (o.wait || o.attempts !== undefined)) fail('E_USAGE', `--${o.wait ? 'wait' : 'attempts'} applies to a queue run: add --queue redis://host:port`);
  let bar = ctx.progress(ex.name, 1, 'cells');
  let lastNote = 0;
  const t0 = Date.now();
  if (o.queue && o['checkpoint-seconds'] !== undefined) fail('E_USAGE', '--checkpoint-seconds applies to a local run; with --queue the workers write the checkpoints: sparsecode worker --checkpoint-seconds S');
  if (o['checkpoint-seconds'] !== undefined && !(o['checkpoint-seconds'] > 0)) fail('E_USAGE', `--checkpoint-seconds must be a positive number of seconds, got ${o['checkpoint-seconds']}`);
  const args: ReproRunArgs = {
    out, preset, seeds: o.seeds, methods: o.methods, signal: ctx.signal, checkpointSeconds: o['checkpoint-seconds'],
    onNote: (m) => ctx.note(`  ${m}`),
    onProgress: (p) => {
      if (!p.cell && !p.tick) {
        bar = ctx.progress(ex.name, p.total, 'cells');
        ctx.note(`${ex.name}: ${p.total} cells (${preset} preset), ${p.skipped} already in ${join(out, 'results.jsonl')}`);
        bar.update(p.done);
        return;
      }
      const fields: Record<string, string | number> = p.cell ? { last: ex.progressLabel ? ex.progressLabel(p.cell) : `${p.cell.method} ${JSON.stringify(p.cell.config)}` } : {};
      if (o.queue) fields.running = p.running ?? 0;
      fields.failed = p.failed;
      bar.update(p.done, fields);
      // a plain line now and then for logs (no TTY)
      if (!process.stderr.isTTY && Date.now() - lastNote > 5000) {
        lastNote = Date.now();
        ctx.note(`  ${p.done}/${p.total} cells, ${o.queue ? `${p.running ?? 0} running, ` : ''}${p.failed} failed, elapsed ${duration(p.elapsed)}, ETA ${Number.isFinite(p.eta) ? duration(p.eta) : '?'}`);
      }
      if (p.cell && p.line?.error) ctx.note(`  cell failed: ${p.cell.method} ${JSON.stringify(p.cell.config)}: ${p.line.error}`);
    },
  };
  let result: Awaited<ReturnType<typeof ex.run>>;
  if (o.queue) {
    // the same plan as a local run, its cells as jobs on the queue
    const target = parseRedisUrl(o.queue);
    const plan = await experimentPlan(ex, o, args);
    // an unreachable Redis fails here, in seconds, before DIR is touched
    await checkRedis(target);
    result = await executePlan(plan, {
      ...args,
      executor: queueExecutor({
        target, wait: !!o.wait, attempts: o.attempts, onNote: args.onNote,
        onEnqueued: (e) => ctx.note(`${ex.name}: sweep ${e.sweep} on ${e.redis}: ${e.added} job(s) added, ${e.jobs - e.added} already queued, ${e.landed} cell(s) collected from finished jobs; ${e.pending} cell(s) to go`),
      }),
    });
    if (result.summary.detached && result.summary.pending > 0) {
      bar.finish();
      const url = redact(o.queue);
      ctx.note(`${ex.name}: ${result.summary.pending} cell(s) on the queue. Start workers anywhere: sparsecode worker --queue ${url}`);
      ctx.note(`  progress: sparsecode queue status ${url} --out ${out}`);
      ctx.note(`  results:  sparsecode queue collect ${url} --out ${out} [--wait]   (or run this command again with --wait)`);
      if (o.json) ctx.print(JSON.stringify({ experiment: ex.name, queued: result.summary.pending, results: result.summary.path, report: null }));
      return EXIT.ok;
    }
  } else {
    result = await ex.run(o, args);
  }
  bar.finish();
  const { summary, rows } = result;
  if (o.json) {
    const field = ex.methodField ?? 'method';
    const jsonRows = rows.map((r) => ({ config: r.config, [field]: r.method, seeds: r.seeds, mean: r.mean, std: r.std }));
    ctx.print(JSON.stringify(ex.jsonRowsOnly ? { rows: jsonRows } : { experiment: ex.name, rows: jsonRows, results: summary.path, report: result.reportPath }));
  } else {
    const metrics = ex.metrics.filter((m) => rows.some((r) => r.mean[m] !== undefined));
    const format = ex.format ?? ((r: SummaryRow, m: string) => formatMeanStd(r.mean[m], r.std[m]));
    const body = rows.map((r) => [
      ...ex.columns.map((c) => String(r.config[c.key])), r.method, `${r.seeds.length}${r.failed ? `+${r.failed}!` : ''}`, ...metrics.map((m) => format(r, m)),
    ]);
    ctx.print(markdownTable([...ex.columns.map((c) => c.header), ex.methodField ?? 'method', 'seeds', ...metrics], body, [...ex.columns.map((c) => c.align ?? 'r'), 'l', 'r', ...metrics.map(() => 'r' as const)]));
  }
  ctx.note(`${ex.name}: ${summary.ran} cells run, ${summary.skipped} skipped, ${summary.failed} failed in ${duration((Date.now() - t0) / 1000)}; results ${summary.path}, report ${result.reportPath}`);
  if (summary.cancelled && o.queue) ctx.note(`  the jobs stay on the queue; collect later: sparsecode queue collect ${redact(o.queue)} --out ${out} [--wait]`);
  if (summary.cancelled) return EXIT.interrupted;
  return summary.failed > 0 ? EXIT.failed : EXIT.ok;
}
