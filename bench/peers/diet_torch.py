"""PyTorch CPU peer for `sparsecode bench diet`: one DIET training step, timed.

Reads {"n", "indices", "batch", "widths", "repeats", "budget_s", "threads"} as JSON on stdin;
prints one JSON line {"impl": "torch", "threads", "seconds", "min_seconds", "runs", "version"}
(median seconds per step), or {"skip": reason} without torch.
The step is the cross-entropy paper's (klindtlab/csi simulation/main_diet.py): encoder MLP
n -> widths -> n with Linear -> BatchNorm1d -> LeakyReLU(0.01) hidden layers, a bias-free
Linear(n, indices) head, F.cross_entropy against the index, backward, Adam(lr 1e-3). Inputs are
fixed random observations (data generation is not timed on either side).
"""
import json
import os
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:
    print(json.dumps({"skip": f"torch not importable: {e}"}))
    sys.exit(0)


def main():
    cfg = json.loads(sys.stdin.read() or "{}")
    n, N, B = int(cfg["n"]), int(cfg["indices"]), int(cfg["batch"])
    widths = [int(w) for w in cfg["widths"]]
    repeats, budget = int(cfg.get("repeats", 5)), float(cfg.get("budget_s", 10))
    threads = int(cfg.get("threads") or os.cpu_count() or 1)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    mods, d = [], n
    for w in widths:
        mods += [nn.Linear(d, w), nn.BatchNorm1d(w), nn.LeakyReLU(0.01)]
        d = w
    mods.append(nn.Linear(d, n))
    f = nn.Sequential(*mods)
    W = nn.Linear(n, N, bias=False)
    opt = torch.optim.Adam(list(f.parameters()) + list(W.parameters()), lr=1e-3)
    x = torch.randn(B, n)
    y = torch.randint(0, N, (B,))

    def step():
        loss = F.cross_entropy(W(f(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    start = time.perf_counter()
    step()  # warm-up
    times = []
    while len(times) < repeats and (not times or time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    h = len(times) // 2
    med = times[h] if len(times) % 2 else (times[h - 1] + times[h]) / 2
    print(json.dumps({"impl": "torch", "threads": threads, "seconds": med, "min_seconds": times[0], "runs": len(times),
                      "version": torch.__version__}))


if __name__ == "__main__":
    main()
