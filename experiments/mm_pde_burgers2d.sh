#!/usr/bin/env bash
# MM-PDE against MP-PDE on the 2D Burgers data (issue 20, docs/mesh.md) at CPU scale: the data (192^2 ->
# 48^2), the mesh mover on its training frames, then MP-PDE and MM-PDE (one thread each, side by side), then
# the table, with the control of an MM-PDE on the uniform mesh. Also the mover on the flow-mixing fronts. Finished runs are skipped (a re-run resumes).
# From the repository root:
#   bash experiments/mm_pde_burgers2d.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export OMP_NUM_THREADS=1
mkdir -p runs
train() { $PY -m sciml.train "$@" trainer.progress=lines trainer.threads=1; }
$PY -m sciml.generate datasets/burgers2d.yaml
train experiments/mesh_mover_flow_mixing.yaml > runs/mesh_mover_flow_mixing.log 2>&1 &
train experiments/mesh_mover_burgers2d.yaml > runs/mesh_mover_burgers2d.log 2>&1
wait
train experiments/mp_pde_burgers2d.yaml > runs/mp_pde_burgers2d.log 2>&1 &
train experiments/mm_pde_burgers2d.yaml > runs/mm_pde_burgers2d.log 2>&1
wait
# the control: MM-PDE whose mover is untrained (zero-initialised: the uniform mesh), same everything else
train experiments/mesh_mover_burgers2d.yaml trainer.max_steps=1 trainer.lr=0.0 trainer.min_lr=0.0 \
  run.dir=runs/mesh_mover_identity run.evaluate=false > runs/mesh_mover_identity.log 2>&1
train experiments/mm_pde_burgers2d.yaml solver.mover=runs/mesh_mover_identity \
  run.dir=runs/mm_pde_burgers2d_uniform_mesh > runs/mm_pde_burgers2d_uniform_mesh.log 2>&1
$PY experiments/mm_pde_table.py
