import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { type ModelKind, type ModelSpec, type ModelWeights, MODEL_KINDS, CFG_FILE, DEFAULT_INFERENCE, SPARSITY_FILE, WEIGHTS_FILE, WHITENING_FILE, WHITENING_JSON, checkSpec } from './model.js';
import { readNpz } from './npz.js';
import { readSafetensors, type Tensor } from './safetensors.js';

/**
 * Readers for the SAE layouts people hold, each into one `ModelSpec` in SAELens conventions
 * (W_enc [d_in x d_sae], b_enc [d_sae], W_dec [d_sae x d_in], b_dec [d_in], threshold [d_sae])
 * plus what the layout means beyond the plain forward pass (apply_b_dec_to_input, activation
 * scales, a decoder-norm gate), which the runtime folds explicitly (dictionary/fold.ts).
 * Field lists and tensor names follow ../shared/ECOSYSTEM.md §4 and the loaders of SAELens 6.18,
 * sparsify 1.3 and lm_saes (Llama Scope).
 *
 *   sparsecode              cfg.json with a `sparsecode` block + sae_weights.safetensors (io/model.ts)
 *   saelens-v6              cfg.json with metadata.sae_lens_version ≥ 6 + sae_weights.safetensors
 *                           [+ sparsity.safetensors] [+ activation_scaler.json]
 *   saelens-pre-v6          flat cfg.json (no version, or < 6.0.0-rc.0): activation_fn_str,
 *                           activation_fn_kwargs.k, hook_point, normalize_activations bool/null
 *   gemma-scope-npz         params.npz: w_enc, w_dec, b_enc, b_dec, threshold (JumpReLU, no b_dec
 *                           on the input)
 *   gemma-scope-safetensors params.safetensors with the same lower-case names (Gemma Scope 2)
 *   sparsify                cfg.json {d_in, num_latents | expansion_factor, k, activation, ...} +
 *                           sae.safetensors: encoder.weight [M x D], encoder.bias [M], W_dec [M x D], b_dec [D]
 *   llama-scope             hyperparams.json {d_model, d_sae, act_fn, jump_relu_threshold,
 *                           norm_activation, dataset_average_activation_norm {in, out}, ...} +
 *                           checkpoints/final.safetensors: encoder.weight [d_sae x d_model],
 *                           encoder.bias, decoder.weight [d_model x d_sae], decoder.bias
 *
 * Never a silently wrong load: a tensor whose shape does not fit (named, with the shape found and
 * the shape expected, and "transposed?" when it is), a tensor the layout does not have, a
 * threshold the layout needs but lacks, an architecture or normalisation that is not supported
 * are all E_FORMAT / E_SHAPE with the reason. dictionary_learning's ae.pt is a Python pickle and
 * is never unpickled: scripts/convert_dictionary_learning.py converts it to a SAELens v6 folder.
 */
export type LayoutName = 'sparsecode' | 'saelens-v6' | 'saelens-pre-v6' | 'gemma-scope-npz' | 'gemma-scope-safetensors' | 'sparsify' | 'llama-scope';

export const LAYOUT_DESCRIPTIONS: Record<LayoutName, string> = {
  sparsecode: 'sparsecode model folder (SAELens v6 cfg.json with a sparsecode block)',
  'saelens-v6': 'SAELens v6 folder (cfg.json with nested metadata, sae_weights.safetensors)',
  'saelens-pre-v6': 'SAELens folder with a pre-v6 flat cfg.json',
  'gemma-scope-npz': 'Gemma Scope params.npz (JumpReLU)',
  'gemma-scope-safetensors': 'Gemma Scope params.safetensors (JumpReLU)',
  sparsify: 'EleutherAI sparsify folder (cfg.json, sae.safetensors; TopK)',
  'llama-scope': 'Llama Scope folder (hyperparams.json, checkpoints/final.safetensors)',
};

export interface LayoutInfo {
  name: LayoutName;
  description: string;
  /** the folder (or file) the model was read from */
  root: string;
  /** the files read */
  files: string[];
  /** how the layout's conventions were mapped (transposes, scales, thresholds, defaults) */
  notes: string[];
}

export interface ReadModel {
  /** the path given */
  path: string;
  layout: LayoutInfo;
  /** the configuration as stored (cfg.json or hyperparams.json; {} for Gemma Scope) */
  cfg: Record<string, any>;
  spec: ModelSpec;
  dim: number;
  atoms: number;
  /** sparsity.safetensors (SAELens): log10 firing fractions [d_sae] */
  logSparsity?: Float32Array;
}

export interface ReadModelOptions {
  /**
   * The activation-norm scaling factor of a SAELens model saved with normalize_activations
   * "expected_average_only_in" and no activation_scaler.json (the model was trained on s·x).
   */
  activationScale?: number;
}

const SAELENS_DTYPES = new Set(['float32', 'float64', 'float16', 'bfloat16', 'torch.float32', 'torch.float64', 'torch.float16', 'torch.bfloat16']);

// ---- small helpers ---------------------------------------------------------------------------

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function readJson(path: string): Record<string, any> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    fail('E_IO', `cannot read ${path}: ${(e as Error).message}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    fail('E_FORMAT', `${path}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('E_FORMAT', `${path}: must hold a JSON object`);
  return v as Record<string, any>;
}

const own = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

