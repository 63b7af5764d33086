// Model view: summary metrics, a sortable feature table and a feature panel.
import { clear, fmt, fmtMetric, getJson, h } from './dom.js';
import { histogram, strip } from './plot.js';
import type { FeatureResponse, FeatureRowJson, ModelResponse, ModelSummaryJson } from '../../src/explore/wire.js';

type FeatureRow = FeatureRowJson;
type Summary = ModelSummaryJson;

type Col = { key: keyof FeatureRow; label: string; title: string; when?: (s: Summary) => boolean; int?: boolean };
const COLUMNS: Col[] = [
  { key: 'index', label: '#', title: 'feature (atom) index', int: true },
  { key: 'frequency', label: 'frequency', title: 'fraction of samples where the feature is non-zero', when: (s) => !!s.data },
  { key: 'meanActive', label: 'mean act.', title: 'mean activation over the samples where it fires', when: (s) => !!s.data },
  { key: 'max', label: 'max act.', title: 'largest activation', when: (s) => !!s.data },
  { key: 'nearestCos', label: 'nearest |cos|', title: 'largest |cosine| with another atom' },
  { key: 'latent', label: 'true latent', title: 'ground-truth latent matched to this feature (MCC matching)', when: (s) => !!s.truth, int: true },
  { key: 'corr', label: '|r|', title: '|Pearson r| between the feature and its matched latent', when: (s) => !!s.truth },
  { key: 'cos', label: 'atom cos', title: '|cosine| between the atom and the matched latent’s direction (least squares of X on Z*)', when: (s) => !!s.truth },
];
const MAX_ROWS = 400;
const METRIC_LABELS: Record<string, string> = {
  samples: 'samples', l0: 'mean L0', dead: 'dead features', mse: 'MSE', fve: 'variance explained', mcc: 'MCC', dict_mean_cos: 'dictionary mean |cos|', dict_frac_090: 'atoms with |cos| > 0.9',
};

