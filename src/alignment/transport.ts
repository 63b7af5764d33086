import { fail } from '../core/errors.js';

/**
 * Exact discrete optimal transport (the transportation problem) with integer masses:
 *
 *   minimise Σᵢⱼ cost[i,j]·F[i,j]  s.t.  Σⱼ F[i,j] = supply[i],  Σᵢ F[i,j] = demand[j],  F >= 0
 *
 * solved by successive shortest augmenting paths (min-cost flow) with Dijkstra on reduced
 * costs (Johnson potentials) over the dense bipartite residual graph. Every augmentation pushes
 * the path's bottleneck, so the returned plan is integral, and it is optimal (a min-cost flow
 * with no negative residual cycle). One augmentation costs O((p+q)² + p·q); for unit masses
 * (an assignment problem) there are exactly p augmentations, i.e. the Hungarian method's
 * O(p³). With uniform masses on unequal sides (soft matching), typically O(p+q) augmentations.
 *
 * Returns the flow as a dense row-major [p x q] float64 array and the total cost.
 */
export function transport(
  cost: ArrayLike<number>, p: number, q: number, supply: ArrayLike<number>, demand: ArrayLike<number>,
): { flow: Float64Array; cost: number; augmentations: number } {
  if (cost.length !== p * q) fail('E_SHAPE', `transport: cost has ${cost.length} entries, [${p} x ${q}] needs ${p * q}`);
  if (supply.length !== p || demand.length !== q) fail('E_SHAPE', `transport: supply has ${supply.length} entries and demand ${demand.length}; expected ${p} and ${q}`);
  let total = 0;
  let totalD = 0;
  for (let i = 0; i < p; i++) {
    if (!Number.isInteger(supply[i]) || supply[i] < 0) fail('E_ARG', `transport: supply[${i}] = ${supply[i]} must be a non-negative integer`);
    total += supply[i];
  }
  for (let j = 0; j < q; j++) {
    if (!Number.isInteger(demand[j]) || demand[j] < 0) fail('E_ARG', `transport: demand[${j}] = ${demand[j]} must be a non-negative integer`);
    totalD += demand[j];
  }
  if (total !== totalD) fail('E_ARG', `transport: total supply ${total} differs from total demand ${totalD}`);
  if (total > Number.MAX_SAFE_INTEGER) fail('E_ARG', 'transport: total mass exceeds 2^53');
  let cmin = Infinity;
  for (let i = 0; i < cost.length; i++) {
    const c = cost[i];
    if (!Number.isFinite(c)) fail('E_NONFINITE', `transport: cost has a non-finite value at row ${Math.floor(i / q)}, column ${i % q}`);
    if (c < cmin) cmin = c;
  }
  // shift costs to >= 0 (the total mass is fixed, so the optimal plan is unchanged)
  const c = new Float64Array(p * q);
  for (let i = 0; i < c.length; i++) c[i] = cost[i] - cmin;

  const flow = new Float64Array(p * q);
  const rs = Float64Array.from(supply);
  const rd = Float64Array.from(demand);
  // nodes: 0..p-1 sources, p..p+q-1 sinks, S = p+q, T = p+q+1
  const V = p + q + 2;
  const S = p + q;
  const T = p + q + 1;
  const pi = new Float64Array(V);
  const dist = new Float64Array(V);
  const prev = new Int32Array(V);
  const done = new Uint8Array(V);
  let remaining = total;
  let augmentations = 0;
  while (remaining > 0) {
    dist.fill(Infinity);
    done.fill(0);
    prev.fill(-1);
    dist[S] = 0;
    for (;;) {
      // pop the closest unfinished node
      let u = -1;
      let best = Infinity;
      for (let v = 0; v < V; v++) if (!done[v] && dist[v] < best) {
        best = dist[v];
        u = v;
      }
      if (u < 0) fail('E_NOTCONVERGED', 'transport: no augmenting path left although mass remains (internal error)');
      done[u] = 1;
      if (u === T) break;
      const du = dist[u];
      if (u === S) {
        for (let i = 0; i < p; i++) if (rs[i] > 0) relax(i, du + Math.max(0, pi[S] - pi[i]), S);
      } else if (u < p) {
        const row = u * q;
        const base = du + pi[u];
        for (let j = 0; j < q; j++) {
          const v = p + j;
          if (done[v]) continue;
          const w = c[row + j] + base - pi[v];
          relax(v, w > du ? w : du, u);
        }
      } else {
        const j = u - p;
        const base = du + pi[u];
        for (let i = 0; i < p; i++) {
          if (done[i] || flow[i * q + j] <= 0) continue;
          const w = base - c[i * q + j] - pi[i];
          relax(i, w > du ? w : du, u);
        }
        if (rd[j] > 0) relax(T, du + Math.max(0, pi[u] - pi[T]), u);
      }
    }
    const dT = dist[T];
    for (let v = 0; v < V; v++) pi[v] += done[v] ? dist[v] : dT;
    // bottleneck along the path T <- ... <- S
    let amount = Infinity;
    for (let v = T; v !== S; v = prev[v]) {
      const u = prev[v];
      if (u === S) amount = Math.min(amount, rs[v]);
      else if (v === T) amount = Math.min(amount, rd[u - p]);
      else if (u >= p) amount = Math.min(amount, flow[v * q + (u - p)]); // sink u -> source v
    }
    for (let v = T; v !== S; v = prev[v]) {
      const u = prev[v];
      if (u === S) rs[v] -= amount;
      else if (v === T) rd[u - p] -= amount;
      else if (u < p) flow[u * q + (v - p)] += amount;
      else flow[v * q + (u - p)] -= amount;
    }
    remaining -= amount;
    augmentations++;
  }
  let tc = 0;
  for (let i = 0; i < flow.length; i++) if (flow[i] !== 0) tc += flow[i] * cost[i];
  return { flow, cost: tc, augmentations };

  function relax(v: number, d: number, from: number): void {
    if (d < dist[v]) {
      dist[v] = d;
      prev[v] = from;
    }
  }
}

export function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
