"""PyTorch CPU peer for `sparsecode bench sae-paths`: one training step of a matching-pursuit SAE
and of a ReLU (L1) SAE, timed.

Reads {"dim", "atoms", "k", "batch", "relu_l0", "repeats", "budget_s"} as JSON on stdin; prints one
JSON line per kind {"kind", "seconds", ...}, or {"skip": reason} without torch.
 - mp: as SAELens / sparsify train it: r = x - b_dec; k times: c = r W_dec^T, the row's largest
   correlation (clamped at 0), z += it at its atom, r -= it * that decoder row; xhat = z W_dec + b_dec;
   loss = mean_i ||xhat_i - x_i||^2; backward by autograd through the k steps; Adam; renormalise.
 - relu: pre = (x - b_dec) W_enc + b_enc, z = ReLU(pre), xhat = z W_dec + b_dec, loss = mse +
   l1 * mean_i sum_a z_ia, dense (as SAELens's standard SAE); encoder biases set so that relu_l0
   latents fire per row on average (per latent: minus the pre-activation quantile), as the Node side.
torch.set_num_threads(cores).
"""
import json
import os
import sys

from timing import median_seconds

try:
    import torch
except ImportError as e:
    print(json.dumps({"skip": f"torch not importable: {e}"}))
    sys.exit(0)


def main():
    cfg = json.loads(sys.stdin.read() or "{}")
    d, A, k, n = int(cfg["dim"]), int(cfg["atoms"]), int(cfg["k"]), int(cfg["batch"])
    l0 = int(cfg.get("relu_l0", 64))
    repeats, budget = int(cfg.get("repeats", 5)), float(cfg.get("budget_s", 10))
    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, d, generator=g) / d ** 0.5

    # matching pursuit
    W = torch.randn(A, d, generator=g)
    W = torch.nn.Parameter(W / W.norm(dim=1, keepdim=True))
    b_dec = torch.nn.Parameter(torch.zeros(d))
    opt = torch.optim.Adam([W, b_dec], lr=1e-4)
    rows = torch.arange(n)

    def mp_step():
        r = x - b_dec
        z = torch.zeros(n, A)
        for _ in range(k):
            c = r @ W.t()
            val, idx = c.max(dim=1)
            val = val.clamp(min=0)
            z = z.index_put((rows, idx), val, accumulate=True)
            r = r - val[:, None] * W[idx]
        xhat = z @ W + b_dec
        loss = (xhat - x).pow(2).sum(dim=1).mean()
        opt.zero_grad(set_to_none=False)
        loss.backward()
        opt.step()
        with torch.no_grad():
            W.data /= W.data.norm(dim=1, keepdim=True)

    sec, runs = median_seconds(mp_step, repeats, budget)
    print(json.dumps({"kind": "mp", "threads": threads, "seconds": sec, "runs": runs, "version": torch.__version__}))

    # ReLU with L1, dense
    Wd = torch.randn(A, d, generator=g)
    Wd = Wd / Wd.norm(dim=1, keepdim=True)
    We = torch.nn.Parameter(Wd.t().clone())
    Wd = torch.nn.Parameter(Wd)
    bd = torch.nn.Parameter(torch.zeros(d))
    with torch.no_grad():
        pre = x @ We
        q = min(n - 1, max(0, int(n * (1 - l0 / A))))
        be = torch.nn.Parameter(-pre.sort(dim=0).values[q])
    opt2 = torch.optim.Adam([We, be, Wd, bd], lr=1e-4)

    def relu_step():
        z = torch.relu((x - bd) @ We + be)
        xhat = z @ Wd + bd
        loss = (xhat - x).pow(2).sum(dim=1).mean() + 0.15 * z.sum(dim=1).mean()
        opt2.zero_grad(set_to_none=False)
        loss.backward()
        opt2.step()

    sec, runs = median_seconds(relu_step, repeats, budget)
    print(json.dumps({"kind": "relu", "threads": threads, "seconds": sec, "runs": runs, "version": torch.__version__}))


main()
