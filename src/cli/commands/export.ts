import { readFileSync } from 'node:fs';
import { fail } from '../../core/errors.js';
import { hasUnitDecoder } from '../../dictionary/fold.js';
import { exportSaelens } from '../../dictionary/model-export.js';
import { loadModel, type LoadedModel, unitNormWarning } from '../../dictionary/model-runtime.js';
import { writeNeuronpediaExport } from '../../explore/neuronpedia.js';
import type { Command, Context } from '../command.js';
import { openRowsArg, TENSOR_OPTION } from '../inputs.js';
import type { Progress } from '../progress.js';

const TARGETS = ['neuronpedia', 'saelens'] as const;

function readLabels(path: string, samples: number): string[] {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    fail('E_USAGE', `--labels ${path}: cannot read a JSON array of labels (${(e as Error).message})`);
  }
  if (v && typeof v === 'object' && !Array.isArray(v) && Array.isArray((v as { labels?: unknown }).labels)) v = (v as { labels: unknown[] }).labels;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' || typeof x === 'number')) fail('E_USAGE', `--labels ${path}: must hold a JSON array with one string (or number) per sample, e.g. ["cat", "dog", ...]`);
  if (v.length !== samples) fail('E_SHAPE', `--labels ${path} has ${v.length} labels, the data has ${samples} rows; give one label per row`);
  return v.map((x) => String(x));
}

function load(ctx: Context, wantUnit: boolean): { model: LoadedModel; folded: boolean } {
  const o = ctx.opts;
  if (o.model === undefined) fail('E_USAGE', 'missing required option --model DIR (a model folder or file in any layout "sparsecode inspect" reads)');
  const base = { ...(o['activation-scale'] !== undefined ? { activationScale: o['activation-scale'] } : {}) };
  let model = loadModel(o.model, base);
  let folded = false;
  if (wantUnit && !hasUnitDecoder(model.weights.W_dec, 1e-3)) {
    if (model.kind === 'topk' || model.kind === 'mp' || model.kind === 'dl-fista' || model.kind === 'online-dl' || model.kind === 'topk-transcoder') {
      ctx.note(unitNormWarning(model, 'a Neuronpedia dashboard (activations compared across features)')!);
    } else {
      model = loadModel(o.model, { ...base, foldDecoderNorm: true });
      folded = true;
      ctx.note('export: decoder norms folded into the encoder (as Neuronpedia\'s dashboard runner does), so activations are comparable across features');
    }
  }
  return { model, folded };
}

