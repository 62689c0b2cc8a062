"""``burgers2d``: the 2D vector viscous Burgers equation, MM-PDE's benchmark setting.

``u_t + (u . grad) u = nu lap u`` for ``u = (u, v)`` on the periodic ``[0, L)^2``, solved pseudo-spectrally
(:class:`sciml.sim.Burgers2D`, ETDRK4, 2/3 rule) on an ``n_sim^2`` grid and stored every ``n_sim / n``-th node
(MM-PDE: generated at 192^2, subsampled to 48^2, 31 frames). Initial velocities are random sums of ``n_sines``
plane waves with wavenumbers up to ``max_wavenumber``, scaled to a largest speed of ``amplitude``: the fronts
steepen into shocks of width about ``nu / amplitude``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

import sciml.recipes.checks as checks
from sciml.errors import ConfigError
from sciml.recipes.layout import SplitLayout, parameter_attrs, resolve_device, split_index, split_sizes
from sciml.sim import Burgers2D


@dataclass
class Burgers2DConfig:
    name: str = "burgers2d"
    root: str = "data"
    L: float = 1.0
    nu: float = 0.005
    n: int = 48  # stored grid
    n_sim: int = 192  # simulated grid (a multiple of n)
    dt: float = 0.025  # between stored frames
    substeps: int = 10  # solver steps per stored frame
    amplitude: float = 1.0  # largest initial speed
    n_sines: int = 6
    max_wavenumber: int = 3
    n_train: int = 64
    n_valid: int = 8
    n_test: int = 16
    steps_train: int = 30  # 31 frames
    steps_eval: int = 30
    seed: int = 0
    batch_size: int = 16
    device: str = "cpu"


def validate_burgers2d(cfg: Burgers2DConfig) -> None:
    checks.common(cfg)
    checks.even_grid(cfg, "n_sim")
    checks.positive(cfg, "amplitude", "n_sines", "max_wavenumber")
    if cfg.n_sim % cfg.n:
        raise ConfigError(f"dataset.n_sim={cfg.n_sim} must be a whole multiple of dataset.n={cfg.n}")
    if cfg.max_wavenumber >= cfg.n // 3:
        raise ConfigError(f"bad value for 'dataset.max_wavenumber': {cfg.max_wavenumber} (the stored grid of "
                          f"n={cfg.n} resolves the initial waves only below n/3)")


def random_velocity(cfg: Burgers2DConfig, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_samples, 2, n_sim, n_sim)``: each component a sum of ``n_sines`` plane waves, scaled so that the
    largest speed is ``amplitude``."""
    s = np.arange(cfg.n_sim) * cfg.L / cfg.n_sim
    x, y = np.meshgrid(s, s, indexing="ij")
    shape = (n_samples, 2, cfg.n_sines, 1, 1)
    amp = rng.uniform(-1, 1, shape)
    kx, ky = (rng.integers(-cfg.max_wavenumber, cfg.max_wavenumber + 1, shape) for _ in range(2))
    kx = np.where((kx == 0) & (ky == 0), 1, kx)  # no mean flow
    phase = rng.uniform(0, 2 * math.pi, shape)
    u = (amp * np.sin(2 * math.pi * (kx * x + ky * y) / cfg.L + phase)).sum(2)
    speed = np.sqrt((u**2).sum(1)).max(axis=(-2, -1))
    return u * (cfg.amplitude / speed)[:, None, None, None]


def burgers2d_layout(cfg: Burgers2DConfig, split: str) -> SplitLayout:
    n_samples, steps = split_sizes(cfg, split)
    s = np.arange(cfg.n) * cfg.L / cfg.n
    attrs = parameter_attrs(cfg)
    attrs.update(title=f"2D viscous Burgers ({split})", system="burgers2d",
                 equation="u_t + (u . grad) u = nu lap u, u = (u, v), periodic", dataset=cfg.name, split=split,
                 dt=cfg.dt, L=cfg.L, nu=cfg.nu, method=f"pseudo-spectral ETDRK4 at {cfg.n_sim}^2, subsampled")
    shape = (n_samples, steps + 1, cfg.n, cfg.n)
    return SplitLayout(fields={"u": shape, "v": shape}, time=np.arange(steps + 1) * cfg.dt, space={"x": s, "y": s},
                       attrs=attrs, long_names={"u": "x velocity", "v": "y velocity"})


def burgers2d_simulate(cfg: Burgers2DConfig, split: str, start: int, stop: int) -> dict[str, np.ndarray]:
    n_samples, steps = split_sizes(cfg, split)
    u0 = random_velocity(cfg, n_samples, np.random.default_rng([cfg.seed, split_index(split)]))[start:stop]
    sim = Burgers2D(n=cfg.n_sim, L=cfg.L, nu=cfg.nu)
    with torch.no_grad():
        traj = sim.rollout(torch.as_tensor(u0, device=resolve_device(cfg.device)), steps * cfg.substeps,
                           cfg.dt / cfg.substeps, save_every=cfg.substeps)  # (B, T, 2, n_sim, n_sim)
    every = cfg.n_sim // cfg.n
    stored = traj[..., ::every, ::every].cpu().numpy().astype(np.float32)
    return {"u": stored[:, :, 0], "v": stored[:, :, 1]}
