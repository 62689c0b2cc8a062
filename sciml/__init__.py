"""sciml: neural PDE solvers and learned closures on differentiable PyTorch simulators."""

__version__ = "0.1.0"
