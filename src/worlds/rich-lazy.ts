import { fail } from '../core/errors.js';
import { assertNumber } from '../core/validate.js';
import { rk45, type OdeRhs } from '../linalg/ode.js';

/**
 * The single-neuron model of "Get rich quick" (Kunin et al., NeurIPS 2024; PROTOCOLS.md §7):
 * f(x) = a·wᵀx with a ∈ R, w ∈ R^d, trained by gradient flow on the population squared loss
 * L(β) = ½βᵀXXβ − XYᵀβ (β = a·w, XX = XᵀX, XY = Xᵀy) with layer learning rates η_a, η_w:
 *
 *   ẇ = −η_w·a·(XXβ − XY),   ȧ = −η_a·wᵀ(XXβ − XY).
 *
 * δ = η_w·a² − η_a·‖w‖² is conserved (d/dt δ = −2η_wη_a·a·wᵀr + 2η_aη_w·a·wᵀr = 0).
 *
 * Closed forms (whitened input XX = I, β* = XY, s = ‖β*‖ > 0). The rescaling
 * ā = a·√c/√η_a, w̄ = w·√c/√η_w, τ = c·t with c = √(η_aη_w) turns the flow into the one with unit
 * rates and δ̄ = δ/c, so every closed form below is written for unit rates and mapped back.
 *  - `unbalancedTheory` (δ ≠ 0), the paper's form: ν_c = (w/a)·β* obeys the Riccati equation
 *    ν̇_c = s² − δν_c − ν_c², so ν_c(t) = ½(−δ + D·tanh(Q)), D = √(δ² + 4s²),
 *    Q = tD/2 + artanh((δ + 2ν_c(0))/D) (complex artanh beyond 1, where tanh becomes coth);
 *    φ(t) follows in closed form (cosh θ for δ > 0, sinh θ for δ < 0, with θ the hyperbolic angle
 *    of (a, ‖w‖) on the conserved hyperbola: a = √δ·cosh θ, ‖w‖ = √δ·sinh θ, or
 *    a = √−δ·sinh θ, ‖w‖ = √−δ·cosh θ), then the alignment μ = ŵ·β̂* = coth θ·ν_c/s (δ > 0) or
 *    tanh θ·ν_c/s (δ < 0), and the signed norm ν = a‖w‖ = |δ|·sinh(2θ)/2.
 *  - `balancedTheory` (δ = 0): μ = tanh(σ), σ = artanh(μ₀) + s·t, and
 *    ν = s(cosh 2σ + 1)/(2σ + sinh 2σ + C) (a Bernoulli equation).
 *  - `exactSolution`, any δ (our derivation, used to cross-check the two above): with y(t) the
 *    solution of ÿ + δẏ − s²y = 0, y(0) = 1, ẏ(0) = ν_c(0) (so that ν_c = ẏ/y), u = w/a satisfies
 *    d/dt(y e^{δt} u) = y e^{δt} β*, and p = 1/a² satisfies ṗ = 2 − 2(δ + ν_c)p, whence
 *      a(t) = a₀·e^{δt}y(t)/√(1 + 2a₀²J(t)),  w(t) = a₀·m(t)/√(1 + 2a₀²J(t)),
 *      J(t) = ∫₀ᵗ e^{2δτ}y(τ)² dτ,  m(t) = w₀/a₀ + β*·∫₀ᵗ e^{δτ}y(τ) dτ.
 *    Everything is smooth through a = 0 (a neuron that flips sign); the integrals are sums of
 *    exponentials, evaluated scaled by e^{−(δ+D)t/2} so that nothing overflows at large t.
 * The neuron's NTK on whitened inputs is the operator M = η_w·a²·I + η_a·wwᵀ; the kernel distance
 * from initialisation is S(t) = 1 − tr(M₀M_t)/(‖M₀‖_F‖M_t‖_F).
 */

/** Layer learning rates (default 1 each). */
export interface LayerRates {
  etaA?: number;
  etaW?: number;
}

function rates(r: LayerRates | undefined): { etaA: number; etaW: number } {
  const etaA = r?.etaA ?? 1;
  const etaW = r?.etaW ?? 1;
  assertNumber('etaA (learning rate of a)', etaA, 0, Infinity, { exclusiveMin: true });
  assertNumber('etaW (learning rate of w)', etaW, 0, Infinity, { exclusiveMin: true });
  return { etaA, etaW };
}

