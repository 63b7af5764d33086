// The WebGPU conformance suite: every WGSL kernel against the js backend (the reference) on
// awkward shapes. Runs wherever a WebGPU device exists: headless Chromium (scripts/test-webgpu.ts
// bundles this file into a page) or Node with the `webgpu` package. Reports one line per case.
import { jsBackend } from '../../src/backend/js/index.js';
import { Rng } from '../../src/core/rng.js';
import type { GpuTensor, WebGpuContext } from '../../src/backend/webgpu/context.js';
import * as K from '../../src/backend/webgpu/kernels.js';
import { GpuTopKTrainer } from '../../src/backend/webgpu/topk-sae.js';
import { Matrix } from '../../src/core/matrix.js';
import { Adam } from '../../src/optim/adam.js';
import { createSAE } from '../../src/dictionary/sae/index.js';
import type { TopKSAE } from '../../src/dictionary/sae/topk.js';
import { projectRadial } from '../../src/dictionary/sae/init.js';
import { fitTopKWebGpu } from '../../src/dictionary/sae/webgpu-fit.js';
import { DeadLatentStats } from '../../src/dictionary/dead-latents.js';

export interface CaseResult { name: string; ok: boolean; detail: string; ms: number }

type Check = () => Promise<string | null>; // null = pass, else why it failed

const EPS = 1.2e-7;

function randn(rng: Rng, n: number, scale = 1): Float32Array {
  const x = new Float32Array(n);
  rng.fillNormal(x);
  if (scale !== 1) for (let i = 0; i < n; i++) x[i] *= scale;
  return x;
}

/** max over i of |got − want| / bound[i], the worst index, and whether all are within */
function within(got: ArrayLike<number>, want: ArrayLike<number>, bound: (i: number) => number): string | null {
  if (got.length !== want.length) return `length ${got.length}, want ${want.length}`;
  let worst = 0, at = -1;
  for (let i = 0; i < want.length; i++) {
    const g = got[i], w = want[i];
    if (Number.isNaN(w) && Number.isNaN(g)) continue;
    if (!(Number.isFinite(g) || g === w)) return `[${i}] = ${g}, want ${w}`;
    const r = Math.abs(g - w) / Math.max(bound(i), 1e-30);
    if (!(r <= 1)) { if (r > worst || at < 0) { worst = r; at = i; } }
  }
  return at < 0 ? null : `[${at}] = ${got[at]}, want ${want[at]} (error ${worst.toFixed(2)}x the bound ${bound(at).toExponential(2)})`;
}

function exact(got: ArrayLike<number>, want: ArrayLike<number>): string | null {
  if (got.length !== want.length) return `length ${got.length}, want ${want.length}`;
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i]) && !(got[i] === want[i])) return `[${i}] = ${got[i]}, want ${want[i]}`;
  return null;
}

/** elementwise bound for float32 ops of a few roundings: rel·|want| + abs */
const rel = (want: ArrayLike<number>, r = 4 * EPS, a = 1e-30) => (i: number) => r * Math.abs(want[i]) + a;

