import type { Bench } from './types.js';

/** Every benchmark `sparsecode bench <name>` knows, in the order `bench all` runs them. Add yours here. */
export const benches: Bench[] = [];