function finiteVector(name: string, v: ArrayLike<number>, d?: number): Float64Array {
  if (!v || typeof v.length !== 'number' || v.length === 0) fail('E_SHAPE', `${name} must be a non-empty vector`);
  if (d !== undefined && v.length !== d) fail('E_SHAPE', `${name} has ${v.length} entries, expected ${d}`);
  const out = Float64Array.from(v);
  for (let i = 0; i < out.length; i++) if (!Number.isFinite(out[i])) fail('E_NONFINITE', `${name}[${i}] is ${out[i]}; give finite numbers`);
  return out;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

/** The conserved quantity δ = η_w·a² − η_a·‖w‖². */
export function conservedDelta(a: number, w: ArrayLike<number>, r?: LayerRates): number {
  const { etaA, etaW } = rates(r);
  return etaW * a * a - etaA * dot(w, w);
}

/**
 * The parameters (a > 0, w) with a·w = β₀ and η_w·a² − η_a·‖w‖² = δ:
 * a² = (δ + √(δ² + 4η_aη_w‖β₀‖²))/(2η_w), w = β₀/a.
 */
export function initFromBeta(beta0: ArrayLike<number>, delta: number, r?: LayerRates): { a: number; w: Float64Array } {
  const b = finiteVector('beta0', beta0);
  assertNumber('delta', delta);
  const { etaA, etaW } = rates(r);
  const nb2 = dot(b, b);
  const a2 = (delta + Math.sqrt(delta * delta + 4 * etaA * etaW * nb2)) / (2 * etaW);
  if (!(a2 > 0)) fail('E_ARG', `initFromBeta: beta0 = 0 with delta = ${delta} <= 0 gives a = 0; use a nonzero beta0 or delta > 0`);
  const a = Math.sqrt(a2);
  return { a, w: b.map((v) => v / a) };
}

/**
 * Right-hand side of the gradient flow for the state [w_1, …, w_d, a] (the reference notebook's
 * order). XX is [d x d] row-major, XY has length d.
 */
export function singleNeuronRhs(XX: ArrayLike<number>, XY: ArrayLike<number>, r?: LayerRates): OdeRhs {
  const xy = finiteVector('XY', XY);
  const d = xy.length;
  const xx = finiteVector('XX', XX, d * d);
  const { etaA, etaW } = rates(r);
  const res = new Float64Array(d);
  return (_t, y, dy) => {
    const a = y[d];
    for (let i = 0; i < d; i++) {
      let s = -xy[i];
      for (let j = 0; j < d; j++) s += xx[i * d + j] * a * y[j];
      res[i] = s;
    }
    let wr = 0;
    for (let i = 0; i < d; i++) {
      dy[i] = -etaW * a * res[i];
      wr += y[i] * res[i];
    }
    dy[d] = -etaA * wr;
  };
}

/** A trajectory: times, a(t) and w(t) ([t.length x d] row-major). */
export interface NeuronTrajectory {
  t: Float64Array;
  a: Float64Array;
  w: Float64Array;
  d: number;
}

/** Integrate the flow from (a0, w0) over [0, T] with RK45 (states at every accepted step). */
export function singleNeuronFlow(o: {
  XX: ArrayLike<number>; XY: ArrayLike<number>; a0: number; w0: ArrayLike<number>; T: number; rtol?: number; atol?: number; rates?: LayerRates; maxSteps?: number;
}): NeuronTrajectory & { nfev: number } {
  const w0 = finiteVector('w0', o.w0);
  const d = w0.length;
  assertNumber('a0', o.a0);
  const f = singleNeuronRhs(o.XX, o.XY, o.rates);
  if (o.XY.length !== d) fail('E_SHAPE', `XY has ${o.XY.length} entries, w0 has ${d}`);
  const y0 = new Float64Array(d + 1);
  y0.set(w0);
  y0[d] = o.a0;
  const sol = rk45(f, [0, o.T], y0, { rtol: o.rtol ?? 1e-11, atol: o.atol ?? 1e-11, maxSteps: o.maxSteps });
  const m = sol.t.length;
  const a = new Float64Array(m);
  const w = new Float64Array(m * d);
  for (let k = 0; k < m; k++) {
    for (let i = 0; i < d; i++) w[k * d + i] = sol.y[k * (d + 1) + i];
    a[k] = sol.y[k * (d + 1) + d];
  }
  return { t: sol.t, a, w, d, nfev: sol.nfev };
}

/** Inputs of the closed forms: the start and the target β* = XY (whitened input, XX = I). */
export interface ExactProblem {
  a0: number;
  w0: ArrayLike<number>;
  betaStar: ArrayLike<number>;
  rates?: LayerRates;
}

interface Scaled {
  a0: number;
  w0: Float64Array;
  bs: Float64Array;
  s: number;
  delta: number;
  /** c = √(η_aη_w): τ = c·t */
  c: number;
  /** a = ā·fa, w = w̄·fw */
  fa: number;
  fw: number;
  d: number;
}

function scaled(p: ExactProblem, times: ArrayLike<number>): Scaled {
  const w0 = finiteVector('w0', p.w0);
  const bs = finiteVector('betaStar', p.betaStar, w0.length);
  assertNumber('a0', p.a0);
  const { etaA, etaW } = rates(p.rates);
  for (let k = 0; k < times.length; k++) {
    if (!Number.isFinite(times[k]) || times[k] < 0) fail('E_ARG', `times[${k}] = ${times[k]}; the closed forms take finite times t >= 0`);
  }
  const c = Math.sqrt(etaA * etaW);
  const fa = Math.sqrt(etaA / c);
  const fw = Math.sqrt(etaW / c);
  const a0 = p.a0 / fa;
  const w0s = w0.map((v) => v / fw);
  const delta = a0 * a0 - dot(w0s, w0s);
  return { a0, w0: w0s, bs, s: norm(bs), delta, c, fa, fw, d: w0.length };
}

/** Closed-form states at the given times. `nu` = a‖w‖ (the paper's signed magnitude), `mu` = cos∠(w, β*). */
export interface ExactStates extends NeuronTrajectory {
  nu: Float64Array;
  mu: Float64Array;
}

function finish(sc: Scaled, t: ArrayLike<number>, aBar: Float64Array, wBar: Float64Array): ExactStates {
  const m = aBar.length;
  const d = sc.d;
  const a = aBar.map((v) => v * sc.fa);
  const w = wBar.map((v) => v * sc.fw);
  const nu = new Float64Array(m);
  const mu = new Float64Array(m);
  for (let k = 0; k < m; k++) {
    const wk = w.subarray(k * d, (k + 1) * d);
    const nw = norm(wk);
    nu[k] = a[k] * nw;
    mu[k] = nw > 0 ? dot(wk, sc.bs) / (nw * sc.s) : NaN;
  }
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) fail('E_NONFINITE', `the closed form overflowed at t = ${t[i]}; use shorter times or exactSolution`);
  for (let i = 0; i < w.length; i++) if (!Number.isFinite(w[i])) fail('E_NONFINITE', `the closed form overflowed at t = ${t[Math.floor(i / d)]}; use shorter times or exactSolution`);
  return { t: Float64Array.from(t), a, w, d, nu, mu };
}

