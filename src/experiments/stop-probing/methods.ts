import { saeKindOf } from '../../dictionary/sae/config.js';
import { fail } from '../../core/errors.js';
import type { SaeKindName } from './training.js';

/**
 * "Stop Probing, Start Coding" (PAPERS sec. 1): compositional generalisation of codes from a
 * linear probe, SAEs, FISTA on frozen SAE decoders, dictionary learning + FISTA and the FISTA
 * oracle, in and out of distribution, swept over n (latents), k (active) and N (samples).
 */

export const SAE_METHODS = ['relu-sae', 'topk-sae', 'jumprelu-sae', 'mp-sae'] as const;
export const STOP_PROBING_METHODS = [
  'oracle',
  'probe',
  'dl-fista',
  ...SAE_METHODS,
  ...SAE_METHODS.map((m) => `fista-on-${m}` as const),
] as const;
export type StopProbingMethod = (typeof STOP_PROBING_METHODS)[number];

export const METRIC_NAMES = ['mcc_id', 'mcc_ood', 'acc_id', 'acc_ood', 'auc_ood', 'dict_mean_cos', 'dict_frac_090'] as const;

export const METHOD_LABELS: Record<string, string> = {
  oracle: 'FISTA oracle',
  probe: 'Linear probe',
  'dl-fista': 'DL-FISTA',
  'relu-sae': 'SAE ReLU',
  'topk-sae': 'SAE TopK',
  'jumprelu-sae': 'SAE JumpReLU',
  'mp-sae': 'SAE MP',
  'fista-on-relu-sae': 'FISTA on SAE ReLU decoder',
  'fista-on-topk-sae': 'FISTA on SAE TopK decoder',
  'fista-on-jumprelu-sae': 'FISTA on SAE JumpReLU decoder',
  'fista-on-mp-sae': 'FISTA on SAE MP decoder',
};

/** Plot colours: an SAE and FISTA on its decoder share a colour (the latter dashed). */
export const METHOD_COLORS: Record<string, string> = {
  oracle: '#000000',
  probe: '#D55E00',
  'dl-fista': '#009E73',
  'relu-sae': '#CC79A7',
  'topk-sae': '#0072B2',
  'jumprelu-sae': '#E69F00',
  'mp-sae': '#56B4E9',
  'fista-on-relu-sae': '#CC79A7',
  'fista-on-topk-sae': '#0072B2',
  'fista-on-jumprelu-sae': '#E69F00',
  'fista-on-mp-sae': '#56B4E9',
};

/** A cell's config: exactly these fields go into results.jsonl. */
export interface StopProbingConfig {
  latents: number;
  active: number;
  samples: number;
  dim: number;
  seed: number;
  [key: string]: number;
}

export function isStopProbingMethod(s: string): s is StopProbingMethod {
  return (STOP_PROBING_METHODS as readonly string[]).includes(s);
}

/** What a method does, from its name: the one mapping of method names to learners. */
export type MethodKind =
  | { learner: 'oracle' }
  | { learner: 'probe' }
  | { learner: 'dl-fista' }
  /** an SAE of this kind; `fistaOn`: FISTA codes on its frozen decoder instead of its encoder */
  | { learner: 'sae'; kind: SaeKindName; fistaOn: boolean };


const METHOD_KINDS = new Map<string, MethodKind>([
  ['oracle', { learner: 'oracle' }],
  ['probe', { learner: 'probe' }],
  ['dl-fista', { learner: 'dl-fista' }],
  ...SAE_METHODS.map((m): [string, MethodKind] => [m, { learner: 'sae', kind: saeKindOf(m) as SaeKindName, fistaOn: false }]),
  ...SAE_METHODS.map((m): [string, MethodKind] => [`fista-on-${m}`, { learner: 'sae', kind: saeKindOf(m) as SaeKindName, fistaOn: true }]),
]);

export function methodKind(method: string): MethodKind {
  const k = METHOD_KINDS.get(method);
  if (!k) fail('E_ARG', `unknown method "${method}"; choose from ${STOP_PROBING_METHODS.join(', ')}`);
  return k;
}

/**
 * The methods that share work with this one (one cell group; one job on a queue): an SAE and
 * FISTA on its decoder share the trained SAE (`sae-<kind>`); DL-FISTA stands alone; the oracle
 * and the probe learn nothing and share the world (`direct`).
 */
export function methodFamily(method: string): string {
  const m = methodKind(method);
  return m.learner === 'sae' ? `sae-${m.kind}` : m.learner === 'dl-fista' ? 'dl-fista' : 'direct';
}

/** The run order: the methods that learn nothing first, then DL-FISTA, then each SAE followed by FISTA on its decoder. */
const RUN_ORDER: StopProbingMethod[] = [
  'oracle', 'probe', 'dl-fista',
  ...SAE_METHODS.flatMap((m) => [m, `fista-on-${m}` as const]),
];

/** Put methods in run order: an SAE right before FISTA on its decoder (they share the trained SAE). */
export function orderMethods(methods: string[]): StopProbingMethod[] {
  for (const m of methods) if (!isStopProbingMethod(m)) fail('E_USAGE', `unknown method "${m}"; choose from ${STOP_PROBING_METHODS.join(', ')}`);
  const set = new Set(methods);
  return RUN_ORDER.filter((m) => set.has(m));
}
