"""Where a finished Helmholtz run puts its error: boundary values, the residual away from the training points,
and the error's energy by wavenumber (docs/pinn.md, Helmholtz (10, 10)).

    python experiments/pig_helmholtz_diagnose.py runs/pig_helmholtz_10_10_s0 --seed 0

The exact solution sin(a1 pi x) sin(a2 pi y) vanishes on the boundary and has |k| = sqrt(a1^2 + a2^2) / 2
cycles per unit length; an error that sits at much lower |k| is one the Laplacian hardly penalises.
"""

from __future__ import annotations

import argparse
import math

import torch

from sciml.config import load_config
from sciml.tasks.collocation import trained_solver
from sciml.training.devices import default_dtype

BANDS = ((0.0, 1.0), (1.0, 3.0), (3.0, 6.0), (6.0, 12.0), (12.0, math.inf))  # cycles per unit length


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="run directory of a helmholtz2d run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grid", type=int, default=256, help="cells per side of the error grid")
    parser.add_argument("--points", type=int, default=20000, help="fresh interior points for the residual")
    args = parser.parse_args()
    cfg = load_config([f"{args.run}/config.yaml"])
    if cfg.problem.name != "helmholtz2d":
        raise SystemExit(f"{args.run} is a {cfg.problem.name} run, not helmholtz2d")
    checkpoint = f"{args.run}/checkpoints/seed_{args.seed}/last.pt"
    with default_dtype(cfg.trainer.dtype):
        solver = trained_solver(cfg, checkpoint, args.seed, torch.device("cpu"))
        net, problem, n = solver.net, solver.problem, args.grid
        draws = torch.Generator().manual_seed(12345)
        edges = problem.domain.sample_faces(16 * n, (0, 1), draws)
        fresh = problem.domain.sample(args.points, draws)
        residual = torch.cat([problem.residual(net, chunk).detach() for chunk in fresh.split(4096)])
        centres = torch.linspace(-1.0, 1.0, n + 1)[:-1] + 1.0 / n
        grid = torch.stack(torch.meshgrid(centres, centres, indexing="ij"), -1).reshape(-1, 2)
        with torch.no_grad():
            boundary = net(edges).reshape(-1)
            u = torch.cat([net(chunk).reshape(-1) for chunk in grid.split(8192)])
    exact = problem.reference(grid)
    error = (u - exact).reshape(n, n)
    energy = torch.fft.fft2(error).abs() ** 2
    k = torch.fft.fftfreq(n, d=2.0 / n)
    wavenumber = torch.sqrt(k[:, None] ** 2 + k[None, :] ** 2)
    print(f"relative L2 on a {n}^2 grid: {(error.norm() / exact.norm()).item():.4g}")
    print(f"boundary rms of u (exact: 0): {boundary.pow(2).mean().sqrt().item():.4g}")
    print(f"interior residual rms at {args.points} fresh points: {residual.pow(2).mean().sqrt().item():.4g}")
    print(f"the solution's |k|: {math.hypot(problem.a1, problem.a2) / 2:.3g} cycles per unit length")
    for low, high in BANDS:
        share = energy[(wavenumber >= low) & (wavenumber < high)].sum() / energy.sum()
        print(f"error energy at |k| in [{low:g}, {high:g}): {share.item():.3f}")


if __name__ == "__main__":
    main()
