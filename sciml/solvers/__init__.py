"""The solver zoo, found by name: ``sciml.solvers.get("fno")``.

Each entry is a :class:`SolverSpec`: a config dataclass (the ``solver:`` section of a config, with its
``name``) and a ``build(config, io)`` that returns a :class:`NeuralSolver`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sciml.registry import Registry
from sciml.solvers.base import NeuralSolver, SolverIO
from sciml.solvers.fno import FNOConfig, build_fno
from sciml.solvers.unet import UNetConfig, build_unet


@dataclass(frozen=True)
class SolverSpec:
    config: type
    build: Callable[[Any, SolverIO], NeuralSolver]


registry: Registry[SolverSpec] = Registry("solver")
registry.register("fno", SolverSpec(FNOConfig, build_fno))
registry.register("unet", SolverSpec(UNetConfig, build_unet))


def get(name: str) -> SolverSpec:
    """The solver registered under ``name``; ``KeyError`` lists the known names."""
    return registry.get(name)


def build(cfg: Any, io: SolverIO) -> NeuralSolver:
    """Build the solver named by ``cfg.name`` from its config section."""
    return get(cfg.name).build(cfg, io)


__all__ = ["NeuralSolver", "SolverIO", "SolverSpec", "build", "get", "registry"]
