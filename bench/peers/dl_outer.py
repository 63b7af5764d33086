"""Peers for `sparsecode bench dl-outer`: one DL-FISTA outer step written the obvious dense
way, in NumPy (and PyTorch CPU when importable).

Reads JSON on stdin: {"x": X.npy [samples x dim], "d": D.npy [atoms x dim], "z": Z.npy
[samples x atoms] (warm-start codes), "lambda", "iters", "ridge", "steps", "threads", "out"}.
Prints one JSON line per implementation: {"impl", "version", "seconds_per_step" (median of the
timed steps), "min_seconds", "first_seconds", "steps", "threads", "l0", "solver", "d1" (path of
the dictionary after the first step; rows that would be re-drawn are left as zeros)}, or
{"impl", "unavailable": reason}, or {"skip": reason} when NumPy is missing.

One outer step from (D, Z):
  FISTA, float32, warm-started at Z, t = 1: `iters` times
      R = Y @ D - X;  V = Y - (R @ D.T) / L;  Znew = max(V - lambda/L, 0)
      t' = (1 + sqrt(1 + 4 t^2)) / 2;  Y = Znew + (t - 1)/t' (Znew - Z);  Z = Znew
  with L = ||D||_2^2 (float64, once per step).
  MOD, float64: D = (Z^T Z + ridge I)^-1 Z^T X, or the dual form Z^T (Z Z^T + ridge I)^-1 X when
  atoms > samples, by a Cholesky solve (scipy.linalg.cho_solve; np.linalg.solve without SciPy).
  Renormalise the rows; rows with norm <= 1e-10 are re-drawn as random unit vectors.
The first step is from the given state (the agreement step, also the warm-up); then `steps`
timed steps continue from it.
"""
import json
import sys
import time

try:
    import numpy as np
except ImportError as e:
    print(json.dumps({"skip": f"numpy not importable: {e}"}))
    sys.exit(0)


def numpy_step(X, D, Z, lam, iters, ridge, rng, solver):
    n, a = Z.shape
    L = np.float32(np.linalg.norm(D.astype(np.float64), 2) ** 2)
    thr = np.float32(lam / L)
    inv_l = np.float32(1.0 / L)
    Z = Z.copy()
    Y = Z.copy()
    Znew = np.empty_like(Z)
    V = np.empty_like(Z)
    R = np.empty_like(X)
    DT = np.ascontiguousarray(D.T)
    t = 1.0
    for _ in range(iters):
        np.matmul(Y, D, out=R)
        R -= X
        np.matmul(R, DT, out=V)
        V *= -inv_l
        V += Y
        np.subtract(V, thr, out=Znew)
        np.maximum(Znew, 0, out=Znew)
        t_next = (1 + np.sqrt(1 + 4 * t * t)) / 2
        beta = np.float32((t - 1) / t_next)
        np.subtract(Znew, Z, out=Y)
        Y *= beta
        Y += Znew
        Z, Znew = Znew, Z
        t = t_next
    Z64 = Z.astype(np.float64)
    X64 = X.astype(np.float64)
    if a > n:
        G = Z64 @ Z64.T
        G[np.diag_indices_from(G)] += ridge
        Dm = Z64.T @ solver(G, X64)
    else:
        G = Z64.T @ Z64
        G[np.diag_indices_from(G)] += ridge
        Dm = solver(G, Z64.T @ X64)
    norms = np.sqrt((Dm * Dm).sum(axis=1))
    dead = ~(norms > 1e-10)
    Dm[~dead] /= norms[~dead, None]
    Dm[dead] = 0.0
    Dout = Dm.astype(np.float32)
    D1 = Dout.copy()  # zeros where re-drawn
    for j in np.flatnonzero(dead):
        v = rng.standard_normal(D.shape[1])
        Dout[j] = (v / np.linalg.norm(v)).astype(np.float32)
    return Dout, Z, D1


def numpy_solver():
    try:
        from scipy.linalg import cho_factor, cho_solve

        def solve(G, B):
            return cho_solve(cho_factor(G, lower=True, overwrite_a=True, check_finite=False), B, check_finite=False)

        import scipy
        return solve, f"scipy.linalg.cho_solve (scipy {scipy.__version__})"
    except ImportError:
        return (lambda G, B: np.linalg.solve(G, B)), "numpy.linalg.solve"


