import { join } from 'node:path';
import { checkAborted } from '../core/validate.js';
import type { Matrix } from '../core/matrix.js';
import { Rng } from '../core/rng.js';
import { createSAE } from '../dictionary/sae/index.js';
import { saeKindOf, type SAEConfig } from '../dictionary/sae/config.js';
import { writeFileAtomic } from '../io/atomic.js';
import { groundTruthMetrics } from '../metrics/ground-truth.js';
import { syntheticAbsorption } from '../metrics/absorption.js';
import { probingFeatures, syntheticSparseProbing } from '../metrics/sparse-probing.js';
import { SynthSAEBenchWorld, SYNTH_SAE_BENCH_PRESETS, type SynthSAEBenchConfig } from '../worlds/synth-sae-bench.js';
import { escapeXml } from './svg.js';
import { type Cell, type CellRun, checkSeeds, type ResultLine, type SweepProgress } from './runner.js';
import type { TrainProgress } from '../dictionary/trainer.js';
import { aggregate, clock, formatMeanStd, markdownTable } from './report.js';
import { finishReport, runExperiment, type ExperimentExecutor, type ExperimentRun } from './experiment.js';

/**
 * `repro synth-sae-bench`: L1 (ReLU), TopK, BatchTopK, JumpReLU, Matryoshka and MP SAEs trained on
 * a SynthSAEBench-style world (src/worlds/synth-sae-bench.ts) and scored on the ground truth
 * (src/metrics/ground-truth.ts). The reference (ECOSYSTEM §5.6, 16k features, width 4096, L0 = 25,
 * 200M samples) is printed beside ours.
 */
export const SSB_METHODS = ['relu-sae', 'topk-sae', 'batchtopk-sae', 'jumprelu-sae', 'matryoshka-sae', 'mp-sae'] as const;
export const SSB_METRICS = ['f1', 'mcc_dec', 'ev', 'precision', 'recall', 'uniqueness', 'l0', 'dead_fraction', 'shrinkage', 'absorption', 'absorption_full', 'sparse_probing_top1'] as const;

/**
 * SynthSAEBench-16k reference values at width 4096, L0 = 25, 200M samples, mean of 5 seeds: the
 * L0 = 25 table of SAELens's docs/synth_sae_bench.md (ECOSYSTEM §5.6 quotes part of it).
 */
export const SSB_REFERENCE: Record<string, { f1?: number; mcc_dec?: number; ev?: number }> = {
  'matryoshka-sae': { f1: 0.879, mcc_dec: 0.793, ev: 0.779 },
  'batchtopk-sae': { f1: 0.732, mcc_dec: 0.757, ev: 0.792 },
  'jumprelu-sae': { f1: 0.732, mcc_dec: 0.753, ev: 0.795 },
  'relu-sae': { f1: 0.556, mcc_dec: 0.604, ev: 0.765 },
  'mp-sae': { f1: 0.446, mcc_dec: 0.693, ev: 0.835 },
};

export interface SsbSettings {
  world: SynthSAEBenchConfig;
  trainRows: number;
  evalRows: number;
  atoms: number;
  k: number;
  steps: number;
  batch: number;
  lr: number;
  l1: number;
  l0: number;
  /**
   * tune the ReLU (L1) and JumpReLU SAEs to L0 = k as the reference does (SynthSAEBench's L0
   * controller, dictionary/sparsity-schedule.ts): L1 warmed up over the first third of the steps
   * and controlled from there, JumpReLU controlled from the start; false: the fixed l1 / l0
   */
  controlL0: boolean;
  /**
   * the JumpReLU SAE's sparsity penalty: 'tanh' is the reference's (`get_jumprelu_config`:
   * SAELens's tanh mode, tanh_scale 4, bandwidth 2, initial threshold 0.5 and l0 coefficient 0.2,
   * all in SAELens's `expected_average_only_in` scale, where the inputs' mean norm is √d) carried
   * into sparsecode's unit-mean-squared-norm inputs (`ssbJumpReluConfig`) — the reference as of
   * its first release (commit e9c5a4e, Feb 2026); 'step-ssb' is the reference since commit d39cc57
   * (Apr 2026, "deepmind-style jumprelu to match SAEBench"): the step (count) penalty with
   * bandwidth 1, initial threshold 1 and l0 coefficient 1, carried over the same way; 'step' is the
   * count with sparsecode's defaults and `l0` (the runs before session 11)
   */
  jumpreluLoss: JumpReluLoss;
}

