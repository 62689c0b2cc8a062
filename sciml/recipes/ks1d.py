"""``ks1d``: Kuramoto–Sivashinsky trajectories, the PDE-Refiner setting (Lippe et al. 2023) scaled down."""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    if cfg.max_wavenumber >= cfg.n // 2:
        raise ConfigError(f"bad value for 'dataset.max_wavenumber': {cfg.max_wavenumber} "
                                 f"(the grid of n={cfg.n} resolves wavenumbers below {cfg.n // 2})")


def random_sines(x: np.ndarray, L: float, n_samples: int, n_sines: int, max_k: int, rng) -> np.ndarray:
    """``u0 = sum_j A_j sin(2 pi l_j x / L + phi_j)``, A ~ U[-0.5, 0.5], l ~ U{1..max_k}, phi ~ U[0, 2pi)."""
    amp = rng.uniform(-0.5, 0.5, size=(n_samples, n_sines, 1))
    k = rng.integers(1, max_k + 1, size=(n_samples, n_sines, 1))
    phase = rng.uniform(0, 2 * math.pi, size=(n_samples, n_sines, 1))
    return (amp * np.sin(2 * math.pi * k * x / L + phase)).sum(axis=1)


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
        nu=cfg.nu,
        dt=cfg.dt,
        method="pseudo-spectral ETDRK4 (Kassam & Trefethen 2005), float64",
    )
    return SplitLayout(
        fields={"u": (n_samples, steps + 1, cfg.n)},
        time=np.arange(steps + 1) * cfg.dt,
        space={"x": KuramotoSivashinsky(n=cfg.n, L=cfg.L).grid.numpy()},
        attrs=attrs,
        long_names={"u": "KS field"},
    )


def ks1d_simulate(cfg: KS1DConfig, split: str, start: int, stop: int) -> dict[str, np.ndarray]:
    """Trajectories ``start..stop-1`` of a split in float64, returned as float32 ``(B, steps + 1, n)``.

    The initial conditions of the whole split are drawn from one seeded stream, so a trajectory does not
    depend on how the split is batched.
    """
    n_samples, steps = split_sizes(cfg, split)
    device = resolve_device(cfg.device)
    sim = KuramotoSivashinsky(n=cfg.n, L=cfg.L, nu=cfg.nu)
    rng = np.random.default_rng([cfg.seed, split_index(split)])
    u0 = random_sines(sim.grid.numpy(), cfg.L, n_samples, cfg.n_sines, cfg.max_wavenumber, rng)[start:stop]
    h = cfg.dt / cfg.substeps
    burn_steps = int(round(cfg.burn_in / h))
    u = torch.as_tensor(u0, dtype=torch.float64, device=device)
    with torch.no_grad():
        u = sim.rollout(u, burn_steps, h, save_every=max(burn_steps, 1))[..., -1, :]
        traj = sim.rollout(u, steps * cfg.substeps, h, save_every=cfg.substeps)
    if not torch.isfinite(traj).all():
        raise FloatingPointError(f"ks1d {split}: the simulation produced NaN/inf; lower dt or raise substeps")
    return {"u": traj.cpu().numpy().astype(np.float32)}