/** (e^{−kt} − e^{−ct})/(c − k) for c, k >= 0, t >= 0, without overflow or cancellation (t·e^{−ct} when c = k). */
function expDiff(c: number, k: number, t: number): number {
  const lo = Math.min(c, k);
  const x = Math.abs(c - k) * t;
  const g = x === 0 ? 1 : -Math.expm1(-x) / x;
  return Math.exp(-lo * t) * t * g;
}

/** The closed form for any δ (see the file comment), a₀ ≠ 0, β* ≠ 0 unless δ ≠ 0. */
export function exactSolution(p: ExactProblem, times: ArrayLike<number>): ExactStates {
  const sc = scaled(p, times);
  const { a0, w0, bs, s, delta, d } = sc;
  if (a0 === 0) fail('E_ARG', 'exactSolution: a0 = 0 (w/a is undefined); start from a0 != 0');
  const D = Math.sqrt(delta * delta + 4 * s * s);
  if (!(D > 0)) fail('E_ARG', 'exactSolution: beta* = 0 and delta = 0 together leave nothing to learn; give a nonzero target XY or delta');
  const u0 = w0.map((v) => v / a0);
  const nu0 = dot(u0, bs);
  const lp = (-delta + D) / 2;
  const lm = (-delta - D) / 2;
  const A = (nu0 - lm) / D;
  const B = (lp - nu0) / D;
  const c = delta + D;
  const m = times.length;
  const aOut = new Float64Array(m);
  const wOut = new Float64Array(m * d);
  for (let k = 0; k < m; k++) {
    const t = times[k] * sc.c;
    const y = A + B * Math.exp(-D * t);
    const E = Math.exp((-c * t) / 2);
    const JE2 = A * A * expDiff(c, 0, t) + 2 * A * B * expDiff(c, D, t) + B * B * expDiff(c, 2 * D, t);
    const I1 = A * expDiff(c / 2, 0, t) + B * expDiff(c / 2, D, t);
    const den = Math.sqrt(E * E + 2 * a0 * a0 * JE2);
    aOut[k] = (a0 * y) / den;
    for (let i = 0; i < d; i++) wOut[k * d + i] = (a0 * (u0[i] * E + bs[i] * I1)) / den;
  }
  return finish(sc, times, aOut, wOut);
}

