import type { Bench } from './types.js';
import { gemmBench } from './gemm.js';
import { opsBench } from './ops.js';
import { alignBench } from './align.js';
import { saeBench } from './sae.js';
import { linalgBench } from './linalg.js';
import { fistaBench } from './fista.js';
import { dlBench } from './dl.js';
import { dlOuterBench } from './dl-outer.js';
import { eighBench } from './eigh.js';
import { queueBench } from './queue.js';
import { convergenceBench } from './convergence.js';
import { matryoshkaBench } from './matryoshka.js';
import { saePathsBench } from './sae-paths.js';
import { lejepaBench } from './lejepa.js';
import { dietBench } from './diet.js';

/** Every benchmark `sparsecode bench <name>` knows, in the order `bench all` runs them. Add yours here. */
export const benches: Bench[] = [
  gemmBench,
  opsBench,
  alignBench,
  linalgBench,
  saeBench,
  fistaBench,
  dlBench,
  dlOuterBench,
  eighBench,
  convergenceBench,
  matryoshkaBench,
  saePathsBench,
  queueBench,
  lejepaBench,
  dietBench,
];
