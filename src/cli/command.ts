import type { OptionSpec, Opts, PositionalSpec } from './args.js';
import { Progress } from './progress.js';

/** What a command's run() gets: parsed options, positionals, and helpers for output. */
export interface Context {
  opts: Opts;
  positionals: string[];
  /** write a line to stdout */
  print(line: string): void;
  /** write a note to stderr (suppressed by --quiet) */
  note(line: string): void;
  /** a progress bar (drawn only on a TTY and without --quiet) */
  progress(label: string, total: number, unit?: string): Progress;
  signal: AbortSignal;
  /** the command's own arguments as given (after the command name), e.g. to print a resume command */
  argv?: string[];
}

export interface Command {
  name: string;
  summary: string;
  /** usage line after `sparsecode `, e.g. `world superposition --latents N ...` */
  usage: string;
  description?: string;
  positionals?: PositionalSpec[];
  options: OptionSpec[];
  examples: string[];
  /**
   * Runs in a child process (one long synchronous computation, e.g. FISTA over a whole file): the
   * parent stays idle, so Ctrl-C / SIGTERM stops the child at once, the parent removes the
   * child's temporary output files and exits 130. Commands that loop cooperatively (fit, repro)
   * handle the signal themselves and leave this unset.
   */
  isolate?: boolean;
  /**
   * `--help` narrowed by the positionals given (e.g. `repro cross-entropy --help`: that
   * experiment's usage, options and methods only); undefined: the command's whole help
   */
  helpView?(positionals: string[]): Pick<Command, 'usage' | 'summary' | 'description' | 'positionals' | 'options' | 'examples'> | undefined;
  /** returns the exit code (default 0) */
  run(ctx: Context): Promise<number | void>;
}