/** w = ‖w‖·(c₂β̂* + √(1 − c₂²)·p̂), p̂ = the unit part of w₀ orthogonal to β* (w stays in span{w₀, β*}). */
function rebuildW(w0: Float64Array, bs: Float64Array, s: number, wNorm: number, align: number, out: Float64Array, off: number): void {
  const d = w0.length;
  const c2 = Math.max(-1, Math.min(1, align));
  const bh = bs.map((v) => v / s);
  const proj = dot(w0, bh);
  const perp = w0.map((v, i) => v - proj * bh[i]);
  const np = norm(perp);
  const c1 = np > 1e-12 * norm(w0) ? Math.sqrt(1 - c2 * c2) : 0;
  for (let i = 0; i < d; i++) out[off + i] = wNorm * (c2 * bh[i] + (c1 > 0 ? (c1 * perp[i]) / np : 0));
}

/**
 * The paper's closed form for δ ≠ 0 (`theory()` of the reference notebook, in real arithmetic).
 * For a₀ < 0 the mirror (a, w) → (−a, −w), which leaves β and the flow unchanged, is used.
 * Throws E_ARG for δ = 0 (use `balancedTheory`), and falls back to `exactSolution` when ν_c
 * starts exactly at a fixed point of its Riccati equation (the φ formula is 0/0 there).
 */
export function unbalancedTheory(p: ExactProblem, times: ArrayLike<number>): ExactStates {
  const sc = scaled(p, times);
  if (sc.delta === 0) fail('E_ARG', 'unbalancedTheory: delta = 0 (a balanced start); the unbalanced closed form divides by delta there, use balancedTheory');
  if (!(sc.s > 0)) fail('E_ARG', 'unbalancedTheory: beta* = XY is 0; the closed form needs a nonzero target (use exactSolution)');
  if (sc.a0 === 0) fail('E_ARG', 'unbalancedTheory: a0 = 0; start from a0 != 0');
  const flip = sc.a0 < 0 ? -1 : 1;
  const a0 = flip * sc.a0;
  const w0 = sc.w0.map((v) => flip * v);
  const { bs, s, delta, d } = sc;
  const D = Math.sqrt(delta * delta + 4 * s * s);
  const nu0 = dot(w0, bs) / a0;
  const K0 = s * s - nu0 * (delta + nu0);
  const x = (delta + 2 * nu0) / D;
  if (K0 === 0 || Math.abs(x) === 1) return exactSolution(p, times);
  const phi0 = a0 / Math.sqrt(Math.abs(delta));
  const phi02 = phi0 * phi0;
  const outer = Math.abs(x) > 1;
  const q0 = outer ? Math.atanh(1 / x) : Math.atanh(x);
  const m = times.length;
  const aOut = new Float64Array(m);
  const wOut = new Float64Array(m * d);
  const sd = Math.sqrt(Math.abs(delta));
  for (let k = 0; k < m; k++) {
    const t = times[k] * sc.c;
    const u = (t * D) / 2 + q0;
    // tanh Q, sech² Q, cosh 2Q, sinh 2Q with Q = u (|x| < 1) or u + iπ/2 (|x| > 1)
    const th = outer ? 1 / Math.tanh(u) : Math.tanh(u);
    const sech2 = outer ? -1 / Math.sinh(u) ** 2 : 1 / Math.cosh(u) ** 2;
    const ch2 = outer ? -Math.cosh(2 * u) : Math.cosh(2 * u);
    const sh2 = outer ? -Math.sinh(2 * u) : Math.sinh(2 * u);
    const nuC = 0.5 * (-delta + D * th);
    const mid = delta < 0 ? s * s + (s * s - nu0 * nu0) * phi02 : (s * s - nu0 * nu0) * phi02 - s * s;
    const term = (sech2 * (4 * s * s * K0 * phi02 - D * D * mid * Math.exp(-t * delta) - delta * K0 * phi02 * (delta * ch2 - D * sh2))) / (K0 * phi02);
    let aBar: number, wNorm: number, align: number;
    if (delta > 0) {
      const phi = (2 * s) / Math.sqrt(term);
      const theta = Math.acosh(Math.max(1, phi));
      aBar = sd * Math.cosh(theta);
      wNorm = sd * Math.sinh(theta);
      align = theta > 0 ? nuC / Math.tanh(theta) / s : Math.sign(nuC);
    } else {
      // a crosses zero where u does (the pole of coth): φ = sinh θ changes sign with it
      const sign = outer && u * q0 < 0 ? -1 : 1;
      const phi = (sign * 2 * s) / Math.sqrt(-term);
      const theta = Math.asinh(phi);
      aBar = sd * Math.sinh(theta);
      wNorm = sd * Math.cosh(theta);
      align = (Math.tanh(theta) * nuC) / s;
    }
    aOut[k] = flip * aBar;
    rebuildW(w0, bs, s, wNorm, align, wOut, k * d);
    if (flip < 0) for (let i = 0; i < d; i++) wOut[k * d + i] = -wOut[k * d + i];
  }
  return finish(sc, times, aOut, wOut);
}

