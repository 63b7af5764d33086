import { fail } from './errors.js';

/**
 * Seeded, splittable pseudo-random generator: xoshiro128** seeded through splitmix32.
 * Pure JavaScript, so the same seed gives the same stream on every backend and platform.
 * Never use Math.random in this library: every random choice flows from an Rng.
 */
export type Seed = number | string;

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** FNV-1a over a string, then mixed: a 32-bit hash used to turn labels into seeds. */
function hashString(s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function seedWords(seed: Seed): number[] {
  let lo: number;
  let hi: number;
  if (typeof seed === 'number') {
    if (!Number.isFinite(seed) || !Number.isInteger(seed)) fail('E_ARG', `seed must be an integer or a string, got ${seed}`);
    lo = seed >>> 0;
    hi = Math.floor(seed / 4294967296) >>> 0;
  } else {
    lo = hashString(seed);
    hi = hashString(seed, 0x12345679);
  }
  const st = { s: lo ^ Math.imul(hi, 0x27d4eb2f) };
  const w = [splitmix32(st), splitmix32(st), splitmix32(st), splitmix32(st)];
  if ((w[0] | w[1] | w[2] | w[3]) === 0) w[0] = 1;
  return w;
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare = NaN;

  constructor(seed: Seed = 0) {
    const w = seedWords(seed);
    this.s0 = w[0];
    this.s1 = w[1];
    this.s2 = w[2];
    this.s3 = w[3];
  }

  /** Next 32-bit unsigned integer. */
  nextU32(): number {
    const s0 = this.s0, s1 = this.s1, s2 = this.s2, s3 = this.s3;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    let n2 = s2 ^ s0;
    let n3 = s3 ^ s1;
    const n1 = s1 ^ n2;
    const n0 = s0 ^ n3;
    n2 ^= t;
    n3 = rotl(n3, 11);
    this.s0 = n0 | 0;
    this.s1 = n1 | 0;
    this.s2 = n2 | 0;
    this.s3 = n3 | 0;
    return r;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  uniform(): number {
    const a = this.nextU32() >>> 5; // 27 bits
    const b = this.nextU32() >>> 6; // 26 bits
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** Uniform double in [lo, hi). */
  uniformIn(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Standard normal (Box-Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const v = this.spare;
      this.spare = NaN;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Exponential with rate 1. */
  exponential(): number {
    let u = 0;
    while (u === 0) u = this.uniform();
    return -Math.log(u);
  }

  /** Uniform integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 4294967296) fail('E_ARG', `int(n) needs an integer 1 <= n <= 2^32, got ${n}`);
    if (n === 4294967296) return this.nextU32();
    const limit = 4294967296 - (4294967296 % n);
    let x = this.nextU32();
    while (x >= limit) x = this.nextU32();
    return x % n;
  }

  /** Bernoulli draw with probability p. */
  bernoulli(p: number): boolean {
    return this.uniform() < p;
  }

  /** Fill with U(lo, hi). */
  fillUniform(out: Float32Array | Float64Array, lo = 0, hi = 1): typeof out {
    for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * this.uniform();
    return out;
  }

  /** Fill with N(mean, std^2). */
  fillNormal(out: Float32Array | Float64Array, mean = 0, std = 1): typeof out {
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.normal();
    return out;
  }

  /** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    this.shuffle(p);
    return p;
  }

  /** Shuffle in place (Fisher-Yates). */
  shuffle<T extends { length: number; [i: number]: any }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /**
   * k distinct integers from [0, n), in draw order (a partial Fisher-Yates over a sparse
   * swap table: O(k) time and memory, whatever n is).
   */
  choice(n: number, k: number): Int32Array {
    if (!Number.isInteger(k) || k < 0 || k > n) fail('E_ARG', `choice: cannot draw ${k} distinct values from ${n}`);
    const out = new Int32Array(k);
    const swapped = new Map<number, number>();
    for (let i = 0; i < k; i++) {
      const j = i + this.int(n - i);
      const vj = swapped.has(j) ? swapped.get(j)! : j;
      const vi = swapped.has(i) ? swapped.get(i)! : i;
      out[i] = vj;
      swapped.set(j, vi);
    }
    return out;
  }

  /**
   * A new independent generator; advances this one. Use to hand sub-streams to workers
   * or sub-tasks in a fixed order.
   */
  split(): Rng {
    const child = new Rng(0);
    child.s0 = this.nextU32() | 0;
    child.s1 = this.nextU32() | 0;
    child.s2 = this.nextU32() | 0;
    child.s3 = this.nextU32() | 0;
    if ((child.s0 | child.s1 | child.s2 | child.s3) === 0) child.s0 = 1;
    return child;
  }

  /** The full state (four 32-bit words and the cached Box-Muller value, NaN when none), for checkpoints. */
  getState(): number[] {
    return [this.s0, this.s1, this.s2, this.s3, this.spare];
  }

  /** Restore a state from `getState()`: the generator continues exactly where that one was. */
  setState(st: ArrayLike<number>): this {
    if (!st || st.length !== 5) fail('E_ARG', 'Rng.setState: expected the 5 numbers of getState()');
    const w = [st[0], st[1], st[2], st[3]];
    if (w.some((v) => !Number.isInteger(v)) || (w[0] | w[1] | w[2] | w[3]) === 0) fail('E_ARG', 'Rng.setState: the first four numbers must be 32-bit integers, not all zero');
    [this.s0, this.s1, this.s2, this.s3] = w.map((v) => v | 0);
    this.spare = st[4] === null ? NaN : Number(st[4]);
    return this;
  }

  /**
   * A generator derived from this one's current state and a label, without advancing this
   * one: `rng.fork('init')` and `rng.fork('data')` are independent and stable under
   * reordering of the code that uses them.
   */
  fork(label: string | number): Rng {
    const h = hashString(String(label));
    const child = new Rng(0);
    const st = { s: (this.s0 ^ h ^ Math.imul(this.s2, 0x9e3779b1)) | 0 };
    child.s0 = (splitmix32(st) ^ this.s1) | 0;
    child.s1 = (splitmix32(st) ^ this.s3) | 0;
    child.s2 = splitmix32(st) | 0;
    child.s3 = (splitmix32(st) ^ h) | 0;
    if ((child.s0 | child.s1 | child.s2 | child.s3) === 0) child.s0 = 1;
    return child;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Accept an Rng or a seed. */
export function toRng(r: Rng | Seed | undefined): Rng {
  if (r instanceof Rng) return r;
  return new Rng(r ?? 0);
}
