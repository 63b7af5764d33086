import { fail } from '../core/errors.js';

/**
 * Interpretability claims and the evidence behind them, on Pearl's ladder ("Causality is Key
 * for Interpretability Claims to Generalise", arXiv 2602.16698; PROTOCOLS.md §8.2):
 *
 *   rung 1, association:    "X is represented / correlates with the output"      — probes, correlations,
 *                           maximally activating examples, interpretability indices
 *   rung 2, intervention:   "changing X changes the output by β on average over a prompt set"
 *                           — ablation, activation patching, steering
 *   rung 3, counterfactual: "for this input, had X been x', the output would have been y'"
 *                           — per-input counterfactuals checked against a causal model of the
 *                           inputs (controlled supervision: a known SCM, or counterfactual pairs)
 *
 * A claim record is `{claim, rung, evidence, regime}` (+ optional `id`, `scope`). `checkClaims`
 * flags a claim whose rung is above what its evidence supports (`rung-above-evidence`), and a
 * claim said to hold beyond the data it was tested on (`scope: "general"`) whose evidence was
 * gathered in distribution only (`scope-above-regime`): the paper's point that interventional
 * findings support claims about the distribution they were measured on, and generalising them
 * needs a test under shift (or assumptions that license it).
 */

export type Rung = 1 | 2 | 3;
export const RUNG_NAMES: Record<Rung, string> = { 1: 'association', 2: 'intervention', 3: 'counterfactual' };

/** Every evidence kind the checker knows, with the highest rung it supports. */
export const EVIDENCE_KINDS: Record<string, { rung: Rung; what: string }> = {
  correlation: { rung: 1, what: 'correlation between an activation (or direction) and a concept or the output' },
  probe: { rung: 1, what: 'a (linear) probe decodes the concept from the activations' },
  'max-activating-examples': { rung: 1, what: 'the inputs that activate a unit or direction most' },
  'interpretability-index': { rung: 1, what: 'a 2-AFC / MIS-style index from top and bottom activating inputs' },
  'similarity-analysis': { rung: 1, what: 'RSA, CKA or another comparison of representations' },
  ablation: { rung: 2, what: 'zero-, mean- or resample-ablation of a unit, direction or latent; average effect on a metric' },
  'activation-patching': { rung: 2, what: 'activations patched in from other inputs; average effect on a metric' },
  steering: { rung: 2, what: 'activations moved along a direction or SAE latent; average effect on a metric' },
  'path-patching': { rung: 2, what: 'patching along specific paths; average effect on a metric' },
  counterfactual: { rung: 3, what: 'per-input counterfactual predictions checked against a causal model of the inputs' },
};

export const REGIMES = ['in-distribution', 'shifted', 'both'] as const;
export type Regime = (typeof REGIMES)[number];
export const SCOPES = ['in-distribution', 'general'] as const;
export type Scope = (typeof SCOPES)[number];

export interface ClaimRecord {
  id?: string;
  /** the claim, in words */
  claim: string;
  /** the rung the claim is stated at */
  rung: Rung;
  /** the kinds of evidence offered for it */
  evidence: string[];
  /** the data the evidence was gathered on */
  regime: Regime;
  /** where the claim says it holds (default in-distribution) */
  scope: Scope;
}

export interface ClaimFlag {
  code: 'rung-above-evidence' | 'scope-above-regime';
  reason: string;
}

export interface ClaimCheck {
  id: string;
  claim: string;
  rung: Rung;
  evidence: string[];
  regime: Regime;
  scope: Scope;
  /** the highest rung any of the evidence kinds supports */
  supportedRung: Rung;
  flags: ClaimFlag[];
  ok: boolean;
}

const RUNG_ALIASES: Record<string, Rung> = {
  '1': 1, 'rung-1': 1, rung1: 1, association: 1, associational: 1, observational: 1,
  '2': 2, 'rung-2': 2, rung2: 2, intervention: 2, interventional: 2,
  '3': 3, 'rung-3': 3, rung3: 3, counterfactual: 3,
};

const REGIME_ALIASES: Record<string, Regime> = {
  'in-distribution': 'in-distribution', id: 'in-distribution', iid: 'in-distribution',
  shifted: 'shifted', ood: 'shifted', 'out-of-distribution': 'shifted',
  both: 'both', 'id+ood': 'both', 'in-and-out-of-distribution': 'both',
};

function describe(v: unknown): string {
  return typeof v === 'string' ? `"${v}"` : JSON.stringify(v) ?? String(v);
}

