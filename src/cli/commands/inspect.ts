import { fail } from '../../core/errors.js';
import { inspectPath } from '../../io/inspect.js';
import type { Command } from '../command.js';

function short(v: unknown, max = 100): string {
  const s = JSON.stringify(v);
  return s.length > max ? s.slice(0, max - 3) + '...' : s;
}

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'what a file or folder holds: model layout, tensors (names, shapes, dtypes), config, and whether sparsecode loads it',
  usage: 'inspect PATH [--json]',
  description: [
    'PATH is a model folder or file in any layout sparsecode reads (SAELens v6 and pre-v6 folders,',
    'Gemma Scope params.npz / params.safetensors, sparsify and Llama Scope folders, sparsecode fit',
    'output), or a single .npy, .npz, .safetensors or .json file. Shapes and dtypes come from the file',
    'headers (safetensors and .npy are not read in full). For a model it prints the layout found,',
    'what sparsecode reads it as (kind, d_in, d_sae, k), how the layout\'s conventions were mapped,',
    'and, when sparsecode refuses it, the reason (a tensor with the wrong shape, a missing threshold,',
    'an unsupported normalisation...).',
  ].join('\n'),
  positionals: [{ name: 'PATH', help: 'a model folder or file, or a .npy / .npz / .safetensors / .json file', required: true }],
  options: [{ name: 'json', type: 'boolean', help: 'print one JSON object' }],
  examples: [
    'sparsecode inspect runs/sae',
    'sparsecode inspect gemma-scope-2b-pt-res/layer_12/width_16k/average_l0_82/params.npz',
    'sparsecode inspect sae-llama/layers.10 --json',
    'sparsecode inspect acts.safetensors',
  ],
  async run(ctx) {
    const path = ctx.positionals[0];
    if (!path || ctx.positionals.length !== 1) fail('E_USAGE', 'inspect needs exactly one PATH (a model folder or a file)');
    const r = inspectPath(path);
    if (ctx.opts.json) {
      ctx.print(JSON.stringify(r));
      return;
    }
    if (r.kind === 'model') {
      ctx.print(`${path}: ${r.layout ? `${r.layout.description} [${r.layout.name}]` : 'a model folder sparsecode does not load'}`);
      if (r.model) {
        const m = r.model;
        ctx.print(`  reads as: ${m.kind} SAE, d_in ${m.d_in}, d_sae ${m.d_sae}${m.k !== null ? `, k ${m.k}` : ''}${m.threshold ? ', thresholds' : ''}${m.apply_b_dec_to_input ? '' : ', apply_b_dec_to_input false'}${m.whitened ? ', whitened inputs' : ''}${m.sparsity ? ', sparsity.safetensors' : ''}`);
      }
      for (const n of r.layout?.notes ?? []) ctx.print(`  note: ${n}`);
      if (r.refused) ctx.print(`  refused (${r.refused.code}): ${r.refused.message}`);
    } else if (r.kind === 'folder') {
      ctx.print(`${path}: a folder, not a model sparsecode reads (${r.refused?.message ?? ''})`);
      ctx.print(`  files: ${(r.files ?? []).join(', ')}`);
    } else {
      ctx.print(`${path}: ${r.kind} file`);
    }
    let file = '';
    for (const t of r.tensors) {
      if (t.file !== file) {
        file = t.file;
        ctx.print(`  ${file}:`);
      }
      ctx.print(`    ${(t.name || '(array)').padEnd(24)} ${t.dtype.padEnd(6)} [${t.shape.join(', ')}]`);
    }
    if (r.config && Object.keys(r.config).length) {
      ctx.print('  config:');
      for (const [k, v] of Object.entries(r.config)) ctx.print(`    ${k}: ${short(v)}`);
    }

  },
};
