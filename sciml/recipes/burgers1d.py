"""``burgers1d``: viscous Burgers trajectories (pseudo-spectral ETDRK4) from random sums of sines."""

from __future__ import annotations

from dataclasses import dataclass

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
    checks.positive(cfg, "n_sines", "max_wavenumber", "nu")
    if cfg.max_wavenumber >= cfg.n // 2:
        raise ConfigError(f"bad value for 'dataset.max_wavenumber': {cfg.max_wavenumber} "
                                 f"(the grid of n={cfg.n} resolves wavenumbers below {cfg.n // 2})")


def burgers_layout(cfg: Burgers1DConfig, split: str) -> SplitLayout:
    n_samples, steps = split_sizes(cfg, split)
    attrs = parameter_attrs(cfg)
    attrs.update(title=f"Viscous Burgers ({split})", system="burgers", equation="u_t + u u_x = nu u_xx, periodic",
                 dataset=cfg.name, split=split, dt=cfg.dt, nu=cfg.nu, L=cfg.L,
                 method="pseudo-spectral ETDRK4, 2/3 dealiasing, float64")
    return SplitLayout(fields={"u": (n_samples, steps + 1, cfg.n)}, time=np.arange(steps + 1) * cfg.dt,
                       space={"x": Burgers(n=cfg.n, L=cfg.L).grid.numpy()}, attrs=attrs)


def burgers_simulate(cfg: Burgers1DConfig, split: str, start: int, stop: int) -> dict[str, np.ndarray]:
    n_samples, steps = split_sizes(cfg, split)
    sim = Burgers(n=cfg.n, L=cfg.L, nu=cfg.nu)
    rng = np.random.default_rng([cfg.seed, split_index(split)])
    u0 = random_sines(sim.grid.numpy(), cfg.L, n_samples, cfg.n_sines, cfg.max_wavenumber, rng)[start:stop]
    device = resolve_device(cfg.device)
    with torch.no_grad():
        traj = sim.rollout(torch.as_tensor(u0, device=device), steps * cfg.substeps, cfg.dt / cfg.substeps,
                           save_every=cfg.substeps)
    return {"u": traj.cpu().numpy().astype(np.float32)}
