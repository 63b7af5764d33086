import { fail } from '../../core/errors.js';
import type { Matrix } from '../../core/matrix.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { loadModel } from '../../dictionary/model-runtime.js';
import { cosineSimilarity, matrixSimilarity, misScores, misTasks, misTasksToJSON, type SimilarityModel } from '../../metrics/interpretability.js';
import { kmeansDirections } from '../../metrics/kmeans.js';
import type { Command } from '../command.js';
import { readMatrixArg, TENSOR_OPTION } from '../inputs.js';

/** `sparsecode interpretability`: the 2-AFC interpretability index (MIS) of units, k-means directions or SAE latents. */
export const interpretabilityCommand: Command = {
  name: 'interpretability',
  summary: 'the 2-AFC interpretability index (MIS) of units, k-means directions or SAE latents, from a similarity model',
  usage: 'interpretability --acts A.npy (--embeddings E.npy | --similarity S.npy) [--directions units|kmeans|sae:DIR|sae-dir:DIR] [--clusters K] [--restarts R] [--tasks 100] [--k 9] [--quantile 0.25] [--alpha a] [--active-top] [--seed S] [--save-tasks T.json] [--json]',
  description: [
    'A is [samples x units]: activations of a layer on a set of stimuli. The similarity model says how alike two stimuli',
    'look to an observer: --embeddings E.npy [samples x dims] (cosine similarity of rows: e.g. DreamSim or CLIP embeddings',
    'of the images, or ground-truth concept vectors) or --similarity S.npy [samples x samples] (S[q, e], any similarity).',
    '',
    'For each direction, --tasks 2-AFC tasks: from the ceil(samples x quantile) most and least activating stimuli, k + 1',
    'are drawn per side; the k most extreme are the explanations E+ / E-, the other one the query q+ / q-. With s(q, E)',
    'the mean similarity of q to E, delta = [s(q+,E+) - s(q+,E-)] - [s(q-,E+) - s(q-,E-)], and the score is the fraction of',
    'tasks with delta > 0 (with --alpha: the mean of sigmoid(alpha delta)). This is MIS of klindtlab/MachInterp (the successor',
    'of the Interpretability Index of Klindt et al. 2023); 0.5 is chance, 1 is perfectly interpretable.',
    '',
    'Directions: units (the columns of A), kmeans (k-means on the L2-normalised rows of A with --clusters centres; from the',
    'identity when K equals the units, else k-means++ with --restarts starts; activation = -distance to the centroid), or',
    'sae:DIR (the latents of a model written by sparsecode fit, or an SAELens folder, encoding A: its sparse codes), or',
    'sae-dir:DIR (the same latents as directions: each latent\'s encoder pre-activation, its value before TopK / ReLU / the',
    'JumpReLU gate, i.e. the projection of A on the direction the latent reads; dense, so --active-top changes nothing).',
    '--save-tasks writes the task draw (sample indices per direction and task) so that it can be replayed elsewhere.',
    '',
    'Sparse directions (SAE latents are exactly 0 on most stimuli): a direction above its minimum on fewer than',
    'ceil(samples x quantile) stimuli has its top set padded, by the random tie-break, with stimuli it does not respond to.',
    '--active-top (not in the reference) draws a direction\'s top tasks only from stimuli above its minimum; a direction above',
    'it on fewer than k + 1 stimuli is untestable (score null / NaN, left out of the mean). Dense directions are unchanged.',
  ].join('\n'),
  options: [
    { name: 'acts', type: 'string', help: 'activations [samples x units] (.npy or .safetensors)', required: true, metavar: 'A.npy' },
    { name: 'embeddings', type: 'string', help: 'stimulus embeddings [samples x dims]: cosine similarity', metavar: 'E.npy' },
    { name: 'similarity', type: 'string', help: 'similarity matrix [samples x samples]: S[query, explanation]', metavar: 'S.npy' },
    { name: 'directions', type: 'string', help: 'units, kmeans, sae:DIR (codes) or sae-dir:DIR (pre-activations)', default: 'units', metavar: 'units|kmeans|sae:DIR|sae-dir:DIR' },
    { name: 'clusters', type: 'int', help: 'kmeans: number of directions (default: the number of units)', metavar: 'K' },
    { name: 'restarts', type: 'int', help: 'kmeans: k-means++ starts (the identity start runs once)', default: 10 },
    { name: 'tasks', type: 'int', help: '2-AFC tasks per direction', default: 100 },
    { name: 'k', type: 'int', help: 'explanations per side of a task', default: 9 },
    { name: 'quantile', type: 'number', help: 'fraction of stimuli in the top and in the bottom set, in (0, 0.5]', default: 0.25 },
    { name: 'alpha', type: 'number', help: 'score = mean sigmoid(alpha delta) instead of the fraction with delta > 0' },
    { name: 'active-top', type: 'boolean', help: 'sparse directions: top set only from stimuli above the direction\'s minimum (see above)' },
    { name: 'seed', type: 'int', help: 'seed of the task draw (and of k-means++)', default: 0 },
    { name: 'save-tasks', type: 'string', help: 'write the task draw as JSON', metavar: 'T.json' },
    { name: 'json', type: 'boolean', help: 'print one JSON object' },
    TENSOR_OPTION,
  ],
  examples: [
    'sparsecode interpretability --acts layer3.npy --embeddings dreamsim.npy --json',
    'sparsecode interpretability --acts layer3.npy --embeddings dreamsim.npy --directions kmeans --clusters 128',
    'sparsecode interpretability --acts layer3.npy --similarity lpips_sim.npy --directions sae:runs/sae --quantile 0.05 --save-tasks tasks.json',
    'sparsecode interpretability --acts layer3.npy --embeddings dreamsim.npy --directions sae:runs/sae --quantile 0.01 --active-top --json',
    'sparsecode interpretability --acts layer3.npy --embeddings dreamsim.npy --directions sae-dir:runs/sae --quantile 0.01 --json',
  ],
  isolate: true,
  async run(ctx) {
    const o = ctx.opts;
    if ((o.embeddings === undefined) === (o.similarity === undefined)) {
      fail('E_USAGE', 'give exactly one similarity model: --embeddings E.npy (cosine similarity of its rows) or --similarity S.npy (a [samples x samples] matrix)');
    }
    const acts = readMatrixArg(o.acts, o.tensor, '--acts');
    let sim: SimilarityModel;
    if (o.embeddings !== undefined) {
      const E = readMatrixArg(o.embeddings, o.tensor, '--embeddings');
      if (E.rows !== acts.rows) fail('E_SHAPE', `--embeddings ${o.embeddings} has ${E.rows} rows but --acts has ${acts.rows} samples; give one embedding per stimulus, in the same order`);
      sim = cosineSimilarity(E, '--embeddings');
    } else {
      const S = readMatrixArg(o.similarity, o.tensor, '--similarity');
      if (S.rows !== acts.rows || S.cols !== acts.rows) {
        fail('E_SHAPE', `--similarity ${o.similarity} is [${S.rows} x ${S.cols}] but --acts has ${acts.rows} samples; give a [${acts.rows} x ${acts.rows}] matrix (S[query, explanation])`);
      }
      sim = matrixSimilarity(S, '--similarity');
    }
    const dirSpec = String(o.directions);
    let directions: Matrix;
    let kind: string;
    const extra: Record<string, unknown> = {};
    if (dirSpec === 'units') {
      if (o.clusters !== undefined) fail('E_USAGE', '--clusters applies to --directions kmeans only');
      directions = acts;
      kind = 'units';
    } else if (dirSpec === 'kmeans') {
      const k = o.clusters ?? acts.cols;
      if (!(Number.isInteger(k) && k >= 1)) fail('E_USAGE', `--clusters must be a whole number >= 1, got ${k}`);
      if (k > acts.rows) fail('E_USAGE', `--clusters ${k} is more than the ${acts.rows} samples; lower --clusters`);
      ctx.note(`k-means: ${k} centres on ${acts.rows} normalised rows${k === acts.cols ? ' (identity start)' : `, ${o.restarts} k-means++ starts`}`);
      const d = kmeansDirections(acts, { k, restarts: o.restarts, seed: o.seed, signal: ctx.signal });
      directions = d.activations;
      kind = 'kmeans';
      Object.assign(extra, { clusters: k, init: d.init, restarts: d.fit.restarts, inertia: d.fit.inertia, kmeans_iterations: d.fit.iterations });
    } else if (dirSpec.startsWith('sae:') || dirSpec.startsWith('sae-dir:')) {
      const pre = dirSpec.startsWith('sae-dir:');
      const prefix = pre ? 'sae-dir:' : 'sae:';
      const dir = dirSpec.slice(prefix.length);
      if (!dir) fail('E_USAGE', `--directions ${prefix}DIR needs a model folder after "${prefix}"`);
      const model = loadModel(dir);
      if (model.dim !== acts.cols) fail('E_SHAPE', `--directions ${dirSpec}: the model expects d_in = ${model.dim} units, --acts has ${acts.cols} columns`);
      if (pre && !model.preActivations) fail('E_USAGE', `--directions sae-dir: needs an SAE (a model with an encoder); ${dir} is a ${model.kind} model. Use --directions sae:${dir} to score its codes`);
      directions = pre ? model.preActivations!(acts) : model.encode(acts);
      kind = pre ? 'sae-dir' : 'sae';
      Object.assign(extra, { model: dir, latents: model.atoms, model_kind: model.kind });
    } else {
      return fail('E_USAGE', `--directions must be units, kmeans, sae:DIR or sae-dir:DIR, got "${dirSpec}"`);
    }
    const activeTop = o['active-top'] === true;
    const tasks = misTasks(directions, { tasks: o.tasks, k: o.k, quantile: o.quantile, seed: o.seed, activeTop });
    let rare = 0;
    for (const m of tasks.aboveFloor) if (m < tasks.subset) rare++;
    if (rare && !activeTop) {
      ctx.note(`${rare} of ${tasks.units} directions are above their minimum on fewer than ${tasks.subset} stimuli: their top sets are padded with stimuli they do not respond to (ties broken at random); --active-top draws their top tasks only from stimuli above their minimum`);
    }
    if (o['save-tasks'] !== undefined) writeFileAtomic(o['save-tasks'], JSON.stringify({ directions: kind, seed: o.seed, ...misTasksToJSON(tasks) }) + '\n');
    const r = misScores(tasks, sim, { alpha: o.alpha });
    const scores = Array.from(r.scores);
    if (o.json) {
      ctx.print(JSON.stringify({
        directions: kind, samples: acts.rows, units: acts.cols, count: scores.length, similarity: sim.name,
        tasks: tasks.tasks, k: tasks.k, quantile: tasks.quantile, subset: tasks.subset, alpha: r.alpha, seed: o.seed,
        active_top: activeTop, rare, untestable: r.untestable,
        ...extra, scores: scores.map((v) => (Number.isNaN(v) ? null : v)), mean: Number.isNaN(r.mean) ? null : r.mean,
      }));
      return;
    }
    ctx.print(`MIS of ${scores.length} ${kind === 'units' ? 'units' : kind === 'kmeans' ? 'k-means directions' : kind === 'sae' ? 'SAE latents' : 'SAE latent directions (pre-activations)'} (${acts.rows} stimuli; ${sim.name}; ${tasks.tasks} tasks, k = ${tasks.k}, quantile ${tasks.quantile} -> ${tasks.subset} per set${r.alpha !== null ? `, alpha ${r.alpha}` : ''})`);
    const order = scores.map((v, i) => [v, i] as const).sort((a, b) => (Number.isNaN(b[0]) ? -Infinity : b[0]) - (Number.isNaN(a[0]) ? -Infinity : a[0]));
    const shown = order.length <= 40 ? order : [...order.slice(0, 20), ...order.slice(-20)];
    for (let j = 0; j < shown.length; j++) {
      if (order.length > 40 && j === 20) ctx.print(`  ... ${order.length - 40} more ...`);
      ctx.print(`  ${String(shown[j][1]).padStart(6)}  ${Number.isNaN(shown[j][0]) ? 'untestable' : shown[j][0].toFixed(3)}`);
    }
    ctx.print(`mean MIS: ${r.mean.toFixed(4)}${r.untestable ? ` (over ${scores.length - r.untestable} testable directions; ${r.untestable} untestable)` : ''}`);
  },
};
