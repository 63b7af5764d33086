import { backend } from '../../backend/index.js';
import type { Matrix } from '../../core/matrix.js';
import type { SAEConfig } from './config.js';
import { SparseActivationSAE } from './sparse.js';

/**
 * TopK SAE (Gao et al. 2024; EleutherAI sparsify): z keeps the k largest pre-activations of
 * each row (then ReLU), so exactly at most k latents are active per row. Decode and backward
 * touch only those k atoms. Dead latents are revived with AuxK.
 */
export class TopKSAE extends SparseActivationSAE {
  constructor(config: SAEConfig) {
    super('topk', config);
  }

  protected select(pre: Matrix): number {
    const k = this.config.k;
    backend().topkRows(pre.data, pre.rows, this.atoms, k, this.idx, this.val);
    const v = this.val;
    for (let t = 0; t < pre.rows * k; t++) if (!(v[t] > 0)) v[t] = 0;
    return k;
  }

  protected inferenceCodes(pre: Matrix, out: Matrix): void {
    const n = pre.rows, A = this.atoms, k = this.config.k;
    const idx = new Int32Array(n * k), val = new Float32Array(n * k);
    backend().topkRows(pre.data, n, A, k, idx, val);
    out.data.fill(0);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < k; j++) {
        const v = val[i * k + j];
        if (v > 0) out.data[i * A + idx[i * k + j]] = v;
      }
    }
  }
}
