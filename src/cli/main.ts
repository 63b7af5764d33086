import { readFileSync } from 'node:fs';
import { isIsolatedChild, runIsolated } from './isolate.js';
import { isSparsecodeError } from '../core/errors.js';
import { loadBackends, useBackend, backend } from '../backend/index.js';
import { parseArgs, formatOptions, suggest, GLOBAL_OPTIONS } from './args.js';
import type { Command, Context } from './command.js';
import { commands } from './commands/index.js';
import { EXIT, exitCodeFor } from './exit.js';
import { Progress } from './progress.js';
import { packageRoot } from '../io/paths.js';

function version(): string {
  try {
    return JSON.parse(readFileSync(`${packageRoot()}/package.json`, 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

function mainHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    `sparsecode ${version()} — recover the features hidden in neural representations under superposition`,
    '',
    'Usage: sparsecode <command> [options]     (sparsecode <command> --help for details and examples)',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Global options:',
    formatOptions([...GLOBAL_OPTIONS, { name: 'version', type: 'boolean', help: 'print the version' }]),
    '',
    'Exit codes: 0 ok, 1 computation failed, 2 usage error, 3 bad input data, 130 interrupted.',
  ].join('\n');
}

/** A message without the prefixes the CLI adds itself ("sparsecode", the command's name), so none is doubled. */
export function withoutPrefix(message: string, name: string): string {
  let m = message;
  for (let again = true; again;) {
    again = false;
    for (const p of ['sparsecode: ', `sparsecode ${name}: `, `${name}: `]) {
      if (m.startsWith(p)) {
        m = m.slice(p.length);
        again = true;
      }
    }
  }
  return m;
}

export function commandHelp(c: Pick<Command, 'usage' | 'summary' | 'description' | 'positionals' | 'options' | 'examples'>): string {
  const parts = [`Usage: sparsecode ${c.usage}`, '', c.summary];
  if (c.description) parts.push('', c.description);
  if (c.positionals?.length) {
    parts.push('', 'Arguments:');
    for (const p of c.positionals) parts.push(`  ${p.name.padEnd(22)}${p.help}${p.choices ? ` (${p.choices.join('|')})` : ''}`);
  }
  if (c.options.length) parts.push('', 'Options:', formatOptions(c.options));
  parts.push('', 'Global options:', formatOptions(GLOBAL_OPTIONS));
  if (c.examples.length) parts.push('', 'Examples:', ...c.examples.map((e) => `  $ ${e}`));
  return parts.join('\n');
}

/**
 * Run the CLI. `isolate`: commands marked `isolate` run in a child process started from this
 * process's entry script (`bin/sparsecode.js` passes true; a program that calls `main` itself
 * runs every command in-process, where Ctrl-C waits for the computation).
 */
export async function main(argv: string[], opts: { isolate?: boolean } = {}): Promise<number> {
  const [name, ...rest] = argv;
  if (!name) {
    // no command: the help, as a usage error
    process.stderr.write(mainHelp() + '\n');
    return EXIT.usage;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const target = name === 'help' ? commands.find((c) => c.name === rest[0]) : undefined;
    process.stdout.write((target ? commandHelp(target) : mainHelp()) + '\n');
    return EXIT.ok;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(version() + '\n');
    return EXIT.ok;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    const s = suggest(name, commands.map((c) => c.name));
    process.stderr.write(`sparsecode: unknown command "${name}"${s ? ` (did you mean "${s}"?)` : ''}; run sparsecode --help\n`);
    return EXIT.usage;
  }
  if (opts.isolate && cmd.isolate && !isIsolatedChild() && !rest.some((a) => a === '--help' || a === '-h')) return runIsolated(name, rest);
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    controller.abort();
  };
  // In an isolated child the default action applies: the signal ends the computation at once.
  const handleSignals = !isIsolatedChild();
  if (handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  try {
    const { opts, positionals } = parseArgs(rest, cmd.options);
    if (opts.help) {
      process.stdout.write(commandHelp((cmd.helpView?.(positionals) as Command | undefined) ?? cmd) + '\n');
      return EXIT.ok;
    }
    const quiet = !!opts.quiet;
    await loadBackends({ quiet: quiet || !!opts.backend || !!process.env.SPARSECODE_BACKEND });
    const webgpu = opts.backend === 'webgpu' || (!opts.backend && process.env.SPARSECODE_BACKEND === 'webgpu');
    if (webgpu) {
      // WebGPU is not a synchronous Backend: it serves the GPU-resident code (bench gemm|sae);
      // the synchronous ops stay on the fastest CPU backend
      const { activateWebGpu } = await import('../backend/webgpu/node.js');
      const r = await activateWebGpu();
      if (!quiet) process.stderr.write(r.context ? `sparsecode: ${r.note}; other ops on the ${backend().name} backend\n` : `sparsecode: webgpu unavailable (${r.note}); using the ${backend().name} backend\n`);
    } else if (opts.backend) useBackend(opts.backend);
    else backend();
    const ctx: Context = {
      opts,
      positionals,
      print: (line) => process.stdout.write(line + '\n'),
      note: (line) => {
        if (!quiet) process.stderr.write(line + '\n');
      },
      progress: (label, total, unit) => new Progress(label, total, { enabled: !quiet, unit }),
      signal: controller.signal,
      argv: rest,
    };
    const code = await cmd.run(ctx);
    return code ?? EXIT.ok;
  } catch (e) {
    if (isSparsecodeError(e)) {
      process.stderr.write(`sparsecode ${name}: ${withoutPrefix(e.message, name)}\n`);
      if (e.code === 'E_USAGE') process.stderr.write(`(see: sparsecode ${name} --help)\n`);
      return exitCodeFor(e.code);
    }
    const err = e as NodeJS.ErrnoException;
    if (err && (err.code === 'ENOENT' || err.code === 'EACCES' || err.code === 'EISDIR' || err.code === 'ENOTDIR')) {
      process.stderr.write(`sparsecode ${name}: ${err.message}\n`);
      return EXIT.input;
    }
    process.stderr.write(`sparsecode ${name}: internal error: ${err?.stack ?? String(e)}\n`);
    return EXIT.failed;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // a WebGPU device (backends, bench, --backend webgpu) would keep the process alive
    const { closeWebGpu } = await import('../backend/webgpu/node.js');
    closeWebGpu();
  }
}
