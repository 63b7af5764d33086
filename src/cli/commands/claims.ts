import { existsSync, readFileSync } from 'node:fs';
import { fail } from '../../core/errors.js';
import { checkClaims, EVIDENCE_KINDS, parseClaims, REGIMES, RUNG_NAMES, type Rung } from '../../metrics/claims.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit.js';

/** `sparsecode claims check claims.json`: flag interpretability claims stated above their evidence. */
export const claimsCommand: Command = {
  name: 'claims',
  summary: 'check interpretability claims against the rung of their evidence (association, intervention, counterfactual)',
  usage: 'claims check CLAIMS.json [--strict] [--json]\n       sparsecode claims kinds [--json]',
  description: [
    'A claims file is {"claims": [...]} (or a bare array) of records',
    '  {"id": "c1", "claim": "the model uses feature X to ...", "rung": 2, "evidence": ["probe"], "regime": "in-distribution", "scope": "general"}',
    'rung: 1 association, 2 intervention (average effect of a change over a prompt set), 3 counterfactual (per input);',
    'evidence: one kind or a list (sparsecode claims kinds lists them with their rung); regime: the data the evidence was',
    'gathered on (in-distribution, shifted, both); scope (optional): in-distribution (default) or general (the claim says it',
    'holds beyond the data tested).',
    '',
    'A claim is flagged when its rung is above the highest rung its evidence supports (rung-above-evidence: e.g. a probe',
    'offered for "the model uses X"), or when it claims to generalise from in-distribution evidence only',
    '(scope-above-regime). Pearl\'s ladder for interpretability as in "Causality is Key for Interpretability Claims to',
    'Generalise" (docs/evidence.md). Exit status 0; with --strict, 1 when any claim is flagged.',
  ].join('\n'),
  positionals: [
    { name: 'action', help: 'check (a claims file) or kinds (list the evidence kinds)', required: true, choices: ['check', 'kinds'] },
    { name: 'file', help: 'the claims file (check)' },
  ],
  options: [
    { name: 'strict', type: 'boolean', help: 'exit 1 when any claim is flagged' },
    { name: 'json', type: 'boolean', help: 'print one JSON object' },
  ],
  examples: [
    'sparsecode claims check claims.json',
    'sparsecode claims check claims.json --json --strict',
    'sparsecode claims kinds',
  ],
  async run(ctx) {
    const [action, file, extra] = ctx.positionals;
    if (extra !== undefined) fail('E_USAGE', `unexpected argument "${extra}"`);
    if (action === 'kinds') {
      if (file !== undefined) fail('E_USAGE', 'claims kinds takes no file');
      if (ctx.opts.json) {
        ctx.print(JSON.stringify({ rungs: RUNG_NAMES, evidence: EVIDENCE_KINDS, regimes: REGIMES }));
        return;
      }
      for (const r of [1, 2, 3] as Rung[]) {
        ctx.print(`rung ${r} (${RUNG_NAMES[r]}):`);
        for (const [k, v] of Object.entries(EVIDENCE_KINDS)) if (v.rung === r) ctx.print(`  ${k.padEnd(26)}${v.what}`);
      }
      return;
    }
    if (file === undefined) fail('E_USAGE', 'name the claims file: sparsecode claims check claims.json');
    if (!existsSync(file)) fail('E_IO', `${file}: no such file`);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      fail('E_FORMAT', `${file}: not valid JSON (${(e as Error).message})`);
    }
    const checks = checkClaims(parseClaims(json, file));
    const flagged = checks.filter((c) => !c.ok);
    if (ctx.opts.json) {
      ctx.print(JSON.stringify({ file, claims: checks.length, flagged: flagged.length, checks }));
    } else {
      for (const c of checks) {
        const head = `${c.ok ? 'ok     ' : 'FLAGGED'} [${c.id}] rung ${c.rung} (${RUNG_NAMES[c.rung]}) on ${c.evidence.join(', ')} (supports rung ${c.supportedRung}), ${c.regime}${c.scope === 'general' ? ', claimed general' : ''}`;
        ctx.print(head);
        ctx.print(`        "${c.claim}"`);
        for (const f of c.flags) ctx.print(`        ${f.code}: ${f.reason}`);
      }
      ctx.print(`${checks.length} claims, ${flagged.length} flagged`);
    }
    return ctx.opts.strict && flagged.length > 0 ? EXIT.failed : EXIT.ok;
  },
};
