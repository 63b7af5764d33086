import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { fail } from '../core/errors.js';
import { buildModelView, type ModelView } from './model-data.js';
import { isNeuronpediaExport, readNeuronpediaView } from './neuronpedia.js';
import { detectLayout } from '../io/sae-layouts.js';
import { buildExperimentView, isExperimentDir, type ExperimentView } from './experiment-data.js';
import { contentType, resolveInside } from './safe-path.js';
import type { DirKind, ErrorResponse, ExperimentResponse, FeatureResponse, InfoResponse, ModelResponse } from './wire.js';

/**
 * The explorer's HTTP server: the built web app (static files), a small read-only JSON API
 * over one directory (a model directory or a `repro` output directory), and that directory's
 * files under /files/. Binds 127.0.0.1 only, answers only GET/HEAD, only Host headers that
 * name the loopback (against DNS rebinding), and sends cross-origin isolation headers
 * (COOP/COEP) so the in-browser wasm backend can use threads over shared memory.
 *
 *   GET /api/info            {kind: 'model' | 'experiment', name, webBuilt}
 *   GET /api/model           {summary, features}                  (model directories)
 *   GET /api/feature/<i>     feature i's atom, histogram, top samples, neighbours
 *   GET /api/experiment      result rows, methods, metrics, files (repro directories)
 *   GET /files/<path>        a file under DIR (sandboxed: never runs as part of the app)
 *   GET /, /<asset>          the web app (index.html for /)
 */

export type { DirKind } from './wire.js';

export interface ExploreServerOptions {
  /** the directory to explore */
  dir: string;
  /** the built web app (index.html + assets) */
  webRoot: string;
  /** activations [samples x dim] the model encodes (model directories) */
  data?: string;
  /** true latents [samples x latents] of the same samples */
  truth?: string;
  /** port (0 = any free one) */
  port?: number;
  /** progress lines while the views are computed (what is computed, on how much) */
  note?: (line: string) => void;
}

export interface ExploreServer {
  url: string;
  port: number;
  kind: DirKind;
  /** notes about the model (ModelView.warnings) */
  warnings: string[];
  server: Server;
  close(): Promise<void>;
}

/**
 * Which view a directory gets: a model (any layout io/sae-layouts.ts reads: cfg.json,
 * hyperparams.json, params.npz, ...) or a Neuronpedia export (run_settings.json) gets the model
 * view; a repro directory (results.jsonl or sweep.json) the experiment view.
 */
export function detectDirKind(dir: string): DirKind {
  if (!existsSync(dir)) fail('E_IO', `${dir} does not exist`);
  if (existsSync(join(dir, 'cfg.json')) || isNeuronpediaExport(dir)) return 'model';
  if (isExperimentDir(dir)) return 'experiment';
  try {
    detectLayout(dir);
    return 'model';
  } catch {
    /* not a model either */
  }
  return fail('E_USAGE', `${dir} is neither a model directory (no cfg.json, hyperparams.json or params.npz), a "sparsecode export neuronpedia" folder (no run_settings.json) nor a "sparsecode repro" output directory (no results.jsonl or sweep.json)`);
}

const APP_CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval' blob:",
  "worker-src 'self' blob:",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'none'",
].join('; ');

/** DIR's own files: shown, never run (an SVG or HTML in DIR cannot script the app). */
const FILE_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:";

function baseHeaders(res: ServerResponse): void {
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
}

function send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string | Buffer, csp = APP_CSP): void {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Security-Policy', csp);
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.setHeader('Content-Length', String(buf.length));
  res.end(req.method === 'HEAD' ? undefined : buf);
}

function sendJson(req: IncomingMessage, res: ServerResponse, status: number, value: unknown): void {
  res.setHeader('Cache-Control', 'no-store');
  // NaN / Infinity become null (JSON has neither)
  send(req, res, status, 'application/json; charset=utf-8', JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)));
}

function sendError(req: IncomingMessage, res: ServerResponse, status: number, message: string): void {
  sendJson(req, res, status, { error: message } satisfies ErrorResponse);
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

function hostAllowed(host: string | undefined, port: number): boolean {
  if (!host) return false;
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host.toLowerCase());
  if (!m) return false;
  return LOOPBACK_HOSTS.has(m[1]) && (m[2] === undefined || Number(m[2]) === port);
}

