"""Wall time per step of the same coupled Lorenz96 model in three hosts (fixed protocol).

The X-only Lorenz96 (K 8, F 20, Wilks' m2lines setting) with a closure in every RK4 stage, 1000 steps of 0.005
in float64 from one state: (a) Python, sciml's ``Lorenz96.rollout`` with the eager closure; (b) the same with
the exported TorchScript closure; (c) the Fortran host ``l96_host`` (sciml/couple/fortran, built here with
CMake) calling the exported closure through the C shim. The closure is the trained MNO of
``experiments/mno_l96.sh`` when ``--run`` exists, else an untrained local MLP. Reports the median of 3 runs per
host, the ratio to (a) and the largest relative difference of each trajectory from (a). One thread everywhere
(libtorch in the Fortran host too: with other thread counts a float32 closure's reductions change in the last
bits, and the chaotic model amplifies that to ~1e-2 over 1000 steps).

    python benchmarks/coupling_hosts.py [--run runs/mno_l96/wilks2005/mno] [--build build/couple]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from sciml.config import load_config
from sciml.couple import export, load
from sciml.sim import Lorenz96
from sciml.solvers import SolverContext, build
from sciml.tasks.trajectory.evaluation import load_solver

K, F, DT, STEPS, REPEATS = 8, 20.0, 0.005, 1000, 3
SOURCES = Path(__file__).resolve().parents[1] / "sciml" / "couple" / "fortran"


def closure_model(run: Path) -> tuple[torch.nn.Module, str]:
    if (run / "checkpoints" / "best.pt").is_file():
        model, step = load_solver(run, load_config([str(run / "config.yaml")]), "best", torch.device("cpu"))
        return model, f"trained {type(model).__name__} ({run}, step {step})"
    ctx = SolverContext(fields=("X", "coupling"), spatial_shape=(K,), dt=0.01,
                        attrs={"system": "lorenz96_two_scale", "K": K, "F": F},
                        stats={"field_mean": [3.7, -3.8], "field_std": [5.0, 4.6]})
    cfg = load_config(["solver.name=local_mlp", "task.name=closure", "dataset.name=lorenz96_two_scale",
                       "task.target=coupling"])
    return build(cfg.solver, ctx).double().eval(), "untrained local MLP"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", type=Path, default=Path("runs/mno_l96/wilks2005/mno"))
    parser.add_argument("--build", type=Path, default=Path("build/couple"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    prefix = torch.utils.cmake_prefix_path
    subprocess.run(["cmake", "-S", str(SOURCES), "-B", str(args.build), f"-DCMAKE_PREFIX_PATH={prefix}",
                    "-DCMAKE_BUILD_TYPE=Release"], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(args.build), "-j", "2"], check=True, capture_output=True)
    model, label = closure_model(args.run)
    work = Path(tempfile.mkdtemp())
    path = export(model, torch.randn(2, K, dtype=torch.float64) * 5 + 3, work / "closure.pt")
    exported = load(path)
    x0 = 3 + 2 * torch.randn(1, K, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    np.savetxt(work / "x0.txt", x0.numpy(), fmt="%.17e")
    l96 = Lorenz96(K=K, F=F)
    results = {}
    for name, closure in (("Python, eager closure", model.tendency), ("Python, exported closure", exported)):
        times = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            with torch.no_grad():
                traj = l96.rollout(x0, STEPS, DT, closure=closure)[0].numpy()
            times.append((time.perf_counter() - start) / STEPS)
        results[name] = (statistics.median(times), traj)
    times = []
    for _ in range(REPEATS):
        out = subprocess.run([str(args.build / "l96_host"), str(path), str(K), str(F), str(DT), str(STEPS),
                              str(work / "x0.txt"), str(work / "traj.txt")], check=True, capture_output=True,
                             text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        times.append(float(out.stdout.split(":")[-1]))
    results["Fortran host, exported closure"] = (statistics.median(times), np.loadtxt(work / "traj.txt"))
    base_time, base = results["Python, eager closure"]
    print(f"closure: {label}; K {K}, {STEPS} RK4 steps of {DT}, float64, 1 thread, median of {REPEATS}\n")
    print("| host | s per step | ratio to Python eager | max relative difference from Python eager |")
    print("|---|---:|---:|---:|")
    for name, (seconds, traj) in results.items():
        diff = float(np.abs(traj - base).max() / np.abs(base).max())
        print(f"| {name} | {seconds:.3e} | {seconds / base_time:.2f} | {diff:.1e} |")


if __name__ == "__main__":
    main()
