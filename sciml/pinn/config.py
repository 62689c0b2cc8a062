"""The ``problem:`` and ``sampler:`` config sections of physics-informed runs, and what they build.

``problem:`` is typed by ``problem.name`` as ``solver:`` is by ``solver.name``; there is no dataset: the
problem's reference solution is the truth. The networks (``pinn``, ``pig``) are in
:mod:`sciml.solvers.physics_informed`, the training settings in :mod:`sciml.tasks.collocation`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import torch

from sciml.pinn.problems import Problem, get_problem
from sciml.pinn.samplers import R3, RAD, RARD, CausalR3, Sampler, UniformFixed, UniformResampled


@dataclass
class ConvectionConfig:
    name: str = "convection"
    beta: float = 50.0


@dataclass
class AllenCahnConfig:
    name: str = "allen_cahn"
    diffusion: float = 1e-4


@dataclass
class Helmholtz2DConfig:
    name: str = "helmholtz2d"
    a1: float = 4.0
    a2: float = 1.0
    k: float = 1.0


@dataclass
class KleinGordonConfig:
    name: str = "klein_gordon"
    k: float = 1.0
    t_end: float = 10.0


@dataclass
class FlowMixingConfig:
    name: str = "flow_mixing"
    half_width: float = 4.0
    t_end: float = 4.0


PROBLEM_CONFIGS: dict[str, type] = {
    c().name: c for c in (ConvectionConfig, AllenCahnConfig, Helmholtz2DConfig, KleinGordonConfig, FlowMixingConfig)
}
SAMPLERS = ("uniform", "resampled", "r3", "causal_r3", "rad", "rar_d")


@dataclass
class SamplerConfig:
    name: str = "r3"  # uniform | resampled | r3 | causal_r3 | rad | rar_d
    points: int = 1000  # collocation points (the population; RAR-D starts here and grows)
    every: int = 1  # resampled / RAD / RAR-D: updates between redraws
    causal_alpha: float = 5.0  # causal R3: gate steepness
    causal_beta0: float = -0.5  # causal R3: initial gate position in normalised time
    causal_eta: float = 1e-3  # causal R3: gate speed
    causal_epsilon: float = 20.0  # causal R3: loss scale of the gate speed
    rad_k: float = 1.0  # RAD / RAR-D density |r|^k / mean|r|^k + c
    rad_c: float = 1.0
    candidates: int = 10000  # RAD / RAR-D candidate points scored per redraw
    rar_add: int = 100  # RAR-D: points added per redraw


def build_problem(cfg: Any) -> Problem:
    """The problem named by ``cfg.name`` with the section's other keys as parameters."""
    return get_problem(cfg.name, **{f.name: getattr(cfg, f.name) for f in fields(cfg) if f.name != "name"})


def build_sampler(cfg: SamplerConfig, problem: Problem, generator: torch.Generator | None = None) -> Sampler:
    """The sampler named by ``cfg.name`` over ``problem``'s domain."""
    box, n = problem.domain, cfg.points
    if cfg.name == "uniform":
        return UniformFixed(box, n, generator)
    if cfg.name == "resampled":
        return UniformResampled(box, n, generator, every=cfg.every)
    if cfg.name == "r3":
        return R3(box, n, generator)
    if cfg.name == "causal_r3":
        if problem.time_axis is None:
            raise ValueError(f"causal R3 needs a time axis; problem {problem.name!r} has none")
        return CausalR3(box, n, problem.time_axis, generator, alpha=cfg.causal_alpha, beta0=cfg.causal_beta0,
                        eta=cfg.causal_eta, epsilon=cfg.causal_epsilon)
    rad = {"k": cfg.rad_k, "c": cfg.rad_c, "n_candidates": cfg.candidates, "every": cfg.every}
    if cfg.name == "rad":
        return RAD(box, n, generator, **rad)
    if cfg.name == "rar_d":
        return RARD(box, n, generator, n_add=cfg.rar_add, **rad)
    raise ValueError(f"unknown sampler {cfg.name!r} (known: {', '.join(SAMPLERS)})")