export function conformanceCases(ctx: WebGpuContext): { name: string; run: Check }[] {
  const cases: { name: string; run: Check }[] = [];
  const add = (name: string, run: Check) => cases.push({ name, run });
  const rng = new Rng('webgpu-conformance');
  const T = (x: Float32Array | Int32Array, label = 't') => ctx.tensor(x, [x.length], label);
  const free = (...ts: GpuTensor[]) => { ctx.flush(); for (const t of ts) t.destroy(); };

  // ---- sgemm: transposes, alpha/beta, padded leading dimensions, sizes that are not tile multiples
  // m, n >= 256 take the 128 x 128 tile kernel
  const shapes: [number, number, number][] = [[1, 1, 1], [7, 13, 5], [13, 7, 5], [64, 64, 16], [65, 63, 17], [130, 67, 33], [3, 200, 1], [1, 129, 70], [5, 4, 0], [31, 1, 97], [256, 256, 8], [300, 257, 41]];
  const coefs: [number, number][] = [[1, 0], [0.5, 2], [-1, 1], [0, 0.5]];
  let gi = 0;
  for (const [m, n, k] of shapes) for (const tA of [false, true]) for (const tB of [false, true]) {
    const [alpha, beta] = coefs[gi++ % coefs.length];
    const pad = gi % 3 === 0 ? 3 : 0; // some cases with leading dimensions above the minimum
    add(`sgemm ${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} m=${m} n=${n} k=${k} alpha=${alpha} beta=${beta}${pad ? ' padded' : ''}`, async () => {
      const lda = (tA ? m : k) + pad, ldb = (tB ? k : n) + pad, ldc = n + pad;
      const a = randn(rng, Math.max(1, (tA ? k : m) * lda)), b = randn(rng, Math.max(1, (tB ? n : k) * ldb));
      const c = randn(rng, m * ldc);
      if (beta === 0) c[0] = NaN; // beta = 0 overwrites: NaN in C must not propagate
      const want = c.slice();
      jsBackend.sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc);
      // bound: (k + 2)·eps·(|alpha|·|A||B| + |beta C|)
      const absA = a.map(Math.abs), absB = b.map(Math.abs), bound = c.map((v) => (beta === 0 ? 0 : Math.abs(beta * v)));
      jsBackend.sgemm(tA, tB, m, n, k, Math.abs(alpha), absA, lda, absB, ldb, 1, bound, ldc);
      const ta = T(a, 'A'), tb = T(b, 'B'), tc = T(c, 'C');
      K.sgemm(ctx, tA, tB, m, n, k, alpha, ta, lda, tb, ldb, beta, tc, ldc);
      const got = await tc.readF32();
      free(ta, tb, tc);
      // entries outside the m x n block (the padding) must be untouched
      for (let i = 0; i < m; i++) for (let j = n; j < ldc; j++) if (!Object.is(got[i * ldc + j], c[i * ldc + j])) return `padding [${i}, ${j}] changed`;
      return within(got, want, (i) => (k + 2) * 2 * EPS * bound[i] + 1e-30);
    });
  }

  // ---- elementwise
  for (const n of [1, 7, 257, 1000, 70001]) {
    const x = randn(rng, n), y = randn(rng, n), z = randn(rng, n);
    add(`softThreshold n=${n} (signed, nonneg, in place)`, async () => {
      for (const nonneg of [false, true]) {
        const want = new Float32Array(n);
        jsBackend.softThreshold(x, 0.3, nonneg, want);
        const tx = T(x), to = T(new Float32Array(n));
        K.softThreshold(ctx, tx, 0.3, nonneg, to);
        const got = await to.readF32();
        K.softThreshold(ctx, tx, 0.3, nonneg, tx);
        const got2 = await tx.readF32();
        free(tx, to);
        const b = (i: number) => 4 * EPS * (Math.abs(x[i]) + 0.3);
        const e = within(got, want, b) ?? within(got2, want, b);
        if (e) return `${nonneg ? 'nonneg' : 'signed'}: ${e}`;
      }
      return null;
    });
    add(`relu n=${n}`, async () => {
      const want = new Float32Array(n);
      jsBackend.relu(x, want);
      const tx = T(x), to = T(new Float32Array(n));
      K.relu(ctx, tx, to);
      const got = await to.readF32();
      free(tx, to);
      return exact(got, want);
    });
    add(`axpby n=${n}`, async () => {
      const want = y.slice();
      jsBackend.axpby(0.7, x, -1.3, want);
      const tx = T(x), ty = T(y);
      K.axpby(ctx, 0.7, tx, -1.3, ty);
      const got = await ty.readF32();
      free(tx, ty);
      return within(got, want, (i) => 4 * EPS * (Math.abs(0.7 * x[i]) + Math.abs(1.3 * y[i])) + 1e-30);
    });
    add(`extrapolate n=${n}`, async () => {
      const want = new Float32Array(n);
      jsBackend.extrapolate(x, y, 0.4, want);
      const tx = T(x), ty = T(y), to = T(new Float32Array(n));
      K.extrapolate(ctx, tx, ty, 0.4, to);
      const got = await to.readF32();
      free(tx, ty, to);
      return within(got, want, (i) => 6 * EPS * (Math.abs(x[i]) * 1.4 + Math.abs(0.4 * y[i])) + 1e-30);
    });
    add(`fistaUpdate n=${n} (signed, nonneg)`, async () => {
      for (const nonneg of [false, true]) {
        const wantY = y.slice(), wantZ = new Float32Array(n);
        jsBackend.fistaUpdate(x, wantY, z, 0.2, nonneg, 0.6, wantZ);
        const tv = T(x), ty = T(y), tz = T(z), tn = T(new Float32Array(n));
        K.fistaUpdate(ctx, tv, ty, tz, 0.2, nonneg, 0.6, tn);
        const gotY = await ty.readF32(), gotZ = await tn.readF32();
        free(tv, ty, tz, tn);
        const bz = (i: number) => 4 * EPS * (Math.abs(x[i]) + Math.abs(y[i]) + 0.2) + 1e-30;
        const e = within(gotZ, wantZ, bz) ?? within(gotY, wantY, (i) => 3 * bz(i) + 4 * EPS * 1.6 * Math.abs(z[i]));
        if (e) return `${nonneg ? 'nonneg' : 'signed'}: ${e}`;
      }
      return null;
    });
  }
  for (const [rows, cols] of [[1, 1], [7, 13], [0, 5], [300, 3], [2, 1000]]) {
    add(`addRowVector ${rows}x${cols}`, async () => {
      const x = randn(rng, rows * cols), v = randn(rng, cols);
      const want = x.slice();
      jsBackend.addRowVector(want, rows, cols, v, -0.5);
      const tx = T(x), tv = T(v);
      K.addRowVector(ctx, tx, rows, cols, tv, -0.5);
      const got = await tx.readF32();
      free(tx, tv);
      return within(got, want, (i) => 2 * EPS * (Math.abs(x[i]) + Math.abs(0.5 * v[i % cols])) + 1e-30);
    });
  }

  // ---- top-k: k = 1, k = cols, ties (small integers) resolved to the lower column
  type Fill = 'normal' | 'ties' | 'zeros' | 'nan';
  const fills: Record<Fill, () => number> = {
    normal: () => rng.normal(),
    ties: () => rng.int(5) - 2,
    zeros: () => [-0, 0, 1, -1, -0][rng.int(5)], // −0 and +0 tie (ties go to the lower column)
    nan: () => (rng.int(9) === 0 ? NaN : rng.int(7) - 3), // rows with NaN keep the js backend's semantics
  };
  for (const [rows, cols, k, fill] of [[1, 1, 1, 'normal'], [7, 13, 1, 'normal'], [7, 13, 13, 'normal'], [5, 300, 17, 'normal'], [9, 40, 6, 'ties'], [1, 64, 64, 'ties'], [0, 4, 2, 'normal'],
    [260, 33, 5, 'ties'], [3, 2000, 32, 'normal'], [4, 1000, 32, 'ties'], [2, 600, 512, 'normal'], [2, 600, 513, 'ties'], [6, 50, 7, 'zeros'], [8, 30, 4, 'nan'], [3, 70001, 3, 'normal']] as [number, number, number, Fill][]) {
    add(`topkRows ${rows}x${cols} k=${k}${fill !== 'normal' ? ` (${fill})` : ''}`, async () => {
      const x = Float32Array.from({ length: rows * cols }, fills[fill]);
      const wi = new Int32Array(rows * k), wv = new Float32Array(rows * k);
      jsBackend.topkRows(x, rows, cols, k, wi, wv);
      // both kernels (a workgroup per row, for k <= 512; a thread per row)
      for (const variant of ['workgroup', 'thread'] as const) {
        const tx = T(x), ti = ctx.empty([rows * k], 'i32'), tv = ctx.empty([rows * k], 'f32');
        K.topkRows(ctx, tx, rows, cols, k, ti, tv, variant);
        const gi2 = await ti.readI32(), gv = await tv.readF32();
        free(tx, ti, tv);
        const e = exact(gi2, wi) ?? exact(gv, wv);
        if (e) return `${variant}: ${e}`;
      }
      return null;
    });
  }

  // ---- reductions
  for (const [rows, cols] of [[1, 1], [7, 13], [0, 5], [3, 1000], [1000, 3], [5, 0]]) {
    const x = randn(rng, rows * cols);
    const abs = x.map(Math.abs);
    add(`sumRows ${rows}x${cols}`, async () => {
      const want = new Float64Array(rows), bound = new Float64Array(rows);
      jsBackend.sumRows(x, rows, cols, want);
      jsBackend.sumRows(abs, rows, cols, bound);
      const tx = T(x), to = ctx.empty([rows]);
      K.sumRows(ctx, tx, rows, cols, to);
      const got = await to.readF32();
      free(tx, to);
      return within(got, want, (i) => (Math.ceil(cols / 256) + 10) * EPS * bound[i] + 1e-30);
    });
    add(`sumCols ${rows}x${cols}`, async () => {
      const want = new Float64Array(cols), bound = new Float64Array(cols);
      jsBackend.sumCols(x, rows, cols, want);
      jsBackend.sumCols(abs, rows, cols, bound);
      const tx = T(x), to = ctx.empty([cols]);
      K.sumCols(ctx, tx, rows, cols, to);
      const got = await to.readF32();
      free(tx, to);
      return within(got, want, (i) => 4 * EPS * bound[i] + 1e-30);
    });
  }
  for (const n of [0, 1, 7, 4096, 4097, 100003]) {
    add(`sumSquares n=${n}`, async () => {
      const x = randn(rng, n);
      const want = jsBackend.sumSquares(x);
      const tx = T(x.length ? x : new Float32Array(1)), to = ctx.empty([2]);
      K.reduceSum(ctx, tx, n, true, to, 1);
      const got = (await to.readF32())[1];
      free(tx, to);
      return within([got], [want], () => (Math.log2(n + 1) + 20) * EPS * want + 1e-30);
    });
  }

  // ---- sparse decode / backward: padding (-1), zero values, empty rows, repeated atoms
  const sparse = (rows: number, k: number, atoms: number) => {
    const idx = new Int32Array(rows * k), val = randn(rng, rows * k);
    for (let i = 0; i < rows; i++) {
      const empty = i % 5 === 3; // every fifth row has no active atom
      for (let j = 0; j < k; j++) {
        const t = i * k + j;
        idx[t] = empty || (j === k - 1 && i % 2 === 1) ? -1 : rng.int(atoms);
        if (idx[t] < 0) val[t] = 0;
        else if (rng.int(7) === 0) val[t] = 0;
      }
    }
    return { idx, val };
  };
  for (const [rows, k, atoms, dim] of [[1, 1, 1, 1], [7, 3, 5, 13], [6, 1, 1, 7], [40, 8, 11, 33], [13, 5, 300, 2], [4, 4, 4, 260]]) {
    const { idx, val } = sparse(rows, k, atoms);
    const D = randn(rng, atoms * dim), g = randn(rng, rows * dim);
    add(`gatherDecode rows=${rows} k=${k} atoms=${atoms} dim=${dim} (beta 0, 1, 0.5)`, async () => {
      for (const beta of [0, 1, 0.5]) {
        const out = randn(rng, rows * dim);
        const want = out.slice();
        jsBackend.gatherDecode(idx, val, rows, k, D, dim, beta, want);
        const bound = out.map((v) => Math.abs(beta * v));
        jsBackend.gatherDecode(idx, val.map(Math.abs), rows, k, D.map(Math.abs), dim, 1, bound);
        const ti = T(idx), tv = T(val), td = T(D), to = T(out);
        K.gatherDecode(ctx, ti, tv, rows, k, td, dim, beta, to);
        const got = await to.readF32();
        free(ti, tv, td, to);
        const e = within(got, want, (i) => (k + 2) * 2 * EPS * bound[i] + 1e-30);
        if (e) return `beta ${beta}: ${e}`;
      }
      return null;
    });
    add(`gatherDot rows=${rows} k=${k} atoms=${atoms} dim=${dim} (both kernels)`, async () => {
      const want = new Float32Array(rows * k), bound = new Float32Array(rows * k);
      jsBackend.gatherDot(idx, rows, k, g, D, dim, want);
      jsBackend.gatherDot(idx, rows, k, g.map(Math.abs), D.map(Math.abs), dim, bound);
      for (const variant of ['workgroup', 'thread'] as const) {
        const ti = T(idx), tg = T(g), td = T(D), to = T(randn(rng, rows * k));
        K.gatherDot(ctx, ti, rows, k, tg, td, dim, to, variant);
        const got = await to.readF32();
        free(ti, tg, td, to);
        const e = within(got, want, (i) => (dim + 2) * EPS * bound[i] + 1e-30);
        if (e) return `${variant}: ${e}`;
      }
      return null;
    });
    add(`scatterOuter rows=${rows} k=${k} atoms=${atoms} dim=${dim}`, async () => {
      const G0 = randn(rng, atoms * dim);
      const want = G0.slice();
      jsBackend.scatterOuter(idx, val, rows, k, g, dim, want);
      const bound = G0.map(Math.abs);
      jsBackend.scatterOuter(idx, val.map(Math.abs), rows, k, g.map(Math.abs), dim, bound);
      const ti = T(idx), tv = T(val), tg = T(g), tG = T(G0);
      K.scatterOuter(ctx, ti, tv, rows, k, tg, dim, tG, atoms);
      const got = await tG.readF32();
      free(ti, tv, tg, tG);
      return within(got, want, (i) => (rows * k + 2) * 2 * EPS * bound[i] + 1e-30);
    });
  }

  // ---- bad input: clear errors, not garbage
  add('limits: a tensor over maxStorageBufferBindingSize fails with E_BACKEND naming the limit', async () => {
    const limit = ctx.limits.maxStorageBufferBindingSize;
    try {
      ctx.empty([Math.floor(limit / 4) + 16], 'f32', 'huge');
      return 'no error';
    } catch (e) {
      const err = e as { code?: string; message: string };
      if (err.code !== 'E_BACKEND' || !/maxStorageBufferBindingSize|maxBufferSize/.test(err.message)) return `wrong error: ${err.code} ${err.message}`;
      return null;
    }
  });
  add('shapes: a too-short output tensor fails with E_SHAPE', async () => {
    const x = ctx.tensor(new Float32Array(10)), o = ctx.empty([5]);
    try {
      K.relu(ctx, x, o);
      return 'no error';
    } catch (e) {
      return (e as { code?: string }).code === 'E_SHAPE' ? null : `wrong error: ${(e as Error).message}`;
    } finally {
      free(x, o);
    }
  });
  return cases;
}

