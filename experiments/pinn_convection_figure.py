"""Failing and solved convection runs side by side: predictions, errors and the amplitude the monitor reads.

    python experiments/pinn_convection_figure.py runs/pinn_convection_curriculum="R3 + curriculum" \
        runs/pinn_convection_solved="time-marching" --seed 0 --out docs/img/pinn/convection_failing_vs_solved.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from sciml.config import load_config
from sciml.pinn.plots import comparison_figure
from sciml.tasks.collocation import seed_dir, trained_solver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="RUN_DIR=label")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", default="last", choices=("last", "best"))
    parser.add_argument("--out", type=Path, default=Path("convection_failing_vs_solved.png"))
    args = parser.parse_args()
    models, problem, errors = {}, None, []
    for item in args.runs:
        run, _, label = item.partition("=")
        cfg = load_config([str(Path(run) / "config.yaml")])
        solver = trained_solver(cfg, seed_dir(Path(run), args.seed) / f"{args.checkpoint}.pt", args.seed,
                                torch.device("cpu"))
        problem = problem or solver.problem
        error = problem.relative_l2(solver.net, (256, 100))
        models[f"{label or run} ({100 * error:.1f} %)"] = solver.net
        errors.append(error)
    title = f"{problem.name}, beta = {problem.beta:g}, seed {args.seed}: relative L2 in brackets"
    print(comparison_figure(problem, models, args.out, title))


if __name__ == "__main__":
    main()