def torch_step(torch, X, D, Z, lam, iters, ridge, gen):
    n, a = Z.shape
    L = float(torch.linalg.matrix_norm(D.double(), ord=2) ** 2)
    thr = lam / L
    Z = Z.clone()
    Y = Z.clone()
    Znew = torch.empty_like(Z)
    V = torch.empty_like(Z)
    R = torch.empty_like(X)
    DT = D.t().contiguous()
    t = 1.0
    for _ in range(iters):
        torch.matmul(Y, D, out=R)
        R -= X
        torch.matmul(R, DT, out=V)
        V.mul_(-1.0 / L).add_(Y)
        torch.sub(V, thr, out=Znew)
        Znew.clamp_(min=0)
        t_next = (1 + (1 + 4 * t * t) ** 0.5) / 2
        beta = (t - 1) / t_next
        torch.sub(Znew, Z, out=Y)
        Y.mul_(beta).add_(Znew)
        Z, Znew = Znew, Z
        t = t_next
    Z64 = Z.double()
    X64 = X.double()
    if a > n:
        G = Z64 @ Z64.t()
        G.diagonal().add_(ridge)
        C = torch.linalg.cholesky(G)
        Dm = Z64.t() @ torch.cholesky_solve(X64, C)
    else:
        G = Z64.t() @ Z64
        G.diagonal().add_(ridge)
        C = torch.linalg.cholesky(G)
        Dm = torch.cholesky_solve(Z64.t() @ X64, C)
    norms = Dm.norm(dim=1)
    dead = ~(norms > 1e-10)
    Dm = Dm / torch.where(dead, torch.ones_like(norms), norms)[:, None]
    Dm[dead] = 0.0
    Dout = Dm.float()
    D1 = Dout.clone()
    idx = torch.nonzero(dead).flatten()
    if idx.numel():
        v = torch.randn(idx.numel(), D.shape[1], generator=gen)
        Dout[idx] = v / v.norm(dim=1, keepdim=True)
    return Dout, Z, D1


def run(name, step, D, Z, steps):
    t0 = time.perf_counter()
    D, Z, D1 = step(D, Z)
    first = time.perf_counter() - t0
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        D, Z, _ = step(D, Z)
        times.append(time.perf_counter() - t0)
    s = sorted(times)
    h = len(s) // 2
    med = s[h] if len(s) % 2 else (s[h - 1] + s[h]) / 2
    return D1, first, med, min(times), Z


def main():
    cfg = json.loads(sys.stdin.read() or "{}")
    X = np.ascontiguousarray(np.load(cfg["x"]).astype(np.float32))
    D = np.ascontiguousarray(np.load(cfg["d"]).astype(np.float32))
    Z = np.ascontiguousarray(np.load(cfg["z"]).astype(np.float32))
    lam, iters, ridge = float(cfg["lambda"]), int(cfg["iters"]), float(cfg["ridge"])
    steps, threads, out = int(cfg["steps"]), int(cfg["threads"]), cfg["out"]
    solve, solver_name = numpy_solver()
    rng = np.random.default_rng(0)
    D1, first, med, mn, Zf = run("numpy", lambda D_, Z_: numpy_step(X, D_, Z_, lam, iters, ridge, rng, solve), D, Z, steps)
    path = f"{out}/D1_numpy.npy"
    np.save(path, D1)
    print(json.dumps({"impl": "numpy", "version": np.__version__, "seconds_per_step": med, "min_seconds": mn,
                      "first_seconds": first, "steps": steps, "threads": threads,
                      "l0": float((Zf != 0).sum() / Zf.shape[0]), "solver": solver_name, "d1": path}), flush=True)
    try:
        import torch
    except ImportError as e:
        print(json.dumps({"impl": "torch", "unavailable": f"torch not importable: {e}"}), flush=True)
        return
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    Xt, Dt, Zt = torch.from_numpy(X), torch.from_numpy(D), torch.from_numpy(Z)
    with torch.no_grad():
        D1, first, med, mn, Zf = run("torch", lambda D_, Z_: torch_step(torch, Xt, D_, Z_, lam, iters, ridge, gen), Dt, Zt, steps)
    path = f"{out}/D1_torch.npy"
    np.save(path, D1.numpy())
    print(json.dumps({"impl": "torch", "version": torch.__version__, "seconds_per_step": med, "min_seconds": mn,
                      "first_seconds": first, "steps": steps, "threads": torch.get_num_threads(),
                      "l0": float((Zf != 0).sum().item() / Zf.shape[0]), "solver": "torch.linalg.cholesky + cholesky_solve",
                      "d1": path}), flush=True)


if __name__ == "__main__":
    main()
