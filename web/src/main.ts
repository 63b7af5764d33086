// Explorer entry: picks the view from the server (/api/info) and the hash (#/play).
import './style.css';
import { clear, getJson, h } from './dom.js';
import { modelView } from './model-view.js';
import { experimentView } from './experiment-view.js';
import { playground } from './playground.js';
import { lejepaView } from './lejepa-view.js';
import type { InfoResponse } from '../../src/explore/wire.js';

type Info = InfoResponse;

const app = document.getElementById('app')!;
const nav = document.getElementById('nav')!;
let info: Info | null = null;

async function route(): Promise<void> {
  const [path, qs] = location.hash.replace(/^#/, '').split('?');
  const query = new URLSearchParams(qs ?? '');
  if (info === undefined || info === null) {
    try {
      info = await getJson<Info>('api/info');
    } catch {
      info = null; // served without the API (vite dev): playground only
    }
  }
  clear(nav);
  nav.append(h('span', { class: 'brand' }, 'sparsecode explorer'));
  if (info) nav.append(h('a', { href: '#/', class: path !== '/play' && path !== '/lejepa' ? 'active' : '' }, info.kind === 'model' ? `Model ${info.name}` : `Experiment ${info.name}`));
  nav.append(h('a', { href: '#/play', class: path === '/play' ? 'active' : '' }, 'Playground'));
  nav.append(h('a', { href: '#/lejepa', class: path === '/lejepa' ? 'active' : '' }, 'LeJEPA'));
  clear(app);
  delete app.dataset.state;
  try {
    if (path === '/lejepa') lejepaView(app, query);
    else if (path === '/play' || !info) playground(app, query);
    else if (info.kind === 'model') await modelView(app);
    else await experimentView(app);
    document.body.dataset.view = path === '/lejepa' ? 'lejepa' : path === '/play' || !info ? 'play' : info.kind;
  } catch (e) {
    app.append(h('p', { class: 'problem' }, `Could not load this view: ${(e as Error).message}`));
    document.body.dataset.view = 'error';
  }
}

window.addEventListener('hashchange', () => void route());
void route();
