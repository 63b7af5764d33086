import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeXml, formatTick, linePlot, logTicks, niceTicks } from '../src/experiments/svg.js';
import { metricPlot, aggregate } from '../src/experiments/report.js';

interface Node {
  name: string;
  attrs: Record<string, string>;
  children: Node[];
  text: string;
}

/** A strict little XML parser: balanced tags, quoted attributes, known entities only. */
function parseXml(s: string): Node {
  let i = 0;
  const root: Node = { name: '#root', attrs: {}, children: [], text: '' };
  const stack: Node[] = [root];
  const decode = (t: string) => {
    const bad = t.match(/&(?!(amp|lt|gt|quot|apos);)/);
    if (bad) throw new Error(`bad entity near "${t.slice(0, 40)}"`);
    if (/[<>]/.test(t.replace(/&(amp|lt|gt|quot|apos);/g, ''))) throw new Error(`raw < or > in text "${t}"`);
    return t.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
  };
  while (i < s.length) {
    const lt = s.indexOf('<', i);
    if (lt < 0) {
      if (s.slice(i).trim()) throw new Error('text after the root element');
      break;
    }
    const text = s.slice(i, lt);
    if (text.trim()) stack.at(-1)!.text += decode(text);
    const gt = s.indexOf('>', lt);
    if (gt < 0) throw new Error('unterminated tag');
    const tag = s.slice(lt + 1, gt);
    i = gt + 1;
    if (tag.startsWith('/')) {
      const open = stack.pop()!;
      if (open.name !== tag.slice(1)) throw new Error(`</${tag.slice(1)}> closes <${open.name}>`);
      continue;
    }
    const selfClose = tag.endsWith('/');
    const body = selfClose ? tag.slice(0, -1) : tag;
    const m = body.match(/^([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*$/);
    if (!m) throw new Error(`malformed tag <${tag}>`);
    const attrs: Record<string, string> = {};
    for (const a of m[2].matchAll(/([\w:-]+)="([^"]*)"/g)) {
      if (a[1] in attrs) throw new Error(`duplicate attribute ${a[1]}`);
      attrs[a[1]] = decode(a[2]);
    }
    const node: Node = { name: m[1], attrs, children: [], text: '' };
    stack.at(-1)!.children.push(node);
    if (!selfClose) stack.push(node);
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack.at(-1)!.name}>`);
  if (root.children.length !== 1) throw new Error('need exactly one root element');
  return root.children[0];
}

function all(n: Node, name: string, out: Node[] = []): Node[] {
  if (n.name === name) out.push(n);
  for (const c of n.children) all(c, name, out);
  return out;
}

test('the strict parser used below rejects broken XML', () => {
  assert.throws(() => parseXml('<svg><g></svg>'));
  assert.throws(() => parseXml('<svg><text>a < b</text></svg>'));
  assert.throws(() => parseXml('<svg a="1" a="2"/>'));
  assert.throws(() => parseXml('<svg><text>R&D</text></svg>'));
  assert.equal(parseXml('<svg><text>R&amp;D</text></svg>').children[0].text, 'R&D');
});

test('linePlot is well-formed SVG with one group per series, points, error bars and a legend', () => {
  const svg = linePlot({
    title: 'MCC <OOD> & friends',
    xLabel: 'n',
    yLabel: 'MCC',
    logX: true,
    yMin: 0,
    yMax: 1,
    series: [
      { name: 'oracle', points: [{ x: 50, y: 0.97, err: 0.01 }, { x: 100, y: 0.98, err: 0.02 }, { x: 1000, y: 0.99 }] },
      { name: 'probe "ridge"', points: [{ x: 50, y: 0.75, err: 0.05 }, { x: 100, y: NaN }, { x: 1000, y: 0.16, err: 0 }], dashed: true },
    ],
  });
  const root = parseXml(svg);
  assert.equal(root.name, 'svg');
  assert.equal(root.attrs.xmlns, 'http://www.w3.org/2000/svg');
  assert.equal(root.attrs.viewBox, '0 0 720 400');
  const series = all(root, 'g').filter((g) => g.attrs.class === 'series');
  assert.deepEqual(series.map((g) => g.attrs['data-name']), ['oracle', 'probe "ridge"']);
  assert.equal(all(series[0], 'circle').length, 3);
  assert.equal(all(series[1], 'circle').length, 2, 'NaN points are skipped');
  const bars = (g: Node) => all(g, 'path').filter((p) => p.attrs.class === 'errorbar').length;
  assert.equal(bars(series[0]), 2);
  assert.equal(bars(series[1]), 1, 'zero error draws no bar');
  const lines = all(series[1], 'path').filter((p) => p.attrs.class !== 'errorbar');
  assert.equal(lines[0].attrs['stroke-dasharray'], '6 4');
  const texts = all(root, 'text').map((t) => t.text);
  assert.ok(texts.includes('MCC <OOD> & friends'), 'title escaped and round-trips');
  assert.ok(texts.includes('n (log scale)'));
  assert.ok(texts.includes('oracle') && texts.includes('probe "ridge"'), 'legend');
  // log-x ticks: 50..1000 spans < 3 decades, so 1-2-5 ticks
  const xt = all(root, 'g').find((g) => g.attrs.class === 'x-ticks')!.children.map((t) => t.text);
  assert.deepEqual(xt, ['50', '100', '200', '500', '1k']);
  // points are placed inside the frame, in x order, log spacing: 100 is halfway between 10 and 1000 in log space
  const frame = all(root, 'rect').find((r) => r.attrs.class === 'frame')!;
  const fx = Number(frame.attrs.x), fw = Number(frame.attrs.width), fy = Number(frame.attrs.y), fh = Number(frame.attrs.height);
  const cx = all(series[0], 'circle').map((c) => Number(c.attrs.cx));
  const cy = all(series[0], 'circle').map((c) => Number(c.attrs.cy));
  for (let i = 0; i < 3; i++) {
    assert.ok(cx[i] > fx && cx[i] < fx + fw);
    assert.ok(cy[i] > fy && cy[i] < fy + fh);
  }
  const ratio = (cx[1] - cx[0]) / (cx[2] - cx[1]);
  assert.ok(Math.abs(ratio - Math.log10(2) / Math.log10(10)) < 0.01, `log spacing, ratio ${ratio}`);
  // y: 0.97 maps to 3% of the height below the top (yMin 0, yMax 1)
  assert.ok(Math.abs(cy[0] - (fy + 0.03 * fh)) < 0.02);
});

test('linePlot: a linear axis, empty input, bad input', () => {
  const root = parseXml(linePlot({ series: [{ name: 'a', points: [{ x: 0, y: 1 }, { x: 10, y: 3 }] }] }));
  assert.equal(all(root, 'circle').length, 2 + 1); // two points and one legend marker
  const empty = parseXml(linePlot({ series: [] }));
  assert.equal(empty.name, 'svg');
  assert.throws(() => linePlot({ logX: true, series: [{ name: 'a', points: [{ x: 0, y: 1 }] }] }), (e: any) => e.code === 'E_ARG' && /x > 0/.test(e.message));
  assert.throws(() => linePlot({ width: 10, series: [] }), (e: any) => e.code === 'E_ARG');
});

test('tick helpers', () => {
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0.13, 0.87, 4), [0.2, 0.4, 0.6, 0.8]);
  assert.deepEqual(logTicks(50, 10000), [100, 1000, 10000]);
  assert.deepEqual(logTicks(2, 90), [2, 5, 10, 20, 50]);
  assert.equal(formatTick(10000), '10k');
  assert.equal(formatTick(100000), '100k');
  assert.equal(formatTick(2e6), '2M');
  assert.equal(formatTick(0.30000000000000004), '0.3');
  assert.equal(escapeXml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
});

test('metricPlot: one series per method with std error bars from aggregated rows', () => {
  const rows = aggregate([
    { config: { latents: 50, seed: 0 }, method: 'oracle', metrics: { mcc_ood: 0.9 }, seconds: 0 },
    { config: { latents: 50, seed: 1 }, method: 'oracle', metrics: { mcc_ood: 1.0 }, seconds: 0 },
    { config: { latents: 100, seed: 0 }, method: 'oracle', metrics: { mcc_ood: 0.95 }, seconds: 0 },
    { config: { latents: 50, seed: 0 }, method: 'probe', metrics: { mcc_ood: 0.5 }, seconds: 0 },
  ]);
  const root = parseXml(metricPlot(rows, { xKey: 'latents', metric: 'mcc_ood', logX: true, labels: { oracle: 'FISTA oracle' } }));
  const series = all(root, 'g').filter((g) => g.attrs.class === 'series');
  assert.deepEqual(series.map((s) => s.attrs['data-name']), ['FISTA oracle', 'probe']);
  assert.equal(all(series[0], 'path').filter((p) => p.attrs.class === 'errorbar').length, 1);
});
