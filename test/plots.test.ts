import { test } from 'node:test';
import assert from 'node:assert/strict';
import { histogramCounts, histogramPlot, scatterPlot } from '../src/experiments/plots.js';
import { assertThrowsCode } from './helpers.js';

test('histogram counts: equal bins, ends clamped, non-finite skipped', () => {
  assert.deepEqual(Array.from(histogramCounts([0, 0.5, 1, 1.5, 2, -3, 9, NaN], 4, 0, 2)), [2, 1, 1, 3]);
  assertThrowsCode(() => histogramCounts([1], 0, 0, 1), 'E_ARG');
  assertThrowsCode(() => histogramCounts([1], 3, 1, 1), 'E_ARG');
});

test('histogram and scatter plots are standalone SVG with one group per series and a legend', () => {
  const h = histogramPlot({ series: [{ name: 'natural', values: [1, 2, 2, 3] }, { name: 'generated <b>', values: [5, 6, 6, 7] }], bins: 6, lo: 0, hi: 8, title: 'T' });
  assert.match(h, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.equal((h.match(/<g class="series"/g) ?? []).length, 2);
  assert.match(h, /generated &lt;b&gt;/);
  assert.ok(h.trim().endsWith('</svg>'));
  const d = histogramPlot({ series: [{ name: 'a', values: [1, 1, 2] }], bins: 2, lo: 0, hi: 4, normalize: 'density' });
  assert.match(d, />density</);
  const s = scatterPlot({ series: [{ name: 'decoded', x: [1, 2, 4, -1], y: [1, 0.25, 0.0625, 3] }], logX: true, logY: true, lines: [{ name: '1/r²', coefficient: 1, power: -2 }] });
  assert.equal((s.match(/<circle/g) ?? []).length, 3); // the point with x < 0 is left out on a log axis
  assert.match(s, /class="reference"/);
  assertThrowsCode(() => scatterPlot({ series: [{ name: 'x', x: [1], y: [1, 2] }] }), 'E_SHAPE');
});
