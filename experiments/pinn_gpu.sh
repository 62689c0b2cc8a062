#!/usr/bin/env bash
# The physics-informed experiments sized for a GPU, run side by side on one card (each process is bound
# by kernel launches, not by the GPU's arithmetic, so they share it well). Each is stopped after
# LIMIT seconds (default: no limit); its log keeps the error every eval_every steps either way.
# Usage: bash experiments/pinn_gpu.sh [LOGDIR]   (from the repository root; LIMIT=300 to cap each run)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
logs=${1:-runs/logs}
mkdir -p "$logs"
pids=()
for name in pinn_allen_cahn_gpu pig_helmholtz_gpu pig_flow_mixing_gpu; do
  if [ -n "${LIMIT:-}" ]; then
    timeout "$LIMIT" $PY -m sciml.train "experiments/$name.yaml" trainer.progress=lines >"$logs/$name.log" 2>&1 &
  else
    $PY -m sciml.train "experiments/$name.yaml" trainer.progress=lines >"$logs/$name.log" 2>&1 &
  fi
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
tail -n 12 "$logs"/*.log
exit $status