/** Run every case; `log` gets one line per case. */
export async function runConformance(ctx: WebGpuContext, log: (line: string) => void = () => {}, filter?: RegExp): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const c of [...conformanceCases(ctx), ...saeCases(ctx)]) {
    if (filter && !filter.test(c.name)) continue;
    const t0 = performance.now();
    let detail: string | null;
    try {
      detail = await c.run();
    } catch (e) {
      detail = `threw ${(e as Error).message}`;
    }
    const r = { name: c.name, ok: detail === null, detail: detail ?? '', ms: performance.now() - t0 };
    results.push(r);
    log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name}${r.ok ? '' : `: ${r.detail}`} (${r.ms.toFixed(0)} ms)`);
  }
  return results;
}

/**
 * The GPU TopK SAE step against the js trainer's step (TopKSAE.forwardBackward, projectRadial,
 * Adam.step, normalizeDecoder: trainer.ts's loop), step by step from the same state.
 */
export function saeCases(ctx: WebGpuContext): { name: string; run: Check }[] {
  const cases: { name: string; run: Check }[] = [];
  // the last field: AuxK (coefficient, auxK, deadAfter) or null
  const shapes: [number, number, number, number, number, [number, number, number] | null][] = [
    [13, 37, 5, 29, 6, null], [8, 16, 1, 7, 4, null], [5, 9, 9, 3, 3, null], [64, 130, 8, 65, 4, null],
    [13, 37, 2, 29, 6, [1 / 32, 6, 29]], [16, 70, 3, 20, 5, [0.5, 8, 40]], [6, 11, 1, 4, 5, [1, 3, 4]],
  ];
  // two shapes again with the GPU kernels (workgroup top-k and gatherDot) a software adapter does not pick
  const runs = [...shapes.map((sh) => [sh, false] as const), [shapes[3], true] as const, [shapes[5], true] as const];
  for (const [[d, A, k, n, steps, auxk], workgroupKernels] of runs) {
    cases.push({
      name: `TopK SAE step on the GPU = js trainer step: dim ${d}, atoms ${A}, k ${k}, batch ${n}, ${steps} steps${auxk ? `, AuxK (coef ${auxk[0]}, auxK ${auxk[1]}, dead after ${auxk[2]} samples)` : ''}${workgroupKernels ? ', workgroup kernels' : ''}`,
      run: async () => {
        const preferred = ctx.preferWorkgroupKernels;
        ctx.preferWorkgroupKernels = workgroupKernels || preferred;
        try {
          return await saeStepCase(d, A, k, n, steps, auxk);
        } finally {
          ctx.preferWorkgroupKernels = preferred;
        }
      },
    });
  }
  async function saeStepCase(d: number, A: number, k: number, n: number, steps: number, auxk: [number, number, number] | null): Promise<string | null> {
        const rng = new Rng(`sae-${d}-${A}-${k}-${auxk?.[1]}`);
        const sae = createSAE('topk', { atoms: A, k, auxkCoef: auxk ? auxk[0] : 0, ...(auxk ? { auxK: auxk[1] } : {}), lr: 1e-2, batch: n, epochs: 1, weightDecay: 0.01, normalizeDecoder: true }) as TopKSAE;
        // the trainer's dead-latent statistics (the js step gets their mask, as trainSAE passes it)
        const dead = auxk ? new DeadLatentStats(A, auxk[2]) : null;
        const act = { dead: new Uint8Array(A), fired: new Uint8Array(A) };
        sae.initParams(d, rng.fork('init'));
        rng.fork('bdec').fillNormal(sae.bdec, 0, 0.1);
        rng.fork('benc').fillNormal(sae.benc, 0, 0.1);
        const params = sae.paramList();
        const adam = new Adam(params.map((p) => p.param), { beta1: 0.9, beta2: 0.999, weightDecay: 0.01 }, params.map((p) => p.decay));
        const gpu = new GpuTopKTrainer(ctx, { dim: d, atoms: A, k, batch: n, weightDecay: 0.01, normalizeDecoder: true, lossEvery: 8, ...(auxk ? { auxkCoef: auxk[0], auxK: auxk[1], deadAfter: auxk[2] } : {}) },
          { Wenc: sae.Wenc.data, benc: sae.benc, Wdec: sae.Wdec.data, bdec: sae.bdec });
        try {
          const mses: number[] = [], auxes: number[] = [];
          let deadSeen = 0;
          for (let s = 0; s < steps; s++) {
            const xb = new Matrix(n, d, randn(rng, n * d));
            const lr = 1e-2 * (1 - s / (2 * steps));
            if (dead) dead.mask(act.dead);
            const st = dead ? sae.forwardBackward(xb, act) : sae.forwardBackward(xb);
            if (dead) dead.record(act.fired, n);
            mses.push(st.sqErr);
            auxes.push(st.aux);
            if (st.aux > 0) deadSeen++;
            projectRadial(sae.Wdec.data, sae.gWdec.data, A, d);
            // the gradients, before the update (Adam leaves them as they are)
            const wantG = params.map((p) => p.grad.slice());
            adam.step(params.map((p) => p.grad), lr);
            sae.normalizeDecoder();
            gpu.setBatch(xb.data);
            gpu.step(lr);
            const gotG = await gpu.readGrads();
            for (let q = 0; q < 4; q++) {
              const e = closeNorm(gotG[q], wantG[q], 2e-4);
              if (e) return `step ${s + 1}: gradient of ${params[q].name}: ${e}`;
            }
            const got = await gpu.readParams();
            const named: [string, Float32Array, Float32Array][] = [['W_encT', got.Wenc, sae.Wenc.data], ['b_enc', got.benc, sae.benc], ['W_dec', got.Wdec, sae.Wdec.data], ['b_dec', got.bdec, sae.bdec]];
            for (const [name, g, w] of named) {
              const e = closeNorm(g, w, 2e-4);
              if (e) return `step ${s + 1}: ${name}: ${e}`;
            }
            if (auxk) {
              const lf = await gpu.readLastFired();
              const e = exact(lf!, Uint32Array.from(dead!.lastFired));
              if (e) return `step ${s + 1}: lastFired ${e}`;
            }
            // the GPU continues from the js state, so float32 differences do not compound
            gpu.Wenc.write(sae.Wenc.data); gpu.benc.write(sae.benc); gpu.Wdec.write(sae.Wdec.data); gpu.bdec.write(sae.bdec);
          }
          const losses = await gpu.readLosses();
          if (auxk && deadSeen === 0) return 'AuxK never contributed: the case does not test it';
          return closeNorm(losses, Float32Array.from(mses), 1e-4) ?? closeNorm(await gpu.readAuxLosses(), Float32Array.from(auxes), 1e-4);
        } finally {
          gpu.destroy();
        }
  }
  cases.push({
    name: 'fitTopKWebGpu follows sae.fit (js) from the same seed: same initialisation, batches and schedule; with AuxK too',
    run: async () => {
      const rng = new Rng('fit-webgpu');
      const X = new Matrix(90, 12, randn(rng, 90 * 12));
      const cfg = { atoms: 20, k: 3, auxkCoef: 0, lr: 3e-3, batch: 32, epochs: 3, scaleInputs: true, bDecInit: 'geometric-median' as const };
      const js = createSAE('topk', cfg) as TopKSAE;
      const r1 = await js.fit(X, { seed: 7 });
      const gp = createSAE('topk', cfg) as TopKSAE;
      const r2 = await fitTopKWebGpu(gp, X, { context: ctx, seed: 7, lossEvery: 4 });
      if (r1.steps !== r2.steps) return `steps ${r2.steps}, js ${r1.steps}`;
      const e = closeNorm([r2.sqErr], [r1.sqErr], 1e-3) ?? closeNorm(gp.Wdec.data, js.Wdec.data, 1e-3) ?? closeNorm(gp.Wenc.data, js.Wenc.data, 1e-3)
        ?? closeNorm(gp.benc, js.benc, 1e-3) ?? closeNorm(gp.bdec, js.bdec, 1e-3);
      if (e) return e;
      // with AuxK on dead latents (a short dead-latent window)
      const cfg2 = { ...cfg, atoms: 80, k: 1, auxkCoef: 0.5, deadAfter: 32 };
      const js2 = createSAE('topk', cfg2) as TopKSAE;
      const q1 = await js2.fit(X, { seed: 8 });
      const gp2 = createSAE('topk', cfg2) as TopKSAE;
      const q2 = await fitTopKWebGpu(gp2, X, { context: ctx, seed: 8, lossEvery: 4 });
      if (!(q1.loss > q1.sqErr)) return `the js run had no AuxK term (loss ${q1.loss}, sqErr ${q1.sqErr}): the case does not test it`;
      // Adam moves every weight by about lr whatever its gradient's size, so a gradient entry near
      // 0 whose sign differs in float32 moves a weight ±lr: the whole-run weights must be much
      // closer to js's than AuxK moves them (js with auxkCoef 0 gives the scale)
      const js0 = createSAE('topk', { ...cfg2, auxkCoef: 0 }) as TopKSAE;
      await js0.fit(X, { seed: 8 });
      const dist = (a: Float32Array, b: Float32Array) => Math.sqrt(a.reduce((t, v, i) => t + (v - b[i]) ** 2, 0));
      const byAux = dist(js0.Wdec.data, js2.Wdec.data) + dist(js0.Wenc.data, js2.Wenc.data);
      const off = dist(gp2.Wdec.data, js2.Wdec.data) + dist(gp2.Wenc.data, js2.Wenc.data);
      if (!(off <= 0.1 * byAux)) return `weights ${off.toExponential(2)} from js's, AuxK moves them ${byAux.toExponential(2)}`;
      return closeNorm([q2.loss, q2.sqErr], [q1.loss, q1.sqErr], 1e-3)
        ?? (q1.deadFraction === q2.deadFraction ? null : `dead fraction ${q2.deadFraction}, js ${q1.deadFraction}`);
    },
  });
  cases.push({
    name: 'TopK SAE on the GPU: a buffer over the device limits fails with E_BACKEND naming the limit, before allocating',
    run: async () => {
      const lim = ctx.limits.maxStorageBufferBindingSize;
      const A = 1 << 20, n = Math.ceil(lim / 4 / A) + 1;
      try {
        new GpuTopKTrainer(ctx, { dim: 1, atoms: A, k: 1, batch: n }, { Wenc: new Float32Array(A), benc: new Float32Array(A), Wdec: new Float32Array(A), bdec: new Float32Array(1) });
        return 'no error';
      } catch (e) {
        const err = e as { code?: string; message: string };
        return err.code === 'E_BACKEND' && /maxStorageBufferBindingSize/.test(err.message) ? null : `wrong error: ${err.code} ${err.message}`;
      }
    },
  });
  return cases;
}

/** ‖got − want‖∞ ≤ tol·max(‖want‖∞, tiny) */
function closeNorm(got: ArrayLike<number>, want: ArrayLike<number>, tol: number): string | null {
  if (got.length !== want.length) return `length ${got.length}, want ${want.length}`;
  let scale = 0, worst = 0, at = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]);
    if (!(e <= worst)) { worst = e; at = i; }
  }
  return worst <= tol * Math.max(scale, 1e-30) ? null : `[${at}] = ${got[at]}, want ${want[at]} (max error ${worst.toExponential(2)}, ${tol} x scale ${scale.toExponential(2)})`;
}
