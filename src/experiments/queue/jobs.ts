import { createHash } from 'node:crypto';
import { fail } from '../../core/errors.js';
import { configKey, type Cell, type CellConfig, type ResultLine } from '../runner.js';

/**
 * The jobs on the queue, as plain data. A job is one unit of a sweep: one config (seed
 * included, as in every result line) and the methods that share work on it (an SAE and FISTA
 * on its decoder, say), with the experiment's registered name and every hyperparameter. Its id
 * is a hash of exactly that, so enqueuing the same cells twice adds nothing. A worker reads a
 * job through `validateCellJob` (nothing from the queue is evaluated: the experiment is looked
 * up by name in the registry) and answers with one result line per method.
 */

/** The BullMQ queue every sweep and worker uses (one Redis database holds one queue of cells). */
export const QUEUE_NAME = 'sparsecode-cells';
/** The payload format; a worker refuses any other. */
export const JOB_FORMAT = 'sparsecode-cells/1';
/** Largest payload a worker reads (bytes of JSON). */
export const MAX_JOB_BYTES = 256 * 1024;

export interface CellJob {
  format: typeof JOB_FORMAT;
  /** the registered experiment (sparsecode repro <experiment>) */
  experiment: string;
  /** every hyperparameter of the sweep (the experiment's settings object) */
  settings: Record<string, unknown>;
  /** the cell's config, seed included: the `config` of its result lines */
  config: CellConfig;
  /** the methods to run on this config, in order (they share one cache) */
  methods: string[];
}

/** What a job returns (and keeps as its progress while it runs): one line per method done. */
export interface CellJobResult {
  lines: ResultLine[];
}

/** JSON with object keys sorted at every level: the same value always gives the same text. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The job id: the experiment's name and the hash of the whole payload (`stop-probing.3f9a…`, 32 hex digits). */
export function jobIdOf(job: CellJob): string {
  return `${job.experiment}.${sha256(canonicalJson(job)).slice(0, 32)}`;
}

/** The job of a unit of cells (one config, its methods in order). */
export function cellJob(experiment: string, settings: unknown, cells: Cell[]): CellJob {
  if (!cells.length) fail('E_ARG', 'cellJob: a job needs at least one cell');
  const config = cells[0].config;
  const key = configKey(config);
  for (const c of cells) if (configKey(c.config) !== key) fail('E_ARG', 'cellJob: the cells of one job must share their config');
  return { format: JOB_FORMAT, experiment, settings: settings as Record<string, unknown>, config, methods: cells.map((c) => c.method) };
}

/** What a worker checks a payload against: the registered experiment's methods and the shape of its settings. */
export interface CellJobSchema {
  methods: readonly string[];
  /** the experiment's settings (any preset's): a payload's settings must have the same keys and value types */
  settings: unknown;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** Check `v` has the JSON shape of `ref`: same keys, same value types, arrays of the same element type, finite numbers. */
function checkShape(v: unknown, ref: unknown, path: string): void {
  const t = typeOf(v);
  const want = typeOf(ref);
  if (t !== want) fail('E_FORMAT', `${path} is ${t}, expected ${want}`);
  if (t === 'number' && !Number.isFinite(v)) fail('E_FORMAT', `${path} is not a finite number`);
  if (t === 'string' && (v as string).length > 1024) fail('E_FORMAT', `${path} is longer than 1024 characters`);
  if (t === 'array') {
    const a = v as unknown[];
    const r = ref as unknown[];
    if (a.length > 4096) fail('E_FORMAT', `${path} has more than 4096 elements`);
    if (r.length) a.forEach((x, i) => checkShape(x, r[0], `${path}[${i}]`));
    else for (const [i, x] of a.entries()) if (typeOf(x) === 'object' || typeOf(x) === 'array') fail('E_FORMAT', `${path}[${i}] must be a scalar`);
  }
  if (t === 'object') {
    const o = v as Record<string, unknown>;
    const r = ref as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!Object.hasOwn(r, k)) fail('E_FORMAT', `${path}.${k} is not a setting of this experiment`);
    for (const k of Object.keys(r)) {
      if (!Object.hasOwn(o, k)) fail('E_FORMAT', `${path}.${k} is missing`);
      checkShape(o[k], r[k], `${path}.${k}`);
    }
  }
}

/** Check settings read from the queue against the experiment's own (same keys and value types); throws E_FORMAT. */
export function checkSettings(settings: unknown, reference: unknown): void {
  checkShape(settings, reference, 'settings');
}

