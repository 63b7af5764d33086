/**
 * A progress line on stderr: label, bar, count, rate, ETA and free-form fields, unless --quiet.
 * On a terminal it redraws in place at most 10 times a second; when stderr is a file or a pipe
 * (a log), it writes a whole line once a minute (`SPARSECODE_PROGRESS_SECONDS` changes the
 * interval), so long runs leave a trace in their logs without flooding them.
 */
export interface ProgressOptions {
  enabled?: boolean;
  unit?: string;
  stream?: NodeJS.WriteStream;
}

export class Progress {
  private readonly start = Date.now();
  private last = 0;
  private done = 0;
  private fields = '';
  private readonly enabled: boolean;
  private readonly tty: boolean;
  private readonly logEveryMs: number;
  private logged = false;
  private loggedDone = -1;
  private readonly stream: NodeJS.WriteStream;

  constructor(private readonly label: string, private total: number, private readonly opts: ProgressOptions = {}) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = !!this.stream.isTTY;
    this.enabled = opts.enabled ?? true;
    const every = Number(process.env.SPARSECODE_PROGRESS_SECONDS ?? 60);
    this.logEveryMs = Number.isFinite(every) && every > 0 ? every * 1000 : Infinity;
    this.last = this.tty ? 0 : this.start;
  }

  /** Change the total (a run whose length is decided while it runs, e.g. fit --epochs auto). */
  setTotal(total: number): void {
    this.total = total;
  }

  /** Set the absolute count and optional fields (e.g. `loss 0.12 L0 31.9`). */
  update(done: number, fields?: Record<string, string | number>): void {
    this.done = done;
    if (fields) {
      this.fields = Object.entries(fields)
        .map(([k, v]) => `${k} ${typeof v === 'number' ? fmt(v) : v}`)
        .join('  ');
    }
    if (!this.enabled) return;
    const now = Date.now();
    if (this.tty ? now - this.last > 100 || done >= this.total : now - this.last >= this.logEveryMs) {
      this.last = now;
      this.draw();
    }
  }

  tick(n = 1, fields?: Record<string, string | number>): void {
    this.update(this.done + n, fields);
  }

  finish(message?: string): void {
    if (!this.enabled) return;
    if (this.tty) {
      this.draw();
      this.stream.write('\n');
    } else if (this.logged && this.loggedDone !== this.done) this.draw(); // a logged run ends with its final line
    if (message && this.tty) this.stream.write(message + '\n');
  }

  private draw(): void {
    const elapsed = (Date.now() - this.start) / 1000;
    const frac = this.total > 0 ? Math.min(1, this.done / this.total) : 0;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    const rate = elapsed > 0 ? this.done / elapsed : 0;
    const eta = rate > 0 && this.total > this.done ? (this.total - this.done) / rate : 0;
    const unit = this.opts.unit ? ` ${this.opts.unit}` : '';
    const line = `${this.label} [${bar}] ${this.done}/${this.total}${unit}  ${fmt(rate)}/s  ETA ${duration(eta)}  ${this.fields}`;
    if (!this.tty) {
      this.logged = true;
      this.loggedDone = this.done;
      this.stream.write(line + '\n');
      return;
    }
    const cols = this.stream.columns ?? 120;
    this.stream.write('\r\x1b[2K' + line.slice(0, cols - 1));
  }
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2);
  if (Number.isInteger(v)) return String(v);
  return a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : v.toFixed(4);
}

export function duration(s: number): string {
  if (!Number.isFinite(s) || s <= 0) return '0s';
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