function posInt(v: unknown, name: string, where: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 1) fail('E_FORMAT', `${where}: ${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return v as number;
}

function optBool(v: unknown, name: string, where: string, dflt: boolean): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') fail('E_FORMAT', `${where}: ${name} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

type TensorMap = Record<string, { shape: number[]; data: Float32Array | Float64Array }>;

/** A reader of named tensors from one file, with shape checks that name the tensor and the expectation. */
class Tensors {
  private used = new Set<string>();
  constructor(readonly file: string, readonly map: TensorMap, readonly what: string) {}

  has(name: string): boolean {
    return own(this.map, name);
  }

  private get(name: string, required: boolean): TensorMap[string] | undefined {
    if (!own(this.map, name)) {
      if (required) fail('E_FORMAT', `${this.file}: tensor ${name} is missing (${this.what} stores ${name}); tensors found: ${Object.keys(this.map).join(', ') || 'none'}`);
      return undefined;
    }
    this.used.add(name);
    return this.map[name];
  }

  /** A matrix stored as [rows x cols]; `names` says what the axes are, for the error message. */
  matrix(name: string, rows: number, cols: number, axes: string, required = true): Matrix | undefined {
    const t = this.get(name, required);
    if (!t) return undefined;
    const s = t.shape;
    if (s.length !== 2 || s[0] !== rows || s[1] !== cols) {
      const transposed = s.length === 2 && s[0] === cols && s[1] === rows;
      fail('E_SHAPE', `${this.file}: tensor ${name} has shape [${s.join(', ')}]; ${this.what} stores it as ${axes} = [${rows}, ${cols}]${transposed ? ' (it looks transposed; the file does not follow this layout)' : ''}`);
    }
    return new Matrix(rows, cols, toF32(t.data));
  }

  /** A matrix stored as [cols x rows], returned transposed to [rows x cols]. */
  matrixT(name: string, rows: number, cols: number, axes: string, required = true): Matrix | undefined {
    const m = this.matrix(name, cols, rows, axes, required);
    return m ? m.transpose() : undefined;
  }

  vector(name: string, len: number, axes: string, required = true): Float32Array | undefined {
    const t = this.get(name, required);
    if (!t) return undefined;
    if (t.shape.length !== 1 || t.shape[0] !== len) fail('E_SHAPE', `${this.file}: tensor ${name} has shape [${t.shape.join(', ')}]; ${this.what} stores it as ${axes} = [${len}]`);
    return toF32(t.data).slice();
  }

  scalar(name: string, required = true): number | undefined {
    const t = this.get(name, required);
    if (!t) return undefined;
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== 1 || t.shape.length > 1) fail('E_SHAPE', `${this.file}: tensor ${name} has shape [${t.shape.join(', ')}]; ${this.what} stores it as a scalar (shape [] or [1])`);
    return t.data[0];
  }

  /** Refuse tensors this layout does not have (they would change the model's meaning if ignored). */
  refuseUnused(hint = ''): void {
    const extra = Object.keys(this.map).filter((k) => !this.used.has(k));
    if (extra.length) fail('E_FORMAT', `${this.file}: tensor${extra.length > 1 ? 's' : ''} ${extra.slice(0, 8).join(', ')} ${extra.length > 1 ? 'are' : 'is'} not part of ${this.what}${hint}; refusing to load a model whose meaning may depend on ${extra.length > 1 ? 'them' : 'it'}`);
  }
}

function toF32(a: Float32Array | Float64Array): Float32Array {
  return a instanceof Float32Array ? a : Float32Array.from(a);
}

function safetensorsTensors(path: string, what: string): Tensors {
  const f = readSafetensors(path);
  return new Tensors(path, f.tensors as unknown as TensorMap, what);
}

/** Version string → whether SAELens ≥ 6.0.0-rc.0 parses the config as v6 (PEP 440 ordering of the common forms). */
export function saelensVersionIsV6(v: string, where: string): boolean {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[-._]?(a|alpha|b|beta|rc|c|pre|preview|dev)[-._]?(\d*))?(?:\.post\d+)?(?:\+[\w.]+)?$/i.exec(v.trim());
  if (!m) fail('E_FORMAT', `${where}: sae_lens_version ${JSON.stringify(v.slice(0, 40))} is not a version number`);
  const major = +m[1], minor = +(m[2] ?? 0), patch = +(m[3] ?? 0);
  if (major !== 6) return major > 6;
  if (minor > 0 || patch > 0) return true;
  const tag = m[4]?.toLowerCase();
  if (!tag) return true;
  return tag === 'rc' || tag === 'c' || tag === 'pre' || tag === 'preview';
}

// ---- detection ------------------------------------------------------------------------------

export interface DetectedLayout {
  name: LayoutName;
  /** the folder holding the model (or the file itself, for a bare Gemma Scope params file) */
  root: string;
}

