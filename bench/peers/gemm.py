"""NumPy peer for `sparsecode bench gemm`: float32 GEMM GFLOP/s on this machine.

Reads {"sizes": [[m, k, n], ...], "repeats": R, "budget_s": B} as JSON on stdin and prints
one JSON line per size: {"backend": "numpy", "m", "k", "n", "seconds", "gflops", ...}.
Prints {"skip": reason} when NumPy is missing. Same protocol as the Node side: one warm-up
run, then the median of up to R timed runs within a time budget of B seconds.
"""
import json
import os
import sys
import time

try:
    import numpy as np
except ImportError as e:  # the Node side skips the peer
    print(json.dumps({"skip": f"numpy not importable: {e}"}))
    sys.exit(0)


def blas_name():
    try:
        from numpy.__config__ import CONFIG  # numpy >= 1.26

        return CONFIG["Build Dependencies"]["blas"]["name"]
    except Exception:
        return "blas"


def time_it(fn, repeats, budget):
    t0 = time.perf_counter()
    fn()
    dt = time.perf_counter() - t0
    times = []
    if dt > budget / 2:
        times.append(dt)
    start = time.perf_counter()
    while len(times) < repeats and (not times or time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    h = len(times) // 2
    med = times[h] if len(times) % 2 else (times[h - 1] + times[h]) / 2
    return med, len(times)


def main():
    cfg = json.loads(sys.stdin.read() or "{}")
    repeats = int(cfg.get("repeats", 5))
    budget = float(cfg.get("budget_s", 3))
    rng = np.random.default_rng(0)
    env = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_") or k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    for m, k, n in cfg.get("sizes", [[1024, 1024, 1024]]):
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        c = np.empty((m, n), dtype=np.float32)
        sec, runs = time_it(lambda: np.matmul(a, b, out=c), repeats, budget)
        print(json.dumps({
            "backend": "numpy", "m": m, "k": k, "n": n, "seconds": sec, "gflops": 2.0 * m * k * n / sec / 1e9,
            "runs": runs, "version": np.__version__, "blas": blas_name(), "env": env,
        }), flush=True)


main()
