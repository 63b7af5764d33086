import { fail } from '../core/errors.js';
import { Rng, toRng, type Seed } from '../core/rng.js';
import { assertInt, assertNumber, checkAborted } from '../core/validate.js';

/**
 * Two-layer ReLU teacher–student world of "Get rich quick" (PROTOCOLS.md §7.2, after Chizat):
 * f(x) = Σ_j a_j·relu(w_jᵀx), no biases, inputs uniform on the unit sphere S^{d−1}, float64.
 *  - teacher: `teacherWidth` (3) neurons with unit-norm Gaussian directions and readouts ±1;
 *  - student: m neurons, symmetric start (m/2 directions duplicated, the copies with opposite
 *    readouts, so f₀ ≡ 0); rows unit-norm × τ·α, readouts ±τ/α with
 *    α² = (√(4 + (δ/τ²)²) − δ/τ²)/2, so every neuron has a_j² − ‖w_j‖² = δ;
 *  - training: full-batch gradient descent on the mean squared error (1/n)Σ(f(x_i) − y_i)²
 *    (no ½, as the reference), learning rate lr;
 *  - NTK on the training inputs: K = ΦΦᵀ with the parameter gradients
 *    Φ_i = [relu(w_jᵀx_i)]_j ⊕ [a_j·1(w_jᵀx_i > 0)·x_i]_j, and the kernel distance
 *    S = 1 − ⟨K₀, K⟩_F/(‖K₀‖_F‖K‖_F).
 */

/** Rows of a [rows x d] Float64Array drawn uniformly on the unit sphere. */
export function sphereSamples(rows: number, d: number, rng: Rng): Float64Array {
  const X = new Float64Array(rows * d);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) {
      const v = rng.normal();
      X[i * d + j] = v;
      s += v * v;
    }
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < d; j++) X[i * d + j] *= inv;
  }
  return X;
}

/** A two-layer ReLU network without biases: W [m x d] row-major, a [m]. */
export interface TwoLayerNet {
  W: Float64Array;
  a: Float64Array;
  m: number;
  d: number;
}

/** Outputs f(x_i) for the rows of X [n x d]. */
export function twoLayerForward(net: TwoLayerNet, X: Float64Array, n: number): Float64Array {
  const { W, a, m, d } = net;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let f = 0;
    for (let j = 0; j < m; j++) {
      let z = 0;
      for (let k = 0; k < d; k++) z += W[j * d + k] * X[i * d + k];
      if (z > 0) f += a[j] * z;
    }
    out[i] = f;
  }
  return out;
}

/** The teacher: `width` unit-norm Gaussian directions, readouts ±1 (signs of Gaussians). */
export function reluTeacher(d: number, width: number, seed: Seed | Rng): TwoLayerNet {
  assertInt('input dimension d', d, 1);
  assertInt('teacher width', width, 1);
  const rng = toRng(seed);
  const W = sphereSamples(width, d, rng);
  const a = new Float64Array(width);
  for (let j = 0; j < width; j++) a[j] = rng.normal() >= 0 ? 1 : -1;
  return { W, a, m: width, d };
}

/** α with τ²(1/α² − α²) = δ: α² = (√(4 + (δ/τ²)²) − δ/τ²)/2. */
export function balanceAlpha(delta: number, tau: number): number {
  assertNumber('delta', delta);
  assertNumber('tau (initial scale)', tau, 0, Infinity, { exclusiveMin: true });
  const r = delta / (tau * tau);
  return Math.sqrt((Math.sqrt(4 + r * r) - r) / 2);
}

/** The symmetric student start (m even): every neuron has a² − ‖w‖² = δ, and f₀ ≡ 0. */
export function symmetricStudent(o: { d: number; m: number; tau: number; delta: number; seed: Seed | Rng }): TwoLayerNet {
  assertInt('input dimension d', o.d, 1);
  assertInt('student width m', o.m, 2);
  if (o.m % 2 !== 0) fail('E_ARG', `student width m = ${o.m} must be even for the symmetric start (pairs with opposite readouts); use ${o.m + 1}`);
  const alpha = balanceAlpha(o.delta, o.tau);
  const rng = toRng(o.seed);
  const half = o.m / 2;
  const dirs = sphereSamples(half, o.d, rng);
  const W = new Float64Array(o.m * o.d);
  const a = new Float64Array(o.m);
  for (let j = 0; j < half; j++) {
    const sgn = rng.normal() >= 0 ? 1 : -1;
    for (let k = 0; k < o.d; k++) {
      const v = dirs[j * o.d + k] * o.tau * alpha;
      W[j * o.d + k] = v;
      W[(j + half) * o.d + k] = v;
    }
    a[j] = (sgn * o.tau) / alpha;
    a[j + half] = (-sgn * o.tau) / alpha;
  }
  return { W, a, m: o.m, d: o.d };
}

/** Mean squared error (1/n)Σ(f(x_i) − y_i)². */
export function twoLayerMse(net: TwoLayerNet, X: Float64Array, y: Float64Array): number {
  const n = y.length;
  const f = twoLayerForward(net, X, n);
  let s = 0;
  for (let i = 0; i < n; i++) s += (f[i] - y[i]) ** 2;
  return s / n;
}

/**
 * Full-batch gradient descent on (1/n)Σ(f(x_i) − y_i)² for `steps` steps (in place on `net`).
 * Returns the training loss before each step at the checkpoints asked for (and the final one).
 */
