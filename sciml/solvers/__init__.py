"""The solver zoo, found by name: ``sciml.solvers.get("fno")``.

Each entry is a :class:`SolverSpec`: the config dataclass of its ``solver:`` section, ``build(config,
context)``, the tasks it can be trained by (the first is its default) and an optional ``validate(config)``
that rejects keys which would be ignored or conflict. Trajectory solvers are built from a
:class:`SolverContext`; physics-informed ones from a :class:`CollocationContext`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sciml.registry import Registry
from sciml.solvers.autoregressive import AutoregressiveSolver
from sciml.solvers.base import Solver
from sciml.solvers.cape import CAPEConfig, build_cape, validate_cape
from sciml.solvers.closure import (
    ClosureSolver,
    ClosureTraining,
    LocalMLPClosureConfig,
    PolynomialClosureConfig,
    build_local_mlp,
    build_polynomial,
)
from sciml.solvers.cnn_closure import CNNClosureConfig, build_cnn_closure, validate_cnn_closure
from sciml.solvers.context import SolverContext, grid_context
from sciml.solvers.emulator import NeuralSolver
from sciml.solvers.fno import FNOConfig, build_fno, validate_fno
from sciml.solvers.le_pde import LEPDEConfig, LEPDEMambaConfig, build_le_pde, validate_le_pde
from sciml.solvers.mesh_mover import MeshMover, MeshMoverConfig, build_mesh_mover, validate_mesh_mover
from sciml.solvers.mm_pde import MMPDEConfig, build_mm_pde, validate_mm_pde
from sciml.solvers.mno import MNOConfig, build_mno, validate_mno
from sciml.solvers.mp_pde import MPPDEConfig, build_mp_pde, validate_mp_pde
from sciml.solvers.pde_refiner import PDERefinerConfig, build_pde_refiner, validate_pde_refiner
from sciml.solvers.physics_informed import (
    CollocationContext,
    PhysicsInformedSolver,
    PIGConfig,
    PINNConfig,
    build_physics_informed,
    validate_pig,
    validate_pinn,
)
from sciml.solvers.unet import UNetConfig, build_unet, validate_unet
from sciml.solvers.unroll import UnrollPlan


@dataclass(frozen=True)
class SolverSpec:
    config: type
    build: Callable[[Any, Any], Solver]
    tasks: tuple[str, ...] = ("trajectory",)  # the first is the default task
    validate: Callable[[Any], None] | None = None


registry: Registry[SolverSpec] = Registry("solver")
registry.register("fno", SolverSpec(FNOConfig, build_fno, validate=validate_fno))
registry.register("unet", SolverSpec(UNetConfig, build_unet, validate=validate_unet))
registry.register("mp_pde", SolverSpec(MPPDEConfig, build_mp_pde, validate=validate_mp_pde))
registry.register("mm_pde", SolverSpec(MMPDEConfig, build_mm_pde, validate=validate_mm_pde))
registry.register("pde_refiner", SolverSpec(PDERefinerConfig, build_pde_refiner, validate=validate_pde_refiner))
registry.register("cape", SolverSpec(CAPEConfig, partial(build_cape, lookup=registry.get),
                                     validate=partial(validate_cape, lookup=registry.get)))
registry.register("le_pde", SolverSpec(LEPDEConfig, build_le_pde, validate=validate_le_pde))
registry.register("le_pde_mamba", SolverSpec(LEPDEMambaConfig, build_le_pde, validate=validate_le_pde))
registry.register("polynomial", SolverSpec(PolynomialClosureConfig, build_polynomial, ("closure",)))
registry.register("local_mlp", SolverSpec(LocalMLPClosureConfig, build_local_mlp, ("closure",)))
registry.register("mno", SolverSpec(MNOConfig, build_mno, ("closure",), validate_mno))
registry.register("cnn_closure", SolverSpec(CNNClosureConfig, build_cnn_closure, ("closure",), validate_cnn_closure))
registry.register("mesh_mover", SolverSpec(MeshMoverConfig, build_mesh_mover, ("mesh",), validate_mesh_mover))
registry.register("pinn", SolverSpec(PINNConfig, build_physics_informed, ("collocation",), validate_pinn))
registry.register("pig", SolverSpec(PIGConfig, build_physics_informed, ("collocation",), validate_pig))


def get(name: str) -> SolverSpec:
    """The solver registered under ``name``; ``KeyError`` lists the known names."""
    return registry.get(name)


def build(cfg: Any, context: Any) -> Solver:
    """Build the solver named by ``cfg.name`` from its config section and a context."""
    return get(cfg.name).build(cfg, context)


__all__ = ["AutoregressiveSolver", "ClosureSolver", "ClosureTraining", "CollocationContext", "MeshMover",
           "NeuralSolver", "PhysicsInformedSolver", "Solver", "SolverContext", "SolverSpec", "UnrollPlan", "build",
           "get", "grid_context", "registry"]
