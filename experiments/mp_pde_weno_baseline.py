"""Which numerical baseline is MP-PDE's WENO5 column? Coarse WENO5 solves scored the paper's way and ours.

The paper's column (E2: 1.19 / 5.35 / 8.05 at nx = 100 / 50 / 40) is what the released ``test_unrolled_losses``
prints as ``Unrolled forward base losses``: the generator's own coarse solution (``pde_250-{nx}``, solved from
t = 0 on the coarse grid) against the fine one (``pde_250-200``) projected by the loader's 5-point kernel,
summed over frames 50-249. ``docs/mp_pde.md``'s table (0.03-0.22) runs our coarse solver from the true
frame 49 against cell averages. Accumulated error ``mean_n sum_t mean_x (u - u_ref)^2`` over frames 50-249:

Our solver on our E2 test trajectories (``--n`` of them):

- ``from frame 49``: as ``docs/mp_pde.md``; ``from t = 0``: the coarse solve starts from the initial condition;
- ``released setup``: what the released generator and loader do, with our finite-volume solver: the initial
  condition and forcing sampled as point values at ``linspace(0, L, nx)`` (the periodic endpoint included)
  on nodes spaced ``L / nx`` (each resolution solves a slightly stretched problem), from t = 0, scored
  against the loader's kernel of the fine solution set up the same way.

With ``--released DIR`` (the ``data/`` folder the released ``generate/generate_data.py --experiment=E2``
wrote), the released generator's own files: ``base loss`` as its loader prints it, ``coarse vs fine nodes``
(its coarse solution against its fine one at the same nodes: the solver's own error) and ``kernel vs fine
nodes`` (the projection's share).

    python experiments/mp_pde_weno_baseline.py [--n 32] [--nx 100 50 40] [--threads 2] [--released DIR]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from sciml import recipes
from sciml.config import load_config
from sciml.data import open_dataset
from sciml.recipes.mp_pde import forcing_from_parameters
from sciml.sim.combined_burgers import CombinedBurgers, SineForcing, average_down

ROOT = Path(__file__).resolve().parents[1]
FIRST = 50
PAPER_E2 = {100: 1.19, 50: 5.35, 40: 8.05}


def released_kernel(u: torch.Tensor, nx: int) -> torch.Tensor:
    """The released loader's projection of ``(..., n_fine)`` to ``nx`` nodes: the mean of 5 fine values around
    every ``n_fine / nx``-th one, padded with fine values ``[-3, -2]`` on the left and ``[1, 2]`` on the right."""
    ratio = u.shape[-1] // nx
    padded = torch.cat([u[..., -3:-1], u, u[..., 1:3]], -1)
    windows = padded.unfold(-1, 5, ratio)[..., :nx, :]
    return windows.mean(-1)


def released_grid_forcing(forcing: SineForcing, n: int, length: float, points: bool) -> SineForcing:
    """The forcing the released generator gives an ``n``-node solver, as cell averages for ours.

    It evaluates ``sin(omega t + 2 pi l x / L + phi)`` at ``x_j = j L / (n - 1)`` on nodes spaced ``L / n``:
    on our cell centres ``(j + 1/2) L / n`` that is wavenumber ``l n / (n - 1)`` and phase ``phi - pi l / (n - 1)``.
    With ``points`` the amplitude is divided by the cell average's sinc factor, so that our cell averages equal
    the released point values.
    """
    wavenumber = forcing.wavenumber * n / (n - 1)
    phase = forcing.phase - math.pi * forcing.wavenumber / (n - 1)
    amplitude = forcing.amplitude
    if points:
        k = 2 * math.pi * wavenumber / length
        amplitude = amplitude / torch.sinc(k * (length / n) / (2 * math.pi))
    return SineForcing(amplitude, forcing.omega, wavenumber, phase)


def solve(forcing: SineForcing, n: int, length: float, params: dict, times: torch.Tensor, start=None) -> torch.Tensor:
    sim = CombinedBurgers(n=n, L=length, forcing=forcing, **params)
    state = sim.initial_condition() if start is None else start
    with torch.no_grad():
        return sim.solve(state, times, rtol=1e-6, atol=1e-8)


def accumulated(pred: torch.Tensor, truth: torch.Tensor) -> float:
    return float(((pred[:, FIRST:] - truth[:, FIRST:]) ** 2).mean(-1).sum(-1).mean())


def released_files(folder: Path, nxs: list[int]) -> dict[int, tuple[float, float, float]]:
    """(base loss, coarse vs fine nodes, kernel vs fine nodes) per nx on the released generator's test file."""
    import h5py

    with h5py.File(folder / "CE_test_E2.h5") as f:
        fine = torch.tensor(f["test/pde_250-200"][()])
        out = {}
        for nx in nxs:
            coarse, nodes = torch.tensor(f[f"test/pde_250-{nx}"][()]), fine[..., :: 200 // nx]
            kernel = released_kernel(fine, nx)
            out[nx] = (accumulated(coarse, kernel), accumulated(coarse, nodes), accumulated(nodes, kernel))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=32, help="test trajectories")
    parser.add_argument("--nx", type=int, nargs="+", default=[100, 50, 40])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--root", default="data")
    parser.add_argument("--released", type=Path, help="the released generator's data/ folder (E2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config([str(ROOT / "datasets" / "mp_pde_E2.yaml"), f"dataset.root={args.root}",
                       "dataset.nx=200"]).dataset
    with open_dataset(recipes.ensure_dataset(cfg, progress=False)["test"]) as ds:
        fine = torch.tensor(ds.u.values[: args.n], dtype=torch.float64)
        times = torch.tensor(ds.time.values, dtype=torch.float64)
        raw = {k: ds[k].values[: args.n] for k in ds.data_vars if ds[k].dims == ("sample",)}
    params = {k: torch.tensor(raw[k]) for k in ("alpha", "beta", "gamma")}
    forcing, length = forcing_from_parameters(raw), float(cfg.L)
    released = released_files(args.released, args.nx) if args.released else {}
    print(f"E2 test, torch {torch.__version__}, {args.threads} threads; accumulated error over frames 50-249; "
          f"ours on {args.n} of our trajectories" + (f", the released files' {args.released}" if released else ""))
    print("| nx | ours: from frame 49 | ours: from t = 0 | ours: released setup | released: base loss | released: "
          "coarse vs fine nodes | released: kernel vs fine nodes | paper |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    fine_released = solve(released_grid_forcing(forcing, 200, length, True), 200, length, params, times)
    for nx in args.nx:
        cells = average_down(fine, nx)
        from49 = torch.cat([cells[:, :FIRST], solve(forcing, nx, length, params, times[FIRST - 1:],
                                                    start=cells[:, FIRST - 1])[:, 1:]], 1)
        from0 = solve(forcing, nx, length, params, times)
        setup = solve(released_grid_forcing(forcing, nx, length, True), nx, length, params, times)
        row = [accumulated(from49, cells), accumulated(from0, cells),
               accumulated(setup, released_kernel(fine_released, nx)), *released.get(nx, (math.nan,) * 3)]
        print(f"| {nx} | " + " | ".join(f"{v:.3f}" for v in row) + f" | {PAPER_E2.get(nx, math.nan)} |", flush=True)


if __name__ == "__main__":
    main()
