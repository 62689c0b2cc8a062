#!/usr/bin/env bash
# MP-PDE's Burgers table at CPU scale: trains MP-PDE and FNO-PF on E1, E2, E3 at nx = 100, 50, 40 (finished runs
# are skipped: re-running resumes), then prints the table beside the paper's with the coarse WENO5 baseline.
# Generating the data comes first (E3 is the slowest: several minutes). Usage, from the repository root:
#   bash experiments/mp_pde_burgers.sh [EXPERIMENTS] [RESOLUTIONS]    e.g. bash experiments/mp_pde_burgers.sh "E2 E3" "50 40"
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
experiments=${1:-"E1 E2 E3"}
resolutions=${2:-"100 50 40"}
for e in $experiments; do
  for nx in $resolutions; do
    for model in mp_pde fno_pf; do
      $PY -m sciml.train "experiments/${model}_burgers_${e}.yaml" "dataset.nx=$nx" "run.dir=runs/${model}_${e}_nx${nx}" \
        trainer.progress=lines trainer.log_every=200
    done
  done
done
# shellcheck disable=SC2086
$PY experiments/mp_pde_table.py --experiments $experiments --nx $resolutions --plots docs/img/mp_pde
