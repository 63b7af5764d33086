import { spawn } from 'node:child_process';
import { fail } from '../../core/errors.js';
import { packageRoot } from '../../io/paths.js';
import { defaultWebRoot, startExploreServer } from '../../explore/server.js';
import type { Command } from '../command.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

function openBrowser(url: string): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  try {
    const child = spawn(cmd, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => {});
    child.unref();
  } catch {
    /* no opener: the URL is printed anyway */
  }
}

export const exploreCommand: Command = {
  name: 'explore',
  summary: 'browse a model directory or a repro output directory in the web explorer (local server)',
  usage: 'explore DIR [--port P] [--data X.npy] [--truth Z.npy] [--no-open]',
  description: [
    'Starts a local web server on 127.0.0.1 (loopback only) and prints its URL. Stop it with Ctrl-C.',
    'DIR is a model (a "sparsecode fit" folder, or any layout "sparsecode inspect" reads: SAELens,',
    'Gemma Scope, sparsify, Llama Scope), a "sparsecode export neuronpedia" folder (its dashboards are',
    'shown as they are; --data and --truth do not apply), or a "sparsecode repro" output directory',
    '(results.jsonl, report.md); the view is picked from its files.',
    'Model view: sortable feature table, feature panels (activation histogram, top-activating samples,',
    '  the atom, nearest atoms), summary metrics. --data X.npy [samples x dim] gives activations to',
    '  encode; --truth Z.npy [samples x latents] the true latents of the same rows: every code column is',
    '  correlated with every latent (one GEMM) and matched one to one (Hungarian; MCC), and the true',
    '  directions are estimated by least squares X ≈ Z·A + b (normal equations) to give each atom\'s cosine',
    '  with its latent\'s direction. Seconds at 10k rows x 1024 dims (a line on stderr says each step).',
    'Experiment view: result tables and interactive plots.',
    'Playground (#/play, always there): a superposition world and linear probe, TopK SAE, DL-FISTA and',
    '  the FISTA oracle trained live in the browser on the wasm backend.',
    'The web app must be built once: npm run build:web (writes dist/web/).',
  ].join('\n'),
  positionals: [{ name: 'DIR', help: 'model directory or repro output directory', required: true }],
  options: [
    { name: 'port', type: 'int', help: 'port on 127.0.0.1 (0 = any free port)', default: 0, metavar: 'P' },
    { name: 'data', type: 'string', help: 'activations [samples x dim] for the model view (.npy, or FILE.safetensors:NAME)', metavar: 'X.npy' },
    { name: 'truth', type: 'string', help: 'true latents [samples x latents] of the --data rows (.npy, or FILE.safetensors:NAME)', metavar: 'Z.npy' },
    { name: 'open', type: 'boolean', help: 'open the URL in the default browser (--no-open: only print it)', default: true },
  ],
  examples: [
    'sparsecode explore runs/sae --data acts.npy',
    'sparsecode explore runs/sae --data X.npy --truth Z.npy --port 8080 --no-open',
    'sparsecode explore out/stop-probing',
  ],
  async run(ctx) {
    const dir = ctx.positionals[0];
    if (!dir) fail('E_USAGE', 'missing DIR: a model directory or a repro output directory');
    const port = ctx.opts.port as number;
    if (!Number.isInteger(port) || port < 0 || port > 65535) fail('E_USAGE', `--port must be an integer in [0, 65535], got ${port}`);
    const webRoot = process.env.SPARSECODE_WEB_ROOT || defaultWebRoot(packageRoot());
    if (!existsSync(join(webRoot, 'index.html'))) {
      fail('E_USAGE', `the explorer's web app is not built (no ${join(webRoot, 'index.html')}); run "npm run build:web" in ${packageRoot()} first`);
    }
    let srv;
    try {
      srv = await startExploreServer({ dir, webRoot, data: ctx.opts.data, truth: ctx.opts.truth, port, note: ctx.note });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') fail('E_USAGE', `port ${port} on 127.0.0.1 is in use; pick another with --port, or --port 0 for any free one`);
      if (code === 'EACCES') fail('E_USAGE', `not allowed to listen on port ${port}; use a port above 1023`);
      throw e;
    }
    ctx.print(`sparsecode explore: ${srv.kind} view of ${dir} at ${srv.url}`);
    ctx.print(`playground: ${srv.url}#/play`);
    for (const w of srv.warnings) ctx.note(w);
    ctx.note('(loopback only; Ctrl-C stops the server)');
    if (ctx.opts.open && process.stdout.isTTY) openBrowser(srv.url);
    await new Promise<void>((ok) => {
      if (ctx.signal.aborted) return ok();
      ctx.signal.addEventListener('abort', () => ok(), { once: true });
    });
    await srv.close();
    return 0;
  },
};