/** Start the server (computes the model's feature table first). */
export async function startExploreServer(o: ExploreServerOptions): Promise<ExploreServer> {
  const dir = resolve(o.dir);
  const webRoot = resolve(o.webRoot);
  const kind = detectDirKind(dir);
  if (kind === 'experiment' && (o.data || o.truth)) fail('E_USAGE', '--data and --truth apply to model directories; this is a repro output directory');
  let model: ModelView | null = null;
  let experiment: ExperimentView | null = null;
  if (kind === 'model' && isNeuronpediaExport(dir)) {
    if (o.data || o.truth) fail('E_USAGE', '--data and --truth apply to model directories; a Neuronpedia export already holds the statistics of its data');
    model = readNeuronpediaView(dir);
  } else if (kind === 'model') model = buildModelView(dir, { data: o.data, truth: o.truth, note: o.note });
  // experiment views are rebuilt per request: a running sweep keeps appending results
  const webBuilt = existsSync(join(webRoot, 'index.html'));
  let port = 0;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    baseHeaders(res);
    if (!hostAllowed(req.headers.host, port)) return sendError(req, res, 403, 'this server answers only requests addressed to the loopback (127.0.0.1 or localhost)');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendError(req, res, 405, 'read-only server: GET and HEAD only');
    }
    const raw = req.url ?? '/';
    if (!raw.startsWith('/')) return sendError(req, res, 400, 'bad request path');
    const q = raw.indexOf('?');
    const path = q >= 0 ? raw.slice(0, q) : raw;
    // refuse any dot segment, raw or percent-encoded, before routing
    if (/(^|\/|%2f|%5c|\\)(\.|%2e){1,2}(\/|%2f|%5c|\\|$)/i.test(path)) return sendError(req, res, 403, 'path traversal refused');

    if (path === '/api/info') {
      return sendJson(req, res, 200, { kind, name: basename(dir), webBuilt } satisfies InfoResponse);
    }
    if (path === '/api/model') {
      if (!model) return sendError(req, res, 404, 'not a model directory');
      return sendJson(req, res, 200, { summary: model.summary, features: model.features } satisfies ModelResponse);
    }
    const fm = /^\/api\/feature\/(\d{1,9})$/.exec(path);
    if (fm) {
      if (!model) return sendError(req, res, 404, 'not a model directory');
      const i = Number(fm[1]);
      if (i >= model.summary.atoms) return sendError(req, res, 404, `no feature ${i}; the model has ${model.summary.atoms}`);
      return sendJson(req, res, 200, model.detail(i) satisfies FeatureResponse);
    }
    if (path === '/api/experiment') {
      if (kind !== 'experiment') return sendError(req, res, 404, 'not a repro output directory');
      try {
        experiment = buildExperimentView(dir);
      } catch (e) {
        return sendError(req, res, 500, (e as Error).message);
      }
      return sendJson(req, res, 200, experiment satisfies ExperimentResponse);
    }
    if (path.startsWith('/api/')) return sendError(req, res, 404, 'unknown API path');
    if (path.startsWith('/files/')) {
      const file = resolveInside(dir, path.slice('/files/'.length));
      if (!file) return sendError(req, res, 404, 'no such file in the explored directory');
      return send(req, res, 200, contentType(file), readFileSync(file), FILE_CSP);
    }
    if (!webBuilt) {
      return send(req, res, 503, 'text/plain; charset=utf-8', 'The explorer web app is not built. Run "npm run build:web" in the sparsecode folder, then start "sparsecode explore" again.\n');
    }
    const rel = path === '/' ? 'index.html' : path.slice(1);
    const file = resolveInside(webRoot, rel);
    if (!file) return sendError(req, res, 404, 'not found');
    if (!/\.html$/.test(file)) res.setHeader('Cache-Control', 'no-cache');
    return send(req, res, 200, contentType(file), readFileSync(file));
  };

  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (e) {
      if (!res.headersSent) sendError(req, res, 500, (e as Error).message);
      else res.destroy();
    }
  });
  await new Promise<void>((ok, bad) => {
    server.once('error', bad);
    server.listen(o.port ?? 0, '127.0.0.1', () => {
      server.off('error', bad);
      ok();
    });
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    kind,
    warnings: model?.warnings ?? [],
    server,
    close: () => new Promise<void>((ok) => {
      server.closeAllConnections?.();
      server.close(() => ok());
    }),
  };
}

/** Where the built web app lives: dist/web under the package folder. */
export function defaultWebRoot(packageDir: string): string {
  return join(packageDir, 'dist', 'web');
}
