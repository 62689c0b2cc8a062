"""Cost of a closed coarse Lorenz96 model against the resolved two-scale model as K grows (fixed protocol).

The MNO claim (Lütjens et al. 2022): a closure by a Fourier neural operator costs O(K log K) per step, like a
local closure up to the logarithm, while the resolved model costs O(K J) per step and needs a time step
``b``-times shorter. Protocol: batch 1, float32, one RK4 step; resolved: two-scale Lorenz96 (J 32, Wilks'
parameters) at dt 0.001; coarse: X-only Lorenz96 at dt 0.01 with the MNO (4 modes, width 32, 4 layers) or the
local MLP (2 x 32) in every RK4 stage (untrained weights: the cost does not depend on them). Median of 7 timed
steps after 2 warm-up steps, for K = 8 .. 2^16. Prints per-step and per-time-unit costs, the speed-up of the
MNO model over the resolved one per time unit, and the log-log slopes of cost against K (over K >= 512).

    python benchmarks/closure_cost.py [--threads 1] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from sciml.config import load_config
from sciml.sim import Lorenz96, TwoScaleLorenz96
from sciml.sim.lorenz96 import random_state
from sciml.solvers import SolverContext, build

KS = [8, 64, 512, 4096, 32768, 65536]
RESOLVED_DT, COARSE_DT = 0.001, 0.01


def closure(name: str, K: int, device: torch.device):
    context = SolverContext(fields=("X", "coupling"), spatial_shape=(K,), dt=COARSE_DT,
                            attrs={"system": "lorenz96_two_scale", "K": K, "F": 20.0},
                            stats={"field_mean": [3.7, -3.8], "field_std": [5.0, 4.6]})
    cfg = load_config([f"solver.name={name}", "task.name=closure", "task.target=coupling"]).solver
    return build(cfg, context).to(device).eval()


def time_step(fn, device: torch.device, warmup: int = 2, repeats: int = 7) -> float:
    """Median seconds of one call of ``fn``."""
    times = []
    with torch.no_grad():
        for i in range(warmup + repeats):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize()
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rows = []
    for K in KS:
        resolved = TwoScaleLorenz96(K=K, J=32, F=20.0)
        state = random_state(resolved, (1,), generator=torch.Generator().manual_seed(0)).float().to(device)
        t_resolved = time_step(lambda s=state, m=resolved: m.step(s, RESOLVED_DT), device)
        coarse = Lorenz96(K=K, F=20.0)
        x = state[..., :K]
        costs = {"resolved": t_resolved}
        for name in ("mno", "local_mlp"):
            model = closure(name, K, device)
            costs[name] = time_step(lambda m=model, c=coarse, s=x: c.step(s, COARSE_DT, closure=m.closure), device)
        costs["none"] = time_step(lambda c=coarse, s=x: c.step(s, COARSE_DT), device)
        rows.append((K, costs))
    print(f"two-scale Lorenz96 (J 32) against the X-only model with a closure; batch 1, float32, {args.device}, "
          f"{args.threads} thread(s); per step and per time unit (resolved: {round(1 / RESOLVED_DT)} steps, "
          f"coarse: {round(1 / COARSE_DT)} steps)")
    print(f"{'K':>6} | {'resolved ms/step':>16} | {'MNO ms/step':>11} | {'local MLP ms/step':>17} | "
          f"{'no closure ms/step':>18} | {'resolved s/TU':>13} | {'MNO s/TU':>8} | {'speed-up MNO':>12}")
    for K, c in rows:
        per_tu_resolved, per_tu_mno = c["resolved"] / RESOLVED_DT, c["mno"] / COARSE_DT
        print(f"{K:>6} | {1e3 * c['resolved']:>16.3f} | {1e3 * c['mno']:>11.3f} | {1e3 * c['local_mlp']:>17.3f} | "
              f"{1e3 * c['none']:>18.3f} | {per_tu_resolved:>13.3f} | {per_tu_mno:>8.3f} | "
              f"{per_tu_resolved / per_tu_mno:>11.1f}x")
    big = [(K, c) for K, c in rows if K >= 512]
    logk = np.log([K for K, _ in big])
    for name in ("resolved", "mno", "local_mlp", "none"):
        slope = np.polyfit(logk, np.log([c[name] for _, c in big]), 1)[0]
        print(f"log-log slope of {name} cost against K (K >= 512): {slope:.2f}")


if __name__ == "__main__":
    main()