/** Validate one claim record (`where` names it in messages, e.g. `claims.json: claims[3]`). */
export function parseClaim(v: unknown, where: string): ClaimRecord {
  if (!v || typeof v !== 'object' || Array.isArray(v)) fail('E_FORMAT', `${where}: a claim must be an object {claim, rung, evidence, regime}, got ${describe(v)}`);
  const o = v as Record<string, unknown>;
  const known = new Set(['id', 'claim', 'rung', 'evidence', 'regime', 'scope', 'note']);
  for (const k of Object.keys(o)) if (!known.has(k)) fail('E_FORMAT', `${where}.${k}: unknown field; a claim has claim, rung, evidence, regime, and optionally id, scope, note`);
  if (typeof o.claim !== 'string' || o.claim.trim() === '') fail('E_FORMAT', `${where}.claim: missing or empty; give the claim in words`);
  if (o.id !== undefined && typeof o.id !== 'string' && typeof o.id !== 'number') fail('E_FORMAT', `${where}.id: must be a string or a number, got ${describe(o.id)}`);
  const rung = RUNG_ALIASES[String(o.rung ?? '').toLowerCase()];
  if (o.rung === undefined) fail('E_FORMAT', `${where}.rung: missing; give 1 (association), 2 (intervention) or 3 (counterfactual)`);
  if (!rung) fail('E_FORMAT', `${where}.rung: unknown rung ${describe(o.rung)}; use 1 (association), 2 (intervention) or 3 (counterfactual)`);
  const evRaw = o.evidence;
  if (evRaw === undefined) fail('E_FORMAT', `${where}.evidence: missing; give one evidence kind or a list (${Object.keys(EVIDENCE_KINDS).join(', ')})`);
  const ev = Array.isArray(evRaw) ? evRaw : [evRaw];
  if (ev.length === 0) fail('E_FORMAT', `${where}.evidence: empty list; name at least one evidence kind`);
  const evidence: string[] = [];
  ev.forEach((e, i) => {
    const field = Array.isArray(evRaw) ? `${where}.evidence[${i}]` : `${where}.evidence`;
    if (typeof e !== 'string' || !Object.hasOwn(EVIDENCE_KINDS, e.toLowerCase())) {
      fail('E_FORMAT', `${field}: unknown evidence kind ${describe(e)}; use one of ${Object.keys(EVIDENCE_KINDS).join(', ')}`);
    }
    evidence.push(e.toLowerCase());
  });
  if (o.regime === undefined) fail('E_FORMAT', `${where}.regime: missing; give the data the evidence was gathered on: ${REGIMES.join(', ')}`);
  const regime = REGIME_ALIASES[String(o.regime).toLowerCase()];
  if (!regime) fail('E_FORMAT', `${where}.regime: unknown data regime ${describe(o.regime)}; use ${REGIMES.join(', ')}`);
  let scope: Scope = 'in-distribution';
  if (o.scope !== undefined) {
    const s = String(o.scope).toLowerCase();
    if (!(SCOPES as readonly string[]).includes(s)) fail('E_FORMAT', `${where}.scope: unknown scope ${describe(o.scope)}; use in-distribution (the claim is about the data tested) or general (it claims to hold beyond it)`);
    scope = s as Scope;
  }
  const rec: ClaimRecord = { claim: o.claim, rung, evidence, regime, scope };
  if (o.id !== undefined) rec.id = String(o.id);
  return rec;
}

/** Parse a claims file's JSON: `{"claims": [...]}` or a bare array. */
export function parseClaims(json: unknown, where = 'claims.json'): ClaimRecord[] {
  const list = Array.isArray(json) ? json : json && typeof json === 'object' ? (json as Record<string, unknown>).claims : undefined;
  if (!Array.isArray(list)) fail('E_FORMAT', `${where}: expected {"claims": [...]} or a JSON array of claims`);
  const base = Array.isArray(json) ? where : `${where}: claims`;
  return list.map((c, i) => parseClaim(c, `${base}[${i}]`));
}

/** Check one claim against its evidence. */
export function checkClaim(c: ClaimRecord, index = 0): ClaimCheck {
  if (!RUNG_NAMES[c.rung]) fail('E_ARG', `claim ${c.id ?? index + 1}: rung must be 1, 2 or 3, got ${describe(c.rung)}`);
  if (!Array.isArray(c.evidence) || c.evidence.length === 0) fail('E_ARG', `claim ${c.id ?? index + 1}: evidence must be a non-empty list of evidence kinds`);
  for (const e of c.evidence) if (!Object.hasOwn(EVIDENCE_KINDS, e)) fail('E_ARG', `claim ${c.id ?? index + 1}: unknown evidence kind ${describe(e)}; use one of ${Object.keys(EVIDENCE_KINDS).join(', ')}`);
  const supported = Math.max(...c.evidence.map((e) => EVIDENCE_KINDS[e].rung)) as Rung;
  const flags: ClaimFlag[] = [];
  if (c.rung > supported) {
    const need = Object.entries(EVIDENCE_KINDS).filter(([, v]) => v.rung >= c.rung).map(([k]) => k);
    flags.push({
      code: 'rung-above-evidence',
      reason: `claims rung ${c.rung} (${RUNG_NAMES[c.rung]}) but its evidence (${c.evidence.join(', ')}) supports rung ${supported} (${RUNG_NAMES[supported]}) at most; `
        + `add ${need.join(' / ')} evidence or restate it as a${supported === 1 ? 'n association' : 'n average interventional effect'}`,
    });
  }
  if (c.scope === 'general' && c.regime === 'in-distribution') {
    flags.push({
      code: 'scope-above-regime',
      reason: 'claims to hold beyond the data it was tested on, but its evidence was gathered in distribution only; test it under a distribution shift (regime shifted or both) or restrict the claim to the distribution studied',
    });
  }
  return {
    id: c.id ?? String(index + 1), claim: c.claim, rung: c.rung, evidence: c.evidence, regime: c.regime, scope: c.scope,
    supportedRung: supported, flags, ok: flags.length === 0,
  };
}

export function checkClaims(claims: ClaimRecord[]): ClaimCheck[] {
  return claims.map((c, i) => checkClaim(c, i));
}