/**
 * The reference's JumpReLU hyperparameters in sparsecode's input scale. SAELens scales inputs to
 * mean norm √d, sparsecode to mean squared norm 1, so codes and thresholds there are √d times
 * ours (the decoder is the same) and the squared error d times ours: dividing the reference's loss
 * by d gives, for its first release's tanh penalty, l0 = 0.2 / d, tanhScale = 4√d, thresholdInit =
 * 0.5 / √d, bandwidth = 2 / √d; for its current step penalty ('step-ssb'), l0 = 1 / d, thresholdInit
 * = bandwidth = 1 / √d.
 */
export function ssbJumpReluConfig(dim: number, loss: 'tanh' | 'step-ssb' = 'tanh'): Pick<SAEConfig, 'sparsityLoss' | 'l0' | 'tanhScale' | 'thresholdInit' | 'bandwidth'> {
  const c = Math.sqrt(dim);
  // the step penalty counts active latents, a number that does not scale with the inputs: only
  // the squared error's factor d is divided out of its coefficient
  if (loss === 'step-ssb') return { sparsityLoss: 'step', l0: 1 / dim, thresholdInit: 1 / c, bandwidth: 1 / c };
  return { sparsityLoss: 'tanh', l0: 0.2 / dim, tanhScale: 4 * c, thresholdInit: 0.5 / c, bandwidth: 2 / c };
}

/** The JumpReLU sparsity penalties `repro synth-sae-bench` can train with (`SsbSettings.jumpreluLoss`). */
export const SSB_JUMPRELU_LOSSES = ['tanh', 'step-ssb', 'step'] as const;
export type JumpReluLoss = (typeof SSB_JUMPRELU_LOSSES)[number];
/** How the report names each penalty. */
const JUMPRELU_LOSS_NOTE: Record<JumpReluLoss, string> = {
  tanh: "the reference's tanh sparsity penalty",
  'step-ssb': "the reference's current step penalty (bandwidth 1, threshold 1, l0 1)",
  step: 'the step (count) penalty',
};

/** The reference's training steps (200M samples in batches of 1,024). */
export const SSB_REFERENCE_STEPS = Math.floor(200_000_000 / 1024);

/**
 * The L0 controller's integral gain for a run of `steps`: the reference's 3e-4 scaled by its
 * 195,312 steps over ours, so that the controller has the same authority over the run (gain ×
 * steps); at most 0.05.
 */
export function ssbControllerGain(steps: number): number {
  return Math.min(0.05, (3e-4 * SSB_REFERENCE_STEPS) / steps);
}

export const SSB_PRESETS: Record<'quick' | 'full', { settings: SsbSettings; seeds: number[] }> = {
  quick: {
    settings: {
      // the reference's proportions at 512 features: width = features / 4 (4096 / 16384), a hierarchy of
      // depth 3 under branching 4 (85 features per root: 340 of 512 features, as 10,880 of 16,384),
      // k ≈ 0.9 × the world's mean L0 (4.3; the 16k world's is 27 against k = 25); 6.1M samples
      world: { ...SYNTH_SAE_BENCH_PRESETS.small, features: 512, dim: 64, roots: 4, branching: 4, depth: 3 },
      trainRows: 120000, evalRows: 4000, atoms: 128, k: 4, steps: 12000, batch: 512, lr: 1e-3, l1: 0.15, l0: 0.02, controlL0: true, jumpreluLoss: 'tanh',
    },
    seeds: [0],
  },
  full: {
    settings: {
      world: { ...SYNTH_SAE_BENCH_PRESETS['16k'] },
      trainRows: 200000, evalRows: 20000, atoms: 4096, k: 25, steps: 20000, batch: 1024, lr: 3e-4, l1: 0.15, l0: 0.02, controlL0: true, jumpreluLoss: 'tanh',
    },
    seeds: [0],
  },
};

type Config = { seed: number };

export function ssbCells(seeds: number[], methods: string[]): Cell[] {
  const cells: Cell[] = [];
  for (const seed of seeds) for (const m of methods) cells.push({ config: { seed }, method: m, group: `seed=${seed}` });
  return cells;
}

/** A cell's checkpoint folder (under DIR/checkpoints): one per seed and method. */
export function ssbCheckpointFolder(config: Config, method: string): string {
  return `seed-${config.seed}-${method}`;
}

/**
 * One method on one seed's world. With `run` (the sweep's runner): notes while the world is
 * built and every minute of training, and checkpoints in run.checkpointDir every
 * run.checkpointSeconds (60 s by default) that a rerun resumes from (the same settings: the
 * trainer refuses others).
 */
