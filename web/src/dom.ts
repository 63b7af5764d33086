// Tiny DOM helpers: elements are built with textContent / attributes only (no innerHTML), so
// strings from files are always shown as text.
export type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | number | boolean | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'number' ? String(c) : c);
  }
}

const SVG_NS = 'http://www.w3.org/2000/svg';
export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number | undefined> = {}, ...children: (SVGElement | string)[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

/** A number for display: 3 decimals, or — for null / NaN. */
export function fmt(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  if (v !== 0 && Math.abs(v) < 10 ** -digits) return v.toExponential(1);
  return v.toFixed(digits);
}

/** Whether a metric or summary key counts things (samples, steps, dead latents, ...): shown as an integer. */
export function isCountKey(key: string): boolean {
  return /(^|[_-])(samples|steps|dead|alive|atoms|latents|rows|epochs|iterations|iters|count|cells|seeds|dim|clients|clusters|indices|hidden|n|k)$/i.test(key);
}

/**
 * A metric for display: counts as integers (a mean over seeds that is not whole gets one
 * decimal), everything else as fmt (3 decimals). `int` forces the count form (e.g. a column
 * whose every value is a whole number of at least 2).
 */
export function fmtMetric(key: string, v: number | null | undefined, int = false): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  if (int || isCountKey(key)) return Number.isInteger(v) ? String(v) : v.toFixed(1);
  return fmt(v);
}

export function clear(el: Element): void {
  while (el.firstChild) el.firstChild.remove();
}

export async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url);
  if (!r.ok) {
    let msg = `${r.status} ${r.statusText}`;
    try {
      msg = ((await r.json()) as { error?: string }).error ?? msg;
    } catch {
      /* keep the status */
    }
    throw new Error(`${url}: ${msg}`);
  }
  return (await r.json()) as T;
}
