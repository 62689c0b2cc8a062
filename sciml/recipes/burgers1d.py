"""``burgers1d``: viscous Burgers trajectories (pseudo-spectral ETDRK4) from random sums of sines.

One viscosity for all trajectories (``nu``), or one per trajectory drawn from ``nus`` (``nus_test`` for the
test split), stored as the per-sample parameter ``nu`` (``task.params: [nu]``). The equation solved is
``u_t + u u_x = viscosity_factor * nu * u_xx``: PDEBench labels its Burgers data by ``nu`` but solves with
``nu / pi`` (``viscosity_factor: 0.3183...``). ``n_fine`` solves on a finer grid and keeps every
``n_fine / n``-th point, as PDEBench's 1024 -> 128 subsampling does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

import sciml.recipes.checks as checks
from sciml.errors import ConfigError
from sciml.recipes.ks1d import random_sines
from sciml.recipes.layout import SplitLayout, parameter_attrs, resolve_device, split_index, split_sizes
from sciml.sim.burgers import Burgers


@dataclass
class Burgers1DConfig:
    name: str = "burgers1d"
    root: str = "data"
    L: float = 16.0  # the MP-PDE domain length
    n: int = 256
    nu: float = 0.01
    nus: list[float] = field(default_factory=list)  # nu drawn per trajectory from these (empty: nu throughout)
    nus_test: list[float] = field(default_factory=list)  # the test split's choices (empty: as nus)
    viscosity_factor: float = 1.0  # the diffusion coefficient is viscosity_factor * nu (PDEBench: 1 / pi)
    n_fine: int = 0  # solve on n_fine points and keep every (n_fine / n)-th (0: solve on n)
    dt: float = 0.02  # between stored frames
    substeps: int = 4
    n_sines: int = 5
    max_wavenumber: int = 3
    n_train: int = 256
    n_valid: int = 32
    n_test: int = 32
    steps_train: int = 100
    steps_eval: int = 200
    seed: int = 0
    batch_size: int = 256
    device: str = "auto"


def validate_burgers1d(cfg: Burgers1DConfig) -> None:
    checks.common(cfg)
    checks.even_grid(cfg, "n")
    checks.positive(cfg, "n_sines", "max_wavenumber", "nu", "viscosity_factor")
    if any(not v > 0 for v in [*cfg.nus, *cfg.nus_test]):
        raise ConfigError(f"dataset.nus and dataset.nus_test must be positive, got {cfg.nus} and {cfg.nus_test}")
    if cfg.nus_test and not cfg.nus:
        raise ConfigError("dataset.nus_test needs dataset.nus (a viscosity per trajectory)")
    if cfg.n_fine and (cfg.n_fine < cfg.n or cfg.n_fine % cfg.n):
        raise ConfigError(f"bad value for 'dataset.n_fine': {cfg.n_fine} (a multiple of n={cfg.n}, or 0)")
    if cfg.max_wavenumber >= cfg.n // 2:
        raise ConfigError(f"bad value for 'dataset.max_wavenumber': {cfg.max_wavenumber} "
                                 f"(the grid of n={cfg.n} resolves wavenumbers below {cfg.n // 2})")


def viscosities(cfg: Burgers1DConfig, split: str) -> np.ndarray:
    """``nu`` of every trajectory of a split, ``(n_samples,)``, from the split's own seeded stream."""
    n_samples, _ = split_sizes(cfg, split)
    if not cfg.nus:
        return np.full(n_samples, cfg.nu)
    choices = cfg.nus_test if split == "test" and cfg.nus_test else cfg.nus
    rng = np.random.default_rng([cfg.seed, split_index(split), 1])
    return np.asarray(choices, dtype=float)[rng.integers(0, len(choices), n_samples)]


def burgers_layout(cfg: Burgers1DConfig, split: str) -> SplitLayout:
    n_samples, steps = split_sizes(cfg, split)
    attrs = parameter_attrs(cfg)
    factor = "" if cfg.viscosity_factor == 1 else f"{cfg.viscosity_factor:.6g} "
    attrs.update(title=f"Viscous Burgers ({split})", system="burgers",
                 equation=f"u_t + u u_x = {factor}nu u_xx, periodic", dataset=cfg.name, split=split, dt=cfg.dt,
                 L=cfg.L, method=f"pseudo-spectral ETDRK4 on {cfg.n_fine or cfg.n} points, 2/3 dealiasing, float64")
    if not cfg.nus:
        attrs["nu"] = cfg.nu
    params = {"nu": viscosities(cfg, split)} if cfg.nus else {}
    return SplitLayout(fields={"u": (n_samples, steps + 1, cfg.n)}, time=np.arange(steps + 1) * cfg.dt,
                       space={"x": Burgers(n=cfg.n, L=cfg.L).grid.numpy()}, attrs=attrs, params=params,
                       long_names={"u": "velocity"})


def burgers_simulate(cfg: Burgers1DConfig, split: str, start: int, stop: int) -> dict[str, np.ndarray]:
    n_samples, steps = split_sizes(cfg, split)
    n_fine = cfg.n_fine or cfg.n
    x = np.arange(n_fine) * cfg.L / n_fine
    rng = np.random.default_rng([cfg.seed, split_index(split)])
    u0 = random_sines(x, cfg.L, n_samples, cfg.n_sines, cfg.max_wavenumber, rng)[start:stop]
    nus = viscosities(cfg, split)[start:stop]
    device = resolve_device(cfg.device)
    out = np.empty((stop - start, steps + 1, cfg.n), dtype=np.float32)
    for nu in np.unique(nus):  # one simulator (and set of ETDRK4 coefficients) per viscosity
        rows = np.flatnonzero(nus == nu)
        sim = Burgers(n=n_fine, L=cfg.L, nu=cfg.viscosity_factor * float(nu))
        with torch.no_grad():
            traj = sim.rollout(torch.as_tensor(u0[rows], device=device), steps * cfg.substeps,
                               cfg.dt / cfg.substeps, save_every=cfg.substeps)
        out[rows] = traj[..., :: n_fine // cfg.n].cpu().numpy()
    return {"u": out}
