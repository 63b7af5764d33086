import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keplerPosition, orbitWorld, stateFromElements } from '../src/worlds/orbits.js';
import { assertThrowsCode } from './helpers.js';

test('leapfrog orbits follow the closed-form Kepler solution; energy and angular momentum are conserved', () => {
  const w = orbitWorld({ orbits: 20, steps: 64, semiMajor: [1, 3.5], eccentricity: [0, 0.6], seed: 3 });
  let maxPos = 0, maxE = 0, maxL = 0;
  for (let o = 0; o < w.orbits; o++) {
    const a = w.semiMajor[o], e = w.eccentricity[o];
    const E0 = -1 / (2 * a);
    let L0 = NaN;
    for (let t = 0; t < w.steps; t++) {
      const i = o * w.steps + t;
      const k = keplerPosition(a, e, w.periapsisArg[o], w.trueAnomaly0[o], w.sense[o], t * w.dt);
      maxPos = Math.max(maxPos, Math.hypot(w.positions[2 * i] - k.x, w.positions[2 * i + 1] - k.y));
      maxE = Math.max(maxE, Math.abs(w.energy[i] - E0) / Math.abs(E0));
      const L = w.positions[2 * i] * w.velocities[2 * i + 1] - w.positions[2 * i + 1] * w.velocities[2 * i];
      if (t === 0) L0 = L;
      maxL = Math.max(maxL, Math.abs(L - L0) / Math.abs(L0));
      // bounds of the ellipse, |F| = 1/r², F points to the origin
      assert.ok(w.radius[i] >= a * (1 - e) - 1e-6 && w.radius[i] <= a * (1 + e) + 1e-6);
      assert.ok(Math.abs(w.forceMagnitude[i] * w.radius[i] ** 2 - 1) < 1e-12);
      assert.ok(Math.abs(Math.hypot(w.forces[2 * i], w.forces[2 * i + 1]) - w.forceMagnitude[i]) < 1e-12);
      assert.ok(w.forces[2 * i] * w.positions[2 * i] + w.forces[2 * i + 1] * w.positions[2 * i + 1] < 0);
    }
    assert.ok(Math.abs(L0) - Math.sqrt(a * (1 - e * e)) < 1e-9, 'angular momentum sqrt(mu p)');
  }
  assert.ok(maxPos < 1e-3, `position error vs Kepler ${maxPos}`);
  assert.ok(maxE < 1e-4, `energy drift ${maxE}`);
  assert.ok(maxL < 1e-12, `angular momentum drift ${maxL}`);
  // both senses of rotation occur; elements stay in their ranges
  assert.ok(w.sense.includes(1) && w.sense.includes(-1));
  for (let o = 0; o < w.orbits; o++) assert.ok(w.semiMajor[o] >= 1 && w.semiMajor[o] <= 3.5 && w.eccentricity[o] <= 0.6);
});

test('elements: a circular orbit has speed sqrt(mu/r); periapsis at nu = 0 is at distance a(1 - e)', () => {
  const c = stateFromElements(2, 0, 0.3, 1.1, 1);
  assert.ok(Math.abs(Math.hypot(c.vx, c.vy) - Math.sqrt(1 / 2)) < 1e-12);
  assert.ok(Math.abs(Math.hypot(c.x, c.y) - 2) < 1e-12);
  const p = stateFromElements(2, 0.5, 0, 0, -1, 4);
  assert.ok(Math.abs(Math.hypot(p.x, p.y) - 1) < 1e-12);
  // vis-viva: v² = mu (2/r − 1/a)
  assert.ok(Math.abs(p.vx ** 2 + p.vy ** 2 - 4 * (2 / 1 - 1 / 2)) < 1e-12);
  // same seed, same world
  const a = orbitWorld({ orbits: 3, steps: 5, semiMajor: [1, 2], eccentricity: [0, 0.3], seed: 'x' });
  const b = orbitWorld({ orbits: 3, steps: 5, semiMajor: [1, 2], eccentricity: [0, 0.3], seed: 'x' });
  assert.deepEqual(a.positions, b.positions);
});

test('bad orbit options fail with E_ARG', () => {
  assertThrowsCode(() => orbitWorld({ orbits: 2, semiMajor: [1, 2], eccentricity: [0.5, 1] }), 'E_ARG', /bound orbits/);
  assertThrowsCode(() => orbitWorld({ orbits: 2, semiMajor: [0, 2], eccentricity: [0, 0.1] }), 'E_ARG', /semiMajor/);
  assertThrowsCode(() => orbitWorld({ orbits: 0, semiMajor: [1, 2], eccentricity: [0, 0.1] }), 'E_ARG');
});