export function trainTwoLayerGD(
  net: TwoLayerNet, X: Float64Array, y: Float64Array,
  o: { lr: number; steps: number; signal?: AbortSignal; onCheckpoint?: (step: number, loss: number) => void; checkpointEvery?: number },
): number {
  const { W, a, m, d } = net;
  const n = y.length;
  assertNumber('lr', o.lr, 0, Infinity, { exclusiveMin: true });
  assertInt('steps', o.steps, 0);
  if (X.length !== n * d) fail('E_SHAPE', `X has ${X.length} values, expected n x d = ${n} x ${d}`);
  const Z = new Float64Array(n * m);
  const gW = new Float64Array(m * d);
  const ga = new Float64Array(m);
  const r = new Float64Array(n);
  let loss = NaN;
  for (let step = 0; step <= o.steps; step++) {
    // forward
    loss = 0;
    for (let i = 0; i < n; i++) {
      let f = 0;
      for (let j = 0; j < m; j++) {
        let z = 0;
        const wo = j * d, xo = i * d;
        for (let k = 0; k < d; k++) z += W[wo + k] * X[xo + k];
        Z[i * m + j] = z;
        if (z > 0) f += a[j] * z;
      }
      r[i] = f - y[i];
      loss += r[i] * r[i];
    }
    loss /= n;
    if (!Number.isFinite(loss)) fail('E_DIVERGED', `gradient descent diverged at step ${step} (loss ${loss}); lower the learning rate`);
    if (o.onCheckpoint && (step === o.steps || (o.checkpointEvery && step % o.checkpointEvery === 0))) o.onCheckpoint(step, loss);
    if (step === o.steps) break;
    if (o.signal && (step & 255) === 0) checkAborted(o.signal);
    // backward: dL/df_i = 2 r_i / n
    gW.fill(0);
    ga.fill(0);
    for (let i = 0; i < n; i++) {
      const g = (2 * r[i]) / n;
      if (g === 0) continue;
      const xo = i * d;
      for (let j = 0; j < m; j++) {
        const z = Z[i * m + j];
        if (z <= 0) continue;
        ga[j] += g * z;
        const c = g * a[j];
        const wo = j * d;
        for (let k = 0; k < d; k++) gW[wo + k] += c * X[xo + k];
      }
    }
    for (let q = 0; q < gW.length; q++) W[q] -= o.lr * gW[q];
    for (let j = 0; j < m; j++) a[j] -= o.lr * ga[j];
  }
  return loss;
}

/** The empirical NTK K [n x n] (row-major) of the network on the rows of X. */
export function twoLayerNtk(net: TwoLayerNet, X: Float64Array, n: number): Float64Array {
  const { W, a, m, d } = net;
  const H = new Float64Array(n * m); // relu(w_j·x_i)
  const G = new Float64Array(n * m); // a_j·1(w_j·x_i > 0), squared in the product below
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let z = 0;
      for (let k = 0; k < d; k++) z += W[j * d + k] * X[i * d + k];
      H[i * m + j] = z > 0 ? z : 0;
      G[i * m + j] = z > 0 ? a[j] : 0;
    }
  }
  const K = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let l = 0; l <= i; l++) {
      let hh = 0, gg = 0, xx = 0;
      for (let j = 0; j < m; j++) {
        hh += H[i * m + j] * H[l * m + j];
        gg += G[i * m + j] * G[l * m + j];
      }
      for (let k = 0; k < d; k++) xx += X[i * d + k] * X[l * d + k];
      const v = hh + gg * xx;
      K[i * n + l] = v;
      K[l * n + i] = v;
    }
  }
  return K;
}

/** S = 1 − ⟨K₀, K⟩_F/(‖K₀‖_F‖K‖_F). */
export function kernelDistance(K0: Float64Array, K: Float64Array): number {
  if (K0.length !== K.length) fail('E_SHAPE', `kernelDistance: kernels have ${K0.length} and ${K.length} entries`);
  let ip = 0, n0 = 0, n1 = 0;
  for (let i = 0; i < K.length; i++) {
    ip += K0[i] * K[i];
    n0 += K0[i] * K0[i];
    n1 += K[i] * K[i];
  }
  if (!(n0 > 0) || !(n1 > 0)) fail('E_ARG', 'kernelDistance: a kernel is identically zero; the distance is undefined');
  return 1 - ip / Math.sqrt(n0 * n1);
}

/** Fraction of (input, neuron) pairs whose ReLU gate differs between two networks, summed over neurons (the reference's Hamming distance). */
export function activationHamming(net0: TwoLayerNet, net: TwoLayerNet, X: Float64Array, n: number): number {
  const { m, d } = net;
  let changed = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let z0 = 0, z1 = 0;
      for (let k = 0; k < d; k++) {
        z0 += net0.W[j * d + k] * X[i * d + k];
        z1 += net.W[j * d + k] * X[i * d + k];
      }
      if (Math.sign(z0) !== Math.sign(z1)) changed++;
    }
  }
  return changed / n;
}

/** A teacher–student problem: teacher, training inputs/labels, test inputs/labels. */
export interface TeacherStudentData {
  teacher: TwoLayerNet;
  X: Float64Array;
  y: Float64Array;
  Xtest: Float64Array;
  ytest: Float64Array;
  n: number;
  nTest: number;
  d: number;
}

export function teacherStudentData(o: { d: number; n: number; nTest: number; teacherWidth?: number; seed: Seed }): TeacherStudentData {
  assertInt('n (training inputs)', o.n, 1);
  assertInt('nTest (test inputs)', o.nTest, 1);
  const rng = new Rng(o.seed);
  const teacher = reluTeacher(o.d, o.teacherWidth ?? 3, rng.fork('teacher'));
  const X = sphereSamples(o.n, o.d, rng.fork('train'));
  const Xtest = sphereSamples(o.nTest, o.d, rng.fork('test'));
  return { teacher, X, y: twoLayerForward(teacher, X, o.n), Xtest, ytest: twoLayerForward(teacher, Xtest, o.nTest), n: o.n, nTest: o.nTest, d: o.d };
}
