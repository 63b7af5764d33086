import { benches } from '../../../bench/index.js';
import type { BenchContext } from '../../../bench/types.js';
import { fail } from '../../core/errors.js';
import { suggest } from '../args.js';
import { EXIT } from '../exit.js';
import type { Command } from '../command.js';

/** A readable line for one result: the fields as key=value, the bench name first. */
function formatRow(row: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(row)) {
    if (k === 'bench' || v === null || v === undefined) continue;
    parts.push(`${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  }
  return `${String(row.bench ?? '').padEnd(6)} ${parts.join('  ')}`;
}

export const benchCommand: Command = {
  name: 'bench',
  summary: 'run benchmarks (GEMM vs NumPy, kernels vs js, call overhead) on this machine',
  usage: 'bench <name|all> [--json] [--sizes MxKxN,...] [--backends native,wasm,js,webgpu] [--browser] [--repeats N] [--no-peers]',
  description: [
    'Each result is one line (one JSON object per line with --json). Peers (NumPy, ...) run with',
    '/usr/bin/python3 (or SPARSECODE_PYTHON) in the same environment as this process, and are',
    'skipped with a note when Python or the library is missing. Without a name, lists the benchmarks.',
    'Timings are medians of repeated runs after a warm-up; a machine busy with other work gives noisy figures.',
  ].join('\n'),
  positionals: [{ name: 'name', help: 'benchmark to run, or "all"' }],
  options: [
    { name: 'json', type: 'boolean', help: 'print one JSON object per result' },
    { name: 'sizes', type: 'list', metavar: 'MxKxN,...', help: 'GEMM sizes, m x k x n (gemm; default 1024x1024x1024,4096x512x4096,256x512x16384); eigh: matrix orders (default 1024)' },
    { name: 'backends', type: 'list', metavar: 'NAME,...', choices: ['native', 'wasm', 'js', 'webgpu'], help: 'backends to measure (default: every loaded CPU one); webgpu (gemm, sae): the GPU through the optional "webgpu" package, or headless Chromium with --browser' },
    { name: 'browser', type: 'boolean', help: 'gemm, sae with --backends webgpu: measure WebGPU in headless Chromium (CHROMIUM_PATH; SwiftShader on the CPU unless SPARSECODE_WEBGPU_ADAPTER=gpu)' },
    { name: 'repeats', type: 'int', metavar: 'N', help: 'timed runs per measurement, median reported (default 5 for gemm, 7 for ops)' },
    { name: 'budget', type: 'number', metavar: 'SECONDS', help: 'stop adding timed runs to a measurement after this long (default 3 for gemm, 2 for ops)' },
    { name: 'latents', type: 'intlist', metavar: 'N,...', help: 'dl-outer: latents (= atoms) of the Stop-Probing worlds (default 1000,5000; at most 10000)' },
    { name: 'steps', type: 'int', metavar: 'N', help: 'dl-outer: timed outer steps, after one untimed (default 3)' },
    { name: 'warm', type: 'int', metavar: 'N', help: 'dl-outer: untimed outer steps of the learner before timing (default 3; more gives the sparser codes of a long run: ~2 nonzeros per row after 30)' },
    { name: 'dim', type: 'int', metavar: 'N', help: 'sae: input dimension (default 512; sae-paths, matryoshka: 768)' },
    { name: 'atoms', type: 'int', metavar: 'N', help: 'sae: dictionary atoms (default 8192; sae-paths, matryoshka: 4096)' },
    { name: 'k', type: 'int', metavar: 'N', help: 'sae: active latents per row (default 32; sae-paths: MP steps, 25)' },
    { name: 'batch', type: 'int', metavar: 'N', help: 'sae: rows per step (default 4096); diet, sae-paths: batch size (default 1024)' },
    { name: 'relu-l0', type: 'int', metavar: 'N', help: 'sae-paths: active latents per row of the ReLU step (default 64)' },
    { name: 'kinds', type: 'string', metavar: 'K,...', help: 'convergence: SAE kinds (default topk,batchtopk,jumprelu)' },
    { name: 'worlds', type: 'string', metavar: 'W,...', help: 'convergence: worlds small (80 atoms, 10^4 rows), medium (300, 3·10^4), large (1000, 10^5) (default all three)' },
    { name: 'indices', type: 'int', metavar: 'N', help: 'diet: size of the softmax (index space; default 10240)' },
    { name: 'rounds', type: 'int', metavar: 'R', help: 'diet: interleaved rounds of ours and PyTorch (default 3)' },
    { name: 'peers', type: 'boolean', default: true, help: 'also run the Python peers (NumPy); --no-peers skips them' },
  ],
  examples: ['sparsecode bench', 'sparsecode bench gemm --json', 'sparsecode bench gemm --sizes 512x512x512 --backends native', 'sparsecode bench ops', 'sparsecode bench eigh --sizes 1024,4096', 'sparsecode bench gemm --backends webgpu --browser --sizes 512x512x512', 'sparsecode bench sae --backends webgpu --dim 768 --atoms 16384 --k 32 --batch 4096', 'sparsecode bench all --json > bench.jsonl'],
  async run(ctx) {
    const name = ctx.positionals[0];
    if (ctx.positionals.length > 1) fail('E_USAGE', `bench takes one name, got ${ctx.positionals.join(' ')}`);
    if (!name) {
      for (const b of benches) ctx.print(`${b.name.padEnd(10)}${b.summary}`);
      return;
    }
    const chosen = name === 'all' ? benches : benches.filter((b) => b.name === name);
    if (!chosen.length) {
      const s = suggest(name, benches.map((b) => b.name));
      fail('E_USAGE', `unknown benchmark "${name}"${s ? ` (did you mean "${s}"?)` : ''}; choose one of ${[...benches.map((b) => b.name), 'all'].join(', ')}`);
    }
    if (ctx.opts.repeats !== undefined && ctx.opts.repeats < 1) fail('E_USAGE', `--repeats must be at least 1, got ${ctx.opts.repeats}`);
    if (ctx.opts.budget !== undefined && !(ctx.opts.budget > 0)) fail('E_USAGE', `--budget must be a positive number of seconds, got ${ctx.opts.budget}`);
    if (ctx.opts['relu-l0'] !== undefined && !(ctx.opts['relu-l0'] >= 1)) fail('E_USAGE', `--relu-l0 must be at least 1 (active latents per row), got ${ctx.opts['relu-l0']}`);
    const json = !!ctx.opts.json;
    const bctx: BenchContext = {
      json,
      quiet: !!ctx.opts.quiet,
      emit: (row) => ctx.print(json ? JSON.stringify(row) : formatRow(row)),
      note: (line) => ctx.note(line),
      opts: ctx.opts,
      signal: ctx.signal,
    };
    for (const b of chosen) {
      if (ctx.signal.aborted) break;
      ctx.note(`bench ${b.name}: ${b.summary}`);
      await b.run(bctx);
    }
    if (ctx.signal.aborted) return EXIT.interrupted;
  },
};