export async function modelView(root: HTMLElement): Promise<void> {
  const { summary, features } = await getJson<ModelResponse>('api/model');
  const cols = COLUMNS.filter((c) => !c.when || c.when(summary));
  let sortKey: keyof FeatureRow = summary.data ? 'frequency' : 'index';
  let desc = !!summary.data;
  let selected = -1;

  const cards = h('div', { class: 'cards' },
    card('model', summary.kind + (summary.k ? ` (k = ${summary.k})` : '')),
    card('features × dim', `${summary.atoms} × ${summary.dim}`),
    ...Object.entries(summary.metrics).map(([k, v]) => card(METRIC_LABELS[k] ?? k, fmtMetric(k, v), k)),
  );
  const note = h('p', { class: 'muted' },
    summary.data ? `Activations: ${summary.data.path} (${summary.data.samples} samples).` : 'No --data given: frequencies, activations and top samples need activations (sparsecode explore DIR --data X.npy).',
    summary.truth ? ` Truth: ${summary.truth.path} (${summary.truth.latents} latents).` : '');
  const filter = h('input', { type: 'number', min: 0, max: summary.atoms - 1, placeholder: 'go to feature #', class: 'goto' });
  const table = h('table', { class: 'features', id: 'feature-table' });
  const panel = h('section', { class: 'panel', id: 'feature-panel' }, h('p', { class: 'muted' }, 'Pick a feature in the table.'));
  root.append(h('h1', {}, `Model: ${summary.dir}`), cards, note, h('div', { class: 'split' }, h('div', { class: 'table-box' }, filter, table), panel));
  filter.addEventListener('change', () => {
    const i = Number(filter.value);
    if (Number.isInteger(i) && i >= 0 && i < summary.atoms) void select(i);
  });

  function renderTable(): void {
    clear(table);
    const head = h('tr', {});
    for (const c of cols) {
      const th = h('th', { title: c.title, 'data-key': c.key, class: c.key === sortKey ? (desc ? 'sorted desc' : 'sorted asc') : '' }, c.label);
      th.addEventListener('click', () => {
        if (sortKey === c.key) desc = !desc;
        else { sortKey = c.key; desc = c.key !== 'index' && c.key !== 'latent'; }
        renderTable();
      });
      head.append(th);
    }
    table.append(h('thead', {}, head));
    const val = (r: FeatureRow) => { const v = r[sortKey]; return v === null || !Number.isFinite(v as number) ? -Infinity : (v as number); };
    const rows = [...features].sort((a, b) => (desc ? val(b) - val(a) : val(a) - val(b)) || a.index - b.index);
    const body = h('tbody', {});
    for (const r of rows.slice(0, MAX_ROWS)) {
      const tr = h('tr', { 'data-index': r.index, class: r.index === selected ? 'sel' : '' });
      for (const c of cols) tr.append(h('td', {}, c.int ? (r[c.key] === null ? '—' : String(r[c.key])) : fmt(r[c.key] as number | null)));
      tr.addEventListener('click', () => void select(r.index));
      body.append(tr);
    }
    table.append(body);
    if (rows.length > MAX_ROWS) table.append(h('caption', {}, `first ${MAX_ROWS} of ${rows.length} features by this order; go to any feature by number above`));
  }

  async function select(i: number): Promise<void> {
    selected = i;
    for (const tr of table.querySelectorAll('tr.sel')) tr.classList.remove('sel');
    table.querySelector(`tr[data-index="${i}"]`)?.classList.add('sel');
    const d = await getJson<FeatureResponse>(`api/feature/${i}`);
    clear(panel);
    panel.append(h('h2', {}, `Feature ${i}`));
    const facts = h('p', { class: 'facts' });
    if (d.row.frequency !== null) facts.append(`fires on ${fmt(100 * d.row.frequency, 1)}% of samples · mean ${fmt(d.row.meanActive)} · max ${fmt(d.row.max)}`);
    if (d.row.latent !== null) facts.append(h('br'), `matched true latent ${d.row.latent}: |r| = ${fmt(d.row.corr)}, atom |cos| = ${fmt(d.row.cos)}`);
    panel.append(facts);
    if (d.histogram) panel.append(h('h3', {}, 'Activation histogram (non-zero values)'), histogram(d.histogram.edges, d.histogram.counts, { xLabel: 'activation' }));
    panel.append(h('h3', {}, `Atom (decoder row, ${d.atom.length} dims; red +, blue −)`), strip(d.atom));
    if (d.trueAtom) {
      const sign = d.atom.reduce((acc, v, j) => acc + v * d.trueAtom![j], 0) >= 0 ? 1 : -1;
      panel.append(h('div', { class: 'muted' }, `matched true direction (latent ${d.row.latent})`), strip(d.trueAtom.map((v) => v * sign)));
    }
    const nb = h('ol', { class: 'neighbours' });
    for (const n of d.neighbours) {
      const a = h('a', { href: '#', 'data-index': n.index }, `#${n.index}`);
      a.addEventListener('click', (ev) => { ev.preventDefault(); void select(n.index); });
      nb.append(h('li', {}, a, ` cos ${fmt(n.cos)}`));
    }
    panel.append(h('h3', {}, 'Nearest atoms'), nb);
    if (d.top.length) {
      const t = h('table', { class: 'top' }, h('thead', {}, h('tr', {}, h('th', {}, 'sample'), h('th', {}, 'activation'), d.top[0].latents ? h('th', {}, 'true latents active (value)') : null)));
      const tb = h('tbody', {});
      for (const x of d.top) tb.append(h('tr', {}, h('td', {}, String(x.sample)), h('td', {}, fmt(x.value)), x.latents ? h('td', {}, x.latents.map((l) => `${l.latent} (${fmt(l.value, 2)})`).join(', ')) : null));
      t.append(tb);
      panel.append(h('h3', {}, 'Top-activating samples'), t);
    }
  }

  renderTable();
  const first = [...features].sort((a, b) => ((b.frequency ?? 0) - (a.frequency ?? 0)) || a.index - b.index)[0];
  if (first) await select(first.index);
}

function card(label: string, value: string, key?: string): HTMLElement {
  return h('div', { class: 'card', 'data-metric': key }, h('div', { class: 'card-label' }, label), h('div', { class: 'card-value' }, value));
}
