#!/usr/bin/env bash
# The Kolmogorov LES closures at CPU scale: the CNN closure trained a priori on the exact subgrid tendency,
# then fine-tuned a posteriori through the differentiable 64^2 LES (two stages), then the table against no closure, the
# physics closures and our DNS at 64^2 and 128^2 (docs/closures.md); then the 32^2 case. One thread; finished runs are skipped
# (a re-run resumes). From the repository root:
#   bash experiments/closure_ns2d.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export OMP_NUM_THREADS=1
mkdir -p runs/closure_ns2d
$PY -m sciml.generate experiments/closure_ns2d.yaml > /dev/null
$PY -m sciml.train experiments/closure_ns2d.yaml trainer.progress=lines > runs/closure_ns2d/cnn_a_priori.log 2>&1
$PY -m sciml.train experiments/closure_ns2d_a_posteriori.yaml trainer.progress=lines \
  > runs/closure_ns2d/cnn_a_posteriori.log 2>&1
$PY -m sciml.train experiments/closure_ns2d_a_posteriori_long.yaml trainer.progress=lines \
  > runs/closure_ns2d/cnn_a_posteriori_long.log 2>&1
$PY experiments/closure_ns2d_table.py
# the same comparison on the 32^2 LES grid (one a-posteriori stage, unrolls growing from 1 to 10 frames)
mkdir -p runs/closure_ns2d_32
$PY -m sciml.generate experiments/closure_ns2d_32.yaml > /dev/null
$PY -m sciml.train experiments/closure_ns2d_32.yaml trainer.progress=lines > runs/closure_ns2d_32/cnn_a_priori.log 2>&1
$PY -m sciml.train experiments/closure_ns2d_32_a_posteriori.yaml trainer.progress=lines \
  > runs/closure_ns2d_32/cnn_a_posteriori.log 2>&1
$PY experiments/closure_ns2d_table.py --n 32
