import { fail } from '../../core/errors.js';
import { Matrix } from '../../core/matrix.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { auc } from '../../metrics/auc.js';
import { STRAIGHTENING_FEATURE_NAMES, THETA_MEAN_INDEX } from '../../metrics/curvature.js';
import { trainStraighteningDetector } from '../../metrics/straightening-detector.js';
import type { Command } from '../command.js';
import { trajectoryFileFeatures } from '../trajectories.js';

/** `sparsecode detect`: ReStraV's detector on the user's own embedding trajectories. */
export const detectCommand: Command = {
  name: 'detect',
  summary: 'train and test the ReStraV detector (perceptual straightening) on real vs generated embedding trajectories',
  usage: 'detect --real R.npy --fake F.npy [--epochs 10] [--seed S] [--zscore all|train] [--predictions P.csv] [--json]',
  description: [
    'R.npy and F.npy hold precomputed embedding trajectories [videos x T x D] (or [T x D] for one video), e.g. DINOv2',
    'features of T = 24 frames per video (ReStraV concatenates the CLS and patch tokens: D = 257 x 384). Both files must',
    'have the same T and D. For every trajectory the 21 straightening features (see `sparsecode curvature`); then the',
    "paper's protocol: balance the classes by subsampling, z-score every feature over the balanced set, a stratified",
    'half for testing, an MLP 21-64-32-1 trained by BCE with Adam (lr 1e-3, batch 32, --epochs), the threshold with the',
    'best training F1 among 81 values in [0.1, 0.9]. Prints test accuracy, precision, recall and F1 (real = positive)',
    'at that threshold, the ROC AUC of the probabilities, and the AUC of the mean curvature alone for reference.',
    '--zscore train fits the scaling on the training half only (the reference scales over all rows before splitting).',
    '--predictions writes one CSV line per test video: file, index, label, P(real), prediction.',
  ].join('\n'),
  options: [
    { name: 'real', type: 'string', help: 'trajectories of real videos: .npy [videos x T x D]', required: true, metavar: 'R.npy' },
    { name: 'fake', type: 'string', help: 'trajectories of generated videos: .npy [videos x T x D]', required: true, metavar: 'F.npy' },
    { name: 'epochs', type: 'int', help: 'training epochs', default: 10 },
    { name: 'seed', type: 'int', help: 'seed of the balancing, split, initialisation and batch order', default: 42 },
    { name: 'zscore', type: 'string', help: 'scale features with the statistics of all balanced rows (the reference) or the training half', default: 'all', choices: ['all', 'train'] },
    { name: 'predictions', type: 'string', help: 'write the test predictions as CSV', metavar: 'P.csv' },
    { name: 'json', type: 'boolean', help: 'print one JSON object' },
  ],
  examples: [
    'sparsecode detect --real dinov2_real.npy --fake dinov2_fake.npy',
    'sparsecode detect --real real.npy --fake fake.npy --epochs 20 --seed 1 --json',
    'sparsecode detect --real real.npy --fake fake.npy --predictions test_predictions.csv',
  ],
  async run(ctx) {
    const o = ctx.opts;
    if (!(o.epochs >= 1)) fail('E_USAGE', `--epochs must be >= 1, got ${o.epochs}`);
    const R = trajectoryFileFeatures(o.real, { what: '--real' });
    const F = trajectoryFileFeatures(o.fake, { what: '--fake' });
    if (R.frames !== F.frames || R.dim !== F.dim) {
      fail('E_SHAPE', `--real ${o.real} holds trajectories of ${R.frames} frames x ${R.dim} dimensions but --fake ${o.fake} holds ${F.frames} x ${F.dim}; both must come from the same encoder and frame sampling`);
    }
    if (R.videos < 4 || F.videos < 4) fail('E_SHAPE', `--real has ${R.videos} and --fake ${F.videos} trajectories; each needs at least 4 (half of the balanced set is held out)`);
    const n = R.videos + F.videos;
    const X = new Matrix(n, 21);
    for (let i = 0; i < n * 21; i++) X.data[i] = i < R.videos * 21 ? R.features[i] : F.features[i - R.videos * 21];
    const labels = [...new Array(R.videos).fill(1), ...new Array(F.videos).fill(0)];
    ctx.note(`features of ${R.videos} real and ${F.videos} generated trajectories (${R.frames} frames x ${R.dim} dimensions); training the detector`);
    const r = trainStraighteningDetector(X, labels, { epochs: o.epochs, seed: o.seed, zscore: o.zscore, signal: ctx.signal });
    const testLabels = Array.from(r.testIndex, (i) => labels[i]);
    const curv = (i: number) => X.data[i * 21 + THETA_MEAN_INDEX];
    const aurocCurvature = auc(Array.from(r.testIndex, (i) => -curv(i)), testLabels);
    const meanOf = (a: Float64Array) => a.reduce((s, v) => s + v, 0) / a.length;
    const out = {
      accuracy: r.accuracy, precision: r.precision, recall: r.recall, f1: r.f1, auroc: r.auroc,
      threshold: r.threshold, train_f1: r.trainF1, auroc_curvature: aurocCurvature,
      mean_curvature_real: meanOf(R.meanCurvature), mean_curvature_fake: meanOf(F.meanCurvature),
      n_real: R.videos, n_fake: F.videos, n_train: r.trainIndex.length, n_test: r.testIndex.length,
      epochs: o.epochs, seed: o.seed, zscore: o.zscore, feature_names: STRAIGHTENING_FEATURE_NAMES,
    };
    if (o.predictions !== undefined) {
      const csv = ['file,index,label,p_real,prediction'];
      r.testIndex.forEach((i, t) => {
        const real = i < R.videos;
        csv.push(`${JSON.stringify(real ? o.real : o.fake)},${real ? i : i - R.videos},${labels[i]},${r.testProbabilities[t]},${r.testProbabilities[t] >= r.threshold ? 1 : 0}`);
      });
      writeFileAtomic(o.predictions, csv.join('\n') + '\n');
      ctx.note(`wrote ${r.testIndex.length} test predictions to ${o.predictions}`);
    }
    if (o.json) {
      ctx.print(JSON.stringify(out));
      return;
    }
    ctx.print(`ReStraV detector: ${R.videos} real, ${F.videos} generated; balanced train ${out.n_train}, test ${out.n_test}; threshold ${r.threshold.toFixed(3)} (train F1 ${r.trainF1.toFixed(3)})`);
    ctx.print(`  accuracy  ${r.accuracy.toFixed(4)}`);
    ctx.print(`  precision ${r.precision.toFixed(4)}   recall ${r.recall.toFixed(4)}   F1 ${r.f1.toFixed(4)}   (real = positive)`);
    ctx.print(`  ROC AUC   ${r.auroc.toFixed(4)}   (mean curvature alone: ${aurocCurvature.toFixed(4)})`);
    ctx.print(`  mean curvature: real ${out.mean_curvature_real.toFixed(2)} deg, generated ${out.mean_curvature_fake.toFixed(2)} deg`);
    ctx.print('  paper (VidProM, DINOv2): accuracy 0.9717, AUROC 0.9863');
  },
};