/** Which layout a path holds (a folder, or one of its files); refuses with what was found and what is read. */
export function detectLayout(path: string): DetectedLayout {
  if (typeof path !== 'string' || !path) fail('E_ARG', 'a model path (a folder or a file) is required');
  if (!existsSync(path)) fail('E_IO', `${path} does not exist`);
  if (isFile(path)) {
    const b = basename(path);
    if (b.endsWith('.npz')) return { name: 'gemma-scope-npz', root: path };
    if (b === 'params.safetensors') return { name: 'gemma-scope-safetensors', root: path };
    if (b === 'cfg.json' || b === WEIGHTS_FILE || b === 'sae.safetensors' || b === 'hyperparams.json' || b === SPARSITY_FILE) return detectLayout(dirname(path));
    if (b === 'final.safetensors' && basename(dirname(path)) === 'checkpoints') return detectLayout(dirname(dirname(path)));
    if (b === 'ae.pt' || b.endsWith('.pt') || b.endsWith('.pth')) refusePickle(path);
    if (b.endsWith('.safetensors')) {
      const f = readSafetensors(path);
      if (own(f.tensors, 'w_enc') || own(f.tensors, 'w_dec')) return { name: 'gemma-scope-safetensors', root: path };
      fail('E_FORMAT', `${path}: a bare .safetensors file without a config; give the model folder (SAELens: cfg.json + sae_weights.safetensors; sparsify: cfg.json + sae.safetensors) or a Gemma Scope params.safetensors (w_enc, w_dec, b_enc, b_dec, threshold)`);
    }
    fail('E_FORMAT', `${path}: not a model file; give a model folder or a Gemma Scope params.npz / params.safetensors`);
  }
  const has = (f: string) => isFile(join(path, f));
  if (has(CFG_FILE)) {
    if (has(WEIGHTS_FILE)) {
      const cfg = readJson(join(path, CFG_FILE));
      if (cfg.sparsecode && typeof cfg.sparsecode === 'object') return { name: 'sparsecode', root: path };
      return { name: saelensIsV6(cfg, join(path, CFG_FILE)) ? 'saelens-v6' : 'saelens-pre-v6', root: path };
    }
    if (has('sae.safetensors')) return { name: 'sparsify', root: path };
    fail('E_FORMAT', `${path} has a cfg.json but no weights: SAELens folders hold ${WEIGHTS_FILE}, sparsify folders sae.safetensors`);
  }
  if (has('hyperparams.json')) {
    if (has(join('checkpoints', 'final.safetensors'))) return { name: 'llama-scope', root: path };
    fail('E_FORMAT', `${path} has a hyperparams.json (Llama Scope) but no checkpoints/final.safetensors`);
  }
  if (has('params.npz')) return { name: 'gemma-scope-npz', root: join(path, 'params.npz') };
  if (has('params.safetensors')) return { name: 'gemma-scope-safetensors', root: join(path, 'params.safetensors') };
  if (has('ae.pt')) refusePickle(join(path, 'ae.pt'));
  fail('E_FORMAT', `${path} is not a model folder: no cfg.json (SAELens, sparsify, sparsecode), hyperparams.json (Llama Scope), params.npz or params.safetensors (Gemma Scope)`);
}

function refusePickle(path: string): never {
  fail('E_FORMAT', `${path} is a PyTorch pickle (dictionary_learning's ae.pt or a torch state dict), which sparsecode never unpickles; convert it once with Python: python3 scripts/convert_dictionary_learning.py ${path} OUT_DIR (writes a SAELens v6 folder), then load OUT_DIR`);
}

function saelensIsV6(cfg: Record<string, any>, where: string): boolean {
  let v: unknown = cfg.sae_lens_version;
  if (!v && cfg.metadata && typeof cfg.metadata === 'object') v = cfg.metadata.sae_lens_version;
  if (!v) return false;
  if (typeof v !== 'string') fail('E_FORMAT', `${where}: sae_lens_version must be a string, got ${JSON.stringify(v)}`);
  return saelensVersionIsV6(v, where);
}

// ---- reading -------------------------------------------------------------------------------

/** Read and validate a model in any supported layout (see the module comment). */
export function readModel(path: string, opts: ReadModelOptions = {}): ReadModel {
  const det = detectLayout(path);
  let r: Omit<ReadModel, 'path' | 'dim' | 'atoms'>;
  switch (det.name) {
    case 'sparsecode':
    case 'saelens-v6':
    case 'saelens-pre-v6':
      r = readSaelens(det.root, det.name, opts);
      break;
    case 'gemma-scope-npz':
    case 'gemma-scope-safetensors':
      r = readGemmaScope(det.root, det.name);
      break;
    case 'sparsify':
      r = readSparsify(det.root);
      break;
    case 'llama-scope':
      r = readLlamaScope(det.root);
      break;
  }
  const { dim, atoms } = checkSpec(r.spec, r.layout.root);
  return { path, dim, atoms, ...r };
}

function layout(name: LayoutName, root: string, files: string[], notes: string[]): LayoutInfo {
  return { name, description: LAYOUT_DESCRIPTIONS[name], root, files, notes };
}

interface SaelensCfg {
  architecture: string;
  d_in: number;
  d_sae: number;
  applyBDec: boolean;
  normalize: string;
  reshape: 'none' | 'hook_z';
  k?: number;
  rescale: boolean;
  finetuningScaling: boolean;
  metadata: Record<string, unknown>;
}

const LLM_METADATA_KEYS = ['model_name', 'model_class_name', 'hook_name', 'hook_head_index', 'model_from_pretrained_kwargs', 'prepend_bos', 'exclude_special_tokens', 'neuronpedia_id', 'context_size', 'seqpos_slice', 'dataset_path', 'sae_lens_version', 'sae_lens_training_version', 'hf_hook_name', 'sequence_separator_token', 'disable_concat_sequences'];

