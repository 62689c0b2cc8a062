"""Cost of CAPE in a rollout: CAPE-FNO (width 20) against the parameter-matched FNO (width 36) and the
conditional FNO (width 36, parameters as channels), fixed protocol.

The CPU-scale CAPE setting: 1D grid of 128 points, one PDE parameter, batch 32, 40 model steps (the whole
PDEBench trajectory at every 5th frame), best of 5 after a warm-up. Prints parameters, ms per step and the
ratio to the plain FNO measured in the same run.

    python benchmarks/cape_rollout.py [--device cuda] [--threads 2]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from sciml import solvers
from sciml.solvers import grid_context
from sciml.solvers.cape import CAPEConfig
from sciml.solvers.fno import FNOConfig

MODELS = {
    "FNO (width 36)": (FNOConfig(width=36, modes=12), False),
    "conditional FNO (width 36)": (FNOConfig(width=36, modes=12), True),
    "CAPE-FNO (width 20)": (CAPEConfig(base_options={"width": 20, "modes": 12}, multiplier=170), True),
}


def seconds_per_step(cfg, with_params: bool, device: torch.device, batch: int, steps: int, n: int):
    context = grid_context((n,), n_params=1)
    if not with_params:
        context = replace(context, param_names=(), param_ranges=())
    model = solvers.build(cfg, context).to(device).eval()
    window = torch.randn(batch, 1, 1, n, device=device)
    params = torch.rand(batch, 1, device=device) if with_params else None
    model.rollout(window, 2, params)  # warm-up
    best = float("inf")
    for _ in range(5):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        model.rollout(window, steps, params)
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best / steps, sum(p.numel() for p in model.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--n", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"cpu, {args.threads} threads"
    print(f"torch {torch.__version__}, {name}; batch {args.batch}, {args.steps} model steps, n = {args.n}")
    print(f"{'model':<28} {'parameters':>10} {'ms/step':>9} {'vs FNO':>7}")
    base = None
    for label, (cfg, with_params) in MODELS.items():
        t, count = seconds_per_step(cfg, with_params, device, args.batch, args.steps, args.n)
        base = base or t
        print(f"{label:<28} {count:>10,} {1e3 * t:>9.3f} {t / base:>7.2f}")


if __name__ == "__main__":
    main()
