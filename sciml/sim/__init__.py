"""Differentiable simulators, batched over leading dimensions, float32/float64, any device."""

from sciml.sim.base import Simulator
from sciml.sim.burgers import Burgers
from sciml.sim.ks import KuramotoSivashinsky
from sciml.sim.lorenz96 import Lorenz96, TwoScaleLorenz96, lyapunov_exponents
from sciml.sim.ns2d import NavierStokes2D

__all__ = [
    "Burgers",
    "KuramotoSivashinsky",
    "Lorenz96",
    "NavierStokes2D",
    "Simulator",
    "TwoScaleLorenz96",
    "lyapunov_exponents",
]
