// Experiment view: a repro output directory's results as tables and interactive plots.
import { clear, fmt, fmtMetric, getJson, h, isCountKey } from './dom.js';
import { legend, linePlot, type Series } from './plot.js';
import type { ExperimentResponse, SummaryRowJson } from '../../src/explore/wire.js';

type Row = SummaryRowJson;
type View = ExperimentResponse;

const FALLBACK = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#7F7F7F'];
const AXIS_LABELS: Record<string, string> = { latents: 'n (latents)', active: 'k (active per sample)', samples: 'N (samples)' };

export async function experimentView(root: HTMLElement): Promise<void> {
  const v = await getJson<View>('api/experiment');
  const label = (m: string) => v.labels[m] ?? m;
  const color = (m: string) => v.colors[m] ?? FALLBACK[v.methods.indexOf(m) % FALLBACK.length];
  let metric = v.metrics.includes('mcc_ood') ? 'mcc_ood' : v.metrics[0];
  let xKey = v.varying[0] ?? '';
  let hidden = new Set<string>();

  root.append(h('h1', {}, `Experiment: ${v.experiment}${v.preset ? ` (preset ${v.preset})` : ''}`));
  root.append(h('p', { class: 'muted' }, `${v.lines} result lines, ${v.rows.length} config × method rows (mean ± std over seeds)`, v.badLines ? `, ${v.badLines} unreadable lines` : '', v.failed.length ? `, ${v.failed.length} failed cells` : '', '.'));

  const metricSel = h('select', { id: 'metric' });
  for (const m of v.metrics) metricSel.append(h('option', { value: m, selected: m === metric }, m));
  const xSel = h('select', { id: 'xkey' });
  for (const k of v.varying) xSel.append(h('option', { value: k, selected: k === xKey }, AXIS_LABELS[k] ?? k));
  const controls = h('div', { class: 'controls' }, h('label', {}, 'metric ', metricSel), v.varying.length ? h('label', {}, 'x axis ', xSel) : null);
  const plots = h('div', { class: 'plots', id: 'plots' });
  const legendBox = h('div', {});
  const tableBox = h('div', { class: 'table-box wide' });
  root.append(controls, legendBox, plots, h('h2', {}, 'All results'), tableBox);
  metricSel.addEventListener('change', () => { metric = metricSel.value; render(); });
  xSel.addEventListener('change', () => { xKey = xSel.value; render(); });

  function render(): void {
    clear(plots);
    clear(legendBox);
    legendBox.append(legend(v.methods.map((m) => ({ key: m, label: label(m), color: color(m), dashed: m.startsWith('fista-on-') })), hidden, (next) => { hidden = next; render(); }));
    if (xKey) {
      const others = v.varying.filter((k) => k !== xKey);
      const groups = new Map<string, Row[]>();
      for (const r of v.rows) {
        const g = others.map((k) => `${k} = ${r.config[k]}`).join(', ');
        if (!groups.has(g)) groups.set(g, []);
        groups.get(g)!.push(r);
      }
      for (const [g, rows] of groups) {
        const series: Series[] = v.methods.map((m) => ({
          key: m, label: label(m), color: color(m), dashed: m.startsWith('fista-on-'),
          points: rows.filter((r) => r.method === m && r.mean[metric] !== null && r.mean[metric] !== undefined)
            .map((r) => ({ x: Number(r.config[xKey]), y: r.mean[metric] as number, err: (r.std[metric] as number) || 0 })),
        }));
        const fixed = ['latents', 'active', 'samples'].filter((k) => k !== xKey && rows[0].config[k] !== undefined).map((k) => `${k} = ${rows[0].config[k]}`).join(', ');
        const isUnit = /^(mcc|acc|auc|dict)/.test(metric);
        plots.append(h('figure', {}, linePlot(series, { hidden, logX: true, xLabel: AXIS_LABELS[xKey] ?? xKey, yLabel: metric, title: `${metric} vs ${xKey}${g ? ` (${g})` : fixed ? ` (${fixed})` : ''}`, yMin: isUnit ? 0 : undefined, yMax: isUnit ? 1 : undefined })));
      }
    } else {
      plots.append(h('p', { class: 'muted' }, 'One configuration only: no sweep to plot; see the table.'));
    }
    renderTable();
  }

  function renderTable(): void {
    clear(tableBox);
    const keys = [...v.varying];
    const t = h('table', { class: 'results', id: 'results-table' });
    t.append(h('thead', {}, h('tr', {}, ...keys.map((k) => h('th', {}, k)), h('th', { class: 'method' }, 'method'), h('th', {}, 'seeds'), ...v.metrics.map((m) => h('th', { class: m === metric ? 'sorted' : '' }, m)))));
    const body = h('tbody', {});
    // columns of whole numbers (at least one >= 2): counts, shown as integers
    const intCols = new Set(v.metrics.filter((m) => {
      const vals = v.rows.map((r) => r.mean[m]).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
      return vals.length > 0 && vals.every((x) => Number.isInteger(x)) && vals.some((x) => Math.abs(x) >= 2);
    }));
    for (const r of v.rows) {
      if (hidden.has(r.method)) continue;
      body.append(h('tr', { 'data-method': r.method },
        ...keys.map((k) => h('td', {}, String(r.config[k]))),
        h('td', { class: 'method' }, h('span', { class: 'swatch', style: `background:${color(r.method)};border-color:${color(r.method)}` }), label(r.method)),
        h('td', {}, String(r.seeds.length) + (r.failed ? ` (+${r.failed} failed)` : '')),
        ...v.metrics.map((m) => h('td', { 'data-metric': m, 'data-value': r.mean[m] ?? '' }, r.mean[m] === null || r.mean[m] === undefined ? '—' : `${fmtMetric(m, r.mean[m], intCols.has(m))}${r.seeds.length > 1 ? ` ± ${intCols.has(m) || isCountKey(m) ? fmtMetric(m, r.std[m], true) : fmt(r.std[m])}` : ''}`)),
      ));
    }
    t.append(body);
    tableBox.append(t);
  }

  render();
  if (v.failed.length) {
    const ul = h('ul', {});
    for (const f of v.failed) ul.append(h('li', {}, `${f.method} ${JSON.stringify(f.config)}: ${f.error}`));
    root.append(h('h2', {}, 'Failed cells'), ul);
  }
  const files = h('ul', { class: 'files' });
  for (const f of v.files) files.append(h('li', {}, h('a', { href: `files/${encodeURIComponent(f)}`, target: '_blank', rel: 'noopener' }, f)));
  root.append(h('h2', {}, 'Files'), files);
}
