"""FNO baseline: neuraloperator's ``FNO``, with PDE parameters as constant input channels."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from sciml.errors import ConfigError
from sciml.solvers.conditioning import constant_channels
from sciml.solvers.context import SolverContext
from sciml.solvers.emulator import PREDICT, NeuralSolver


@dataclass
class FNOConfig:
    """Fourier neural operator (Li et al. 2021) as implemented by neuraloperator."""

    name: str = "fno"
    modes: int = 16  # Fourier modes kept per spatial dimension
    width: int = 64  # hidden channels
    n_layers: int = 4  # Fourier blocks
    predict: str = "residual"  # "residual" (u(t+dt) - u(t)) or "state"
    bundle: int = 1  # frames predicted per call (temporal bundling; MP-PDE's FNO-PF baseline: 25)


def validate_fno(cfg: FNOConfig) -> None:
    for key in ("modes", "width", "n_layers", "bundle"):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"bad value for 'solver.{key}': {getattr(cfg, key)} (must be >= 1)")
    if cfg.predict not in PREDICT:
        raise ConfigError(f"bad value for 'solver.predict': {cfg.predict!r} (residual or state)")


class FNONet(nn.Module):
    """``(B, C_in, *space), (B, n_cond) -> (B, C_out, *space)`` with neuraloperator's FNO inside."""

    def __init__(self, in_channels: int, out_channels: int, n_cond: int, ndim: int, cfg: FNOConfig):
        super().__init__()
        from neuralop.models import FNO  # heavy import (pulls in wandb): only when an FNO is built

        self.n_cond = n_cond
        self.fno = FNO(
            n_modes=(cfg.modes,) * ndim,
            in_channels=in_channels + n_cond,
            out_channels=out_channels,
            hidden_channels=cfg.width,
            n_layers=cfg.n_layers,
        )
        self.register_state_dict_post_hook(drop_neuralop_metadata)

    def _apply(self, fn, recurse: bool = True):
        """neuraloperator's grid embedding caches its coordinate grid as a plain attribute on the device of the
        first call; a model moved afterwards (``.cuda()`` after a CPU call) would mix devices: drop the cache."""
        out = super()._apply(fn, recurse)
        embedding = getattr(self.fno, "positional_embedding", None)
        if embedding is not None and hasattr(embedding, "_grid"):
            embedding._grid, embedding._res = None, None
        return out

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if self.n_cond and (cond is None or cond.shape != (x.shape[0], self.n_cond)):
            raise ValueError(f"FNO expects cond of shape ({x.shape[0]}, {self.n_cond})")
        return self.fno(constant_channels(x, cond))


def drop_neuralop_metadata(module: nn.Module, state_dict: dict, prefix: str, local_metadata: dict) -> None:
    """neuraloperator stores its constructor arguments (functions included) under ``_metadata`` in the
    state dict, which ``torch.load(weights_only=True)`` refuses; our config rebuilds the model instead."""
    state_dict.pop("_metadata", None)


def build_fno(cfg: FNOConfig, context: SolverContext) -> NeuralSolver:
    """An FNO one-step solver for ``context``: ``history x channels`` inputs plus one channel per parameter."""
    if cfg.modes > min(context.spatial_shape) // 2 + 1:
        raise ValueError(f"solver.modes={cfg.modes} exceeds the grid's {min(context.spatial_shape) // 2 + 1} modes")
    net = FNONet(context.history * context.channels, cfg.bundle * context.channels, context.n_params, context.ndim,
                 cfg)
    return NeuralSolver(net, context, predict=cfg.predict, bundle=cfg.bundle)
