"""``ks1d``: Kuramoto–Sivashinsky trajectories, the PDE-Refiner setting (Lippe et al. 2023) scaled down."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

import sciml.recipes.checks as checks
from sciml.errors import ConfigError
from sciml.recipes.layout import SplitLayout, parameter_attrs, resolve_device, split_index, split_sizes
from sciml.sim import KuramotoSivashinsky


@dataclass
class KS1DConfig:
    """KS on ``[0, L)`` with ``n`` points; frames every ``dt`` time units after a discarded burn-in."""

    name: str = "ks1d"
    root: str = "data"  # where generated files are cached
    L: float = 64.0
    n: int = 256
    nu: float = 1.0
    nu_range: list[float] = field(default_factory=list)  # [lo, hi]: nu ~ U[lo, hi] per trajectory (param ``nu``)
    dt: float = 0.2  # time between stored frames
    substeps: int = 4  # ETDRK4 steps per stored frame (solver step dt / substeps)
    burn_in: float = 100.0  # time units simulated and discarded before the first frame
    n_sines: int = 10  # initial condition: sum of n_sines random sines
    max_wavenumber: int = 3  # integer wavenumbers of the sines drawn from 1..max_wavenumber
    n_train: int = 256
    n_valid: int = 32
    n_test: int = 32
    steps_train: int = 140  # stored frames after the first, per trajectory
    steps_eval: int = 640  # for valid and test
    seed: int = 0
    batch_size: int = 256  # trajectories simulated (and written) together
    device: str = "auto"  # where to simulate: auto (CUDA if present), cpu, cuda


def validate_ks1d(cfg: KS1DConfig) -> None:
    checks.common(cfg)
    checks.even_grid(cfg, "n")
    checks.positive(cfg, "n_sines", "max_wavenumber")
    if cfg.nu_range and (len(cfg.nu_range) != 2 or not 0 < cfg.nu_range[0] <= cfg.nu_range[1]):
        raise ConfigError(f"bad value for 'dataset.nu_range': {cfg.nu_range} (two numbers 0 < lo <= hi, or empty)")
    if cfg.max_wavenumber >= cfg.n // 2:
        raise ConfigError(f"bad value for 'dataset.max_wavenumber': {cfg.max_wavenumber} "
                                 f"(the grid of n={cfg.n} resolves wavenumbers below {cfg.n // 2})")


def random_sines(x: np.ndarray, L: float, n_samples: int, n_sines: int, max_k: int, rng) -> np.ndarray:
    """``u0 = sum_j A_j sin(2 pi l_j x / L + phi_j)``, A ~ U[-0.5, 0.5], l ~ U{1..max_k}, phi ~ U[0, 2pi)."""
    amp = rng.uniform(-0.5, 0.5, size=(n_samples, n_sines, 1))
    k = rng.integers(1, max_k + 1, size=(n_samples, n_sines, 1))
    phase = rng.uniform(0, 2 * math.pi, size=(n_samples, n_sines, 1))
    return (amp * np.sin(2 * math.pi * k * x / L + phase)).sum(axis=1)


def viscosities(cfg: KS1DConfig, split: str) -> np.ndarray:
    """``nu`` of every trajectory of a split ``(n_samples,)``: drawn from ``nu_range`` by the split's own
    seeded stream (independent of the initial conditions), or ``cfg.nu`` throughout."""
    n_samples, _ = split_sizes(cfg, split)
    if not cfg.nu_range:
        return np.full(n_samples, cfg.nu)
    rng = np.random.default_rng([cfg.seed, split_index(split), 1])
    return rng.uniform(cfg.nu_range[0], cfg.nu_range[1], size=n_samples)


def ks1d_layout(cfg: KS1DConfig, split: str) -> SplitLayout:
    n_samples, steps = split_sizes(cfg, split)
    attrs = parameter_attrs(cfg)
    attrs.update(
        title=f"Kuramoto-Sivashinsky trajectories ({split})",
        system="kuramoto_sivashinsky",
        equation="u_t + u u_x + u_xx + nu u_xxxx = 0, periodic on [0, L)",
        dataset=cfg.name,
        split=split,
        L=cfg.L,
        dt=cfg.dt,
        method="pseudo-spectral ETDRK4 (Kassam & Trefethen 2005), float64",
    )
    if cfg.nu_range:
        attrs["nu_range"] = list(cfg.nu_range)
    else:
        attrs["nu"] = cfg.nu
    return SplitLayout(
        fields={"u": (n_samples, steps + 1, cfg.n)},
        time=np.arange(steps + 1) * cfg.dt,
        space={"x": KuramotoSivashinsky(n=cfg.n, L=cfg.L).grid.numpy()},
        attrs=attrs,
        long_names={"u": "KS field"},
        params={"nu": viscosities(cfg, split)} if cfg.nu_range else {},
    )


def ks1d_simulate(cfg: KS1DConfig, split: str, start: int, stop: int) -> dict[str, np.ndarray]:
    """Trajectories ``start..stop-1`` of a split in float64, returned as float32 ``(B, steps + 1, n)``.

    The initial conditions of the whole split are drawn from one seeded stream, so a trajectory does not
    depend on how the split is batched.
    """
    n_samples, steps = split_sizes(cfg, split)
    device = resolve_device(cfg.device)
    grid = KuramotoSivashinsky(n=cfg.n, L=cfg.L).grid.numpy()
    rng = np.random.default_rng([cfg.seed, split_index(split)])
    u0 = random_sines(grid, cfg.L, n_samples, cfg.n_sines, cfg.max_wavenumber, rng)[start:stop]
    nus = viscosities(cfg, split)[start:stop]
    if cfg.nu_range:  # one simulator per viscosity
        parts = [_simulate(cfg, u0[i:i + 1], float(nus[i]), steps, device) for i in range(len(u0))]
        traj = torch.cat(parts)
    else:
        traj = _simulate(cfg, u0, cfg.nu, steps, device)
    if not torch.isfinite(traj).all():
        raise FloatingPointError(f"ks1d {split}: the simulation produced NaN/inf; lower dt or raise substeps")
    return {"u": traj.cpu().numpy().astype(np.float32)}


def _simulate(cfg: KS1DConfig, u0: np.ndarray, nu: float, steps: int, device) -> torch.Tensor:
    """``(B, steps + 1, n)`` frames every ``cfg.dt`` after the burn-in, in float64."""
    sim = KuramotoSivashinsky(n=cfg.n, L=cfg.L, nu=nu)
    h = cfg.dt / cfg.substeps
    burn_steps = int(round(cfg.burn_in / h))
    u = torch.as_tensor(u0, dtype=torch.float64, device=device)
    with torch.no_grad():
        u = sim.rollout(u, burn_steps, h, save_every=max(burn_steps, 1))[..., -1, :]
        return sim.rollout(u, steps * cfg.substeps, h, save_every=cfg.substeps)
