"""NumPy peer for `sparsecode bench eigh`: numpy.linalg.eigh (LAPACK dsyevd) and
numpy.linalg.svd (dgesdd, full_matrices=False) on float64 matrices.

Reads {"eigh": [n, ...], "svd": [[rows, cols], ...], "repeats": R, "budget_s": B} as JSON on
stdin and prints one JSON line per measurement: {"backend": "numpy", "op", "n" | "shape",
"seconds", "runs", ...}. Prints {"skip": reason} when NumPy is missing. Same protocol as the
Node side: one warm-up run, then the median of up to R timed runs within B seconds. The
matrices are the same as the Node side's up to the random draw (symmetric B + B^T with B
standard normal; a standard normal [rows x cols]).
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
    repeats = int(cfg.get("repeats", 3))
    budget = float(cfg.get("budget_s", 10))
    rng = np.random.default_rng(0)
    env = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_") or k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    for n in cfg.get("eigh", []):
        b = rng.standard_normal((n, n))
        a = b + b.T
        for vectors in (False, True):
            fn = (lambda: np.linalg.eigh(a)) if vectors else (lambda: np.linalg.eigvalsh(a))
            sec, runs = time_it(fn, repeats, budget)
            print(json.dumps({"backend": "numpy", "op": "eigh(values+vectors)" if vectors else "eigh(values)", "n": n,
                              "seconds": sec, "runs": runs, "version": np.__version__, "env": env}), flush=True)
    for rows, cols in cfg.get("svd", []):
        a = rng.standard_normal((rows, cols))
        sec, runs = time_it(lambda: np.linalg.svd(a, full_matrices=False), repeats, budget)
        print(json.dumps({"backend": "numpy", "op": "svd", "shape": f"{rows}x{cols}", "seconds": sec, "runs": runs,
                          "version": np.__version__, "env": env}), flush=True)


main()
