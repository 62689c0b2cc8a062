"""Mesh-free physics-informed solvers: PDE problems with reference solutions, collocation samplers
(uniform, R3, causal R3, RAD, RAR-D) and the propagation-failure monitor."""

from sciml.pinn.monitor import ResidualStats, residual_stats
from sciml.pinn.problems import (
    PROBLEMS,
    AllenCahn,
    Box,
    Convection,
    FlowMixing,
    Helmholtz2D,
    KleinGordon,
    Problem,
    get_problem,
)
from sciml.pinn.samplers import (
    R3,
    RAD,
    RARD,
    CausalR3,
    Sampler,
    SamplerReport,
    UniformFixed,
    UniformResampled,
    causal_gate,
)

__all__ = [
    "PROBLEMS", "RAD", "RARD", "R3", "AllenCahn", "Box", "CausalR3", "Convection", "FlowMixing", "Helmholtz2D",
    "KleinGordon", "Problem", "ResidualStats", "Sampler", "SamplerReport", "UniformFixed", "UniformResampled",
    "causal_gate", "get_problem", "residual_stats",
]
