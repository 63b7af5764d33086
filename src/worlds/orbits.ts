import { fail } from '../core/errors.js';
import { Rng, type Seed } from '../core/rng.js';
import { assertInt, assertNumber } from '../core/validate.js';

/**
 * Kepler two-body orbits for PhyIP (docs/probing.md §4). The two-body problem in relative
 * coordinates r = x₁ − x₂ is one body in the central field of gravitational parameter
 * μ = G(m₁ + m₂):  r̈ = −μ r / |r|³. With unit reduced mass the force is F = −μ r/|r|³,
 * |F| = μ/|r|², and the specific energy E = |v|²/2 − μ/|r| = −μ/(2a) is conserved.
 *
 * Each orbit is drawn from ranges of semi-major axis a and eccentricity e (uniform), with a
 * uniform argument of periapsis ω, a uniform starting true anomaly ν₀ and a random sense of
 * rotation; the start state comes from the orbital elements:
 *   p = a(1 − e²), r₀ = p/(1 + e cos ν₀), position r₀(cos ν₀, sin ν₀),
 *   velocity √(μ/p)(−sin ν₀, e + cos ν₀)   (perifocal frame, then mirrored for retrograde and rotated by ω).
 * The motion is integrated by leapfrog (kick-drift-kick velocity Verlet, symplectic) with
 * `substeps` steps of dt/substeps between observations, float64, and observed every dt.
 */

export interface OrbitWorldOptions {
  orbits: number;
  /** observations per orbit (default 64) */
  steps?: number;
  /** time between observations (default 0.1) */
  dt?: number;
  /** leapfrog steps between observations (default 20) */
  substeps?: number;
  /** range of the semi-major axis a (uniform) */
  semiMajor: [number, number];
  /** range of the eccentricity e (uniform, 0 ≤ e < 1) */
  eccentricity: [number, number];
  /** gravitational parameter μ = G(m₁ + m₂) (default 1) */
  mu?: number;
  seed?: Seed;
}

export interface OrbitWorld {
  orbits: number;
  steps: number;
  dt: number;
  mu: number;
  /** relative positions [orbits × steps × 2], row-major */
  positions: Float64Array;
  /** velocities [orbits × steps × 2] */
  velocities: Float64Array;
  /** force vectors F = −μ r/|r|³ at each observation [orbits × steps × 2] */
  forces: Float64Array;
  /** |r| [orbits × steps] */
  radius: Float64Array;
  /** |F| = μ/|r|² [orbits × steps] */
  forceMagnitude: Float64Array;
  /** specific energy |v|²/2 − μ/|r| [orbits × steps] (conserved up to the integrator's error) */
  energy: Float64Array;
  /** elements of each orbit */
  semiMajor: Float64Array;
  eccentricity: Float64Array;
  periapsisArg: Float64Array;
  trueAnomaly0: Float64Array;
  /** +1 prograde (counter-clockwise), −1 retrograde */
  sense: Int8Array;
}

/** Position and velocity (2-D) from orbital elements, as described above. */
export function stateFromElements(a: number, e: number, omega: number, nu: number, sense: number, mu = 1): { x: number; y: number; vx: number; vy: number } {
  const p = a * (1 - e * e);
  const r = p / (1 + e * Math.cos(nu));
  let x = r * Math.cos(nu);
  let y = r * Math.sin(nu) * sense;
  const s = Math.sqrt(mu / p);
  let vx = -s * Math.sin(nu);
  let vy = s * (e + Math.cos(nu)) * sense;
  const c = Math.cos(omega), sn = Math.sin(omega);
  [x, y] = [c * x - sn * y, sn * x + c * y];
  [vx, vy] = [c * vx - sn * vy, sn * vx + c * vy];
  return { x, y, vx, vy };
}

