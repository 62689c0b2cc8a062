#!/usr/bin/env bash
# The closure comparison on two-scale Lorenz96 at CPU scale, both presets (m2lines/Wilks 2005: K 8, J 32, F 20;
# Lorenz 1996: K 36, J 10, F 10): cubic polynomial, local MLP, MNO and the pure-ML FNO trained (two at a
# time, one thread each), then the MNO fine-tuned a posteriori, then the table and plots (docs/closures.md).
# Finished runs are skipped (a re-run resumes). From the repository root:
#   bash experiments/mno_l96.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export OMP_NUM_THREADS=1
run_one() {
  local config=$1 preset=$2 model=$3
  local dir=runs/mno_l96/$preset/$model
  mkdir -p "$dir"
  $PY -m sciml.train "$config" "dataset.preset=$preset" "run.dir=$dir" "${@:4}" trainer.progress=lines \
    > "$dir.log" 2>&1 && echo "done $preset $model" || echo "FAILED $preset $model (see $dir.log)"
}
export -f run_one
export PY
for preset in wilks2005 lorenz1996; do
  $PY -m sciml.generate experiments/mno_l96.yaml "dataset.preset=$preset" > /dev/null
  printf '%s\n' "experiments/polynomial_l96.yaml $preset polynomial" "experiments/local_mlp_l96.yaml $preset local_mlp" \
    "experiments/mno_l96.yaml $preset mno" "experiments/fno_l96.yaml $preset fno" |
    xargs -P 2 -L 1 bash -c 'run_one "$@"' _
  run_one experiments/mno_l96_a_posteriori.yaml "$preset" mno_a_posteriori \
    "trainer.init_from=runs/mno_l96/$preset/mno/checkpoints/best.pt"
done
$PY experiments/mno_l96_table.py