/** SAELens' handle_config_defaulting / handle_pre_6_0_config, then the checks SAELens makes when it builds the config. */
function saelensConfig(cfg: Record<string, any>, v6: boolean, where: string, notes: string[], sparsecode: boolean): SaelensCfg {
  let c: Record<string, any> = { ...cfg };
  if (!v6) {
    const rename: Record<string, string> = { hook_point: 'hook_name', hook_point_layer: 'hook_layer', hook_point_head_index: 'hook_head_index', activation_fn_str: 'activation_fn' };
    const n: Record<string, any> = {};
    for (const [k, v] of Object.entries(c)) n[rename[k] ?? k] = v;
    c = n;
    c.apply_b_dec_to_input ??= true;
    c.finetuning_scaling_factor ??= false;
    c.activation_fn ??= 'relu';
    c.architecture ??= 'standard';
    const kw = c.activation_fn_kwargs;
    if (sparsecode) {
      // a sparsecode format-1 folder: the kind comes from the sparsecode block
    } else if (c.activation_fn === 'topk') {
      if (!kw || typeof kw !== 'object' || kw.k === undefined || kw.k === null) fail('E_FORMAT', `${where}: activation_fn "topk" without activation_fn_kwargs.k; the number of active latents is not stored`);
      c.architecture = 'topk';
      c.k = kw.k;
      notes.push(`pre-v6 config: activation_fn "topk" with activation_fn_kwargs.k = ${JSON.stringify(kw.k)} read as architecture topk`);
    } else if (c.activation_fn !== 'relu') {
      fail('E_FORMAT', `${where}: activation_fn ${JSON.stringify(c.activation_fn)} is not supported (relu, or topk with activation_fn_kwargs.k); SAELens 6 would run it as a ReLU, which changes the model`);
    }
    if (typeof c.normalize_activations === 'boolean') {
      notes.push(`pre-v6 config: normalize_activations ${c.normalize_activations} read as "${c.normalize_activations ? 'expected_average_only_in' : 'none'}"`);
      c.normalize_activations = c.normalize_activations ? 'expected_average_only_in' : 'none';
    }
    const md: Record<string, unknown> = {};
    for (const k of LLM_METADATA_KEYS) if (own(c, k)) md[k] = c[k];
    c.metadata = md;
  }
  if (c.normalize_activations === undefined || c.normalize_activations === null) c.normalize_activations = 'none';
  const d_in = posInt(c.d_in, 'd_in', where);
  const d_sae = posInt(c.d_sae, 'd_sae', where);
  if (typeof c.architecture !== 'string' && !sparsecode) fail('E_FORMAT', `${where}: a v6 cfg.json needs "architecture" (standard, topk, jumprelu, ...), got ${JSON.stringify(c.architecture)}`);
  if (c.dtype !== undefined && !SAELENS_DTYPES.has(c.dtype)) fail('E_FORMAT', `${where}: dtype ${JSON.stringify(c.dtype)} is not one SAELens reads (${[...SAELENS_DTYPES].join(', ')})`);
  const reshape = c.reshape_activations ?? 'none';
  if (reshape !== 'none' && reshape !== 'hook_z') fail('E_FORMAT', `${where}: reshape_activations ${JSON.stringify(reshape)} is not supported ("none" or "hook_z")`);
  if (reshape === 'hook_z') notes.push('reshape_activations "hook_z": inputs are the heads flattened, [n_heads · d_head] = d_in columns');
  if (typeof c.normalize_activations !== 'string') fail('E_FORMAT', `${where}: normalize_activations must be a string, a bool or null, got ${JSON.stringify(c.normalize_activations)}`);
  const metadata = c.metadata && typeof c.metadata === 'object' && !Array.isArray(c.metadata) ? { ...c.metadata } : {};
  let k: number | undefined;
  const arch = c.architecture;
  if (!sparsecode && (arch === 'topk' || arch === 'batchtopk' || arch === 'matryoshka_batchtopk')) {
    if (c.k !== undefined && c.k !== null) {
      if (typeof c.k !== 'number' || !(c.k > 0)) fail('E_FORMAT', `${where}: k must be a positive number, got ${JSON.stringify(c.k)}`);
      k = c.k;
    }
    if (arch === 'topk') {
      if (k === undefined) fail('E_FORMAT', `${where}: a topk SAE without k; the number of active latents is not stored (SAELens would silently use 100)`);
      if (!Number.isInteger(k) || k > d_sae) fail('E_FORMAT', `${where}: k = ${k} must be an integer in [1, d_sae = ${d_sae}]`);
    }
  }
  // rescale_acts_by_decoder_norm: default false for inference configs, true for the training configs of topk-style SAEs
  const rescaleDefault = arch === 'batchtopk' || arch === 'matryoshka_batchtopk' || (arch === 'topk' && own(c, 'aux_loss_coefficient'));
  const rescale = !sparsecode && optBool(c.rescale_acts_by_decoder_norm, 'rescale_acts_by_decoder_norm', where, rescaleDefault);
  if (c.rescale_acts_by_decoder_norm === undefined && rescale) notes.push('rescale_acts_by_decoder_norm absent from a training config: SAELens\' training default (true) applies');
  return {
    architecture: arch,
    d_in,
    d_sae,
    applyBDec: optBool(c.apply_b_dec_to_input, 'apply_b_dec_to_input', where, true),
    normalize: c.normalize_activations,
    reshape,
    k,
    rescale,
    finetuningScaling: optBool(c.finetuning_scaling_factor, 'finetuning_scaling_factor', where, false),
    metadata,
  };
}

