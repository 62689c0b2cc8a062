#!/usr/bin/env bash
# LE-PDE, LE-PDE-Mamba (and FNO on 2D) at CPU scale: MP-PDE's E2 at nx = 50 (the accumulated error of the
# MP-PDE table), then the FNO benchmark's 2D vorticity at nu = 1e-3 and 1e-4; two runs at a time, one thread
# each; finished runs are skipped (a re-run resumes). Then the table. From the repository root:
#   bash experiments/le_pde.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export OMP_NUM_THREADS=1
$PY -m sciml.generate experiments/le_pde_burgers_E2.yaml > /dev/null
for nu in 1e-3 1e-4; do $PY -m sciml.generate experiments/le_pde_ns2d.yaml "dataset.nu=$nu" > /dev/null; done
jobs_file=$(mktemp)
cat > "$jobs_file" <<JOBS
experiments/le_pde_burgers_E2.yaml trainer.threads=1 run.dir=runs/le_pde_E2_nx50
experiments/le_pde_mamba_burgers_E2.yaml trainer.threads=1 run.dir=runs/le_pde_mamba_E2_nx50
JOBS
for nu in 1e-3 1e-4; do
  cat >> "$jobs_file" <<JOBS
experiments/le_pde_ns2d.yaml dataset.nu=$nu run.dir=runs/le_pde_ns2d_nu$nu
experiments/le_pde_mamba_ns2d.yaml dataset.nu=$nu run.dir=runs/le_pde_mamba_ns2d_nu$nu
experiments/le_pde_ns2d_fno.yaml dataset.nu=$nu run.dir=runs/fno_ns2d_nu$nu
JOBS
done
run_one() {
  local name="${*: -1}"; name=${name#run.dir=}
  $PY -m sciml.train "$@" trainer.progress=lines > "${name:-runs/le_pde}.log" 2>&1 && echo "done $*" || echo "FAILED $*"
}
export -f run_one
export PY
xargs -P 2 -L 1 bash -c 'run_one "$@"' _ < "$jobs_file"
rm -f "$jobs_file"
$PY experiments/le_pde_table.py
