"""``mno``: the Multiscale Neural Operator closure (Lütjens et al. 2022) — a small 1D FNO over the coarse grid.

The closure maps the whole coarse state ``X`` ``(B, K)`` to the subgrid tendency ``(B, K)`` through
neuraloperator's FNO with few Fourier modes, so a grid point's term can depend on the whole large-scale
pattern (the local baselines see one point or a short stencil). No positional embedding: the closure is
translation-equivariant on the periodic ring, like the system, and one trained model runs at any ``K`` with
cost O(K log K) per call.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sciml.errors import ConfigError
from sciml.solvers.closure import ClosureSolver
from sciml.solvers.context import SolverContext
from sciml.solvers.fno import drop_neuralop_metadata


@dataclass
class MNOConfig:
    """A 1D FNO over the coarse grid index (Lütjens et al. 2022 keep few modes)."""

    name: str = "mno"
    modes: int = 4  # Fourier modes kept (at most K // 2 + 1)
    width: int = 32  # hidden channels
    n_layers: int = 4  # Fourier blocks


def validate_mno(cfg: MNOConfig) -> None:
    for key in ("modes", "width", "n_layers"):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"bad value for 'solver.{key}': {getattr(cfg, key)} (must be >= 1)")


class MNOClosure(ClosureSolver):
    """``tendency = mean_t + std_t FNO(z)`` with ``z`` the normalised coarse state, ``(B, *space)`` in and out."""

    def __init__(self, cfg: MNOConfig, context: SolverContext):
        super().__init__(context)
        from neuralop.models import FNO  # heavy import: only when an MNO is built

        if cfg.modes > min(context.spatial_shape) // 2 + 1:
            raise ValueError(f"solver.modes={cfg.modes} exceeds the grid's {min(context.spatial_shape) // 2 + 1} "
                             "modes")
        self.net = FNO(n_modes=(cfg.modes,) * context.ndim, in_channels=1, out_channels=1,
                       hidden_channels=cfg.width, n_layers=cfg.n_layers, positional_embedding=None)
        self.register_state_dict_post_hook(drop_neuralop_metadata)  # on the parent: the FNO adds it last

    def normalised_tendency(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.unsqueeze(1).to(next(self.net.parameters()).dtype)).squeeze(1)


def build_mno(cfg: MNOConfig, context: SolverContext) -> MNOClosure:
    if context.channels > 2 or context.ndim != 1:
        raise ValueError("the MNO closes a 1D coarse state (one field, plus the target field a priori)")
    return MNOClosure(cfg, context)

