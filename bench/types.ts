/** A benchmark: `sparsecode bench <name>` runs it. Each writes JSON lines (with --json) or a table. */
export interface BenchContext {
  json: boolean;
  quiet: boolean;
  /** print one result: a JSON line with --json, else a readable line */
  emit(row: Record<string, unknown>): void;
  note(line: string): void;
  /** free-form options from the command line (e.g. sizes) */
  opts: Record<string, any>;
  signal: AbortSignal;
}

export interface Bench {
  name: string;
  summary: string;
  run(ctx: BenchContext): Promise<void>;
}