/**
 * The balanced closed form (δ = 0): alignment tanh σ, σ = artanh(μ₀) + s·t, signed norm
 * ν = s(cosh 2σ + 1)/(2σ + sinh 2σ + C), β = ν·(c/cosh σ + β̂*·tanh σ) with c fixed by β̂(0);
 * a = sign(a₀)·√|ν|, w = β/a. Throws E_ARG unless δ = 0 (to rounding). Falls back to
 * `exactSolution` when w₀ is (anti-)parallel to β* (σ is infinite there).
 */
export function balancedTheory(p: ExactProblem, times: ArrayLike<number>): ExactStates {
  const sc = scaled(p, times);
  const { a0, w0, bs, s, delta, d } = sc;
  if (Math.abs(delta) > 1e-12 * Math.max(1, a0 * a0)) fail('E_ARG', `balancedTheory: delta = ${delta} is not 0; use unbalancedTheory`);
  if (!(s > 0)) fail('E_ARG', 'balancedTheory: beta* = XY is 0; the closed form needs a nonzero target');
  if (a0 === 0) fail('E_ARG', 'balancedTheory: a0 = 0 (and so w0 = 0): gradient flow stays at the origin');
  const nw0 = norm(w0);
  const mu0 = (Math.sign(a0) * dot(w0, bs)) / (nw0 * s); // alignment of β₀ with β*
  if (!(Math.abs(mu0) < 1 - 1e-12)) return exactSolution(p, times);
  const beta0 = w0.map((v) => a0 * v);
  const nu0 = Math.abs(a0) * nw0; // ‖β₀‖
  const sig0 = Math.atanh(mu0);
  const C = (s * (Math.cosh(2 * sig0) + 1) - nu0 * (2 * sig0 + Math.sinh(2 * sig0))) / nu0;
  const cvec = beta0.map((v, i) => (v / nu0 - (bs[i] * Math.tanh(sig0)) / s) * Math.cosh(sig0));
  const m = times.length;
  const aOut = new Float64Array(m);
  const wOut = new Float64Array(m * d);
  for (let k = 0; k < m; k++) {
    const sig = sig0 + s * times[k] * sc.c;
    const nu = (s * (Math.cosh(2 * sig) + 1)) / (2 * sig + Math.sinh(2 * sig) + C);
    const a = Math.sign(a0) * Math.sqrt(Math.abs(nu));
    aOut[k] = a;
    for (let i = 0; i < d; i++) wOut[k * d + i] = ((cvec[i] / Math.cosh(sig) + (bs[i] * Math.tanh(sig)) / s) * nu) / a;
  }
  return finish(sc, times, aOut, wOut);
}

