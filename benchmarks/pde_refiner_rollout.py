"""Cost of a PDE-Refiner rollout against the MSE U-Net of the same size (fixed protocol).

KS grid of 256 points, the U-Net of hidden 64 (1, 2, 2, 4), batch 32, 50 model steps, best of 3 after a
warm-up; K = 0 is the MSE U-Net (one call per step), K refinement steps cost K + 1 calls. Prints a table with
the ratio to K = 0 measured in the same run.

    python benchmarks/pde_refiner_rollout.py [--device cuda] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import torch

from sciml import solvers
from sciml.solvers import grid_context


def seconds_per_step(refinement_steps: int, device: torch.device, batch: int, steps: int) -> float:
    cfg = solvers.get("pde_refiner").config()
    cfg.refinement_steps = refinement_steps
    model = solvers.build(cfg, grid_context((256,), length=64.0, dt=0.8)).to(device).eval()
    window = torch.randn(batch, 1, 1, 256, device=device)
    model.rollout(window, 2)  # warm-up
    best = float("inf")
    for _ in range(3):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        model.rollout(window, steps)
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"cpu, {args.threads} threads"
    print(f"torch {torch.__version__}, {name}; batch {args.batch}, {args.steps} model steps, KS n = 256, hidden 64")
    print(f"{'K':>3} {'calls/step':>11} {'ms/step':>9} {'vs K=0':>7}")
    base = None
    for k in (0, 1, 3):
        t = seconds_per_step(k, device, args.batch, args.steps)
        base = base or t
        print(f"{k:>3} {k + 1:>11} {1e3 * t:>9.2f} {t / base:>7.2f}")


if __name__ == "__main__":
    main()
