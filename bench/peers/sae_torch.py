"""PyTorch CPU peer for `sparsecode bench sae`: one TopK SAE training step, timed.

Reads {"dim", "atoms", "k", "batch", "repeats", "budget_s"} as JSON on stdin; prints one JSON
line {"backend": "torch", "seconds", "samples_per_s", ...}, or {"skip": reason} without torch.
The step matches sparsecode's: x_c = x - b_dec; pre = x_c W_enc + b_enc; top-k per row, ReLU;
decode either sparse (embedding_bag over the k active decoder rows, as EleutherAI sparsify does
on CPU) or dense (codes scattered into [batch x atoms], then a matmul, as SAELens does): one
line per variant, and the Node side compares with the faster; mse = mean_i ||xhat_i - x_i||^2; backward (autograd); remove the gradient component
parallel to each decoder row; Adam; renormalise decoder rows. torch.set_num_threads(cores).
"""
import json
import os
import sys

from timing import median_seconds

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:
    print(json.dumps({"skip": f"torch not importable: {e}"}))
    sys.exit(0)


def main():
    cfg = json.loads(sys.stdin.read() or "{}")
    d, A, k, n = int(cfg["dim"]), int(cfg["atoms"]), int(cfg["k"]), int(cfg["batch"])
    repeats, budget = int(cfg.get("repeats", 5)), float(cfg.get("budget_s", 10))
    for decode in ("embedding_bag", "dense"):
        run(d, A, k, n, repeats, budget, decode)


def run(d, A, k, n, repeats, budget, decode):
    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    W_dec = torch.randn(A, d, generator=g)
    W_dec /= W_dec.norm(dim=1, keepdim=True)
    W_enc = torch.nn.Parameter(W_dec.t().clone())
    W_dec = torch.nn.Parameter(W_dec)
    b_enc = torch.nn.Parameter(torch.zeros(A))
    b_dec = torch.nn.Parameter(torch.zeros(d))
    opt = torch.optim.Adam([W_enc, b_enc, W_dec, b_dec], lr=1e-4)
    x = torch.randn(n, d, generator=g) / d ** 0.5

    def step():
        pre = (x - b_dec) @ W_enc + b_enc
        vals, idx = pre.topk(k, dim=1, sorted=False)
        vals = F.relu(vals)
        if decode == "dense":
            z = torch.zeros_like(pre).scatter(1, idx, vals)
            xhat = z @ W_dec + b_dec
        else:
            xhat = F.embedding_bag(idx, W_dec, per_sample_weights=vals, mode="sum") + b_dec
        loss = (xhat - x).pow(2).sum(dim=1).mean()
        opt.zero_grad(set_to_none=False)
        loss.backward()
        with torch.no_grad():
            wd = W_dec.data
            W_dec.grad -= (W_dec.grad * wd).sum(dim=1, keepdim=True) * wd
        opt.step()
        with torch.no_grad():
            W_dec.data /= W_dec.data.norm(dim=1, keepdim=True)

    med, runs = median_seconds(step, repeats, budget)
    print(json.dumps({"backend": "torch", "threads": threads, "dim": d, "atoms": A, "k": k, "batch": n,
                      "seconds": med, "samples_per_s": n / med, "runs": runs, "decode": decode, "version": torch.__version__}))


main()
