"""Cost of a training iteration with each collocation sampler (the R3 claim: no extra cost over uniform
resampling), and of a PIG step.

Protocol: convection beta 50, 4 x 50 tanh MLP, 1,000 collocation points, 200 constraint points per term,
float32, CPU with a fixed thread count. Each row trains with the shared trainer for 100 warm-up then
``--steps`` timed Adam steps (sampler updated every step; one evaluation on a 16 x 16 grid and one checkpoint
at the end), median of 3 repetitions in which the samplers take turns.
Ratios are against uniform resampling in the same run. RAD scores 10,000 fresh candidates per update by
design (an extra forward and backward pass), so it is shown with ``every`` 1 and 100.
The PIG rows time one Adam step on Helmholtz (4, 1) with 4 x 800 Gaussians at 1,000 and 4,000 points.

    python benchmarks/pinn_samplers.py [--threads 1] [--steps 1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pinn_common import config, solver_for, train_steps  # noqa: E402

from sciml.pinn import Helmholtz2D  # noqa: E402
from sciml.pinn.models import PIG  # noqa: E402
from sciml.runtime import tune_cpu_allocator  # noqa: E402

SAMPLERS = {
    "uniform fixed": ["sampler.name=uniform"],
    "uniform resampled": ["sampler.name=resampled"],
    "R3": ["sampler.name=r3"],
    "causal R3": ["sampler.name=causal_r3"],
    "RAD (every 100)": ["sampler.name=rad", "sampler.every=100"],
    "RAD (every 1)": ["sampler.name=rad", "sampler.every=1"],
}


def time_once(sampler: list[str], steps: int, rep: int) -> float:
    cfg = config("solver.name=pinn", "solver.width=50", "solver.depth=4", "problem.name=convection",
                 "problem.beta=50", "sampler.points=1000", "trainer.constraint_points=200", "trainer.device=cpu",
                 *sampler)
    solver = solver_for(cfg, torch.device("cpu"), seed=rep)
    train_steps(cfg, solver, 100, torch.device("cpu"))
    return train_steps(cfg, solver, steps, torch.device("cpu")) / steps


def time_samplers(steps: int) -> dict[str, float]:
    """Median of 3 repetitions; the samplers take turns within each repetition so that drifts in the
    machine's load affect them alike."""
    times: dict[str, list[float]] = {name: [] for name in SAMPLERS}
    for rep in range(3):
        for name, make in SAMPLERS.items():
            times[name].append(time_once(make, steps, rep))
    return {name: statistics.median(t) for name, t in times.items()}


def time_pig(points: int, steps: int) -> float:
    problem = Helmholtz2D(4, 1)
    torch.manual_seed(0)
    model = PIG(2, low=problem.domain.low, high=problem.domain.high)
    x = problem.domain.sample(points, torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(model.parameters(), 1e-3)

    def step():
        loss = problem.residual(model, x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(5):
        step()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        times.append((time.perf_counter() - start) / steps)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    tune_cpu_allocator()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")  # short convection runs are flagged as propagation failures, rightly
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.steps} timed steps, median of 3")
    print("| sampler | ms / iteration | ratio to uniform resampled |\n|---|---:|---:|")
    results = time_samplers(args.steps)
    base = results["uniform resampled"]
    for name, seconds in results.items():
        print(f"| {name} | {seconds * 1e3:.2f} | {seconds / base:.3f} |", flush=True)
    print("\n| PIG Helmholtz step | ms / Adam step |\n|---|---:|")
    for points in (1000, 4000):
        print(f"| {points} points, 3,200 Gaussians | {time_pig(points, 20) * 1e3:.1f} |", flush=True)


if __name__ == "__main__":
    main()
