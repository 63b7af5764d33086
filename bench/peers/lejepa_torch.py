"""PyTorch CPU peer for `sparsecode bench lejepa`.

Reads {"samples", "dim", "directions", "width", "layers", "batch", "step_directions", "repeats", "budget_s"} as JSON on
stdin; prints JSON lines, or {"skip": reason} without torch:
  {"what": "sigreg", ...}: SIGReg forward + backward (autograd) of H [samples x dim] along `directions` fixed unit
      directions: s = H A, x_t = s t, err = (mean cos - phi)^2 + (mean sin)^2, mean over directions of N (err @ W), as
      the reference code (klindtlab/lejepa-identifiability losses.py; 17 knots on [0, 3]);
  {"what": "train-step", ...}: one LeJEPA training step of the 2-D MLP encoder (Linear(2, w) + GELU, (layers - 1) x
      [Linear(w, w) + GELU], Linear(w, 2)): B Gaussian anchors, two OU views (rho 0.95), the spiral mixing, the
      encoder on the 2B observations, fresh random directions, lambda SIGReg (pooled views) + (1 - lambda) alignment,
      backward, AdamW (as engine.py).
Each measurement runs with 1 thread and with every core (torch.set_num_threads); the Node side compares with the faster.
"""
import json
import math
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


def timeit(fn, repeats, budget):
    t0 = time.perf_counter()
    fn()
    times = []
    while len(times) < repeats and (not times or time.perf_counter() - t0 < budget):
        a = time.perf_counter()
        fn()
        times.append(time.perf_counter() - a)
    times.sort()
    h = len(times) // 2
    return (times[h] if len(times) % 2 else 0.5 * (times[h - 1] + times[h])), len(times)


def knots():
    t = torch.linspace(0, 3, 17)
    dt = 3 / 16
    w = torch.full((17,), 2 * dt)
    w[0] = w[-1] = dt
    phi = torch.exp(-t ** 2 / 2)
    return t, phi, w * phi


def sigreg(h, A, t, phi, W):
    xt = (h @ A).unsqueeze(-1) * t
    err = (xt.cos().mean(0) - phi) ** 2 + xt.sin().mean(0) ** 2
    return (err @ W).mean() * h.shape[0]


def main():
    cfg = json.loads(sys.stdin.read() or "{}")
    cores = os.cpu_count() or 1
    for threads in sorted({1, cores}):
        run(cfg, threads)


def run(cfg, threads):
    torch.set_num_threads(threads)
    repeats, budget = int(cfg.get("repeats", 7)), float(cfg.get("budget_s", 5))
    t, phi, W = knots()
    g = torch.Generator().manual_seed(0)

    n, d, m = int(cfg["samples"]), int(cfg["dim"]), int(cfg["directions"])
    H = torch.randn(n, d, generator=g).requires_grad_(True)
    A = F.normalize(torch.randn(d, m, generator=g), dim=0)

    def sig_step():
        H.grad = None
        v = sigreg(H, A, t, phi, W)
        v.backward()

    sec, runs = timeit(sig_step, repeats, budget)
    print(json.dumps({"what": "sigreg", "backend": "torch", "threads": threads, "samples": n, "dim": d, "directions": m, "seconds": sec, "runs": runs, "version": torch.__version__}), flush=True)

    width, layers, B, M2 = int(cfg["width"]), int(cfg["layers"]), int(cfg["batch"]), int(cfg["step_directions"])
    torch.manual_seed(0)
    mods = [nn.Linear(2, width), nn.GELU()]
    for _ in range(layers - 1):
        mods += [nn.Linear(width, width), nn.GELU()]
    mods.append(nn.Linear(width, 2))
    enc = nn.Sequential(*mods)
    opt = torch.optim.AdamW(enc.parameters(), lr=3e-3)
    rho, lam = 0.95, 1e-3

    def spiral(z):
        r = z.norm(dim=-1) * math.pi
        c, s = r.cos(), r.sin()
        return torch.stack([c * z[..., 0] - s * z[..., 1], s * z[..., 0] + c * z[..., 1]], dim=-1)

    def train_step():
        z = torch.randn(B, 2)
        views = rho * z.unsqueeze(0) + math.sqrt(1 - rho ** 2) * torch.randn(2, B, 2)
        h = enc(spiral(views).flatten(0, 1)).reshape(2, B, 2)
        align = (h.mean(0) - h).square().mean()
        Ad = F.normalize(torch.randn(2, M2), dim=0)
        loss = lam * sigreg(h.flatten(0, 1), Ad, t, phi, W) + (1 - lam) * align
        opt.zero_grad()
        loss.backward()
        opt.step()

    sec, runs = timeit(train_step, repeats, budget)
    print(json.dumps({"what": "train-step", "backend": "torch", "threads": threads, "width": width, "layers": layers, "batch": B, "directions": M2, "seconds": sec, "runs": runs, "version": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
