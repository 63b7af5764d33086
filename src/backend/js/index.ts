import type { Backend } from '../types.js';

/**
 * The reference backend: plain TypeScript, straightforward loops, float64 accumulation
 * where it matters. Every other backend is tested against this one.
 */
export const jsBackend: Backend = {
  name: 'js',

  sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
    for (let i = 0; i < m; i++) {
      const ci = i * ldc;
      if (beta === 0) for (let j = 0; j < n; j++) c[ci + j] = 0;
      else if (beta !== 1) for (let j = 0; j < n; j++) c[ci + j] *= beta;
    }
    if (alpha === 0 || k === 0) return;
    if (!transB) {
      // i-p-j order: the inner loop runs along rows of B and C.
      const acc = new Float64Array(n);
      for (let i = 0; i < m; i++) {
        acc.fill(0);
        for (let p = 0; p < k; p++) {
          const aip = transA ? a[p * lda + i] : a[i * lda + p];
          if (aip === 0) continue;
          const bp = p * ldb;
          for (let j = 0; j < n; j++) acc[j] += aip * b[bp + j];
        }
        const ci = i * ldc;
        for (let j = 0; j < n; j++) c[ci + j] += alpha * acc[j];
      }
    } else {
      // op(B)[p, j] = b[j * ldb + p]: dot products of rows.
      for (let i = 0; i < m; i++) {
        const ci = i * ldc;
        for (let j = 0; j < n; j++) {
          const bj = j * ldb;
          let s = 0;
          if (transA) for (let p = 0; p < k; p++) s += a[p * lda + i] * b[bj + p];
          else {
            const ai = i * lda;
            for (let p = 0; p < k; p++) s += a[ai + p] * b[bj + p];
          }
          c[ci + j] += alpha * s;
        }
      }
    }
  },

  softThreshold(x, t, nonneg, out) {
    if (nonneg) {
      for (let i = 0; i < x.length; i++) {
        const v = x[i] - t;
        out[i] = v > 0 ? v : 0;
      }
    } else {
      for (let i = 0; i < x.length; i++) {
        const v = x[i];
        out[i] = v > t ? v - t : v < -t ? v + t : 0;
      }
    }
  },

  relu(x, out) {
    for (let i = 0; i < x.length; i++) out[i] = x[i] > 0 ? x[i] : 0;
  },

  axpby(alpha, x, beta, y) {
    for (let i = 0; i < x.length; i++) y[i] = alpha * x[i] + beta * y[i];
  },

  extrapolate(z, zPrev, beta, out) {
    for (let i = 0; i < z.length; i++) out[i] = z[i] + beta * (z[i] - zPrev[i]);
  },

  fistaUpdate(v, y, z, t, nonneg, beta, zNew) {
    for (let i = 0; i < v.length; i++) {
      const u = Math.fround(y[i] + v[i]);
      zNew[i] = nonneg ? (u - t > 0 ? u - t : 0) : u > t ? u - t : u < -t ? u + t : 0;
      const w = zNew[i];
      y[i] = w + beta * (w - z[i]);
    }
  },

  fistaGramRows(c, m, rows, atoms, t, nonneg, betas, cap, z, flags) {
    cap = Math.min(cap, atoms);
    const acc = new Float32Array(atoms);
    let zi = new Int32Array(cap), zv = new Float32Array(cap);
    let ni = new Int32Array(cap), nv = new Float32Array(cap);
    const yi = new Int32Array(cap), yv = new Float32Array(cap);
    let left = 0;
    rows: for (let i = 0; i < rows; i++) {
      flags[i] = 1;
      const o = i * atoms;
      let zc = 0;
      for (let k = 0; k < atoms; k++) {
        if (z[o + k] !== 0) {
          if (zc === cap) { left++; continue rows; }
          zi[zc] = k; zv[zc] = z[o + k]; zc++;
        }
      }
      yi.set(zi.subarray(0, zc)); yv.set(zv.subarray(0, zc));
      let yc = zc;
      for (let it = 0; it < betas.length; it++) {
        acc.set(c.subarray(o, o + atoms));
        for (let p = 0; p < yc; p++) {
          const w = yv[p];
          const mo = yi[p] * atoms;
          for (let k = 0; k < atoms; k++) acc[k] += w * m[mo + k];
        }
        let nc = 0;
        for (let k = 0; k < atoms; k++) {
          const u = acc[k];
          const v = nonneg ? (u - t > 0 ? u - t : 0) : u > t ? u - t : u < -t ? u + t : 0;
          if (v !== 0) {
            if (nc === cap) { left++; continue rows; }
            ni[nc] = k; nv[nc] = v; nc++;
          }
        }
        // y = zNew + beta·(zNew − z) over the union of the two supports (exact zeros dropped)
        const beta = betas[it];
        let a = 0, b = 0;
        yc = 0;
        while (a < nc || b < zc) {
          let k: number, wn = 0, wz = 0;
          if (b >= zc || (a < nc && ni[a] < zi[b])) { k = ni[a]; wn = nv[a++]; }
          else if (a >= nc || zi[b] < ni[a]) { k = zi[b]; wz = zv[b++]; }
          else { k = ni[a]; wn = nv[a++]; wz = zv[b++]; }
          const y = Math.fround(wn + Math.fround(beta * Math.fround(wn - wz)));
          if (y !== 0) {
            if (yc === cap) { left++; continue rows; }
            yi[yc] = k; yv[yc] = y; yc++;
          }
        }
        [zi, ni] = [ni, zi];
        [zv, nv] = [nv, zv];
        zc = nc;
      }
      z.fill(0, o, o + atoms);
      for (let p = 0; p < zc; p++) z[o + zi[p]] = zv[p];
      flags[i] = 0;
    }
    return left;
  },

  addRowVector(x, rows, cols, v, alpha) {
    for (let i = 0; i < rows; i++) {
      const o = i * cols;
      for (let j = 0; j < cols; j++) x[o + j] += alpha * v[j];
    }
  },

  topkRows(x, rows, cols, k, outIdx, outVal) {
    // Keep a small sorted buffer per row: insertion for each element that beats the k-th.
    for (let i = 0; i < rows; i++) {
      const xo = i * cols;
      const oo = i * k;
      let filled = 0;
      for (let j = 0; j < cols; j++) {
        const v = x[xo + j];
        if (filled === k && !(v > outVal[oo + k - 1])) continue;
        let pos = filled < k ? filled : k - 1;
        // shift down smaller values; strict > keeps earlier (lower-index) ties ahead
        while (pos > 0 && v > outVal[oo + pos - 1]) {
          if (pos < k) {
            outVal[oo + pos] = outVal[oo + pos - 1];
            outIdx[oo + pos] = outIdx[oo + pos - 1];
          }
          pos--;
        }
        outVal[oo + pos] = v;
        outIdx[oo + pos] = j;
        if (filled < k) filled++;
      }
    }
  },

  sumRows(x, rows, cols, out) {
    for (let i = 0; i < rows; i++) {
      let s = 0;
      const o = i * cols;
      for (let j = 0; j < cols; j++) s += x[o + j];
      out[i] = s;
    }
  },

  sumCols(x, rows, cols, out) {
    out.fill(0, 0, cols);
    for (let i = 0; i < rows; i++) {
      const o = i * cols;
      for (let j = 0; j < cols; j++) out[j] += x[o + j];
    }
  },

  sumSquares(x) {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i] * x[i];
    return s;
  },

  compressRows(x, rows, cols, k, outIdx, outVal) {
    let most = 0;
    for (let i = 0; i < rows; i++) {
      const o = i * cols;
      const p = i * k;
      let c = 0;
      for (let j = 0; j < cols; j++) {
        const v = x[o + j];
        if (v !== 0) {
          if (c < k) {
            outIdx[p + c] = j;
            outVal[p + c] = v;
          }
          c++;
        }
      }
      for (let t = c; t < k; t++) {
        outIdx[p + t] = -1;
        outVal[p + t] = 0;
      }
      if (c > most) most = c;
    }
    return most;
  },

  gatherDecode(idx, val, rows, k, d, dim, beta, out) {
    for (let i = 0; i < rows; i++) {
      const o = i * dim;
      if (beta === 0) out.fill(0, o, o + dim);
      else if (beta !== 1) for (let t = 0; t < dim; t++) out[o + t] *= beta;
      for (let j = 0; j < k; j++) {
        const a = idx[i * k + j];
        if (a < 0) continue;
        const w = val[i * k + j];
        if (w === 0) continue;
        const da = a * dim;
        for (let t = 0; t < dim; t++) out[o + t] += w * d[da + t];
      }
    }
  },

  gatherDot(idx, rows, k, g, d, dim, out) {
    for (let i = 0; i < rows; i++) {
      const go = i * dim;
      for (let j = 0; j < k; j++) {
        const a = idx[i * k + j];
        if (a < 0) {
          out[i * k + j] = 0;
          continue;
        }
        const da = a * dim;
        let s = 0;
        for (let t = 0; t < dim; t++) s += g[go + t] * d[da + t];
        out[i * k + j] = s;
      }
    }
  },

  scatterOuter(idx, val, rows, k, g, dim, gradD) {
    for (let i = 0; i < rows; i++) {
      const go = i * dim;
      for (let j = 0; j < k; j++) {
        const a = idx[i * k + j];
        if (a < 0) continue;
        const w = val[i * k + j];
        if (w === 0) continue;
        const da = a * dim;
        for (let t = 0; t < dim; t++) gradD[da + t] += w * g[go + t];
      }
    }
  },
};
