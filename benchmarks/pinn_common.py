"""Shared by the physics-informed benchmarks: a solver built from an experiment's config, trained for a fixed
number of steps by the shared trainer in a throw-away run directory."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import torch

from sciml.config import load_config
from sciml.tasks.collocation import CollocationData, build_seed
from sciml.training import Trainer, default_dtype


def config(*args: str):
    """A physics-informed config: validation on a 16-point-per-axis grid, nothing written until the end."""
    return load_config([*args, "trainer.eval_points=256", "trainer.progress=lines", "trainer.snapshots=0"])


def train_steps(cfg, solver, steps: int, device: torch.device, lbfgs: int = 0) -> float:
    """Train ``solver`` for ``steps`` Adam steps (or ``lbfgs`` L-BFGS iterations after 1 Adam step); seconds."""
    import time

    t = replace(cfg.trainer, max_steps=steps if not lbfgs else 1, eval_every=10**9, checkpoint_every=10**9,
                log_every=10**9, lbfgs_steps=lbfgs)
    with tempfile.TemporaryDirectory() as d, default_dtype(cfg.trainer.dtype), torch.device(device):
        trainer = Trainer(t, solver, CollocationData(), checkpoint_dir=Path(d), metrics_path=Path(d) / "m.csv",
                          config={}, device=device, lbfgs_steps=lbfgs)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        trainer.fit()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start


def solver_for(cfg, device: torch.device, seed: int = 0):
    """The experiment's solver (problem, network, sampler) on ``device`` in the config's dtype."""
    with default_dtype(cfg.trainer.dtype), torch.device(device):
        return build_seed(cfg, seed, device)