function readSaelens(dir: string, name: 'sparsecode' | 'saelens-v6' | 'saelens-pre-v6', opts: ReadModelOptions): Omit<ReadModel, 'path' | 'dim' | 'atoms'> {
  const cfgPath = join(dir, CFG_FILE);
  const cfg = readJson(cfgPath);
  const notes: string[] = [];
  const files = [cfgPath, join(dir, WEIGHTS_FILE)];
  const sc = name === 'sparsecode' ? (cfg.sparsecode as Record<string, any>) : null;
  const v6 = name === 'saelens-v6' || (sc !== null && saelensIsV6(cfg, cfgPath));
  const sl = saelensConfig(cfg, v6, cfgPath, notes, sc !== null);
  const { d_in: dim, d_sae: atoms } = sl;
  const what = (a: string) => `a SAELens ${a} SAE`;
  let kind: ModelKind;
  if (sc) {
    if (typeof sc.kind !== 'string' || !MODEL_KINDS.includes(sc.kind as ModelKind)) fail('E_FORMAT', `${cfgPath}: sparsecode.kind must be one of ${MODEL_KINDS.join(', ')}, got ${JSON.stringify(sc.kind)}`);
    kind = sc.kind as ModelKind;
    if (sl.normalize !== 'none') fail('E_FORMAT', `${cfgPath}: a sparsecode model with normalize_activations ${JSON.stringify(sl.normalize)}; sparsecode writes "none" (its scaling is folded into the weights)`);
  } else {
    switch (sl.architecture) {
      case 'standard': kind = 'relu'; break;
      case 'topk': kind = 'topk'; break;
      case 'jumprelu': kind = 'jumprelu'; break;
      case 'batchtopk':
      case 'matryoshka_batchtopk':
        kind = 'jumprelu';
        notes.push(`${sl.architecture} (a training config) read as a JumpReLU with its inference threshold, as SAELens saves it for inference`);
        break;
      case 'gated':
        fail('E_FORMAT', `${cfgPath}: gated SAEs (b_gate, r_mag, b_mag) are not supported; sparsecode reads standard, topk, jumprelu, batchtopk and matryoshka_batchtopk SAEs`);
      // falls through (fail never returns)
      default:
        if (/transcoder/.test(sl.architecture)) fail('E_FORMAT', `${cfgPath}: architecture ${JSON.stringify(sl.architecture)} is a transcoder (input and output differ); sparsecode reads SAEs only`);
        fail('E_FORMAT', `${cfgPath}: architecture ${JSON.stringify(sl.architecture)} is not supported (standard, topk, jumprelu, batchtopk, matryoshka_batchtopk)`);
    }
  }
  // activation normalisation
  let inputScale: number | undefined;
  if (sl.normalize === 'expected_average_only_in') {
    const scPath = join(dir, 'activation_scaler.json');
    let s: unknown = opts.activationScale;
    if (s === undefined && isFile(scPath)) {
      s = readJson(scPath).scaling_factor;
      files.push(scPath);
      if (s === null || s === undefined) fail('E_FORMAT', `${scPath}: scaling_factor is null (it was never estimated); the model's input scale is unknown`);
      notes.push(`normalize_activations "expected_average_only_in": inputs scaled by ${s} from activation_scaler.json (folded into the weights)`);
    } else if (s !== undefined) {
      notes.push(`normalize_activations "expected_average_only_in": inputs scaled by ${s} (given; folded into the weights)`);
    }
    if (s === undefined) {
      fail('E_FORMAT', `${cfgPath}: normalize_activations "expected_average_only_in" needs the activation-norm scaling factor, which this folder does not store (no activation_scaler.json). SAELens applies no scaling at inference, which is right only if the factor was folded into the weights: if it was, set normalize_activations to "none"; if not, give the factor (--activation-scale S, or readModel/loadModel(dir, {activationScale: S}))`);
    }
    if (typeof s !== 'number' || !Number.isFinite(s) || s <= 0) fail('E_FORMAT', `${cfgPath}: the activation scaling factor must be a finite positive number, got ${JSON.stringify(s)}`);
    inputScale = s;
  } else if (sl.normalize === 'constant_norm_rescale' || sl.normalize === 'layer_norm') {
    fail('E_FORMAT', `${cfgPath}: normalize_activations ${JSON.stringify(sl.normalize)} normalises each input row at run time, which sparsecode's encoders do not do; normalise the activations yourself (${sl.normalize === 'layer_norm' ? 'subtract the row mean, divide by the row std' : 'scale each row to norm √d_in'}) and set normalize_activations to "none"`);
  } else if (sl.normalize !== 'none') {
    fail('E_FORMAT', `${cfgPath}: normalize_activations ${JSON.stringify(sl.normalize)} is not one SAELens defines (none, expected_average_only_in, constant_norm_rescale, layer_norm)`);
  }
  // tensors
  const T = safetensorsTensors(join(dir, WEIGHTS_FILE), sc ? `a sparsecode ${kind} model` : what(sl.architecture));
  if (kind === 'topk-transcoder') {
    // W_enc [d_in, d_sae], b_enc, W_dec [d_sae, d_out], b_dec [d_out], W_skip [d_out, d_in] with the skip connection
    const dOut = cfg.d_out;
    if (!Number.isSafeInteger(dOut) || dOut < 1) fail('E_FORMAT', `${cfgPath}: a transcoder's cfg.json needs d_out (a positive integer), got ${JSON.stringify(dOut)}`);
    const tw: ModelWeights = {
      W_enc: T.matrix('W_enc', dim, atoms, '[d_in, d_sae]')!,
      b_enc: T.vector('b_enc', atoms, '[d_sae]')!,
      W_dec: T.matrix('W_dec', atoms, dOut, '[d_sae, d_out]')!,
      b_dec: T.vector('b_dec', dOut, '[d_out]')!,
    };
    if (cfg.skip_connection === true) tw.W_skip = T.matrix('W_skip', dOut, dim, '[d_out, d_in]')!;
    T.refuseUnused(cfg.skip_connection === true ? '' : ' (W_skip needs skip_connection: true in cfg.json)');
    const k = sc!.k ?? cfg.k;
    return { layout: layout(name, dir, files, notes), cfg, spec: { kind, weights: tw, k, training: sc?.training ?? {} } };
  }
  const weights: ModelWeights = { W_dec: T.matrix('W_dec', atoms, dim, '[d_sae, d_in]')! };
  const sae = kind !== 'dl-fista' && kind !== 'online-dl';
  if (sae) {
    weights.W_enc = T.matrix('W_enc', dim, atoms, '[d_in, d_sae]')!;
    weights.b_enc = T.vector('b_enc', atoms, '[d_sae]')!;
    weights.b_dec = T.vector('b_dec', dim, '[d_in]')!;
  }
  if (kind === 'jumprelu' || kind === 'batchtopk') {
    if (T.has('threshold')) weights.threshold = T.vector('threshold', atoms, '[d_sae]');
    else if (kind === 'jumprelu' && !/batchtopk/.test(sl.architecture) && T.has('log_threshold')) {
      weights.threshold = T.vector('log_threshold', atoms, '[d_sae]')!.map((v) => Math.exp(v));
      notes.push('threshold = exp(log_threshold) (a SAELens ≤ 6.47 JumpReLU training checkpoint)');
    } else if ((kind === 'batchtopk' || /batchtopk/.test(sl.architecture)) && T.has('topk_threshold')) {
      const t = T.scalar('topk_threshold')!;
      weights.threshold = new Float32Array(atoms).fill(t);
      notes.push(`threshold = topk_threshold = ${t} for every latent (BatchTopK inference)`);
    } else {
      fail('E_FORMAT', `${join(dir, WEIGHTS_FILE)}: a ${sc ? kind : sl.architecture} SAE needs thresholds (tensor threshold [d_sae]${/batchtopk/.test(sl.architecture) || kind === 'batchtopk' ? ', or the scalar topk_threshold' : ', or log_threshold'}), and this file has none; without them the encoder would be a plain ReLU`);
    }
  }
  let featureScale: Float32Array | undefined;
  if (T.has('scaling_factor')) {
    const s = T.vector('scaling_factor', atoms, '[d_sae]')!;
    if (s.every((v) => v === 1)) notes.push('scaling_factor tensor of ones dropped (as SAELens does)');
    else if (!sl.finetuningScaling) fail('E_FORMAT', `${join(dir, WEIGHTS_FILE)}: tensor scaling_factor is not all ones but finetuning_scaling_factor is false; SAELens refuses this file too`);
    else {
      featureScale = s;
      notes.push('finetuning scaling_factor folded into the decoder rows');
    }
  }
  T.refuseUnused(sae ? '' : ' (a classical dictionary stores W_dec only)');
  const spec: ModelSpec = { kind, weights, training: sc?.training ?? {} };
  if (!sl.applyBDec && sae && kind !== 'mp') {
    spec.applyBDecToInput = false;
    notes.push('apply_b_dec_to_input false: the encoder sees x, not x − b_dec');
  }
  if (inputScale !== undefined) {
    spec.inputScale = inputScale;
    spec.outputScale = inputScale;
  }
  if (featureScale) spec.featureScale = featureScale;
  if (sl.reshape === 'hook_z') spec.reshapeActivations = 'hook_z';
  if (Object.keys(sl.metadata).length) {
    const md = { ...sl.metadata };
    for (const k of ['sae_lens_version', 'sae_lens_training_version', 'sparsecode_version']) delete md[k];
    spec.metadata = md;
  }
  if (sl.rescale && (kind === 'topk' || /batchtopk/.test(sl.architecture))) {
    spec.gateOnDecoderNorm = true;
    notes.push('rescale_acts_by_decoder_norm: the activation sees pre·‖W_dec row‖; decoder norms are folded into the encoder (codes equal SAELens\' encode)');
  }
  if (sae) {
    const kk = sc ? (sc.k ?? cfg.k ?? cfg.activation_fn_kwargs?.k) : kind === 'topk' ? sl.k : undefined;
    if (kk !== undefined && kk !== null) spec.k = kk;
  } else {
    // models from before the inference settings had a tolerance stored the training's per-step
    // iterations (e.g. 5): read them with a converged solve instead
    const inf = sc!.inference;
    spec.inference = inf && inf.tol === undefined ? { ...inf, ...DEFAULT_INFERENCE } : inf;
  }
  if (sc?.whitening) {
    const wp = join(dir, WHITENING_FILE);
    files.push(wp);
    const W = safetensorsTensors(wp, 'a sparsecode whitening');
    spec.whitening = {
      method: String(sc.whitening.method),
      mean: W.vector('mean', dim, '[d]')!,
      W: W.matrix('W', dim, dim, '[d, d]')!,
      W_inv: W.matrix('W_inv', dim, dim, '[d, d]')!,
    };
    W.refuseUnused();
    const jp = join(dir, WHITENING_JSON);
    if (existsSync(jp)) {
      spec.whitening.json = readJson(jp);
      files.push(jp);
    }
  }
  let logSparsity: Float32Array | undefined;
  const spPath = join(dir, SPARSITY_FILE);
  if (isFile(spPath)) {
    const S = safetensorsTensors(spPath, 'a SAELens sparsity file');
    logSparsity = S.vector('sparsity', atoms, '[d_sae]');
    S.refuseUnused();
    files.push(spPath);
  }
  return { layout: layout(name, dir, files, notes), cfg, spec, logSparsity };
}

