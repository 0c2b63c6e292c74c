#!/usr/bin/env bash
# Two-Tower 1.6B (random weights, bf16) latency per generated concept on one GPU:
# 40 guided DDIM steps, batch 1 and 16, eager vs torch.compile vs CUDA graphs, next to
# the memory-bandwidth floor. Needs only Python with torch, numpy and safetensors (the
# repository tree supplies engine.lcm); no network. Finishes in under 8 minutes on an
# H100 (compiled variants that would start after LCMW_BENCH_BUDGET_S are skipped).
#
#   benchmarks/gpu.sh                      # on the GPU machine, from anywhere
#   LCMW_BENCH_TINY=1 benchmarks/gpu.sh    # toy preset on the CPU: checks the script
#
# Prints a table and writes benchmarks/results/gpu.json (gpu_tiny_cpu.json when tiny).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c "import torch, numpy, safetensors" 2>/dev/null; then
  echo "gpu.sh needs $PYTHON with torch, numpy and safetensors (set PYTHON=...)" >&2
  exit 2
fi
"$PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv
exec timeout "${LCMW_BENCH_TIMEOUT_S:-470}" "$PYTHON" -m benchmarks.gpu_latency
