"""The LE-PDE tables from the runs of experiments/le_pde.sh (and the MP-PDE / FNO-PF CPU runs of
experiments/mp_pde_burgers.sh for E2, when present).

E2 at nx = 50: accumulated error Σ_t mean_x (u − û)² over frames 50–249 (MP-PDE's table), parameters.
2D vorticity: relative L2 (nRMSE) averaged over the 21 predicted frames and at the last one, per ν.
Usage: python experiments/le_pde_table.py [--runs runs]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def parameter_count(run: Path) -> int:
    import torch

    from sciml.config import load_config
    from sciml.tasks.trajectory.evaluation import load_solver

    model, _ = load_solver(run, load_config([str(run / "config.yaml")]), "best", torch.device("cpu"))
    return sum(p.numel() for p in model.parameters())


def results(run: Path) -> dict | None:
    path = run / "evaluation" / "results.json"
    return json.loads(path.read_text()) if path.is_file() else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    args = parser.parse_args(argv)
    print("### E2 at nx = 50 (CPU scale: 256 training trajectories, 800 steps of batch 16)\n")
    print("| model | parameters | accumulated error | published |")
    print("|---|---:|---:|---:|")
    for run, label, published in (("le_pde_E2_nx50", "LE-PDE", "1.127"), ("le_pde_mamba_E2_nx50", "LE-PDE-Mamba", "–"),
                                  ("mp_pde_E2_nx50", "MP-PDE", "1.63"), ("fno_pf_E2_nx50", "FNO-PF", "2.27")):
        r = results(args.runs / run)
        if r is not None:
            print(f"| {label} | {parameter_count(args.runs / run):,} | {r['accumulated_mse']:.2f} | {published} |")
    for nu in ("1e-3", "1e-4"):
        rows = []
        for run, label in ((f"le_pde_ns2d_nu{nu}", "LE-PDE"), (f"le_pde_mamba_ns2d_nu{nu}", "LE-PDE-Mamba"),
                           (f"fno_ns2d_nu{nu}", "FNO (12 modes, width 32)")):
            r = results(args.runs / run)
            if r is not None:
                nrmse = np.array([np.nan if v is None else v for v in r["per_step"]["nrmse"]])
                rows.append(f"| {label} | {parameter_count(args.runs / run):,} | {np.nanmean(nrmse):.4f} | "
                            f"{nrmse[-1]:.4f} | {r['unstable']['count']} |")
        if rows:
            print(f"\n### 2D vorticity, nu = {nu}: relative L2 over the 21 predicted frames\n")
            print("| model | parameters | mean | last frame | unstable |")
            print("|---|---:|---:|---:|---:|")
            print("\n".join(rows))


if __name__ == "__main__":
    main()
