#!/usr/bin/env bash
# The WebGPU speed check for a machine with a GPU (none was at hand when this was written: see
# docs/webgpu.md). Run from the repository root:
#
#   scripts/webgpu-gpu-check.sh            # Node through the optional "webgpu" package (Dawn)
#   BROWSER=1 scripts/webgpu-gpu-check.sh  # headless Chromium on the GPU instead
#
# 1. the conformance suite on the GPU (every WGSL kernel and the TopK SAE step vs the js backend)
# 2. GEMM 4096³ on WebGPU and with PyTorch CUDA fp32 (TF32 off), GFLOP/s, and the share of the
#    card's non-tensor fp32 peak (PEAK_TFLOPS, default 67 = H100 SXM / H200)
# 3. one TopK SAE training step (dim 768, width 16384, k 32, batch 4096) on WebGPU and PyTorch CUDA
# Targets (issue 24): GEMM >= 50% of the fp32 peak; step >= 0.5x PyTorch CUDA on the same card.
# Needs: node_modules (npm install, with the optional "webgpu" package and its Vulkan driver, or
# chromium with BROWSER=1), /usr/bin/python3 with torch + CUDA. Writes webgpu-gpu-check.jsonl.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT_FILE:-webgpu-gpu-check.jsonl}
PEAK=${PEAK_TFLOPS:-67}
PY=${SPARSECODE_PYTHON:-/usr/bin/python3}
: > "$OUT"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader 2>/dev/null | sed 's/^/# gpu: /'

where=()
if [ "${BROWSER:-0}" = 1 ]; then where=(--browser); export SPARSECODE_WEBGPU_ADAPTER=gpu; fi

echo "# 1. conformance on the GPU"
if [ "${BROWSER:-0}" = 1 ]; then node --import tsx scripts/test-webgpu.ts | tail -3; else node --import tsx scripts/test-webgpu.ts --node | tail -3; fi

echo "# 2-3. PyTorch CUDA peer"
echo '{"gemm": [[4096, 4096, 4096]], "sae": {"dim": 768, "atoms": 16384, "k": 32, "batch": 4096}, "repeats": 10}' \
  | "$PY" bench/peers/webgpu_cuda_peer.py | tee -a "$OUT"

echo "# 2. WebGPU GEMM 4096^3"
node --import tsx test/run-cli.ts bench gemm --backends webgpu "${where[@]}" --sizes 4096x4096x4096 --repeats 10 --budget 30 --no-peers --json | tee -a "$OUT"
echo "# 3. WebGPU TopK SAE step"
node --import tsx test/run-cli.ts bench sae --backends webgpu "${where[@]}" --dim 768 --atoms 16384 --k 32 --batch 4096 --repeats 10 --budget 60 --no-peers --json | tee -a "$OUT"

echo "# summary"
node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
const peak = Number(process.argv[2]) * 1000;
const g = (b, pre) => rows.find((r) => r.bench === b && String(r.backend).startsWith(pre));
const wg = g("gemm", "webgpu"), tg = g("gemm", "torch-cuda");
if (wg) console.log(`GEMM 4096^3: WebGPU ${wg.gflops.toFixed(0)} GFLOP/s = ${(100 * wg.gflops / peak).toFixed(1)}% of ${peak} (target >= 50%)` + (tg ? `; PyTorch CUDA fp32 ${tg.gflops.toFixed(0)} GFLOP/s` : ""));
const ws = g("sae", "webgpu"), ts = rows.filter((r) => r.bench === "sae" && String(r.backend).startsWith("torch-cuda")).sort((a, b) => a.seconds - b.seconds)[0];
if (ws && ts) console.log(`TopK step: WebGPU ${(1000 * ws.seconds).toFixed(2)} ms, PyTorch CUDA (${ts.backend}) ${(1000 * ts.seconds).toFixed(2)} ms: ${(ts.seconds / ws.seconds).toFixed(2)}x (target >= 0.5x)`);
if (!wg || !ws) console.log("WebGPU rows missing: see the notes above (no adapter?)");
' "$OUT" "$PEAK"
