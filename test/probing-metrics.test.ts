import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { binaryScores, bestF1Threshold, linspace, thresholdPredictions } from '../src/metrics/classification.js';
import { mape, powerLawFit } from '../src/metrics/regression-scores.js';
import { auc } from '../src/metrics/auc.js';
import { spearman } from '../src/alignment/common.js';
import { assertThrowsCode } from './helpers.js';

const ref = JSON.parse(readFileSync('test/fixtures/probing/metrics.json', 'utf8'));
const close = (a: number, b: number, tol = 1e-12, what = '') => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

test('accuracy, precision, recall, F1 equal scikit-learn (zero_division = 0)', () => {
  for (const c of ref.binary) {
    const s = binaryScores(c.labels, c.predictions);
    close(s.accuracy, c.accuracy, 1e-12, 'accuracy');
    close(s.precision, c.precision, 1e-12, 'precision');
    close(s.recall, c.recall, 1e-12, 'recall');
    close(s.f1, c.f1, 1e-12, 'f1');
    assert.equal(s.tp + s.fp + s.tn + s.fn, c.labels.length);
  }
  assertThrowsCode(() => binaryScores([0, 1, 2], [0, 1, 1]), 'E_ARG', /binary labels/);
  assertThrowsCode(() => binaryScores([0, 1], [0, 1, 1]), 'E_SHAPE');
});

test('the F1 threshold search equals ReStraV train.py (81 thresholds in [0.1, 0.9], first strict best)', () => {
  const grid = linspace(0.1, 0.9, 81);
  assert.equal(grid.length, 81);
  close(grid[40], 0.5, 1e-15, 'grid middle');
  for (const c of ref.threshold) {
    const r = bestF1Threshold(c.scores, c.labels);
    close(r.threshold, c.threshold, 1e-12, 'tau');
    close(r.f1, c.f1, 1e-12, 'f1');
    close(auc(c.scores, c.labels), c.auc, 1e-12, 'auc');
  }
  // nothing beats F1 = 0: tau stays 0.5
  assert.deepEqual(bestF1Threshold([0.95, 0.99], [0, 0]), { threshold: 0.5, f1: 0 });
  assert.deepEqual(Array.from(thresholdPredictions([0.2, 0.5, 0.7], 0.5)), [0, 1, 1]);
});

test('MAPE equals scikit-learn; Spearman equals SciPy (ties by average rank)', () => {
  for (const c of ref.mape) close(mape(c.predicted, c.truth), c.mape, 1e-12, 'mape');
  for (const c of ref.spearman) close(spearman(c.x, c.y), c.rho, 1e-12, 'spearman');
  assertThrowsCode(() => mape([1, 2], [1]), 'E_SHAPE');
  assertThrowsCode(() => mape([NaN], [1]), 'E_NONFINITE');
});

test('power-law fit equals numpy.polyfit in log-log space, skipping non-positive values', () => {
  const c = ref.powerlaw[0];
  const f = powerLawFit(c.x, c.y);
  close(f.exponent, c.exponent, 1e-10, 'exponent');
  close(f.coefficient, c.coefficient, 1e-10, 'coefficient');
  assert.equal(f.used, c.used);
  // exact power law
  const x = [0.5, 1, 2, 4, 8];
  const g = powerLawFit(x, x.map((v) => 3 * v ** -2));
  close(g.exponent, -2, 1e-12, 'exact exponent');
  close(g.coefficient, 3, 1e-12, 'exact coefficient');
  close(g.r2, 1, 1e-12, 'r2');
  assertThrowsCode(() => powerLawFit([1, 1, 1], [1, 2, 3]), 'E_ARG', /every x is the same/);
  assertThrowsCode(() => powerLawFit([1, 2], [-1, 0]), 'E_ARG', /only 0 pairs/);
});
