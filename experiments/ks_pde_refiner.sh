#!/usr/bin/env bash
# PDE-Refiner against the MSE U-Net of the same size on Kuramoto-Sivashinsky at CPU scale: trains both on the
# same data and steps (a finished run is skipped, an interrupted one resumes), evaluates them on 640-step test
# rollouts (PDE-Refiner with 4 noise seeds for its uncertainty) and prints the table. Usage, from the root:
#   bash experiments/ks_pde_refiner.sh [key=value ...]     e.g. trainer.max_steps=1000
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
for model in mse_unet pde_refiner; do
  $PY -m sciml.train "experiments/ks_${model}.yaml" trainer.progress=lines trainer.log_every=100 "$@"
done
$PY experiments/ks_pde_refiner_table.py runs/ks_mse_unet runs/ks_pde_refiner --plots docs/img/pde_refiner