function readGemmaScope(file: string, name: 'gemma-scope-npz' | 'gemma-scope-safetensors'): Omit<ReadModel, 'path' | 'dim' | 'atoms'> {
  const notes: string[] = [];
  const what = 'a Gemma Scope JumpReLU SAE (w_enc [d_in, d_sae], w_dec [d_sae, d_in], b_enc [d_sae], b_dec [d_in], threshold [d_sae])';
  if (resolve(file).split(sep).some((s) => /embedding/i.test(s))) {
    fail('E_FORMAT', `${file}: a Gemma Scope embedding SAE; these need a √d_in rescaling of the weights that depends on how the embedding activations were taken (SAELens divides w_enc and multiplies w_dec by √d_in); convert it explicitly rather than load it as is`);
  }
  let map: TensorMap;
  if (name === 'gemma-scope-npz') {
    map = {};
    for (const [k, a] of Object.entries(readNpz(file).arrays)) map[k] = a;
  } else map = readSafetensors(file).tensors as unknown as TensorMap;
  const T = new Tensors(file, map, what);
  for (const k of ['w_enc', 'w_dec', 'b_enc', 'b_dec']) if (!T.has(k)) fail('E_FORMAT', `${file}: tensor ${k} is missing; ${what}`);
  if (!T.has('threshold')) fail('E_FORMAT', `${file}: tensor threshold is missing; Gemma Scope SAEs are JumpReLU and need it (loading without it would give a ReLU SAE)`);
  const atoms = map.b_enc.shape.length === 1 ? map.b_enc.shape[0] : -1;
  const dim = map.b_dec.shape.length === 1 ? map.b_dec.shape[0] : -1;
  if (atoms < 1) fail('E_SHAPE', `${file}: tensor b_enc has shape [${map.b_enc.shape.join(', ')}]; ${what}`);
  if (dim < 1) fail('E_SHAPE', `${file}: tensor b_dec has shape [${map.b_dec.shape.join(', ')}]; ${what}`);
  const weights: ModelWeights = {
    W_enc: T.matrix('w_enc', dim, atoms, 'w_enc [d_in, d_sae]')!,
    b_enc: T.vector('b_enc', atoms, '[d_sae]')!,
    W_dec: T.matrix('w_dec', atoms, dim, 'w_dec [d_sae, d_in]')!,
    b_dec: T.vector('b_dec', dim, '[d_in]')!,
    threshold: T.vector('threshold', atoms, '[d_sae]')!,
  };
  T.refuseUnused(' (a transcoder or another architecture?)');
  notes.push('w_enc/w_dec read as W_enc/W_dec; JumpReLU with per-latent thresholds; apply_b_dec_to_input false, no normalisation (as SAELens\' gemma_2 loader)');
  const spec: ModelSpec = { kind: 'jumprelu', weights, applyBDecToInput: false };
  return { layout: layout(name, file, [file], notes), cfg: {}, spec };
}

