import { join } from 'node:path';
import { methodKind, type StopProbingConfig } from './methods.js';

/**
 * Checkpoint folders of the cells that learn: DL-FISTA in `<config>/dl-fista`, each SAE kind
 * in `<config>/sae-<kind>` (one folder for an SAE and FISTA on its decoder, which share the
 * trained SAE); the oracle and the probe learn nothing and have none.
 */

/** A filesystem-safe folder name for a config: `active-10_dim-47_latents-100_samples-5000_seed-0`. */
export function configSlug(config: StopProbingConfig): string {
  return Object.keys(config).sort().map((k) => `${k}-${String(config[k])}`.replace(/[^A-Za-z0-9.+-]/g, '_')).join('_');
}

/** A cell's checkpoint folder relative to the sweep's checkpoint root, or null for a cell that learns nothing. */
export function checkpointFolderName(config: StopProbingConfig, method: string): string | null {
  const m = methodKind(method);
  if (m.learner === 'dl-fista') return join(configSlug(config), 'dl-fista');
  return m.learner === 'sae' ? join(configSlug(config), `sae-${m.kind}`) : null;
}

/** The checkpoint folder a cell uses under `root`, or null for cells that learn nothing (probe, oracle). */
export function stopProbingCheckpointFolder(root: string, config: StopProbingConfig, method: string): string | null {
  const name = checkpointFolderName(config, method);
  return name === null ? null : join(root, name);
}