export const exportCommand: Command = {
  name: 'export',
  summary: 'write a model in the files other tools read: Neuronpedia/SAEDashboard feature dashboards, or a SAELens v6 folder',
  usage: 'export neuronpedia --model DIR --data X.npy [--labels L.json] --out DIR | export saelens --model DIR --out DIR [--data X.npy]',
  description: [
    'export neuronpedia: encodes --data X [samples x d_in] with the model (any layout sparsecode reads)',
    '  and writes the Neuronpedia / SAEDashboard feature JSON for non-text activations: batch-N.json',
    '  (top activations, activations sampled in 5 equal-width intervals, a 40-bin activation histogram,',
    '  the density frac_nonzero, the input dimensions each decoder row writes to), features.jsonl (one',
    '  Neuronpedia feature row each: max activation, density, the 10 nearest features by decoder cosine,',
    '  the decoder row), skipped_indexes.json (features that never fire) and run_settings.json. Each',
    '  example is one sample: its token is its --labels entry with "(#i)", or "#i". Decoder norms are',
    '  folded first where that keeps the model\'s function (not TopK: a warning instead). Two streamed',
    '  passes over X; memory grows with the number of features, not of samples.',
    '  "sparsecode explore OUT" opens the same files.',
    'export saelens: writes a SAELens v6 folder (cfg.json with metadata, sae_weights.safetensors) that',
    '  SAELens >= 6 loads, with what the source layout needed folded into the weights (activation',
    '  scales, decoder-norm gates, a whitening). BatchTopK and Matryoshka models become JumpReLU with',
    '  their thresholds. With --data, also sparsity.safetensors (log10 firing fraction + 1e-10).',
    '  Matching pursuit and classical dictionaries have no SAELens equivalent and are refused.',
  ].join('\n'),
  positionals: [{ name: 'target', help: 'what to write', required: true, choices: TARGETS }],
  options: [
    { name: 'model', type: 'string', help: 'the model: a folder or file in any layout sparsecode reads', metavar: 'DIR' },
    { name: 'data', type: 'string', help: 'activations [samples x d_in] (.npy, or FILE.safetensors:NAME); required for neuronpedia', metavar: 'X.npy' },
    TENSOR_OPTION,
    { name: 'labels', type: 'string', help: 'neuronpedia: a JSON array with one label per sample', metavar: 'L.json' },
    { name: 'out', type: 'string', help: 'the output folder', required: true, metavar: 'DIR' },
    { name: 'model-id', type: 'string', help: 'neuronpedia: model_id [the cfg metadata model_name, else sparsecode]', metavar: 'ID' },
    { name: 'layer', type: 'int', help: 'neuronpedia: layer [from the hook name, else 0]', metavar: 'L' },
    { name: 'sae-set', type: 'string', help: 'neuronpedia: sae_set [sparsecode]', metavar: 'NAME' },
    { name: 'seed', type: 'int', help: 'neuronpedia: seed of the interval samples [0]', metavar: 'S' },
    { name: 'activation-scale', type: 'number', help: 'the activation-norm scaling factor of a SAELens model with normalize_activations expected_average_only_in and no activation_scaler.json', metavar: 'S' },
    { name: 'batch', type: 'int', help: 'rows encoded at a time', metavar: 'B' },
    { name: 'json', type: 'boolean', help: 'print one JSON object' },
  ],
  examples: [
    'sparsecode export neuronpedia --model runs/sae --data acts.npy --out dash/',
    'sparsecode export neuronpedia --model gemma-scope/layer_12/width_16k/average_l0_82/params.npz --data acts.npy --labels labels.json --out dash/',
    'sparsecode export saelens --model runs/sae --data acts.npy --out sae_v6/',
    'sparsecode export saelens --model sparsify-sae/layers.10 --out sae_v6/',
  ],
  async run(ctx) {
    const o = ctx.opts;
    const target = ctx.positionals[0];
    if (ctx.positionals.length !== 1 || !TARGETS.includes(target as (typeof TARGETS)[number])) fail('E_USAGE', `export needs one target, ${TARGETS.join(' or ')}; got ${ctx.positionals.map((p) => `"${p}"`).join(' ') || 'none'}`);
    if (o.batch !== undefined && o.batch < 1) fail('E_USAGE', `--batch must be >= 1, got ${o.batch}`);
    if (target === 'saelens') {
      for (const f of ['labels', 'model-id', 'layer', 'sae-set', 'seed']) if (o[f] !== undefined) fail('E_USAGE', `--${f} applies to export neuronpedia`);
      const { model } = load(ctx, false);
      const data = o.data !== undefined ? openRowsArg(o.data, o.tensor, '--data', 'X') : undefined;
      let bar: Progress | null = null;
      try {
        if (data && data.rows > 4096) bar = ctx.progress('export saelens: sparsity', data.rows, 'samples');
        const r = exportSaelens(model, o.out, { data, batch: o.batch, onBatch: (d) => bar?.update(d) });
        bar?.finish();
        const summary = { target, model: o.model, layout: model.layout.name, kind: model.kind, d_in: model.dim, d_sae: model.atoms, out: o.out, sparsity: !!r.logSparsity, samples: r.samples, folded: model.layout.notes.filter((n) => /fold/.test(n)) };
        if (o.json) ctx.print(JSON.stringify(summary));
        else ctx.print(`export saelens: ${model.kind} SAE (${model.layout.name}, d_in ${model.dim}, d_sae ${model.atoms}) -> ${o.out} (SAELens v6${r.logSparsity ? `, sparsity.safetensors from ${r.samples} samples` : ''})`);
      } finally {
        data?.close();
      }
      return;
    }
    if (o.data === undefined) fail('E_USAGE', 'export neuronpedia needs --data X.npy (the activations whose top examples and histograms the dashboards show)');
    const { model, folded } = load(ctx, true);
    const data = openRowsArg(o.data, o.tensor, '--data', 'X');
    let bar: Progress | null = null;
    try {
      const labels = o.labels !== undefined ? readLabels(o.labels, data.rows) : undefined;
      let pass = 0;
      const r = writeNeuronpediaExport(model, data, o.out, {
        labels, modelId: o['model-id'], layer: o.layer, saeSet: o['sae-set'], seed: o.seed, batch: o.batch, decoderNormsFolded: folded,
        onProgress: (p, done, total) => {
          if (total <= 4096) return;
          if (p !== pass) {
            bar?.finish();
            bar = ctx.progress(`export neuronpedia: pass ${p}/2`, total, 'samples');
            pass = p;
          }
          bar!.update(done);
        },
      });
      (bar as Progress | null)?.finish();
      const summary = { target, model: o.model, layout: model.layout.name, kind: model.kind, out: o.out, samples: r.samples, features: r.features, alive: r.alive, dead: r.dead, batches: r.batches, decoder_norms_folded: folded, files: r.files.length };
      if (o.json) ctx.print(JSON.stringify(summary));
      else ctx.print(`export neuronpedia: ${r.features} features (${r.alive} fire, ${r.dead} never) on ${r.samples} samples -> ${o.out} (${r.batches} batch file${r.batches === 1 ? '' : 's'}, features.jsonl, skipped_indexes.json, run_settings.json)`);
    } finally {
      data.close();
    }
  },
};