function readSparsify(dir: string): Omit<ReadModel, 'path' | 'dim' | 'atoms'> {
  const cfgPath = join(dir, CFG_FILE);
  const cfg = readJson(cfgPath);
  const notes: string[] = [];
  const dim = posInt(cfg.d_in, 'd_in', cfgPath);
  const activation = cfg.activation ?? 'topk';
  if (activation !== 'topk') fail('E_FORMAT', `${cfgPath}: activation ${JSON.stringify(activation)} is not supported (sparsify's "topk" is; "groupmax" picks one latent per group)`);
  if (optBool(cfg.transcode, 'transcode', cfgPath, false)) fail('E_FORMAT', `${cfgPath}: a sparsify transcoder (transcode: true) maps one activation to another; sparsecode reads SAEs only`);
  if (optBool(cfg.skip_connection, 'skip_connection', cfgPath, false)) fail('E_FORMAT', `${cfgPath}: skip_connection true (W_skip) is not supported`);
  if (optBool(cfg.signed, 'signed', cfgPath, false)) fail('E_FORMAT', `${cfgPath}: signed top-k is not supported`);
  let atoms: number;
  if (cfg.num_latents !== undefined && cfg.num_latents !== null && cfg.num_latents !== 0) atoms = posInt(cfg.num_latents, 'num_latents', cfgPath);
  else {
    const ef = posInt(cfg.expansion_factor, 'expansion_factor (num_latents is 0 or absent)', cfgPath);
    atoms = dim * ef;
    notes.push(`num_latents = d_in · expansion_factor = ${atoms}`);
  }
  const k = posInt(cfg.k, 'k', cfgPath);
  if (k > atoms) fail('E_FORMAT', `${cfgPath}: k = ${k} is larger than the ${atoms} latents`);
  const wp = join(dir, 'sae.safetensors');
  const T = safetensorsTensors(wp, 'a sparsify SAE (encoder.weight [M, D], encoder.bias [M], W_dec [M, D], b_dec [D])');
  const weights: ModelWeights = {
    W_enc: T.matrixT('encoder.weight', dim, atoms, 'encoder.weight [num_latents, d_in]')!,
    b_enc: T.vector('encoder.bias', atoms, '[num_latents]')!,
    W_dec: T.matrix('W_dec', atoms, dim, '[num_latents, d_in]')!,
    b_dec: T.vector('b_dec', dim, '[d_in]')!,
  };
  T.refuseUnused();
  notes.push('encoder.weight [M x D] transposed to W_enc [D x M]; encode = top-k of relu((x − b_dec)·W_enc + b) as sparsify does');
  const spec: ModelSpec = { kind: 'topk', weights, k, metadata: { hf_hook_name: basename(resolve(dir)) } };
  return { layout: layout('sparsify', dir, [cfgPath, wp], notes), cfg, spec };
}