export async function runSsbCell(config: Config, method: string, s: SsbSettings, cache: Map<string, unknown> = new Map(), signal?: AbortSignal, run?: CellRun): Promise<Record<string, number>> {
  checkAborted(signal);
  const note = run?.note;
  let st = cache.get('world') as { world: SynthSAEBenchWorld; train: { X: Matrix }; val: ReturnType<SynthSAEBenchWorld['sample']>; trueL0: number; probed: number[] } | undefined;
  if (!st) {
    const w0 = performance.now();
    note?.(`seed ${config.seed}: building the world (${s.world.features} features in ${s.world.dim} dimensions) and ${s.trainRows} training + ${s.evalRows} evaluation rows`);
    const world = new SynthSAEBenchWorld(s.world, config.seed);
    const rng = new Rng(config.seed).fork('samples');
    const val = world.sample(s.evalRows, rng.fork('val'));
    // the world's own L0 on the evaluation rows (SAELens reports it as true_l0)
    let active = 0;
    for (let i = 0; i < val.A.data.length; i++) if (val.A.data[i] > 0) active++;
    st = { world, train: { X: world.sampleX(s.trainRows, rng.fork('train')) }, val, trueL0: active / val.A.rows, probed: probingFeatures(val.A) };
    cache.set('world', st);
    note?.(`seed ${config.seed}: world and rows ready in ${((performance.now() - w0) / 1000).toFixed(0)} s`);
  }
  const kind = saeKindOf(method)!;
  const cfg: SAEConfig = { atoms: s.atoms, steps: s.steps, batch: s.batch, lr: s.lr };
  if (kind === 'relu') cfg.l1 = s.l1;
  else if (kind === 'jumprelu') Object.assign(cfg, s.jumpreluLoss === 'step' ? { l0: s.l0 } : ssbJumpReluConfig(s.world.dim, s.jumpreluLoss));
  else cfg.k = s.k;
  if (s.controlL0 && (kind === 'relu' || kind === 'jumprelu')) {
    // the reference's protocol: L1 warmed up over a third of the run and controlled from there; JumpReLU controlled throughout
    const third = Math.floor(s.steps / 3);
    Object.assign(cfg, { targetL0: s.k, targetL0Gain: ssbControllerGain(s.steps) }, kind === 'relu' ? { targetL0Start: third, sparsityWarmupSteps: third } : {});
  }
  const sae = createSAE(kind, cfg);
  const t0 = performance.now();
  const ck = run?.checkpointDir ? { checkpointDir: run.checkpointDir, checkpointSeconds: run.checkpointSeconds ?? 60, resume: true } : {};
  const onProgress = note
    ? (p: TrainProgress) => {
        if (p.step < p.totalSteps) note(`${method} seed=${config.seed}: step ${p.step}/${p.totalSteps}, FVU ${p.fvu.toFixed(3)}, L0 ${p.l0.toFixed(1)}, ETA ${clock(p.etaSeconds)}`);
      }
    : undefined;
  const fit = await sae.fit(st.train.X, { seed: `${config.seed}:${method}`, signal, ...ck, ...(onProgress ? { onProgress, progressIntervalMs: 60_000 } : {}) });
  if (fit.resumedFrom !== null) note?.(`${method} seed=${config.seed}: resumed from its checkpoint at step ${fit.resumedFrom} of ${fit.steps}`);
  if (run) run.priorSeconds += fit.resumedSeconds;
  const seconds = (performance.now() - t0) / 1000;
  const X = st.val.X, f = sae.encode(X), Xhat = sae.decode(f), Wdec = sae.getWeights().W_dec;
  const m = groundTruthMetrics({ X, Xhat, f, Wdec, Dgt: st.world.D, Agt: st.val.A });
  const abs = syntheticAbsorption({ f, Wdec, Dgt: st.world.D, Agt: st.val.A, parents: st.world.parents() });
  const sp = syntheticSparseProbing({ f, Agt: st.val.A, features: st.probed, seed: config.seed });
  return {
    ...m, absorption: abs.absorption, absorption_full: abs.full,
    sparse_probing_top1: sp.accuracy[0], sparse_probing_top2: sp.accuracy[1], sparse_probing_top5: sp.accuracy[2],
    true_l0: st.trueL0, seconds,
    ...(fit.l0Controller ? { sparsity_multiplier: fit.l0Controller.multiplier } : {}),
  };
}

export async function runSynthSAEBenchRepro(o: { out: string; preset?: 'quick' | 'full'; seeds?: number[]; methods?: string[]; signal?: AbortSignal; onProgress?: (p: SweepProgress) => void; onNote?: (m: string) => void; executor?: ExperimentExecutor; settings?: Partial<SsbSettings> }): Promise<ExperimentRun<SsbSettings>> {
  checkSeeds(o.seeds);
  return runExperiment({
    name: 'synth-sae-bench',
    presets: SSB_PRESETS,
    cells: (preset) => ssbCells(o.seeds?.length ? o.seeds : preset.seeds, o.methods?.length ? o.methods : [...SSB_METHODS]),
    runCell: runSsbCell,
    checkpointFolder: ssbCheckpointFolder,
    writeReport: writeSsbReport,
  }, { ...o, overrides: o.settings });
}

