import type { Command } from '../command.js';
import { alignCommand } from './align.js';
import { backendsCommand } from './backends.js';
import { benchCommand } from './bench.js';
import { demoCommand } from './demo.js';
import { encodeCommand } from './encode.js';
import { evalCommand } from './eval.js';
import { fitCommand } from './fit.js';
import { worldCommand } from './world.js';
import { reproCommand } from './repro.js';
import { exploreCommand } from './explore.js';
import { workerCommand } from './worker.js';
import { queueCommand } from './queue.js';
import { inspectCommand } from './inspect.js';
import { exportCommand } from './export.js';
import { interpretabilityCommand } from './interpretability.js';
import { claimsCommand } from './claims.js';
import { compareCommand } from './compare.js';
import { sigregCommand } from './sigreg.js';
import { curvatureCommand } from './curvature.js';
import { detectCommand } from './detect.js';

/** Every CLI command, in the order `--help` lists them. Add new commands here (one per line). */
export const commands: Command[] = [
  demoCommand,
  backendsCommand,
  worldCommand,
  fitCommand,
  encodeCommand,
  evalCommand,
  inspectCommand,
  exportCommand,
  benchCommand,
  reproCommand,
  alignCommand,
  exploreCommand,
  workerCommand,
  queueCommand,
  interpretabilityCommand,
  claimsCommand,
  compareCommand,
  sigregCommand,
  curvatureCommand,
  detectCommand,
];
