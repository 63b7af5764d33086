import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reproCommand } from '../src/cli/commands/repro.js';
import type { Context } from '../src/cli/command.js';

/**
 * `sparsecode repro <experiment>`: one rule for every experiment: an option the experiment does
 * not accept is refused (E_USAGE, exit 2) before anything runs or is written.
 */

const SHARED = ['preset', 'seeds', 'methods', 'out', 'json', 'queue', 'wait', 'attempts'];
/** which experiment-specific options each experiment accepts (the contract in the usage text) */
const ACCEPTS: Record<string, string[]> = {
  'stop-probing': ['sweep', 'latents', 'active', 'samples', 'dim', 'epochs', 'checkpoint-seconds', 'dl-dead-atoms'],
  'alignment-superposition': ['sweep', 'latents', 'dims', 'active', 'samples'],
  'hidden-alignment': ['hidden'],
  'amortisation-gap': ['setting', 'steps'],
  whitening: ['conditions', 'whiten'],
  'federated-factory': ['clients', 'generator'],
  interpretability: ['ratios', 'worlds'],
  'causal-rungs': [],
  'synth-sae-bench': ['steps', 'lr', 'jumprelu-loss'],
  lejepa: ['experiment', 'objectives', 'latents', 'alphas', 'steps'],
  restrav: [],
  phyip: [],
  'rich-lazy': ['deltas', 'taus', 'steps'],
  'cross-entropy': ['indices', 'clusters', 'kappa', 'steps'],
  slowvae: ['world', 'rates', 'steps'],
};
/** a valid value of each option, per experiment where it matters */
function value(experiment: string, option: string): unknown {
  const v: Record<string, unknown> = {
    sweep: experiment === 'alignment-superposition' ? 'dims' : 'latents',
    latents: [20], active: [3], samples: [300], dim: 12, dims: [10], epochs: 2, 'checkpoint-seconds': 5,
    hidden: [8], setting: 'known', steps: 10, conditions: [10], whiten: ['zca'],
    clients: [10], generator: ['gaussian'], ratios: [4], worlds: ['concepts'],
    experiment: ['2d'], objectives: ['sigreg'], alphas: [2],
    deltas: ['0'], taus: ['1'], indices: [100], clusters: 10, kappa: 10, world: ['sprites'], rates: ['1'], lr: 1e-3, 'jumprelu-loss': 'step-ssb',
    'dl-dead-atoms': 'redraw',
  };
  return v[option];
}

function ctx(positionals: string[], opts: Record<string, unknown>): Context {
  const bar = { update() {}, finish() {} };
  return {
    opts: { preset: 'quick', ...opts },
    positionals,
    print() {},
    note() {},
    progress: () => bar as unknown as ReturnType<Context['progress']>,
    signal: new AbortController().signal,
  };
}

async function usageError(positionals: string[], opts: Record<string, unknown>): Promise<string> {
  try {
    await reproCommand.run(ctx(positionals, opts));
  } catch (e: any) {
    assert.equal(e?.code, 'E_USAGE', `${positionals[0]} ${JSON.stringify(opts)}: expected E_USAGE, got ${e?.code}: ${e?.message}`);
    return e.message as string;
  }
  assert.fail(`${positionals[0]} ${JSON.stringify(opts)} ran instead of failing`);
}

test('repro: every experiment refuses the options it does not accept, and only those', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sparsecode-repro-opts-'));
  try {
    const specific = reproCommand.options.map((o) => o.name).filter((n) => !SHARED.includes(n));
    const experiments = reproCommand.positionals![0].choices!;
    assert.deepEqual([...experiments].sort(), Object.keys(ACCEPTS).sort());
    for (const option of specific) assert.notEqual(value('whitening', option), undefined, `no test value for --${option}`);
    for (const experiment of experiments) {
      for (const option of specific) {
        const out = join(dir, `${experiment}-${option}`);
        // an invalid seed stops an accepted option's run before any work; a refused option never gets there
        const msg = await usageError([experiment], { [option]: value(experiment, option), seeds: [-1], out });
        if (ACCEPTS[experiment].includes(option)) assert.match(msg, /--seeds must be non-negative/, `${experiment} --${option}: ${msg}`);
        else assert.equal(msg, `--${option} does not apply to repro ${experiment}`);
        assert.ok(!existsSync(join(out, 'sweep.json')), `${experiment} --${option} wrote ${out}`);
      }
    }
    // methods of another experiment, sweeps of another experiment, non-positive counts, extra arguments
    assert.match(await usageError(['whitening'], { methods: ['oracle'] }), /"oracle" is not a method of whitening; choose from relu-sae, topk-sae or one of/);
    assert.match(await usageError(['stop-probing'], { methods: ['sae'] }), /"sae" is not a method of stop-probing/);
    assert.match(await usageError(['stop-probing'], { sweep: 'dims' }), /--sweep for stop-probing is latents, sparsity or samples, got dims/);
    assert.match(await usageError(['alignment-superposition'], { sweep: 'samples' }), /--sweep for alignment-superposition is dims or latents, got samples/);
    assert.match(await usageError(['amortisation-gap'], { steps: 0 }), /--steps must be >= 1, got 0/);
    assert.match(await usageError(['stop-probing'], { epochs: 0 }), /--epochs must be >= 1, got 0/);
    assert.match(await usageError(['synth-sae-bench'], { lr: 0 }), /--lr must be a learning rate in \(0, 1\), got 0/);
    assert.match(await usageError(['synth-sae-bench'], { 'jumprelu-loss': 'l1' }), /--jumprelu-loss must be one of tanh, step-ssb, step, got l1/);
    assert.match(await usageError(['hidden-alignment', 'extra'], {}), /unexpected argument "extra"/);
    // the queue options: --wait and --attempts need --queue; a bad URL is refused before anything is written
    assert.match(await usageError(['stop-probing'], { wait: true }), /--wait applies to a queue run: add --queue/);
    assert.match(await usageError(['whitening'], { attempts: 2 }), /--attempts applies to a queue run/);
    assert.match(await usageError(['stop-probing'], { 'checkpoint-seconds': 0 }), /--checkpoint-seconds must be a positive number/);
    assert.match(await usageError(['stop-probing'], { 'checkpoint-seconds': 5, queue: 'redis://127.0.0.1:1' }), /with --queue the workers write the checkpoints: sparsecode worker --checkpoint-seconds/);
    const qout = join(dir, 'queue-url');
    assert.match(await usageError(['stop-probing'], { queue: 'http://127.0.0.1:6379', out: qout }), /must start with redis:\/\//);
    assert.ok(!existsSync(qout));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('repro: a foreign option exits 2 from the command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sparsecode-repro-opts-'));
  try {
    for (const args of [['whitening', '--steps', '5'], ['hidden-alignment', '--setting', 'known']]) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run-cli.ts', 'repro', ...args, '--out', join(dir, args[0])], {
        encoding: 'utf8', env: { ...process.env, SPARSECODE_BACKEND: 'js' }, timeout: 60000,
      });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`${args[1]} does not apply to repro ${args[0]}`));
      assert.ok(!existsSync(join(dir, args[0])));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