function scatter(points: { label: string; x: number; y: number }[]): string {
  const W = 520, H = 400, L = 60, R = 150, T = 30, B = 50;
  const xs = points.map((p) => p.x), ys = points.map((p) => p.y);
  const x0 = Math.min(0, ...xs), x1 = Math.max(1, ...xs), y0 = Math.min(0, ...ys), y1 = Math.max(1, ...ys);
  const px = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - R), py = (y: number) => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<text x="${W / 2}" y="18" text-anchor="middle">F1 vs explained variance (EV ≠ feature recovery)</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
    `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">EV</text><text x="16" y="${(T + H - B) / 2}" transform="rotate(-90 16 ${(T + H - B) / 2})" text-anchor="middle">F1</text>`];
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    out.push(`<text x="${px(x0 + t * (x1 - x0))}" y="${H - B + 16}" text-anchor="middle">${(x0 + t * (x1 - x0)).toFixed(2)}</text>`);
    out.push(`<text x="${L - 6}" y="${py(y0 + t * (y1 - y0)) + 4}" text-anchor="end">${(y0 + t * (y1 - y0)).toFixed(2)}</text>`);
  }
  const colors = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2'];
  points.forEach((p, i) => {
    out.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="5" fill="${colors[i % colors.length]}"/>`);
    out.push(`<text x="${(px(p.x) + 8).toFixed(1)}" y="${(py(p.y) + 4).toFixed(1)}">${escapeXml(p.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

export function writeSsbReport(dir: string, lines: ResultLine[], o: { settings?: SsbSettings; preset?: string } = {}): string {
  const rows = aggregate(lines);
  const md: string[] = ['# SynthSAEBench-style comparison — reproduction report', ''];
  md.push('SAEs trained on a SynthSAEBench-style world (docs/synth-sae-bench.md) and scored against the true features on held-out rows.');
  md.push('Reference: SynthSAEBench-16k (16,384 features, d = 768, width 4096, L0 = 25, 200M samples; ECOSYSTEM §5.6).');
  if (o.preset) md.push(`Preset: \`${o.preset}\`${o.settings ? ` (${o.settings.world.features} features, d = ${o.settings.world.dim}, width ${o.settings.atoms}, k = ${o.settings.k}, ${o.settings.trainRows} training rows, ${o.settings.steps} steps of ${o.settings.batch} = ${o.settings.steps * o.settings.batch} samples${o.settings.controlL0 ? `; ReLU and JumpReLU tuned to L0 = ${o.settings.k} by the reference's L0 controller, gain ${ssbControllerGain(o.settings.steps).toPrecision(2)}` : ''}${o.settings.jumpreluLoss in JUMPRELU_LOSS_NOTE ? `; JumpReLU with ${JUMPRELU_LOSS_NOTE[o.settings.jumpreluLoss]}` : ''})` : ''}.`);
  md.push('');
  const head = ['method', 'seeds', ...SSB_METRICS, 'ref F1', 'ref MCC', 'ref EV'];
  const body = SSB_METHODS.filter((m) => rows.some((r) => r.method === m)).map((m) => {
    const r = rows.find((q) => q.method === m)!;
    const ref = SSB_REFERENCE[m] ?? {};
    return [m, String(r.seeds.length), ...SSB_METRICS.map((k) => formatMeanStd(r.mean[k], r.std[k])), ref.f1?.toFixed(3) ?? '—', ref.mcc_dec?.toFixed(3) ?? '—', ref.ev?.toFixed(3) ?? '—'];
  });
  md.push('## Metrics (mean ± std over seeds)', '', markdownTable(head, body), '');
  const pts = SSB_METHODS.filter((m) => rows.some((r) => r.method === m)).map((m) => { const r = rows.find((q) => q.method === m)!; return { label: m, x: r.mean.ev, y: r.mean.f1 }; });
  const plots: string[] = [];
  if (pts.length) {
    writeFileAtomic(join(dir, 'f1_vs_ev.svg'), scatter(pts));
    plots.push('f1_vs_ev.svg');
    md.push('## F1 vs EV', '', '![F1 vs EV](f1_vs_ev.svg)', '');
  }
  return finishReport(dir, md, { lines, settings: o.settings, plots });
}
