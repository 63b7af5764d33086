"""Peers for `sparsecode bench fista`: NumPy FISTA (the same algorithm, float32) and
scikit-learn `sparse_encode` (lasso_cd, lasso_lars, omp) on the same data.

Reads JSON on stdin: {"x": X.npy, "d": D.npy, "lambda", "iters", "repeats", "budget_s",
"sklearn_samples", "omp_k", "gradient"}; prints one JSON line per result:
{"impl", "seconds", "samples", "samples_per_s", "objective", ...}, or {"skip": reason}.

Objective: mean over samples of 1/2||x - zD||^2 + lambda ||z||_1 (float64), as in sparsecode.
NumPy FISTA: step 1/L with L = ||D||_2^2 (largest singular value squared), the same gradient
form sparsecode picks (gram: V = C/L + Y(I - G/L); direct: V = Y - ((Y D - X) D^T)/L), written
with in-place operations and preallocated buffers where NumPy allows, all float32.
scikit-learn: sparse_encode(X, D, algorithm=..., alpha=lambda) solves the same per-sample
problem (it divides alpha by n_features internally and multiplies the data term likewise),
on the first `sklearn_samples` rows (it is per sample, so samples/s is comparable).
"""
import json
import sys
import time

try:
    import numpy as np
except ImportError as e:
    print(json.dumps({"skip": f"numpy not importable: {e}"}))
    sys.exit(0)


def objective(X, D, Z, lam):
    R = X.astype(np.float64) - Z.astype(np.float64) @ D.astype(np.float64)
    return float((0.5 * (R * R).sum(axis=1) + lam * np.abs(Z).sum(axis=1)).mean())


def fista_numpy(X, D, lam, iters, gradient):
    n, a = X.shape[0], D.shape[0]
    L = np.float32(np.linalg.norm(D.astype(np.float64), 2) ** 2)
    Z = np.zeros((n, a), np.float32)
    Zold = np.zeros((n, a), np.float32)
    Y = np.zeros((n, a), np.float32)
    V = np.empty((n, a), np.float32)
    thr = np.float32(lam / L)
    if gradient == "gram":
        C = (X @ D.T) / L
        M = np.eye(a, dtype=np.float32) - (D @ D.T) / L
    else:
        R = np.empty_like(X)
        DT = np.ascontiguousarray(D.T)
    t = 1.0
    for _ in range(iters):
        if gradient == "gram":
            np.matmul(Y, M, out=V)
            V += C
        else:
            np.matmul(Y, D, out=R)
            R -= X
            np.matmul(R, DT, out=V)
            V *= np.float32(-1.0 / L)
            V += Y
        Zold, Z = Z, Zold
        # soft threshold into Z
        np.abs(V, out=Z)
        Z -= thr
        np.maximum(Z, 0, out=Z)
        np.copysign(Z, V, out=Z)
        t_next = (1 + np.sqrt(1 + 4 * t * t)) / 2
        beta = np.float32((t - 1) / t_next)
        # Y = Z + beta (Z - Zold)
        np.subtract(Z, Zold, out=Y)
        Y *= beta
        Y += Z
        t = t_next
    return Z


def timed(fn, repeats, budget):
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    times = [first] if first > budget / 2 else []
    start = time.perf_counter()
    while len(times) < repeats and (not times or time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return out, times[len(times) // 2], len(times)


def main():
    cfg = json.loads(sys.stdin.read() or "{}")
    X = np.load(cfg["x"]).astype(np.float32)
    D = np.load(cfg["d"]).astype(np.float32)
    lam, iters = float(cfg["lambda"]), int(cfg["iters"])
    repeats, budget = int(cfg.get("repeats", 3)), float(cfg.get("budget_s", 10))
    n = X.shape[0]
    Z, sec, runs = timed(lambda: fista_numpy(X, D, lam, iters, cfg.get("gradient", "direct")), repeats, budget)
    print(json.dumps({"impl": "numpy-fista", "version": np.__version__, "seconds": sec, "samples": n,
                      "samples_per_s": n / sec, "objective": objective(X, D, Z, lam), "runs": runs}), flush=True)
    try:
        import sklearn
        from sklearn.decomposition import sparse_encode
    except ImportError as e:
        print(json.dumps({"impl": "sklearn", "unavailable": f"scikit-learn not importable: {e}"}), flush=True)
        return
    m = min(int(cfg.get("sklearn_samples", 256)), n)
    Xs = X[:m]
    for algo in ("lasso_cd", "lasso_lars", "omp"):
        kw = {"alpha": lam} if algo != "omp" else {"n_nonzero_coefs": int(cfg["omp_k"])}
        t0 = time.perf_counter()
        Zs = sparse_encode(Xs, D, algorithm=algo, **kw)
        sec = time.perf_counter() - t0
        row = {"impl": f"sklearn-{algo}", "version": sklearn.__version__, "seconds": sec, "samples": m,
               "samples_per_s": m / sec, "objective": objective(Xs, D, Zs.astype(np.float32), lam if algo != "omp" else 0.0)}
        if algo != "omp":
            # FISTA's objective on the same rows, for the equal-objective comparison
            row["numpy_fista_objective_same_rows"] = objective(Xs, D, Z[:m], lam)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