/** The paper's closed forms: `balancedTheory` when δ = 0, `unbalancedTheory` otherwise. */
export function paperTheory(p: ExactProblem, times: ArrayLike<number>): ExactStates {
  const { etaA, etaW } = rates(p.rates);
  const delta = etaW * p.a0 * p.a0 - etaA * dot(p.w0, p.w0);
  return Math.abs(delta) <= 1e-12 * Math.max(1, etaW * p.a0 * p.a0) ? balancedTheory(p, times) : unbalancedTheory(p, times);
}

/**
 * Kernel distance S = 1 − tr(M₀M)/(‖M₀‖_F‖M‖_F) between the single neuron's NTK operators
 * M = η_w·a²·I + η_a·wwᵀ at two parameter settings (whitened inputs, so K(x, x') = xᵀMx').
 */
export function neuronKernelDistance(a0: number, w0: ArrayLike<number>, a: number, w: ArrayLike<number>, r?: LayerRates): number {
  const { etaA, etaW } = rates(r);
  const d = w0.length;
  const p0 = etaW * a0 * a0, p1 = etaW * a * a;
  const n0 = dot(w0, w0), n1 = dot(w, w), c01 = dot(w0, w);
  // tr((p0 I + ηa w0w0ᵀ)(p1 I + ηa wwᵀ)) = d p0 p1 + ηa(p0‖w‖² + p1‖w0‖²) + ηa²(w0·w)²
  const inner = d * p0 * p1 + etaA * (p0 * n1 + p1 * n0) + etaA * etaA * c01 * c01;
  const f0 = Math.sqrt(d * p0 * p0 + 2 * etaA * p0 * n0 + etaA * etaA * n0 * n0);
  const f1 = Math.sqrt(d * p1 * p1 + 2 * etaA * p1 * n1 + etaA * etaA * n1 * n1);
  if (!(f0 > 0) || !(f1 > 0)) fail('E_ARG', 'neuronKernelDistance: a kernel is zero (a = 0 and w = 0); the distance is undefined');
  return 1 - inner / (f0 * f1);
}

/**
 * Implicit bias with a rank-one input covariance XX = x·xᵀ (PROTOCOLS §7.2, Fig. 4b): w's part
 * k orthogonal to x is conserved, so the interpolating limit is β∞ = β_OLS + a∞·k with
 * η_w a∞⁴ − (δ + η_a‖k‖²)a∞² − η_a‖β_OLS‖² = 0 (a∞ keeps a₀'s sign), β_OLS = x(x·XY)/‖x‖⁴.
 */
export function implicitBiasLimit(o: { x: ArrayLike<number>; XY: ArrayLike<number>; a0: number; w0: ArrayLike<number>; rates?: LayerRates }): { betaInf: Float64Array; aInf: number; betaOls: Float64Array } {
  const x = finiteVector('x', o.x);
  const d = x.length;
  const xy = finiteVector('XY', o.XY, d);
  const w0 = finiteVector('w0', o.w0, d);
  assertNumber('a0', o.a0);
  if (o.a0 === 0) fail('E_ARG', 'implicitBiasLimit: a0 = 0; start from a0 != 0');
  const { etaA, etaW } = rates(o.rates);
  const x2 = dot(x, x);
  if (!(x2 > 0)) fail('E_ARG', 'implicitBiasLimit: x = 0; the covariance x xᵀ must be nonzero');
  const betaOls = x.map((v) => (v * dot(x, xy)) / (x2 * x2));
  const k = w0.map((v, i) => v - (x[i] * dot(w0, x)) / x2);
  const delta = etaW * o.a0 * o.a0 - etaA * dot(w0, w0);
  const bq = delta + etaA * dot(k, k);
  const c2 = dot(betaOls, betaOls);
  const aInf2 = (bq + Math.sqrt(bq * bq + 4 * etaW * etaA * c2)) / (2 * etaW);
  const aInf = Math.sign(o.a0) * Math.sqrt(aInf2);
  return { betaInf: betaOls.map((v, i) => v + aInf * k[i]), aInf, betaOls };
}
