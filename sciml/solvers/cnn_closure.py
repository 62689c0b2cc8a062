"""``cnn_closure``: a periodic convolutional closure of a 1D or 2D coarse field (the usual learned LES closure
of 2D turbulence: Guan et al. 2022, Frezat et al. 2022, Maddu et al. 2024 use such CNNs).

The network maps the normalised coarse vorticity to the normalised subgrid tendency with circularly padded
convolutions (the domain is periodic), so it is local (receptive field ``layers x (kernel - 1) + 1`` points),
translation-equivariant and runs on any grid size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from sciml.errors import ConfigError
from sciml.solvers.closure import ClosureSolver
from sciml.solvers.context import SolverContext


@dataclass
class CNNClosureConfig:
    """A stack of periodic convolutions, GELU between them."""

    name: str = "cnn_closure"
    width: int = 16  # hidden channels
    layers: int = 5  # convolutions (the last maps to the tendency)
    kernel: int = 5  # odd kernel size per axis


def validate_cnn_closure(cfg: CNNClosureConfig) -> None:
    for key in ("width", "layers", "kernel"):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"bad value for 'solver.{key}': {getattr(cfg, key)} (must be >= 1)")
    if cfg.kernel % 2 == 0:
        raise ConfigError(f"bad value for 'solver.kernel': {cfg.kernel} (must be odd: centred stencils)")


class CNNClosure(ClosureSolver):
    """``tendency = mean_t + std_t CNN(z)``, ``z`` the normalised state ``(B, *space)``; same shape out."""

    def __init__(self, cfg: CNNClosureConfig, context: SolverContext):
        super().__init__(context)
        if context.ndim not in (1, 2):
            raise ValueError(f"cnn_closure closes 1D or 2D fields, got {context.ndim}D")
        conv = nn.Conv1d if context.ndim == 1 else nn.Conv2d
        channels = [1] + [cfg.width] * (cfg.layers - 1) + [1]
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip(channels[:-1], channels[1:], strict=True)):
            layers.append(conv(c_in, c_out, cfg.kernel, padding=cfg.kernel // 2, padding_mode="circular"))
            if i < cfg.layers - 1:
                layers.append(nn.GELU())
        self.net = nn.Sequential(*layers)

    def normalised_tendency(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.unsqueeze(1).to(self.net[0].weight.dtype)).squeeze(1)


def build_cnn_closure(cfg: CNNClosureConfig, context: SolverContext) -> CNNClosure:
    return CNNClosure(cfg, context)
