#!/usr/bin/env bash
# First thing to run on a machine with a GPU: GPU tests, a short training run and the throughput tables,
# most important first.
# Every section runs even if one before it failed; the exit status says whether all passed.
# Usage: bash benchmarks/gpu_check.sh   (from the repository root, in the project's environment;
#        SECTION_LIMIT=150 stops any section after 150 s)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
failed=()
section() {  # section NAME COMMAND...: run, time and record a failure without stopping
  local name=$1; shift
  echo "== $name"
  local start=$(date +%s)
  timeout "${SECTION_LIMIT:-0}" "$@" || failed+=("$name")
  echo "($name: $(( $(date +%s) - start )) s)"
}
$PY -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name())" || exit 1
section "GPU tests" $PY -m pytest -m gpu -q -p no:cacheprovider tests/test_gpu.py
tmp=$(mktemp -d)
section "short ks1d training and rollout on the GPU (AMP, 500 steps, data generation included)" \
  $PY -m sciml.train trainer.device=cuda trainer.max_steps=500 trainer.progress=lines trainer.log_every=100 \
  dataset.root="$tmp/data" run.dir="$tmp/run"
section "PDE-Refiner rollout cost against the MSE U-Net" $PY benchmarks/pde_refiner_rollout.py --device cuda
section "CAPE rollout cost against the FNO baselines" $PY benchmarks/cape_rollout.py --device cuda
section "latent rollouts: LE-PDE, LE-PDE-Mamba, FNO" $PY benchmarks/latent_rollout.py --device cuda
section "ks1d throughput, fp32" $PY benchmarks/throughput.py --device cuda
section "ks1d throughput, AMP" $PY benchmarks/throughput.py --device cuda --amp
section "physics-informed iterations, GPU against one CPU thread" $PY benchmarks/pinn_device.py
section "NavierStokes2D on the GPU (issue 3 goals)" $PY benchmarks/sim_ns2d_gpu.py
section "Lorenz96 ensembles on the GPU" $PY benchmarks/sim_l96.py --device cuda
if [ ${#failed[@]} -gt 0 ]; then
  printf 'FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "all sections passed"
