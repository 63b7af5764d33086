"""NumPy/SciPy peer for `sparsecode bench align`: linear CKA and RSA on the same data.

Reads {"a": path, "b": path, "metrics": [...], "repeats": R, "budget_s": B} as JSON on stdin
(A and B are float32 .npy files written by the Node side) and prints one JSON line per metric:
{"impl": "numpy", "metric", "rows", "cols", "seconds", "value", "runs"}.
Prints {"skip": reason} when NumPy or SciPy is missing.

The computations mirror the library's: float32 products (BLAS sgemm / ssyrk), float64 reductions.
  linear CKA:  ||Ac^T Bc||_F^2 / (||Ac^T Ac||_F ||Bc^T Bc||_F), centred columns.
  RSA:         correlation-distance RDM (1 - Pearson r between rows, through the Gram of
               row-standardised data), condensed upper triangle in float64, Spearman via
               scipy.stats.rankdata (average ties) + Pearson.
"""
import json
import sys
import time

try:
    import numpy as np
    from scipy.stats import rankdata
except ImportError as e:  # the Node side skips the peer
    print(json.dumps({"skip": f"numpy/scipy not importable: {e}"}))
    sys.exit(0)


def time_it(fn, repeats, budget):
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    times = []
    if dt > budget / 2:
        times.append(dt)
    start = time.perf_counter()
    while len(times) < repeats and (not times or time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    h = len(times) // 2
    med = times[h] if len(times) % 2 else (times[h - 1] + times[h]) / 2
    return med, len(times), out


def sq(m):
    return float(np.einsum('ij,ij->', m, m, dtype=np.float64))


def linear_cka(A, B):
    Ac = A - A.mean(0, dtype=np.float64).astype(np.float32)
    Bc = B - B.mean(0, dtype=np.float64).astype(np.float32)
    ab = sq(Ac.T @ Bc)
    aa = np.sqrt(sq(Ac.T @ Ac))
    bb = np.sqrt(sq(Bc.T @ Bc))
    return ab / (aa * bb)


def rdm_correlation(X):
    n = X.shape[0]
    Xc = X - X.mean(1, keepdims=True, dtype=np.float64).astype(np.float32)
    Xc /= np.linalg.norm(Xc, axis=1, keepdims=True)
    G = Xc @ Xc.T
    out = np.empty(n * (n - 1) // 2)
    t = 0
    for i in range(n - 1):
        row = G[i, i + 1:]
        out[t:t + row.size] = 1.0 - row.astype(np.float64)
        t += row.size
    return out


def rsa(A, B):
    ra = rankdata(rdm_correlation(A))
    rb = rankdata(rdm_correlation(B))
    ra -= ra.mean()
    rb -= rb.mean()
    return float(ra @ rb / np.sqrt((ra @ ra) * (rb @ rb)))


def main():
    cfg = json.loads(sys.stdin.read() or "{}")
    A = np.load(cfg["a"])
    B = np.load(cfg["b"])
    repeats = int(cfg.get("repeats", 3))
    budget = float(cfg.get("budget_s", 20))
    fns = {"linear-cka": linear_cka, "rsa": rsa}
    for metric in cfg.get("metrics", ["linear-cka", "rsa"]):
        sec, runs, value = time_it(lambda: fns[metric](A, B), repeats, budget)
        print(json.dumps({"impl": "numpy", "metric": metric, "rows": A.shape[0], "cols": A.shape[1], "seconds": sec,
                          "value": value, "runs": runs, "numpy": np.__version__}), flush=True)


if __name__ == "__main__":
    main()
