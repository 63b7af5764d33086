import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../../core/errors.js';
import type { Matrix } from '../../core/matrix.js';
import { loadModel } from '../../dictionary/model-runtime.js';
import { inputSpaceDecoder } from '../../io/model.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { groundTruthMetrics } from '../../metrics/ground-truth.js';
import { syntheticAbsorption } from '../../metrics/absorption.js';
import { probingFeatures, syntheticSparseProbing } from '../../metrics/sparse-probing.js';
import { readMatrixArg } from '../inputs.js';

/** The ground-truth SAE evaluation behind `eval --model DIR (--world W | --input X --truth A --true-dictionary D)`. */
export function evalGroundTruth(o: Record<string, any>): Record<string, unknown> {
  const model = loadModel(o.model);
  if (model.kind === 'topk-transcoder') fail('E_USAGE', `${o.model} is a transcoder: the ground-truth SAE metrics score an SAE's reconstruction of its own input; score a transcoder with eval --model ${o.model} --input X.npy --target Y.npy`);
  let X: Matrix, Agt: Matrix, Dgt: Matrix;
  let hierarchy: Record<string, number[]> | null = null;
  if (o.world !== undefined) {
    for (const k of ['input', 'truth', 'true-dictionary', 'codes']) if (o[k] !== undefined) fail('E_USAGE', `--world ${o.world} supplies the activations, truth and dictionary; drop --${k}`);
    const split = o.split ?? 'val';
    const meta = join(o.world, 'world.json');
    if (!existsSync(meta)) fail('E_ARG', `--world ${o.world}: no world.json there; make one with \`sparsecode world synth-sae-bench --out ${o.world}\``);
    const wj = JSON.parse(readFileSync(meta, 'utf8'));
    if (wj.hierarchy && typeof wj.hierarchy === 'object') hierarchy = wj.hierarchy;
    X = readMatrixArg(join(o.world, `${split}_x.npy`), undefined, '--world');
    Agt = readMatrixArg(join(o.world, `${split}_z.npy`), undefined, '--world');
    Dgt = readMatrixArg(join(o.world, 'mixing.npy'), undefined, '--world');
  } else {
    for (const k of ['input', 'truth', 'true-dictionary']) if (o[k] === undefined) fail('E_USAGE', `eval --model needs --world DIR, or --input X.npy, --truth A.npy and --true-dictionary D.npy (missing --${k})`);
    X = readMatrixArg(o.input, o.tensor, '--input');
    Agt = readMatrixArg(o.truth, o.tensor, '--truth');
    Dgt = readMatrixArg(o['true-dictionary'], o.tensor, '--true-dictionary');
    if (o.hierarchy !== undefined) hierarchy = JSON.parse(readFileSync(o.hierarchy, 'utf8')).hierarchy ?? null;
  }
  if (Agt.rows !== X.rows) fail('E_SHAPE', `shape mismatch: the true activations have ${Agt.rows} rows and the activations ${X.rows}; both must hold the same samples in the same order`);
  if (X.cols !== model.dim) fail('E_SHAPE', `shape mismatch: the activations have ${X.cols} columns and the model ${o.model} expects d_in = ${model.dim}`);
  const f = model.encode(X);
  const Xhat = model.decode(f);
  // the decoder in the space of the raw activations (W_dec·W_inv for a model trained on whitened inputs)
  const Wdec = inputSpaceDecoder(model);
  const m = groundTruthMetrics({ X, Xhat, f, Wdec, Dgt, Agt });
  const parents = hierarchy ? Object.keys(hierarchy).map(Number) : [];
  const abs = parents.length ? syntheticAbsorption({ f, Wdec, Dgt, Agt, parents }) : null;
  // sparse probing (k = 1, 2, 5) on the 32 most frequent true features (at least 10 positives), on
  // the latents and, as SAEBench's llm_top_k baseline, on the activations themselves
  const feats = probingFeatures(Agt);
  const seed = o.seed ?? 42;
  const sp = syntheticSparseProbing({ f, Agt, features: feats, seed });
  const spx = syntheticSparseProbing({ f: X, Agt, features: feats, seed });
  const out: Record<string, unknown> = {
    ...m,
    absorption: abs ? abs.absorption : null,
    absorption_full: abs ? abs.full : null,
    sparse_probing_top1: sp.accuracy[0],
    sparse_probing_top2: sp.accuracy[1],
    sparse_probing_top5: sp.accuracy[2],
    samples: X.rows,
    latents: f.cols,
    true_features: Agt.cols,
    model_kind: model.kind,
  };
  if (o.saebench !== undefined) writeSAEBench(o.saebench, X, Xhat, f, m, abs, sp, spx, o.model);
  return out;
}


