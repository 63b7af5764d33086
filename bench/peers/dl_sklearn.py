"""Peer for `sparsecode bench dl`: scikit-learn MiniBatchDictionaryLearning on the same data,
from the same initial dictionary, with the same L1 weight, snapshotting the dictionary as it
learns so that sparsecode can score every snapshot with one common encoder.

Reads JSON on stdin: {"x": X.npy (train, float32), "d0": D0.npy (initial dictionary
[atoms x dim]), "alpha", "batch", "epochs", "budget_s", "fit_algorithm": "lars" | "cd",
"n_jobs", "snap_every", "out": folder, "seed"}.
Objective: scikit-learn's MiniBatchDictionaryLearning minimises, per sample,
1/2||x - z D||^2 + alpha ||z||_1 with ||d_j|| <= 1 (its sparse_encode divides alpha by
n_features and the data term likewise, so alpha is sparsecode's lambda), the same objective as
sparsecode's online DL and DL-FISTA.
The minibatches are the rows of a seeded permutation per epoch, fed through partial_fit (the same
_minibatch_step that fit runs); only partial_fit calls are timed. Every `snap_every` minibatches
(and after the last) the dictionary is copied; the snapshots go to out/<tag>_snaps.npy
[snapshots x atoms x dim] and one JSON line per snapshot gives {"t": seconds, "step"}.
Prints {"skip": reason} when scikit-learn is missing.
"""
import json
import os
import sys
import time

try:
    import numpy as np
    import sklearn
    from sklearn.decomposition import MiniBatchDictionaryLearning
except ImportError as e:
    print(json.dumps({"skip": f"scikit-learn not importable: {e}"}))
    sys.exit(0)


def main():
    cfg = json.load(sys.stdin)
    X = np.load(cfg["x"]).astype(np.float32, copy=False)
    D0 = np.load(cfg["d0"]).astype(np.float32, copy=False)
    n = X.shape[0]
    batch = int(cfg["batch"])
    algo = cfg.get("fit_algorithm", "lars")
    model = MiniBatchDictionaryLearning(
        n_components=D0.shape[0],
        alpha=float(cfg["alpha"]),
        batch_size=batch,
        fit_algorithm=algo,
        n_jobs=cfg.get("n_jobs"),
        dict_init=D0.copy(),
        random_state=int(cfg.get("seed", 0)),
        shuffle=False,
    )
    rng = np.random.default_rng(int(cfg.get("seed", 0)))
    snap_every = int(cfg["snap_every"])
    budget = float(cfg["budget_s"])
    snaps, rows = [], []
    elapsed = 0.0
    step = 0
    for epoch in range(int(cfg["epochs"])):
        perm = rng.permutation(n)
        for s in range(0, n - batch + 1, batch):
            xb = np.ascontiguousarray(X[perm[s:s + batch]])
            t0 = time.perf_counter()
            model.partial_fit(xb)
            elapsed += time.perf_counter() - t0
            step += 1
            if step % snap_every == 0:
                snaps.append(model.components_.astype(np.float32, copy=True))
                rows.append({"t": elapsed, "step": step})
            if elapsed > budget:
                break
        if elapsed > budget:
            break
    if not rows or rows[-1]["step"] != step:
        snaps.append(model.components_.astype(np.float32, copy=True))
        rows.append({"t": elapsed, "step": step})
    tag = f"sklearn-{algo}"
    path = os.path.join(cfg["out"], f"{tag}_snaps.npy")
    np.save(path, np.stack(snaps))
    threads = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
    print(json.dumps({"impl": tag, "version": sklearn.__version__, "snaps": path, "times": rows, "steps": step,
                      "seconds": elapsed, "n_jobs": cfg.get("n_jobs"), "blas_threads": threads}))


if __name__ == "__main__":
    main()
