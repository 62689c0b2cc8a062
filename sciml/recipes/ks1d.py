"""``ks1d``: Kuramoto–Sivashinsky trajectories, the PDE-Refiner setting (Lippe et al. 2023) scaled down."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import xarray as xr
from tqdm.auto import tqdm

from sciml.data import trajectories_dataset
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
    batch_size: int = 256  # trajectories simulated together
    device: str = "auto"  # where to simulate: auto (CUDA if present), cpu, cuda


def random_sines(x: np.ndarray, L: float, n_samples: int, n_sines: int, max_k: int, rng) -> np.ndarray:
    """``u0 = sum_j A_j sin(2 pi l_j x / L + phi_j)``, A ~ U[-0.5, 0.5], l ~ U{1..max_k}, phi ~ U[0, 2pi)."""
    amp = rng.uniform(-0.5, 0.5, size=(n_samples, n_sines, 1))
    k = rng.integers(1, max_k + 1, size=(n_samples, n_sines, 1))
    phase = rng.uniform(0, 2 * math.pi, size=(n_samples, n_sines, 1))
    return (amp * np.sin(2 * math.pi * k * x / L + phase)).sum(axis=1)


def generate_ks1d(cfg: KS1DConfig, split: str, progress: bool = True) -> xr.Dataset:
    """Simulate one split in float64 and return it in our schema (fields stored as float32)."""
    split_index = ("train", "valid", "test").index(split)
    n_samples = (cfg.n_train, cfg.n_valid, cfg.n_test)[split_index]
    steps = cfg.steps_train if split == "train" else cfg.steps_eval
    device = torch.device("cuda" if cfg.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if cfg.device == "auto" else cfg.device))
    sim = KuramotoSivashinsky(n=cfg.n, L=cfg.L, nu=cfg.nu)
    x = sim.grid.numpy()
    rng = np.random.default_rng([cfg.seed, split_index])
    u0 = random_sines(x, cfg.L, n_samples, cfg.n_sines, cfg.max_wavenumber, rng)
    h = cfg.dt / cfg.substeps
    burn_steps = int(round(cfg.burn_in / h))
    out = np.empty((n_samples, steps + 1, cfg.n), dtype=np.float32)
    batches = range(0, n_samples, cfg.batch_size)
    for start in tqdm(batches, desc=f"ks1d {split}", disable=not progress, leave=False):
        u = torch.as_tensor(u0[start:start + cfg.batch_size], dtype=torch.float64, device=device)
        with torch.no_grad():
            u = sim.rollout(u, burn_steps, h, save_every=max(burn_steps, 1))[..., -1, :]
            traj = sim.rollout(u, steps * cfg.substeps, h, save_every=cfg.substeps)
        if not torch.isfinite(traj).all():
            raise FloatingPointError(f"ks1d {split}: the simulation produced NaN/inf; lower dt or raise substeps")
        out[start:start + len(u)] = traj.cpu().numpy()
    attrs = {f"param_{k}": v for k, v in asdict(cfg).items() if k not in ("root", "device", "name")}
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
    return trajectories_dataset(
        {"u": out},
        time=np.arange(steps + 1) * cfg.dt,
        space={"x": x},
        attrs=attrs,
        long_names={"u": "KS field"},
    )
