import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng, type Seed } from '../core/rng.js';
import { assertInt } from '../core/validate.js';
import { matmul } from '../backend/ops.js';
import { randomMixing } from './superposition.js';

/**
 * The concept world of the interpretability-index reproduction (PROTOCOLS.md §6.3): stimuli are
 * sparse combinations of F concepts, a "network layer" reads them through a random projection
 * to U units and a ReLU,
 *
 *   z ∈ R^F   exactly `active` concepts on (uniform support), magnitudes U(0, 1)
 *   h = ReLU(z·P)   P [F x U]: N(0, 1) entries, unit-norm rows (concept i's direction in unit space)
 *
 * and the oracle "observer" compares stimuli by cosine similarity in concept space (the rows
 * of Z). With F > U the layer holds the concepts in superposition: a unit responds to every
 * concept whose direction has a positive component along it.
 */

export interface ConceptWorldOptions {
  /** F: number of concepts (>= 1) */
  concepts: number;
  /** U: number of units (>= 1) */
  units: number;
  /** stimuli (rows) */
  samples: number;
  /** concepts on per stimulus (default 2; <= concepts) */
  active?: number;
  seed?: Seed;
}

export interface ConceptWorld {
  /** the stimuli in concept space [samples x F]: the oracle's embedding */
  Z: Matrix;
  /** the layer's activations ReLU(Z·P) [samples x U] */
  H: Matrix;
  /** the projection [F x U], unit-norm rows */
  P: Matrix;
  params: { concepts: number; units: number; samples: number; active: number };
}

export function conceptWorld(o: ConceptWorldOptions): ConceptWorld {
  if (!o || typeof o !== 'object') fail('E_ARG', 'conceptWorld needs options {concepts, units, samples, active?, seed?}');
  const active = o.active ?? 2;
  assertInt('concepts', o.concepts, 1);
  assertInt('units', o.units, 1);
  assertInt('samples', o.samples, 1);
  assertInt('active', active, 1, o.concepts);
  const rng = new Rng(o.seed ?? 0);
  const P = randomMixing(o.concepts, o.units, rng.fork('concepts:projection'));
  const Z = new Matrix(o.samples, o.concepts);
  const zr = rng.fork('concepts:stimuli');
  for (let i = 0; i < o.samples; i++) {
    const support = zr.choice(o.concepts, active);
    for (const j of support) {
      let m = 0;
      while (m === 0) m = zr.uniform(); // a concept that is on has a positive magnitude
      Z.data[i * o.concepts + j] = m;
    }
  }
  const H = matmul(Z, P);
  for (let i = 0; i < H.data.length; i++) if (!(H.data[i] > 0)) H.data[i] = 0;
  return { Z, H, P, params: { concepts: o.concepts, units: o.units, samples: o.samples, active } };
}

/** Fraction of stimuli whose layer response is all zeros (no unit sees them). */
export function silentFraction(H: Matrix): number {
  let silent = 0;
  for (let i = 0; i < H.rows; i++) {
    let any = false;
    for (let j = 0; j < H.cols && !any; j++) any = H.data[i * H.cols + j] !== 0;
    if (!any) silent++;
  }
  return H.rows ? silent / H.rows : 0;
}
