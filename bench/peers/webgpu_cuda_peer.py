"""PyTorch CUDA peer for scripts/webgpu-gpu-check.sh: float32 GEMM (TF32 off: the non-tensor-core
path WebGPU's f32 shaders compete with) and one TopK SAE training step on the GPU, the same step
as bench/peers/sae_torch.py (sparse decode via embedding_bag, as EleutherAI sparsify; and dense).

Reads {"gemm": [[m, k, n], ...], "sae": {"dim", "atoms", "k", "batch"}, "repeats"} as JSON on
stdin; prints one JSON line per measurement, or {"skip": reason} without torch or CUDA.
"""
import json
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:
    print(json.dumps({"skip": f"torch not importable: {e}"}))
    sys.exit(0)
if not torch.cuda.is_available():
    print(json.dumps({"skip": "torch has no CUDA device"}))
    sys.exit(0)

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = torch.device("cuda")


def timed(fn, repeats):
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2], len(times)


def main():
    cfg = json.loads(sys.stdin.read() or "{}")
    repeats = int(cfg.get("repeats", 10))
    name = torch.cuda.get_device_name(0)
    for m, k, n in cfg.get("gemm", []):
        a = torch.randn(m, k, device=dev)
        b = torch.randn(k, n, device=dev)
        c = torch.empty(m, n, device=dev)
        sec, runs = timed(lambda: torch.mm(a, b, out=c), repeats)
        print(json.dumps({"bench": "gemm", "backend": "torch-cuda", "m": m, "k": k, "n": n, "seconds": sec,
                          "gflops": 2 * m * n * k / sec / 1e9, "runs": runs, "device": name, "version": torch.__version__}))
    s = cfg.get("sae")
    if s:
        for decode in ("embedding_bag", "dense"):
            sae_step(int(s["dim"]), int(s["atoms"]), int(s["k"]), int(s["batch"]), repeats, decode, name)


def sae_step(d, A, k, n, repeats, decode, name):
    g = torch.Generator(device=dev).manual_seed(0)
    W = torch.randn(A, d, generator=g, device=dev)
    W /= W.norm(dim=1, keepdim=True)
    W_enc = torch.nn.Parameter(W.t().clone())
    W_dec = torch.nn.Parameter(W.clone())
    b_enc = torch.nn.Parameter(torch.zeros(A, device=dev))
    b_dec = torch.nn.Parameter(torch.zeros(d, device=dev))
    opt = torch.optim.Adam([W_enc, b_enc, W_dec, b_dec], lr=1e-4)
    x = torch.randn(n, d, generator=g, device=dev) / d ** 0.5

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

    sec, runs = timed(step, repeats)
    print(json.dumps({"bench": "sae", "backend": f"torch-cuda-{decode}", "dim": d, "atoms": A, "k": k, "batch": n, "seconds": sec,
                      "samplesPerSec": n / sec, "runs": runs, "device": name, "version": torch.__version__}))


main()
