import { fail } from '../core/errors.js';
import { Matrix } from '../core/matrix.js';
import { Rng, type Seed } from '../core/rng.js';
import { assertInt } from '../core/validate.js';
import { LeakyMixing } from './leaky-mixing.js';
import type { FactorGrid } from './laplace-transitions.js';

/**
 * Small renderings of factor grids for the SlowVAE reproduction (PROTOCOLS.md §3.4):
 *  - `SPRITE_GRID` / `renderSprites`: a 16×16 greyscale sprite, a dSprites-like world at CPU
 *    scale: shape (square, ellipse, triangle; categorical, fixed within a pair), scale (5),
 *    brightness (6), x (10), y (10). Anti-aliased by 4×4 supersampling; pixels in [0, 1]
 *    (the decoder is Bernoulli, as the reference's).
 *  - `VectorWorld`: the non-categorical factors mapped to [−1, 1], through the frozen leaky-ReLU
 *    mixing (leaky-mixing.ts), then a fixed random linear embedding into R^D.
 * Every image of the grid is rendered once and cached (3·5·6·10·10 = 9000 images of 256 pixels).
 */

export const SPRITE_SIZE = 16;

export const SPRITE_GRID: FactorGrid = {
  sizes: [3, 5, 6, 10, 10],
  categorical: [true, false, false, false, false],
  names: ['shape', 'scale', 'brightness', 'x', 'y'],
};

/** Coverage test of one shape at offset (u, v) from its centre (pixels, y down), half-extent r. */
function inside(shape: number, u: number, v: number, r: number): boolean {
  if (shape === 0) return Math.abs(u) <= r && Math.abs(v) <= r;
  if (shape === 1) return u * u + v * v <= r * r;
  // triangle, apex up: width grows linearly from the apex (v = −r) to the base (v = r)
  return v >= -r && v <= r && Math.abs(u) <= (v + r) / 2;
}

/** Render one sprite from factor indices [shape, scale, brightness, x, y] into out[off .. off + 256). */
export function renderSprite(f: ArrayLike<number>, out: Float32Array, off = 0, ss = 4): void {
  const S = SPRITE_SIZE;
  const shape = f[0], scale = f[1], bright = f[2], xi = f[3], yi = f[4];
  const r = 1.5 + 0.5 * scale; // 1.5 .. 3.5 px
  const b = 0.35 + 0.13 * bright; // 0.35 .. 1.0
  const cx = 3.5 + xi; // 3.5 .. 12.5
  const cy = 3.5 + yi;
  const inv = 1 / (ss * ss);
  for (let py = 0; py < S; py++) {
    for (let px = 0; px < S; px++) {
      let hits = 0;
      for (let sy = 0; sy < ss; sy++) {
        const y = py + (sy + 0.5) / ss;
        for (let sx = 0; sx < ss; sx++) {
          const x = px + (sx + 0.5) / ss;
          if (inside(shape, x - cx, y - cy, r)) hits++;
        }
      }
      out[off + py * S + px] = b * hits * inv;
    }
  }
}

let spriteCache: Float32Array | null = null;

function spriteIndex(f: ArrayLike<number>): number {
  const s = SPRITE_GRID.sizes;
  let idx = 0;
  for (let k = 0; k < s.length; k++) {
    const v = f[k];
    if (!Number.isInteger(v) || v < 0 || v >= s[k]) fail('E_ARG', `sprite factor ${SPRITE_GRID.names![k]} = ${v} is outside 0..${s[k] - 1}`);
    idx = idx * s[k] + v;
  }
  return idx;
}

/** Images [rows x 256] for factor indices [rows x 5] (SPRITE_GRID order). */
export function renderSprites(factors: Matrix): Matrix {
  if (factors.cols !== SPRITE_GRID.sizes.length) fail('E_SHAPE', `renderSprites: factors have ${factors.cols} columns, the sprite grid has ${SPRITE_GRID.sizes.length} (shape, scale, brightness, x, y)`);
  const P = SPRITE_SIZE * SPRITE_SIZE;
  if (!spriteCache) {
    const total = SPRITE_GRID.sizes.reduce((a, b) => a * b, 1);
    spriteCache = new Float32Array(total * P);
    const f = new Int32Array(5);
    for (let idx = 0; idx < total; idx++) {
      let rest = idx;
      for (let k = 4; k >= 0; k--) {
        f[k] = rest % SPRITE_GRID.sizes[k];
        rest = Math.floor(rest / SPRITE_GRID.sizes[k]);
      }
      renderSprite(f, spriteCache, idx * P);
    }
  }
  const out = new Matrix(factors.rows, P);
  const F = factors.cols;
  for (let i = 0; i < factors.rows; i++) {
    const idx = spriteIndex(factors.data.subarray(i * F, (i + 1) * F));
    out.data.set(spriteCache.subarray(idx * P, (idx + 1) * P), i * P);
  }
  return out;
}

export interface VectorWorldOptions {
  grid: FactorGrid;
  /** observation dimension D (>= number of non-categorical factors); default 16 */
  dim?: number;
  /** mixing layers (default 3) and its condition pool (default 2000) */
  layers?: number;
  pool?: number;
  seed?: Seed;
}

/** Factor grid → [−1, 1] values → frozen leaky-ReLU mixing → random linear embedding in R^D. */
export class VectorWorld {
  readonly grid: FactorGrid;
  readonly dim: number;
  readonly mixing: LeakyMixing;
  /** the embedding [k x D], k = non-categorical factors */
  readonly embed: Float64Array;
  private readonly cont: number[];

  constructor(o: VectorWorldOptions) {
    this.grid = o.grid;
    this.cont = o.grid.sizes.map((_, f) => f).filter((f) => !o.grid.categorical[f]);
    const k = this.cont.length;
    this.dim = o.dim ?? 16;
    assertInt('vector world dim', this.dim, k);
    const base = o.seed ?? 0;
    this.mixing = new LeakyMixing({ n: k, layers: o.layers ?? 3, pool: o.pool ?? 2000, seed: `${base}:mixing` });
    this.embed = new Float64Array(k * this.dim);
    const er = new Rng(`${base}:embed`);
    for (let i = 0; i < this.embed.length; i++) this.embed[i] = er.normal() / Math.sqrt(k);
  }

  /** Observations [rows x D] for factor indices [rows x F]. */
  observe(factors: Matrix): Matrix {
    const { grid, cont, dim } = this;
    const F = grid.sizes.length;
    if (factors.cols !== F) fail('E_SHAPE', `vector world: factors have ${factors.cols} columns, the grid has ${F}`);
    const k = cont.length;
    const z = new Matrix(factors.rows, k);
    for (let i = 0; i < factors.rows; i++) {
      for (let c = 0; c < k; c++) {
        const f = cont[c];
        z.data[i * k + c] = (2 * factors.data[i * F + f]) / (grid.sizes[f] - 1) - 1;
      }
    }
    const g = this.mixing.apply(z);
    const out = new Matrix(factors.rows, dim);
    for (let i = 0; i < factors.rows; i++) {
      for (let d = 0; d < dim; d++) {
        let s = 0;
        for (let c = 0; c < k; c++) s += g.data[i * k + c] * this.embed[c * dim + d];
        out.data[i * dim + d] = s;
      }
    }
    return out;
  }
}
