"""The Stop-Probing reference's DL-FISTA loop as its code reads, in NumPy, float32 or float64.

Each outer step: 100 FISTA iterations warm-started from the last codes (t restarted, step
1/||D||_2^2, soft threshold then clamp at 0, lambda 0.1), then the primal MOD update
D <- (Z^T Z + 1e-6 I)^-1 Z^T X with the rows renormalised, the norm clamped at 1e-8 (so an atom no
sample used stays zero). World: n latents, k = 10 active with U(0, 1) magnitudes, unit-norm random
directions in m dimensions, 2500 samples (the validation half the reference learns on).
Prints per step: mean nonzeros (L0), nonzeros above 0.01 (the reference's l0), atoms used, zero
atoms, relative change of D, MSE, and every 4 steps the Hungarian-matched mean |cos| to the truth.

  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 scripts/stop_probing_dl_loop.py N M STEPS 32|64
  e.g. 5000 125 16 32   (docs/stop-probing.md, "Dead atoms in DL-FISTA")
"""
import sys
import time

import numpy as np

if len(sys.argv) != 5 or sys.argv[4] not in ('32', '64'):
    sys.exit(__doc__)
n, m, steps, dt = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), {'32': np.float32, '64': np.float64}[sys.argv[4]]
rng = np.random.default_rng(0); k, N = 10, 2500
A = rng.normal(size=(n, m)); A /= np.linalg.norm(A, axis=1, keepdims=True)
Zt = np.zeros((N, n))
for i in range(N):
    idx = rng.choice(n, k, replace=False); Zt[i, idx] = rng.uniform(size=k)
X = (Zt @ A).astype(dt)
D = rng.normal(size=(n, m)); D = (D / np.linalg.norm(D, axis=1, keepdims=True)).astype(dt)
def fista(X, D, lam, iters, Z0):
    L = dt(np.linalg.norm(D.astype(np.float64), 2) ** 2)
    C = X @ D.T; z = Z0.copy(); y = z.copy(); t = 1.0
    for _ in range(iters):
        zo = z; g = (y @ D) @ D.T - C
        z = np.maximum(y - g / L - dt(lam) / L, 0); tn = (1 + np.sqrt(1 + 4 * t * t)) / 2
        y = z + dt((t - 1) / tn) * (z - zo); t = tn
    return z
def match_cos(D, A):
    from scipy.optimize import linear_sum_assignment
    Dn = D / np.maximum(np.linalg.norm(D, axis=1, keepdims=True), 1e-8)
    C = np.abs(A @ Dn.T.astype(np.float64)); r, c = linear_sum_assignment(-C); return C[r, c].mean()
Z = np.zeros((N, n), dtype=dt)
for s in range(1, steps + 1):
    t0 = time.time()
    Z = fista(X, D, 0.1, 100, Z)
    G = Z.T @ Z + dt(1e-6) * np.eye(n, dtype=dt)
    Dn = np.linalg.solve(G, Z.T @ X)
    Dn = Dn / np.maximum(np.linalg.norm(Dn, axis=1, keepdims=True), dt(1e-8))
    rel = np.linalg.norm(Dn - D) / np.linalg.norm(D); D = Dn.astype(dt)
    mse = np.mean((Z @ D - X) ** 2)
    print(f'float{sys.argv[4]} step {s}: L0 {np.mean((Z>0).sum(1)):.1f} l0>0.01 {np.mean((Z>0.01).sum(1)):.1f} used {np.sum((Z>0).any(0))} dead {np.sum(~np.any(D!=0,1))} rel {rel:.2e} mse {mse:.4f} cos {match_cos(D, A) if s % 4 == 0 else float("nan"):.3f} ({time.time()-t0:.0f}s)', flush=True)