function readLlamaScope(dir: string): Omit<ReadModel, 'path' | 'dim' | 'atoms'> {
  const hp = join(dir, 'hyperparams.json');
  const cfg = readJson(hp);
  const notes: string[] = [];
  const dim = posInt(cfg.d_model, 'd_model', hp);
  const atoms = posInt(cfg.d_sae, 'd_sae', hp);
  if (cfg.hook_point_out !== undefined && cfg.hook_point_in !== undefined && cfg.hook_point_out !== cfg.hook_point_in) {
    fail('E_FORMAT', `${hp}: hook_point_in ${JSON.stringify(cfg.hook_point_in)} differs from hook_point_out ${JSON.stringify(cfg.hook_point_out)}: a transcoder, which sparsecode does not read`);
  }
  if (optBool(cfg.use_glu_encoder, 'use_glu_encoder', hp, false)) fail('E_FORMAT', `${hp}: use_glu_encoder true (a gated encoder) is not supported`);
  const act = cfg.act_fn ?? 'relu';
  let kind: ModelKind;
  let k: number | undefined;
  if (act === 'jumprelu') kind = 'jumprelu';
  else if (act === 'relu') kind = 'relu';
  else if (act === 'topk') {
    kind = 'topk';
    k = posInt(cfg.top_k, 'top_k', hp);
  } else fail('E_FORMAT', `${hp}: act_fn ${JSON.stringify(act)} is not supported (jumprelu, topk, relu)`);
  const wp = join(dir, 'checkpoints', 'final.safetensors');
  const T = safetensorsTensors(wp, 'a Llama Scope SAE (encoder.weight [d_sae, d_model], encoder.bias [d_sae], decoder.weight [d_model, d_sae], decoder.bias [d_model])');
  const useBias = optBool(cfg.use_decoder_bias, 'use_decoder_bias', hp, true);
  const weights: ModelWeights = {
    W_enc: T.matrixT('encoder.weight', dim, atoms, 'encoder.weight [d_sae, d_model]')!,
    b_enc: T.vector('encoder.bias', atoms, '[d_sae]')!,
    W_dec: T.matrixT('decoder.weight', atoms, dim, 'decoder.weight [d_model, d_sae]')!,
    b_dec: useBias ? T.vector('decoder.bias', dim, '[d_model]')! : new Float32Array(dim),
  };
  if (kind === 'jumprelu') {
    if (T.has('log_jumprelu_threshold')) {
      weights.threshold = T.vector('log_jumprelu_threshold', atoms, '[d_sae]')!.map((v) => Math.exp(v));
      notes.push('threshold = exp(log_jumprelu_threshold), per latent');
    } else {
      const t = cfg.jump_relu_threshold;
      if (typeof t !== 'number' || !Number.isFinite(t)) fail('E_FORMAT', `${hp}: act_fn "jumprelu" needs jump_relu_threshold (a number) or a log_jumprelu_threshold tensor; found neither, and without a threshold the encoder would be a ReLU`);
      weights.threshold = new Float32Array(atoms).fill(t);
      notes.push(`threshold = jump_relu_threshold = ${t} for every latent`);
    }
  }
  T.refuseUnused();
  notes.push('encoder.weight and decoder.weight transposed to W_enc [d_model x d_sae] and W_dec [d_sae x d_model]');
  const spec: ModelSpec = { kind, weights, applyBDecToInput: optBool(cfg.apply_decoder_bias_to_pre_encoder, 'apply_decoder_bias_to_pre_encoder', hp, false) };
  if (k !== undefined) spec.k = k;
  if (typeof cfg.hook_point_in === 'string') spec.metadata = { hook_name: cfg.hook_point_in };
  if (!spec.applyBDecToInput) notes.push('apply_decoder_bias_to_pre_encoder false: the encoder sees x, not x − b_dec');
  const norm = cfg.norm_activation ?? 'inference';
  if (norm === 'dataset-wise') {
    const avg = cfg.dataset_average_activation_norm;
    const pick = (key: 'in' | 'out'): number => {
      const hook = key === 'in' ? cfg.hook_point_in : cfg.hook_point_out;
      const v = avg && typeof avg === 'object' ? (avg[key] ?? (typeof hook === 'string' ? avg[hook] : undefined)) : undefined;
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail('E_FORMAT', `${hp}: norm_activation "dataset-wise" needs dataset_average_activation_norm.${key} (a positive number), got ${JSON.stringify(v)}; without it the inputs' scale is unknown`);
      return v;
    };
    const nin = pick('in'), nout = pick('out');
    spec.inputScale = Math.sqrt(dim) / nin;
    spec.outputScale = Math.sqrt(dim) / nout;
    notes.push(`norm_activation "dataset-wise": inputs scaled by √d_model / ${nin} = ${spec.inputScale.toPrecision(6)}${nout !== nin ? `, outputs by √d_model / ${nout}` : ''} (folded into the weights; codes are in the training scale)`);
  } else if (norm !== 'inference' && norm !== 'none') {
    fail('E_FORMAT', `${hp}: norm_activation ${JSON.stringify(norm)} is not supported ("dataset-wise", or "inference" for weights already rescaled); "token-wise" normalises each row at run time`);
  }
  if (optBool(cfg.sparsity_include_decoder_norm, 'sparsity_include_decoder_norm', hp, false)) {
    spec.gateOnDecoderNorm = true;
    notes.push('sparsity_include_decoder_norm: the activation sees pre·‖decoder column‖; decoder norms are folded into the encoder, so codes are lm_saes\' feature activations times ‖W_dec row‖ (reconstructions are the same)');
  }
  return { layout: layout('llama-scope', dir, [hp, wp], notes), cfg, spec };
}
