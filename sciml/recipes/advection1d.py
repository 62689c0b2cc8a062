"""``advection1d``: linear advection ``u_t + beta u_x = 0`` with a speed per trajectory, solved exactly.

The PDEBench / CAPE setting: periodic ``[0, L)``, random sums of sines as initial conditions, speeds
``beta`` drawn per trajectory from a list (PDEBench: 0.1 ... 4.0; CAPE trains on a subset and tests
held-out values). The solution is the initial condition shifted by ``beta t``, applied as a phase in
Fourier space, exact to round-off for the band-limited initial conditions. ``beta`` is stored as a
per-sample parameter (``task.params: [beta]``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

import sciml.recipes.checks as checks
from sciml.errors import ConfigError
from sciml.recipes.ks1d import random_sines
from sciml.recipes.layout import SplitLayout, parameter_attrs, split_index, split_sizes


@dataclass
class Advection1DConfig:
    name: str = "advection1d"
    root: str = "data"
    L: float = 1.0
    n: int = 128
    dt: float = 0.01  # between stored frames
    speeds: list[float] = field(default_factory=lambda: [0.2, 0.4, 0.7, 2.0, 4.0])  # beta drawn from these
    speeds_test: list[float] = field(default_factory=list)  # test split's speeds (empty: as train and valid)
    n_sines: int = 4
    max_wavenumber: int = 4
    n_train: int = 256
    n_valid: int = 32
    n_test: int = 32
    steps_train: int = 100
    steps_eval: int = 100
    seed: int = 0
    batch_size: int = 256
    device: str = "cpu"  # exact solution in NumPy


def validate_advection1d(cfg: Advection1DConfig) -> None:
    checks.common(cfg)
    checks.even_grid(cfg, "n")
    checks.positive(cfg, "n_sines", "max_wavenumber")
    if not cfg.speeds:
        raise ConfigError("dataset.speeds is empty")
    if cfg.max_wavenumber >= cfg.n // 2:
        raise ConfigError(f"bad value for 'dataset.max_wavenumber': {cfg.max_wavenumber} "
                          f"(the grid of n={cfg.n} resolves wavenumbers below {cfg.n // 2})")


def speeds(cfg: Advection1DConfig, split: str) -> np.ndarray:
    """The speed of every trajectory of a split, ``(n_samples,)``, drawn from the split's own seeded stream."""
    n_samples, _ = split_sizes(cfg, split)
    choices = cfg.speeds_test if split == "test" and cfg.speeds_test else cfg.speeds
    rng = np.random.default_rng([cfg.seed, split_index(split), 1])
    return np.asarray(choices, dtype=float)[rng.integers(0, len(choices), n_samples)]


def advection_layout(cfg: Advection1DConfig, split: str) -> SplitLayout:
    n_samples, steps = split_sizes(cfg, split)
    attrs = parameter_attrs(cfg)
    attrs.update(title=f"Linear advection ({split})", system="advection", equation="u_t + beta u_x = 0, periodic",
                 dataset=cfg.name, split=split, dt=cfg.dt, L=cfg.L, method="exact (spectral shift), float64")
    return SplitLayout(fields={"u": (n_samples, steps + 1, cfg.n)}, time=np.arange(steps + 1) * cfg.dt,
                       space={"x": np.arange(cfg.n) * cfg.L / cfg.n}, attrs=attrs,
                       params={"beta": speeds(cfg, split)}, long_names={"u": "advected field"})


def advection_simulate(cfg: Advection1DConfig, split: str, start: int, stop: int) -> dict[str, np.ndarray]:
    n_samples, steps = split_sizes(cfg, split)
    x = np.arange(cfg.n) * cfg.L / cfg.n
    rng = np.random.default_rng([cfg.seed, split_index(split)])
    u0 = random_sines(x, cfg.L, n_samples, cfg.n_sines, cfg.max_wavenumber, rng)[start:stop]
    beta = speeds(cfg, split)[start:stop]
    k = 2 * math.pi * np.fft.rfftfreq(cfg.n, d=cfg.L / cfg.n)
    t = np.arange(steps + 1) * cfg.dt
    phase = np.exp(-1j * k[None, None, :] * beta[:, None, None] * t[None, :, None])  # (B, T, K)
    u = np.fft.irfft(np.fft.rfft(u0, axis=-1)[:, None, :] * phase, n=cfg.n, axis=-1)
    return {"u": u.astype(np.float32)}
