/**
 * optim/: Adam(W) trajectories, learning-rate schedules and gradient clipping against PyTorch
 * (test/fixtures/optim/gen.py: torch.optim.AdamW, torch.optim.lr_scheduler, clip_grad_norm_),
 * plus the SAE trainer's schedule and bad input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Adam } from '../src/optim/adam.js';
import { lrSchedule, learningRate, type LrScheduleSpec } from '../src/optim/schedule.js';
import { clipGradNorm } from '../src/optim/clip.js';
import { assertAllClose, assertThrowsCode } from './helpers.js';

const fx = JSON.parse(readFileSync(new URL('./fixtures/optim/optim.json', import.meta.url), 'utf8'));

/** loss = mean((X Wᵀ + b − Y)²) and its gradient, float64 from the float32 parameters. */
function lsqGrad(X: number[], Y: number[], W: Float32Array, b: Float32Array, gW: Float32Array, gb: Float32Array): void {
  const n = 6, d = 4, o = 3;
  const gw = new Float64Array(o * d), gbb = new Float64Array(o);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < o; j++) {
      let r = b[j] - Y[i * o + j];
      for (let c = 0; c < d; c++) r += X[i * d + c] * W[j * d + c];
      const g = (2 * r) / (n * o);
      gbb[j] += g;
      for (let c = 0; c < d; c++) gw[j * d + c] += g * X[i * d + c];
    }
  }
  gW.set(gw);
  gb.set(gbb);
}

test('Adam matches torch.optim.AdamW trajectories (weight decay off, on, and on W only with a warm-up + cosine schedule)', () => {
  const a = fx.adamw;
  for (const run of a.runs) {
    const W = Float32Array.from(a.W0), b = Float32Array.from(a.b0);
    const gW = new Float32Array(W.length), gb = new Float32Array(b.length);
    const weightDecay = Math.max(run.decayW, run.decayB);
    const opt = new Adam([W, b], { beta1: run.beta1, beta2: run.beta2, eps: run.eps, weightDecay }, [run.decayW > 0, run.decayB > 0]);
    const lr = run.schedule ? lrSchedule(run.schedule as LrScheduleSpec) : () => run.lr;
    for (let t = 0; t < a.steps; t++) {
      assert.ok(Math.abs(lr(t) - run.lrs[t]) <= 1e-12, `lr at step ${t}: ${lr(t)} vs torch ${run.lrs[t]}`);
      lsqGrad(a.X, a.Y, W, b, gW, gb);
      opt.step([gW, gb], lr(t));
      assertAllClose(W, run.trajectory[t].W, 2e-5, 2e-6, `W after step ${t + 1} (wd ${run.decayW})`);
      assertAllClose(b, run.trajectory[t].b, 2e-5, 2e-6, `b after step ${t + 1} (wd ${run.decayB})`);
    }
    assert.equal(opt.t, a.steps);
  }
});

test('lrSchedule matches torch.optim.lr_scheduler value by value (LinearLR warm-up, ConstantLR, CosineAnnealingLR, LinearLR decay, SequentialLR)', () => {
  assert.ok(fx.schedules.length >= 8);
  for (const s of fx.schedules) {
    const f = lrSchedule(s.spec);
    const ours = s.values.map((_: number, t: number) => f(t));
    assertAllClose(ours, s.values, 1e-9, 1e-15, `${JSON.stringify(s.spec)}`);
  }
  // past the end, the decays sit at the floor; constant stays constant
  assert.equal(lrSchedule({ kind: 'cosine', lr: 1, totalSteps: 10, minLr: 0.1 })(10), 0.1);
  assert.equal(lrSchedule({ kind: 'linear-decay', lr: 1, totalSteps: 10 })(25), 0);
  assert.equal(lrSchedule({ kind: 'constant', lr: 0.3, totalSteps: 10 })(25), 0.3);
});

test('clipGradNorm matches torch.nn.utils.clip_grad_norm_ (returns the pre-clip norm; small norms untouched)', () => {
  for (const c of fx.clip) {
    const grads = c.grads.map((g: number[]) => Float32Array.from(g));
    const norm = clipGradNorm(grads, c.maxNorm);
    assert.ok(Math.abs(norm - c.norm) <= 1e-5 * c.norm, `norm ${norm} vs ${c.norm}`);
    for (let q = 0; q < grads.length; q++) assertAllClose(grads[q], c.clipped[q], 1e-5, 1e-7, `clipped grad ${q} (maxNorm ${c.maxNorm})`);
  }
  const g = [new Float32Array([1, NaN])];
  assert.ok(Number.isNaN(clipGradNorm(g, 1)));
  assert.equal(g[0][0], 1, 'a non-finite norm leaves the gradients as they are');
});

test("the SAE trainer's schedule (learningRate) is unchanged: warm-up (t+1)/w, linear decay to minFactor at the last step", () => {
  const s = { lr: 1, totalSteps: 100, warmupSteps: 10, decaySteps: 20, minFactor: 0.1 };
  assert.equal(learningRate(s, 0), 0.1);
  assert.equal(learningRate(s, 9), 1);
  assert.equal(learningRate(s, 50), 1);
  assert.ok(Math.abs(learningRate(s, 99) - 0.1) < 1e-12);
  assert.ok(Math.abs(learningRate(s, 89) - (0.1 + 0.9 * (1 - 10 / 20))) < 1e-12);
});

test('Adam: moments reset by rows; bad input gives SparsecodeErrors naming the fix', () => {
  const p = new Float32Array(6);
  const opt = new Adam([p]);
  opt.step([new Float32Array([1, 2, 3, 4, 5, 6])], 0.1);
  opt.resetRows(0, [1], 3);
  assert.deepEqual(Array.from(opt.m[0].subarray(3)), [0, 0, 0]);
  assert.ok(opt.m[0][0] !== 0);
  assertThrowsCode(() => new Adam([p], { beta1: 1 }), 'E_ARG', /betas/);
  assertThrowsCode(() => new Adam([p], { eps: 0 }), 'E_ARG', /eps/);
  assertThrowsCode(() => new Adam([p], {}, [true, false]), 'E_ARG', /decay flag/);
  assertThrowsCode(() => opt.step([], 0.1), 'E_ARG', /gradients/);
  assertThrowsCode(() => opt.step([new Float32Array(2)], 0.1), 'E_SHAPE', /gradient 0/);
  assertThrowsCode(() => lrSchedule({ kind: 'cosin' as never, lr: 1, totalSteps: 5 }), 'E_ARG', /constant-cosine/);
  assertThrowsCode(() => lrSchedule({ kind: 'constant-cosine', lr: 1, totalSteps: 5 }), 'E_ARG', /decayStart/);
  assertThrowsCode(() => lrSchedule({ kind: 'warmup-constant', lr: 1, totalSteps: 5 }), 'E_ARG', /warmupSteps/);
  assertThrowsCode(() => lrSchedule({ kind: 'cosine', lr: 1, totalSteps: 5, minLr: 2 }), 'E_ARG', /minLr/);
  assertThrowsCode(() => lrSchedule({ kind: 'cosine', lr: 0, totalSteps: 5 }), 'E_ARG', /lr/);
  assertThrowsCode(() => lrSchedule({ kind: 'cosine', lr: 1, totalSteps: 5 })(-1), 'E_ARG', /step/);
  assertThrowsCode(() => clipGradNorm([p], 0), 'E_ARG', /maxNorm/);
});