/** Check a config read from the queue: 1-64 plainly named fields of finite numbers, short strings, booleans or null; throws E_FORMAT. */
export function checkConfig(value: unknown, path: string): asserts value is CellConfig {
  if (typeOf(value) !== 'object') fail('E_FORMAT', `${path} is ${typeOf(value)}, expected an object`);
  const config = value as Record<string, unknown>;
  const ck = Object.keys(config);
  if (ck.length === 0 || ck.length > 64) fail('E_FORMAT', `${path} has ${ck.length} fields, expected 1-64`);
  for (const k of ck) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(k)) fail('E_FORMAT', `${path} field name ${JSON.stringify(k).slice(0, 80)} is not a plain name`);
    const v = config[k];
    const t = typeOf(v);
    if (t === 'number' ? !Number.isFinite(v) : t === 'string' ? (v as string).length > 256 : t !== 'boolean' && t !== 'null') {
      fail('E_FORMAT', `${path}.${k} must be a finite number, a short string, a boolean or null`);
    }
  }
}

/**
 * Read a job's data as a CellJob, or throw E_FORMAT saying what is wrong: the format tag, a
 * registered experiment, settings of the experiment's shape, a config of scalars, 1-64
 * distinct methods of the experiment. `schemaOf` returns undefined for an unknown experiment.
 */
export function validateCellJob(data: unknown, schemaOf: (experiment: string) => CellJobSchema | undefined): CellJob {
  let size = 0;
  try {
    size = Buffer.byteLength(JSON.stringify(data) ?? '');
  } catch {
    fail('E_FORMAT', 'the job data is not JSON');
  }
  if (size > MAX_JOB_BYTES) fail('E_FORMAT', `the job data is ${size} bytes, over the ${MAX_JOB_BYTES}-byte limit`);
  if (typeOf(data) !== 'object') fail('E_FORMAT', `the job data is ${typeOf(data)}, expected an object`);
  const d = data as Record<string, unknown>;
  const keys = ['format', 'experiment', 'settings', 'config', 'methods'];
  for (const k of Object.keys(d)) if (!keys.includes(k)) fail('E_FORMAT', `unexpected field "${k}" in the job data (expected ${keys.join(', ')})`);
  if (d.format !== JOB_FORMAT) fail('E_FORMAT', `job format ${JSON.stringify(d.format)}; this worker reads ${JOB_FORMAT} (run the same sparsecode version on every machine)`);
  if (typeof d.experiment !== 'string' || !/^[a-z0-9][a-z0-9-]{0,63}$/.test(d.experiment)) fail('E_FORMAT', `experiment must be a registered experiment name, got ${JSON.stringify(d.experiment)?.slice(0, 80)}`);
  const schema = schemaOf(d.experiment);
  if (!schema) fail('E_FORMAT', `unknown experiment "${d.experiment}" (not in this worker's registry)`);
  checkShape(d.settings, schema.settings, 'settings');
  checkConfig(d.config, 'config');
  const config = d.config as Record<string, unknown>;
  if (!Array.isArray(d.methods) || d.methods.length === 0 || d.methods.length > 64) fail('E_FORMAT', 'methods must be a list of 1-64 method names');
  const seen = new Set<string>();
  for (const m of d.methods) {
    if (typeof m !== 'string' || !schema.methods.includes(m)) fail('E_FORMAT', `method ${JSON.stringify(m)?.slice(0, 80)} is not a method of ${d.experiment}`);
    if (seen.has(m)) fail('E_FORMAT', `method ${m} appears twice`);
    seen.add(m);
  }
  return { format: JOB_FORMAT, experiment: d.experiment, settings: d.settings as Record<string, unknown>, config: config as CellConfig, methods: d.methods as string[] };
}

/**
 * The result lines in a job's return value or progress, checked against the job: only lines
 * of its own cells, with numeric metrics, an error string or neither; anything else is dropped.
 */
export function jobLines(value: unknown, job: CellJob): ResultLine[] {
  if (typeOf(value) !== 'object' || !Array.isArray((value as { lines?: unknown }).lines)) return [];
  const own = configKey(job.config);
  const out: ResultLine[] = [];
  for (const l of (value as CellJobResult).lines) {
    if (typeOf(l) !== 'object' || typeof l.method !== 'string' || !job.methods.includes(l.method) || typeOf(l.config) !== 'object') continue;
    if (configKey(l.config) !== own) continue;
    if (typeof l.seconds !== 'number' || !Number.isFinite(l.seconds)) continue;
    // the fields in the order the runner writes them
    const line: ResultLine = { config: job.config, method: l.method } as ResultLine;
    if (l.error !== undefined) {
      if (typeof l.error !== 'string') continue;
      line.error = l.error.slice(0, 4000);
    } else {
      if (typeOf(l.metrics) !== 'object') continue;
      const metrics: Record<string, number> = {};
      for (const [k, v] of Object.entries(l.metrics as Record<string, unknown>)) if (typeof v === 'number' && Number.isFinite(v)) metrics[k] = v;
      line.metrics = metrics;
    }
    line.seconds = l.seconds;
    if (typeof l.seconds_before_resume === 'number' && Number.isFinite(l.seconds_before_resume)) line.seconds_before_resume = l.seconds_before_resume;
    out.push(line);
  }
  return out;
}
