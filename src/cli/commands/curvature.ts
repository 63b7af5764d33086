import { fail } from '../../core/errors.js';
import { writeNpy } from '../../io/npy.js';
import { STRAIGHTENING_FEATURE_NAMES } from '../../metrics/curvature.js';
import type { Command } from '../command.js';
import type { Progress } from '../progress.js';
import { trajectoryFileFeatures } from '../trajectories.js';

/** `sparsecode curvature`: trajectory geometry and ReStraV's 21 straightening features. */
export const curvatureCommand: Command = {
  name: 'curvature',
  summary: 'trajectory geometry of embedding sequences: step distances, curvature angles, the 21 ReStraV features',
  usage: 'curvature --input traj.npy [--out F.npy] [--geometry] [--json]',
  description: [
    'traj.npy holds embedding trajectories: [T x D] (one trajectory of T frames) or [videos x T x D]',
    '(e.g. DINOv2 features of 24 frames per video). For each trajectory: steps d_t = ||z_{t+1} - z_t||,',
    'curvature angles theta_t = angle between consecutive steps, in degrees (0 = straight on), and the 21',
    'features of "AI-Generated Video Detection via Perceptual Straightening" (ReStraV) in its order:',
    'd0..d6, theta0..theta5, then mean/min/max/population variance of all d, then of all theta.',
    'T must be at least 8 (the features use the first 7 steps); two identical consecutive frames make an',
    'angle undefined and are an error naming the trajectory and frames. Data are read one trajectory at a',
    'time as float32; geometry is computed in float64.',
    '--json prints {"features": [[21 numbers] per trajectory], "names": [...], "mean_curvature_deg": [...]}',
    '(with --geometry also "distances" and "angles" per trajectory). --out writes the [videos x 21] float32',
    'feature matrix (the input of `sparsecode detect`-style classifiers).',
  ].join('\n'),
  options: [
    { name: 'input', type: 'string', help: 'trajectories: .npy [T x D] or [videos x T x D]', required: true, metavar: 'traj.npy' },
    { name: 'out', type: 'string', help: 'write the feature matrix [videos x 21] (float32 .npy)', metavar: 'F.npy' },
    { name: 'geometry', type: 'boolean', help: 'also output every step distance and angle' },
    { name: 'json', type: 'boolean', help: 'print one JSON object' },
  ],
  examples: [
    'sparsecode curvature --input traj.npy --json',
    'sparsecode curvature --input dinov2_real.npy --out real_features.npy',
    'sparsecode curvature --input traj.npy --geometry --json',
  ],
  async run(ctx) {
    const o = ctx.opts;
    if (o.out !== undefined && !String(o.out).endsWith('.npy')) fail('E_USAGE', `--out ${o.out}: the feature matrix is written as .npy; name the file F.npy`);
    let bar: Progress | undefined;
    const r = trajectoryFileFeatures(o.input, {
      what: '--input', geometry: !!o.geometry,
      onProgress: (d, n) => {
        bar ??= ctx.progress('curvature', n, 'trajectories');
        bar.update(d);
      },
    });
    bar?.finish();
    const rows: number[][] = [];
    for (let v = 0; v < r.videos; v++) rows.push(Array.from(r.features.subarray(v * 21, (v + 1) * 21)));
    if (o.out !== undefined) {
      writeNpy(o.out, { shape: [r.videos, 21], data: Float32Array.from(r.features) });
      ctx.note(`wrote ${o.out} [${r.videos} x 21] float32`);
    }
    if (o.json) {
      const out: Record<string, unknown> = { features: rows, names: STRAIGHTENING_FEATURE_NAMES, mean_curvature_deg: Array.from(r.meanCurvature) };
      if (o.geometry) {
        out.distances = r.distances!.map((d) => Array.from(d));
        out.angles = r.angles!.map((a) => Array.from(a));
      }
      ctx.print(JSON.stringify(out));
      return;
    }
    ctx.print(`${r.videos} trajector${r.videos === 1 ? 'y' : 'ies'} of ${r.frames} frames x ${r.dim} dimensions (${o.input})`);
    const show = Math.min(r.videos, 20);
    ctx.print('trajectory  mean step  mean curvature (deg)  min  max');
    for (let v = 0; v < show; v++) {
      const f = rows[v];
      ctx.print(`${String(v).padStart(10)}  ${f[13].toPrecision(5).padStart(9)}  ${f[17].toFixed(2).padStart(20)}  ${f[18].toFixed(1)}  ${f[19].toFixed(1)}`);
    }
    if (r.videos > show) ctx.print(`... ${r.videos - show} more (--json or --out for all)`);
    if (r.videos > 1) {
      const c = Array.from(r.meanCurvature).sort((a, b) => a - b);
      const mean = c.reduce((a, b) => a + b, 0) / c.length;
      ctx.print(`mean curvature over trajectories: mean ${mean.toFixed(2)} deg, median ${c[Math.floor(c.length / 2)].toFixed(2)}, range ${c[0].toFixed(2)} to ${c[c.length - 1].toFixed(2)}`);
    }
  },
};
