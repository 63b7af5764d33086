import { fail } from '../core/errors.js';

/** Declarative command-line options: parsing, validation and --help text come from one table. */
export type OptionType = 'string' | 'number' | 'int' | 'boolean' | 'list' | 'intlist';

export interface OptionSpec {
  name: string; // without leading dashes, e.g. "latents"
  type: OptionType;
  help: string;
  default?: string | number | boolean | number[] | string[];
  required?: boolean;
  choices?: readonly string[];
  metavar?: string;
}

export interface PositionalSpec {
  name: string;
  help: string;
  required?: boolean;
  choices?: readonly string[];
}

export type Opts = Record<string, any>;

export interface Parsed {
  opts: Opts;
  positionals: string[];
}

/** Options every command accepts. */
export const GLOBAL_OPTIONS: OptionSpec[] = [
  { name: 'help', type: 'boolean', help: 'show this help and exit' },
  { name: 'quiet', type: 'boolean', help: 'no progress bars or notes on stderr' },
  { name: 'backend', type: 'string', help: 'compute backend (default: fastest available; env SPARSECODE_BACKEND); webgpu: the GPU through the optional "webgpu" package for what runs on it (fit topk-sae with --epochs N or --steps T in memory, bench gemm|sae), the fastest CPU backend for the rest, or a one-line note and the fallback when there is no adapter', choices: ['js', 'wasm', 'native', 'webgpu'] },
];

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length][b.length];
}

export function suggest(word: string, candidates: string[]): string {
  let best = '';
  let bestD = Infinity;
  for (const c of candidates) {
    const dd = editDistance(word, c);
    if (dd < bestD) {
      bestD = dd;
      best = c;
    }
  }
  return best && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : '';
}

function convert(spec: OptionSpec, raw: string): unknown {
  const flag = `--${spec.name}`;
  switch (spec.type) {
    case 'string':
      if (spec.choices && !spec.choices.includes(raw)) {
        fail('E_USAGE', `${flag} must be one of ${spec.choices.join(', ')}; got "${raw}"`);
      }
      return raw;
    case 'number': {
      const v = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(v)) fail('E_USAGE', `${flag} needs a number, got "${raw}"`);
      return v;
    }
    case 'int': {
      const v = Number(raw);
      if (raw.trim() === '' || !Number.isInteger(v)) fail('E_USAGE', `${flag} needs a whole number, got "${raw}"`);
      return v;
    }
    case 'list': {
      const items = raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
      if (spec.choices) {
        for (const it of items) if (!spec.choices.includes(it)) fail('E_USAGE', `${flag}: "${it}" is not one of ${spec.choices.join(', ')}`);
      }
      return items;
    }
    case 'intlist': {
      const items = raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
      return items.map((s) => {
        const v = Number(s);
        if (!Number.isInteger(v)) fail('E_USAGE', `${flag} needs comma-separated whole numbers, got "${raw}"`);
        return v;
      });
    }
    default:
      return raw;
  }
}

export function parseArgs(argv: string[], specs: OptionSpec[]): Parsed {
  const all = [...specs, ...GLOBAL_OPTIONS];
  const byName = new Map(all.map((s) => [s.name, s]));
  const opts: Opts = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a === '-h') {
      opts.help = true;
      continue;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      let name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      let negated = false;
      if (!byName.has(name) && name.startsWith('no-') && byName.get(name.slice(3))?.type === 'boolean') {
        name = name.slice(3);
        negated = true;
      }
      const spec = byName.get(name);
      if (!spec) {
        const s = suggest(name, [...byName.keys()]);
        fail('E_USAGE', `unknown option --${name}${s ? ` (did you mean --${s}?)` : ''}; see --help`);
      }
      if (spec.type === 'boolean') {
        if (eq >= 0) {
          const v = a.slice(eq + 1);
          if (v !== 'true' && v !== 'false') fail('E_USAGE', `--${name} is a switch; use --${name} or --no-${name}`);
          opts[name] = v === 'true';
        } else opts[name] = !negated;
        continue;
      }
      let raw: string;
      if (eq >= 0) raw = a.slice(eq + 1);
      else {
        if (i + 1 >= argv.length) fail('E_USAGE', `--${name} needs a value (${spec.metavar ?? spec.type})`);
        raw = argv[++i];
      }
      opts[name] = convert(spec, raw);
      continue;
    }
    if (a.startsWith('-') && a.length > 1 && !/^-\d/.test(a)) {
      fail('E_USAGE', `unknown option ${a}; options are spelled with two dashes (see --help)`);
    }
    positionals.push(a);
  }
  for (const s of all) {
    if (opts[s.name] === undefined && s.default !== undefined) opts[s.name] = s.default;
  }
  if (!opts.help) {
    for (const s of specs) {
      if (s.required && opts[s.name] === undefined) fail('E_USAGE', `missing required option --${s.name} (${s.help})`);
    }
  }
  return { opts, positionals };
}

export function formatOptions(specs: OptionSpec[]): string {
  const lines: string[] = [];
  const left = (s: OptionSpec) => `--${s.name}${s.type === 'boolean' ? '' : ` ${s.metavar ?? (s.choices ? s.choices.join('|') : s.type.toUpperCase())}`}`;
  const width = Math.min(34, Math.max(...specs.map((s) => left(s).length)) + 2);
  for (const s of specs) {
    const l = left(s);
    let help = s.help;
    if (s.required) help += ' (required)';
    if (s.default !== undefined && s.type !== 'boolean') help += ` [default: ${Array.isArray(s.default) ? s.default.join(',') : s.default}]`;
    lines.push(l.length + 2 > width ? `  ${l}\n  ${' '.repeat(width)}${help}` : `  ${l.padEnd(width)}${help}`);
  }
  return lines.join('\n');
}
