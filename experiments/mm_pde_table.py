"""MM-PDE against MP-PDE on the 2D Burgers data (issue 20): one-step and rollout errors on the test split, the
mover's mesh quality, and the paper's figures beside ours.

Protocol: ``datasets/burgers2d.yaml``'s 8 test trajectories (48^2, 31 frames). One-step error: the mean squared
error of every frame predicted from the true previous one (30 per trajectory). Rollout: all 30 steps from the
first frame (``evaluation/results.json`` of each run: accumulated MSE ``sum_t mean_x (u - u_hat)^2`` and the
MSE at steps 1, 10 and 30). Both models from their best checkpoints; inference time per step for the 8
trajectories in one batch, median of 3, one thread.

    python experiments/mm_pde_table.py [--runs runs]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from sciml import recipes
from sciml.config import load_config
from sciml.data import TrajectoryWindows
from sciml.tasks.trajectory.evaluation import load_solver

PAPER = {"mp_pde": 2e-6, "mm_pde": 6.7e-7}  # Burgers one-step errors its reviewers quote (MP-PDE -> MM-PDE)
RUNS = {"mp_pde": "mp_pde_burgers2d", "mm_pde": "mm_pde_burgers2d",
        "mm_pde, uniform mesh": "mm_pde_burgers2d_uniform_mesh"}  # the last: an untrained (identity) mover


def scores(run_dir: Path) -> dict:
    cfg = load_config([str(run_dir / "config.yaml")])
    model, step = load_solver(run_dir, cfg, "best", torch.device("cpu"))
    path = recipes.ensure_dataset(cfg.dataset, progress=False)["test"]
    windows = TrajectoryWindows(path, full_trajectory=True, variables=["u", "v"])
    frames = torch.stack([windows[i]["trajectory"] for i in range(len(windows))])  # (B, T, C, n, n)
    b, t = frames.shape[:2]
    inputs = frames[:, :-1].reshape(b * (t - 1), 1, *frames.shape[2:])
    with torch.no_grad():
        predicted = torch.cat([model.advance(chunk) for chunk in inputs.split(16)])
        seconds = []
        for _ in range(3):
            start = time.perf_counter()
            model.advance(frames[:, :1])
            seconds.append(time.perf_counter() - start)
    one_step = float(((predicted[:, 0] - frames[:, 1:].reshape(b * (t - 1), *frames.shape[2:])) ** 2).mean())
    results = json.loads((run_dir / "evaluation" / "results.json").read_text())
    mse = results["per_step"]["mse"]
    return {"step": step, "one_step": one_step, "accumulated": results["accumulated_mse"], "mse_1": mse[0],
            "mse_10": mse[9], "mse_30": mse[29], "seconds": statistics.median(seconds),
            "parameters": sum(p.numel() for p in model.parameters() if p.requires_grad)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    runs = Path(args.runs)
    rows = {name: scores(runs / run) for name, run in RUNS.items() if (runs / run / "evaluation").is_dir()}
    print("| model | steps | trainable parameters | one-step MSE | rollout MSE at 1 / 10 / 30 | accumulated MSE "
          "| s per step (8 trajectories) | paper one-step |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        paper = f"{PAPER[name]:.1e}" if name in PAPER else ""
        print(f"| {name} | {r['step']} | {r['parameters']:,} | {r['one_step']:.3e} | {r['mse_1']:.2e} / "
              f"{r['mse_10']:.2e} / {r['mse_30']:.2e} | {r['accumulated']:.3f} | {r['seconds']:.2f} | {paper} |")
    mp = rows["mp_pde"]
    for name in ("mm_pde", "mm_pde, uniform mesh"):
        if name in rows:
            print(f"\n{name} / mp_pde: one-step {rows[name]['one_step'] / mp['one_step']:.2f}, accumulated "
                  f"{rows[name]['accumulated'] / mp['accumulated']:.2f}")
    print(f"paper one-step: {PAPER['mm_pde'] / PAPER['mp_pde']:.2f}")
    mover = runs / "mesh_mover_burgers2d" / "evaluation" / "results.json"
    if mover.is_file():
        s = json.loads(mover.read_text())["summary"]
        print(f"mover on the test frames: {s['inverted_cells']} inverted cells, min det J {s['min_jacobian']:.3f}, "
              f"equidistribution std moved/uniform {s['equidistribution_ratio_mean']:.3f} (mean), interpolation "
              f"error ratio {s['interpolation_ratio_median']:.3f} (median)")


if __name__ == "__main__":
    main()
