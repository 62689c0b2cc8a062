"""Differentiable simulators, batched over leading dimensions, float32/float64, any device."""

from sciml.sim.base import Simulator
from sciml.sim.ks import KuramotoSivashinsky

__all__ = ["KuramotoSivashinsky", "Simulator"]
