#!/usr/bin/env bash
# First thing to run on a machine with a GPU: GPU tests, a short training run and the throughput table.
# Usage: bash benchmarks/gpu_check.sh   (from the repository root, in the project's environment)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
$PY -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name())"
echo "== GPU tests"
$PY -m pytest -m gpu -q tests/test_gpu.py
echo "== short training and rollout on the GPU (AMP)"
tmp=$(mktemp -d)
start=$(date +%s)
$PY -m sciml.train trainer.device=cuda trainer.max_steps=500 trainer.progress=lines trainer.log_every=100 \
  dataset.root="$tmp/data" run.dir="$tmp/run"
echo "wall time: $(( $(date +%s) - start )) s (data generation, 500 steps, evaluation)"
echo "== NavierStokes2D on the GPU (issue 3 goals)"
$PY benchmarks/sim_ns2d_gpu.py
$PY benchmarks/sim_l96.py --device cuda
echo "== throughput (fp32, then AMP)"
$PY benchmarks/throughput.py --device cuda
$PY benchmarks/throughput.py --device cuda --amp
