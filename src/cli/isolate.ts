import { spawn } from 'node:child_process';
import { basename, dirname, resolve } from 'node:path';
import { removeStaleTemps } from '../io/atomic.js';
import { EXIT } from './exit.js';

/**
 * Commands marked `isolate` (one long synchronous computation) run in a child process so that
 * Ctrl-C works while they compute: the parent stays idle and handles the signal. The child gets
 * SPARSECODE_ISOLATED=<parent pid>; it installs no signal handler (the default action ends it at
 * once) and checks `orphaned()` between batches, so a parent killed with SIGKILL takes the
 * computation with it instead of leaving it to finish and write its output.
 */
export function isIsolatedChild(): boolean {
  return !!process.env.SPARSECODE_ISOLATED;
}

/** In an isolated child: true once the parent that started it has gone. */
export function orphaned(): boolean {
  const parent = Number(process.env.SPARSECODE_ISOLATED);
  return Number.isInteger(parent) && parent > 0 && process.ppid !== parent;
}

/**
 * Run a command with `isolate` in a child process (the same entry script and flags, with
 * SPARSECODE_ISOLATED=1) and wait. On SIGINT/SIGTERM: stop the child, remove the temporary files
 * it was writing next to --out (its pid is in their names), say so, exit 130.
 */
export function runIsolated(name: string, args: string[]): Promise<number> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1], name, ...args], {
      stdio: 'inherit',
      env: { ...process.env, SPARSECODE_ISOLATED: String(process.pid) },
    });
    let interrupted = false;
    const onSignal = () => {
      if (interrupted) return;
      interrupted = true;
      child.kill('SIGKILL');
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    child.on('error', (e) => {
      process.stderr.write(`sparsecode ${name}: could not start the worker process: ${e.message}\n`);
      resolvePromise(EXIT.failed);
    });
    child.on('exit', (code, signal) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (interrupted || signal === 'SIGINT' || signal === 'SIGTERM') {
        const out = outOption(args);
        if (out) removeStaleTemps(dirname(resolve(out)), basename(out));
        process.stderr.write(`sparsecode ${name}: interrupted; nothing was written${out ? ` to ${out}` : ''}\n`);
        resolvePromise(EXIT.interrupted);
      } else resolvePromise(code ?? EXIT.failed);
    });
  });
}

function outOption(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--out') return args[i + 1];
    if (args[i].startsWith('--out=')) return args[i].slice(6);
  }
  return undefined;
}
