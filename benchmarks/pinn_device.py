"""Time per training iteration of the physics-informed experiments on the GPU against one CPU thread.

Protocol: each row builds the experiment's problem, model and sampler from its YAML (``trainer.device``
decides where everything lives), trains them with the shared trainer for a few warm-up iterations and then
the timed ones (Adam: sampler updated every step; L-BFGS: strong-Wolfe iterations, several loss
evaluations each, after one Adam step), with one evaluation on a 16-point-per-axis grid and one checkpoint
at the end. CUDA is synchronised before the clock stops.
CPU rows use one thread and fewer iterations. The ratio is CPU time over GPU time in the same run.

    python benchmarks/pinn_device.py [--gpu-steps 300] [--cpu-steps 10]
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from pathlib import Path

import torch
from pinn_common import config, solver_for, train_steps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
# (label, experiment, overrides, optimiser)
CASES = [
    ("convection, PINN 4x50, R3, 1,000 points", "pinn_convection.yaml", [], "adam"),
    ("Allen-Cahn, PINN 4x128, causal R3, 2,000 points", "pinn_allen_cahn.yaml", [], "adam"),
    ("Allen-Cahn, same, 10,000 points (paper)", "pinn_allen_cahn.yaml", ["sampler.points=10000"], "adam"),
    ("Helmholtz, PIG 4x800, 1,000 points, Adam", "pig_helmholtz.yaml", ["trainer.dtype=float32"], "adam"),
    ("Helmholtz, PIG 4x800, 4,000 points, L-BFGS float64", "pig_helmholtz.yaml", ["sampler.name=uniform",
                                                                                  "sampler.points=4000"], "lbfgs"),
    ("flow mixing, PIG 4x400, 2,000 points, Adam", "pig_flow_mixing.yaml", [], "adam"),
]


def seconds_per_iteration(experiment: str, overrides: list[str], optimiser: str, device: str, steps: int) -> float:
    cfg = config(str(ROOT / "experiments" / experiment), *overrides, f"trainer.device={device}")
    dev = torch.device(device)
    solver = solver_for(cfg, dev)
    lbfgs = optimiser == "lbfgs"
    train_steps(cfg, solver, max(3, steps // 10), dev, lbfgs=max(3, steps // 10) if lbfgs else 0)
    return train_steps(cfg, solver, steps, dev, lbfgs=steps if lbfgs else 0) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpu-steps", type=int, default=300)
    parser.add_argument("--cpu-steps", type=int, default=10)
    parser.add_argument("--no-cpu", action="store_true", help="GPU rows only")
    parser.add_argument("--device", default="cuda", help="the accelerated device (cpu: a dry run of the script)")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this benchmark compares the GPU with the CPU")
    warnings.simplefilter("ignore")  # short runs are flagged as propagation failures, rightly
    torch.set_num_threads(1)
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device
    print(f"torch {torch.__version__}, {name}, CPU rows on 1 thread; "
          f"{args.gpu_steps} GPU / {args.cpu_steps} CPU timed iterations")
    print("| case | GPU ms / it | CPU ms / it | CPU / GPU |\n|---|---:|---:|---:|")
    for label, experiment, overrides, optimiser in CASES:
        gpu = seconds_per_iteration(experiment, overrides, optimiser, args.device, args.gpu_steps)
        cpu = math.nan if args.no_cpu else seconds_per_iteration(experiment, overrides, optimiser, "cpu",
                                                                 args.cpu_steps)
        ratio = cpu / gpu
        print(f"| {label} | {gpu * 1e3:.2f} | {cpu * 1e3:.1f} | {ratio:.1f} |", flush=True)


if __name__ == "__main__":
    main()