/** SAEBench-compatible `core`, `absorption` and `sparse_probing` result files (SAEBench field names; ground-truth adaptation). */
function writeSAEBench(
  dir: string, X: Matrix, Xhat: Matrix, f: Matrix, m: ReturnType<typeof groundTruthMetrics>, abs: ReturnType<typeof syntheticAbsorption> | null,
  sp: ReturnType<typeof syntheticSparseProbing>, spx: ReturnType<typeof syntheticSparseProbing>, model: string,
): void {
  mkdirSync(dir, { recursive: true });
  const n = X.rows, d = X.cols, F = f.cols;
  let sse = 0, cs = 0, nin = 0, nout = 0, ratio = 0, xx = 0, xh = 0, l1 = 0, alive = 0, over1 = 0;
  const dens = new Float64Array(F);
  for (let t = 0; t < n; t++) {
    let a = 0, b = 0, ab = 0;
    for (let j = 0; j < d; j++) {
      const x = X.data[t * d + j], y = Xhat.data[t * d + j];
      sse += (x - y) ** 2;
      a += x * x; b += y * y; ab += x * y;
    }
    const na = Math.sqrt(a), nb = Math.sqrt(b);
    cs += na > 0 && nb > 0 ? ab / (na * nb) : 0;
    nin += na; nout += nb;
    ratio += nb / (na < 1e-4 ? 1 : na);
    xx += b; xh += ab;
    for (let i = 0; i < F; i++) { const v = f.data[t * F + i]; l1 += v; if (v > 0) dens[i]++; }
  }
  for (let i = 0; i < F; i++) { if (dens[i] > 0) alive++; if (dens[i] / n > 0.01) over1++; }
  const core = {
    eval_type_id: 'core',
    eval_config: { adaptation: 'sparsecode ground truth (no LLM): x are synthetic activations', model },
    eval_result_metrics: {
      reconstruction_quality: { explained_variance: m.ev, mse: sse / n / d, cossim: cs / n },
      shrinkage: { l2_norm_in: nin / n, l2_norm_out: nout / n, l2_ratio: ratio / n, relative_reconstruction_bias: xx / xh },
      sparsity: { l0: m.l0, l1: l1 / n },
      misc_metrics: { frac_alive: alive / F, freq_over_1_percent: over1 / F },
    },
  };
  const absorption = {
    eval_type_id: 'absorption_first_letter',
    eval_config: { adaptation: 'ECOSYSTEM 5.2 synthetic: parent features of the hierarchy play the letters; split = the latent of largest |cos| with the parent; A = a_j ||d_j||' },
    eval_result_metrics: {
      mean: { mean_absorption_fraction_score: abs ? abs.absorption : null, mean_full_absorption_score: abs ? abs.full : null, mean_num_split_features: abs ? 1 : null },
    },
    eval_result_details: abs
      ? abs.perParent.map((p) => ({ first_letter: String(p.parent), mean_absorption_fraction: p.fraction, full_absorption_rate: p.full, num_full_absorption: Math.round(p.full * p.rows), num_probe_true_positives: p.rows, split_feats: [p.latent] }))
      : [],
  };
  const byK = (r: ReturnType<typeof syntheticSparseProbing>, prefix: string) => Object.fromEntries(r.ks.map((k, q) => [`${prefix}_top_${k}_test_accuracy`, r.accuracy[q]]));
  const sparse = {
    eval_type_id: 'sparse_probing',
    eval_config: { adaptation: 'ECOSYSTEM 5.3 synthetic: label = true feature present; balanced halves; L2 logistic regression, C = 1; llm = the activations themselves', k_values: sp.ks },
    eval_result_metrics: { llm: byK(spx, 'llm'), sae: byK(sp, 'sae') },
    eval_result_details: sp.perFeature.map((p, i) => ({
      dataset_name: `feature_${p.feature}`,
      ...Object.fromEntries(sp.ks.map((k, q) => [`sae_top_${k}_test_accuracy`, p.accuracy[q]])),
      // the llm probes score the same features (which are kept depends on the truth alone)
      ...Object.fromEntries(spx.ks.map((k, q) => [`llm_top_${k}_test_accuracy`, spx.perFeature[i].accuracy[q]])),
      top_latent: p.latents[0],
      top_latents: p.latents,
    })),
  };
  writeFileAtomic(join(dir, 'core.json'), JSON.stringify(core, null, 2) + '\n');
  writeFileAtomic(join(dir, 'absorption.json'), JSON.stringify(absorption, null, 2) + '\n');
  writeFileAtomic(join(dir, 'sparse_probing.json'), JSON.stringify(sparse, null, 2) + '\n');
}
