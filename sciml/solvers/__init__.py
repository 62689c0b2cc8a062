"""The solver zoo, found by name: ``sciml.solvers.get("fno")``.

Each entry is a :class:`SolverSpec`: a config dataclass (the ``solver:`` section of a config, with its
``name``), a ``build`` and a ``kind``. ``kind == "operator"`` (fno, unet): ``build(config, io)`` returns a
:class:`NeuralSolver` trained on a dataset. ``kind == "physics_informed"`` (pinn, pig): ``build(config,
problem, generator)`` returns a network ``u(points)`` trained on collocation points (:mod:`sciml.pinn`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sciml.pinn.config import PIGConfig, PINNConfig
from sciml.registry import Registry
from sciml.solvers.base import NeuralSolver, SolverIO
from sciml.solvers.fno import FNOConfig, build_fno
from sciml.solvers.unet import UNetConfig, build_unet


@dataclass(frozen=True)
class SolverSpec:
    config: type
    build: Callable[..., Any]
    kind: str = "operator"  # operator | physics_informed


def _build_physics_informed(cfg: Any, problem: Any, generator: Any = None) -> Any:
    from sciml.pinn.run import build_model

    return build_model(cfg, problem, generator)


registry: Registry[SolverSpec] = Registry("solver")
registry.register("fno", SolverSpec(FNOConfig, build_fno))
registry.register("unet", SolverSpec(UNetConfig, build_unet))
registry.register("pinn", SolverSpec(PINNConfig, _build_physics_informed, "physics_informed"))
registry.register("pig", SolverSpec(PIGConfig, _build_physics_informed, "physics_informed"))


def get(name: str) -> SolverSpec:
    """The solver registered under ``name``; ``KeyError`` lists the known names."""
    return registry.get(name)


def build(cfg: Any, io: SolverIO) -> NeuralSolver:
    """Build the solver named by ``cfg.name`` from its config section."""
    return get(cfg.name).build(cfg, io)


__all__ = ["NeuralSolver", "SolverIO", "SolverSpec", "build", "get", "registry"]
