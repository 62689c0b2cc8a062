#!/usr/bin/env bash
# CAPE at CPU scale (Takamoto et al. 2023): on 1D advection and 1D Burgers, CAPE-FNO (width 20) against a
# parameter-matched plain FNO (width 36, no parameters) and the conditional FNO (width 36, parameters as
# input channels), the same three with a U-Net base, and on advection the curriculum ablation (teacher
# forcing only, autoregressive only). Two runs at a time, one thread each; finished runs are skipped (a
# re-run resumes). The U-Net runs train for 600 steps (the FNO runs 2,000; a U-Net step costs 2-3x an FNO
# step on our CPU), CAPE-U-Net without the warm-up epoch (a third of that budget). Then the table and the
# nRMSE-against-parameter plots. About 2.5 hours on 2 cores. From the repository root:
#   bash experiments/cape.sh [PDES]        e.g. bash experiments/cape.sh advection
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export OMP_NUM_THREADS=1
pdes=${1:-"advection burgers"}
for pde in $pdes; do
  $PY -m sciml.generate "experiments/cape_${pde}_setup.yaml" > /dev/null  # once, before the parallel runs
done
jobs_file=$(mktemp)
fno="solver.base_options.width=20 solver.base_options.modes=12"
unet_budget="trainer.max_steps=600 trainer.step_size=120"
unet="solver.base_options.hidden=8 solver.base_options.norm_groups=2 solver.warmup_epochs=0 $unet_budget"
plain_unet="solver.hidden=10 solver.norm_groups=2 $unet_budget"
for pde in $pdes; do
  p=$( [ "$pde" = advection ] && echo beta || echo nu )
  cat >> "$jobs_file" <<JOBS
$pde cape_fno solvers/cape.yaml $fno
$pde fno solvers/fno.yaml solver.width=36 solver.modes=12 task.params=[]
$pde cond_fno solvers/fno.yaml solver.width=36 solver.modes=12
$pde cape_unet solvers/cape.yaml solver.base=unet $unet
$pde unet solvers/unet.yaml $plain_unet task.params=[]
$pde cond_unet solvers/unet.yaml $plain_unet
JOBS
done
if [[ " $pdes " == *" advection "* ]]; then
  printf '%s\n' "advection cape_fno_teacher_forcing solvers/cape.yaml $fno task.teacher_forcing=always" \
    "advection cape_fno_autoregressive solvers/cape.yaml $fno task.teacher_forcing=never" >> "$jobs_file"
fi
run_one() {  # PDE NAME SOLVER_FILE [OVERRIDES...]
  local pde=$1 name=$2 solver=$3; shift 3
  $PY -m sciml.train "$solver" "experiments/cape_${pde}_setup.yaml" "run.dir=runs/cape/${pde}_${name}" \
    trainer.progress=lines trainer.log_every=200 "$@" > "runs/cape/${pde}_${name}.log" 2>&1 \
    && echo "done ${pde}_${name}" || echo "FAILED ${pde}_${name} (see runs/cape/${pde}_${name}.log)"
}
export -f run_one
export PY
mkdir -p runs/cape
xargs -P 2 -L 1 bash -c 'run_one "$@"' _ < "$jobs_file"
rm -f "$jobs_file"
$PY experiments/cape_table.py --plots docs/img/cape
