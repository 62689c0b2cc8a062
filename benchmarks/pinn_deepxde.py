"""DeepXDE (PyTorch backend) and sciml side by side, same network, points, weights, optimiser and
iterations; relative L2 error and time per iteration, in one process.

Protocol (both problems): 4 x 50 tanh MLP (Glorot normal, zero biases); 1,000 uniformly random collocation
points drawn once; Adam 1e-3, x0.9 every 5,000 steps; ``--steps`` iterations; 1 thread; seed 0.
- ``--problem convection``: u_t + 50 u_x = 0 on [0, 2 pi) x [0, 1], u0 = sin x, periodic; initial and
  boundary weights 100; error on a 256 x 100 grid. DeepXDE draws its 200 initial and 200 boundary points
  once (sciml draws 200 fresh ones per step). The sciml R3 row adds R3 resampling to the same setting.
- ``--problem helmholtz``: u_xx + u_yy + u = q on [-1, 1]^2, u = sin(4 pi x) sin(pi y), u = 0 on the
  boundary; boundary weight 100; 200 boundary points drawn once on both sides
  (``trainer.constraint_sampling: fixed``); error on a 100 x 100 grid.
Needs the optional ``peers`` extra (``pip install deepxde``).

    DDE_BACKEND=pytorch python benchmarks/pinn_deepxde.py [--problem helmholtz] [--steps 10000]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pinn_common import config, solver_for, train_steps

from sciml.pinn import Convection, Helmholtz2D

BETA = 50.0
COMMON = ("solver.name=pinn", "solver.width=50", "solver.depth=4", "sampler.points=1000", "trainer.lr=1e-3",
          "trainer.step_size=5000", "trainer.gamma=0.9", "trainer.constraint_points=200", "trainer.device=cpu")


def _train_and_score(model, steps: int, problem, grid_sizes: tuple[int, int]) -> tuple[float, float]:
    """Train a compiled DeepXDE model; its relative L2 error on the grid and the seconds per iteration."""
    start = time.perf_counter()
    model.train(iterations=steps, display_every=max(steps // 4, 1), verbose=0)
    seconds = (time.perf_counter() - start) / steps
    grid = problem.domain.grid(grid_sizes)
    pred = torch.as_tensor(model.predict(grid.numpy())).reshape(-1)
    ref = problem.reference(grid)
    return float((pred - ref).norm() / ref.norm()), seconds


def run_deepxde(steps: int, seed: int) -> tuple[float, float]:
    os.environ.setdefault("DDE_BACKEND", "pytorch")
    import deepxde as dde

    dde.config.set_random_seed(seed)
    geom = dde.geometry.Interval(0, 2 * math.pi)
    geomtime = dde.geometry.GeometryXTime(geom, dde.geometry.TimeDomain(0, 1))

    def pde(x, y):
        return dde.grad.jacobian(y, x, i=0, j=1) + BETA * dde.grad.jacobian(y, x, i=0, j=0)

    periodic = dde.icbc.PeriodicBC(geomtime, 0, lambda _, on_boundary: on_boundary)
    initial = dde.icbc.IC(geomtime, lambda x: np.sin(x[:, 0:1]), lambda _, on_initial: on_initial)
    data = dde.data.TimePDE(geomtime, pde, [periodic, initial], num_domain=1000, num_boundary=200, num_initial=200,
                            train_distribution="pseudo")
    net = dde.nn.FNN([2] + [50] * 4 + [1], "tanh", "Glorot normal")
    model = dde.Model(data, net)
    model.compile("adam", lr=1e-3, loss_weights=[1, 100, 100], decay=("step", 5000, 0.9))
    return _train_and_score(model, steps, Convection(BETA), (256, 100))


def run_deepxde_helmholtz(steps: int, seed: int) -> tuple[float, float]:
    os.environ.setdefault("DDE_BACKEND", "pytorch")
    import deepxde as dde

    dde.config.set_random_seed(seed)
    problem = Helmholtz2D(4.0, 1.0, 1.0)

    def pde(x, y):
        lap = dde.grad.hessian(y, x, i=0, j=0) + dde.grad.hessian(y, x, i=1, j=1)
        source = problem.source(x.detach()).reshape(-1, 1)
        return lap + problem.k**2 * y - source

    geom = dde.geometry.Rectangle([-1, -1], [1, 1])
    bc = dde.icbc.DirichletBC(geom, lambda x: np.zeros((len(x), 1)), lambda _, on_boundary: on_boundary)
    data = dde.data.PDE(geom, pde, [bc], num_domain=1000, num_boundary=200, train_distribution="pseudo")
    net = dde.nn.FNN([2] + [50] * 4 + [1], "tanh", "Glorot normal")
    model = dde.Model(data, net)
    model.compile("adam", lr=1e-3, loss_weights=[1, 100], decay=("step", 5000, 0.9))
    return _train_and_score(model, steps, problem, (100, 100))


def run_sciml(steps: int, seed: int, sampler_name: str, problem: str = "convection") -> tuple[float, float]:
    if problem == "convection":
        args, truth, grid = ("problem.name=convection", f"problem.beta={BETA}"), Convection(BETA), (256, 100)
    else:
        args = ("problem.name=helmholtz2d", "problem.a1=4", "problem.a2=1", "trainer.constraint_sampling=fixed",
                "trainer.weights={boundary: 100.0}")
        truth, grid = Helmholtz2D(4.0, 1.0, 1.0), (100, 100)
    cfg = config(*COMMON, *args, f"sampler.name={sampler_name}")
    solver = solver_for(cfg, torch.device("cpu"), seed=seed)
    seconds = train_steps(cfg, solver, steps, torch.device("cpu"))
    return truth.relative_l2(solver.net, grid), seconds / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problem", choices=("convection", "helmholtz"), default="convection")
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.problem == "convection":
        rows = {"DeepXDE, fixed points": run_deepxde(args.steps, args.seed),
                "sciml, fixed points": run_sciml(args.steps, args.seed, "uniform"),
                "sciml, R3": run_sciml(args.steps, args.seed, "r3")}
        title = f"convection beta {BETA:g}"
    else:
        rows = {"DeepXDE, fixed points": run_deepxde_helmholtz(args.steps, args.seed),
                "sciml, fixed points": run_sciml(args.steps, args.seed, "uniform", "helmholtz")}
        title = "Helmholtz (4, 1)"
    base = rows["DeepXDE, fixed points"][1]
    print(f"{title}, {args.steps} Adam steps, seed {args.seed}, 1 thread, torch {torch.__version__}")
    print("| run | relative L2 | ms / iteration | time ratio to DeepXDE |\n|---|---:|---:|---:|")
    for name, (error, seconds) in rows.items():
        print(f"| {name} | {error:.3f} | {seconds * 1e3:.2f} | {seconds / base:.2f} |")


if __name__ == "__main__":
    main()