export function orbitWorld(opts: OrbitWorldOptions): OrbitWorld {
  const n = opts.orbits;
  const T = opts.steps ?? 64;
  const dt = opts.dt ?? 0.1;
  const sub = opts.substeps ?? 20;
  const mu = opts.mu ?? 1;
  assertInt('orbits', n, 1);
  assertInt('steps', T, 1);
  assertInt('substeps', sub, 1);
  assertNumber('dt', dt, 0, Infinity, { exclusiveMin: true });
  assertNumber('mu', mu, 0, Infinity, { exclusiveMin: true });
  const [a0, a1] = opts.semiMajor;
  const [e0, e1] = opts.eccentricity;
  if (!(a0 > 0 && a1 >= a0 && Number.isFinite(a1))) fail('E_ARG', `orbitWorld: semiMajor range [${a0}, ${a1}] must satisfy 0 < lo <= hi`);
  if (!(e0 >= 0 && e1 >= e0 && e1 < 1)) fail('E_ARG', `orbitWorld: eccentricity range [${e0}, ${e1}] must satisfy 0 <= lo <= hi < 1 (bound orbits)`);
  const rng = new Rng(opts.seed ?? 0);
  const w: OrbitWorld = {
    orbits: n, steps: T, dt, mu,
    positions: new Float64Array(n * T * 2), velocities: new Float64Array(n * T * 2), forces: new Float64Array(n * T * 2),
    radius: new Float64Array(n * T), forceMagnitude: new Float64Array(n * T), energy: new Float64Array(n * T),
    semiMajor: new Float64Array(n), eccentricity: new Float64Array(n), periapsisArg: new Float64Array(n), trueAnomaly0: new Float64Array(n), sense: new Int8Array(n),
  };
  const h = dt / sub;
  for (let o = 0; o < n; o++) {
    const a = rng.uniformIn(a0, a1);
    const e = rng.uniformIn(e0, e1);
    const omega = rng.uniformIn(0, 2 * Math.PI);
    const nu = rng.uniformIn(0, 2 * Math.PI);
    const sense = rng.uniform() < 0.5 ? -1 : 1;
    w.semiMajor[o] = a;
    w.eccentricity[o] = e;
    w.periapsisArg[o] = omega;
    w.trueAnomaly0[o] = nu;
    w.sense[o] = sense;
    let { x, y, vx, vy } = stateFromElements(a, e, omega, nu, sense, mu);
    // acceleration at the current position
    let r2 = x * x + y * y;
    let k = -mu / (r2 * Math.sqrt(r2));
    let ax = k * x, ay = k * y;
    for (let t = 0; t < T; t++) {
      const i = o * T + t;
      const r = Math.sqrt(r2);
      w.positions[2 * i] = x;
      w.positions[2 * i + 1] = y;
      w.velocities[2 * i] = vx;
      w.velocities[2 * i + 1] = vy;
      w.forces[2 * i] = ax;
      w.forces[2 * i + 1] = ay;
      w.radius[i] = r;
      w.forceMagnitude[i] = mu / r2;
      w.energy[i] = 0.5 * (vx * vx + vy * vy) - mu / r;
      if (t === T - 1) break;
      for (let s = 0; s < sub; s++) {
        vx += 0.5 * h * ax;
        vy += 0.5 * h * ay;
        x += h * vx;
        y += h * vy;
        r2 = x * x + y * y;
        k = -mu / (r2 * Math.sqrt(r2));
        ax = k * x;
        ay = k * y;
        vx += 0.5 * h * ax;
        vy += 0.5 * h * ay;
      }
    }
  }
  return w;
}

/**
 * The closed-form position at time t of the orbit with elements (a, e, ω, ν₀, sense): mean
 * anomaly M = M₀ + n t (n = √(μ/a³)), Kepler's equation M = E − e sin E by Newton's method,
 * then ν from E. The reference the leapfrog integration is tested against.
 */
export function keplerPosition(a: number, e: number, omega: number, nu0: number, sense: number, t: number, mu = 1): { x: number; y: number } {
  const E0 = 2 * Math.atan2(Math.sqrt(1 - e) * Math.sin(nu0 / 2), Math.sqrt(1 + e) * Math.cos(nu0 / 2));
  const M = E0 - e * Math.sin(E0) + Math.sqrt(mu / (a * a * a)) * t;
  let E = M;
  for (let it = 0; it < 100; it++) {
    const d = (E - e * Math.sin(E) - M) / (1 - e * Math.cos(E));
    E -= d;
    if (Math.abs(d) < 1e-15) break;
  }
  const nu = 2 * Math.atan2(Math.sqrt(1 + e) * Math.sin(E / 2), Math.sqrt(1 - e) * Math.cos(E / 2));
  const s = stateFromElements(a, e, omega, nu, sense, mu);
  return { x: s.x, y: s.y };
}
