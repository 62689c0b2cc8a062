"""PDE parameters as solver inputs: scaled to O(1) by their training range, fed as constant channels.

Feeding the scaled parameters as extra constant input channels is the "conditional" baseline CAPE
(Takamoto et al. 2023) compares against; it is the built-in default of ``fno`` and ``unet``.
"""

from __future__ import annotations

import torch
from torch import nn

PARAM_SCALINGS = ("linear", "log")


class ParamScaling(nn.Module):
    """``(p - centre) / half_range`` per parameter: the training range maps to [-1, 1].

    With ``mode="log"`` the same map acts on ``log p``, so a parameter spread over decades (Burgers' ν from
    0.004 to 1) keeps its small values apart; it needs positive parameters. A parameter that is constant
    in training maps to ``(p - p0) / max(|p0|, 1)`` (0 at the training value). The centre and half range
    are buffers, so checkpoints carry them.
    Args:
      ranges: ``(min, max)`` per parameter over the training split.
      mode: ``linear`` or ``log``.
    """

    def __init__(self, ranges: tuple[tuple[float, float], ...], mode: str = "linear"):
        super().__init__()
        if mode not in PARAM_SCALINGS:
            raise ValueError(f"param scaling {mode!r}: choose from {', '.join(PARAM_SCALINGS)}")
        lo = torch.tensor([float(r[0]) for r in ranges], dtype=torch.float64)
        hi = torch.tensor([float(r[1]) for r in ranges], dtype=torch.float64)
        if mode == "log":
            if (lo <= 0).any():
                raise ValueError(f"log parameter scaling needs positive parameters; the training ranges are "
                                 f"{[tuple(map(float, r)) for r in ranges]}")
            lo, hi = lo.log(), hi.log()
        self.log_scale = mode == "log"
        half = (hi - lo) / 2
        flat = half <= 1e-12 * torch.maximum(lo.abs(), hi.abs()).clamp_min(1.0)
        self.register_buffer("centre", ((lo + hi) / 2).float())
        self.register_buffer("half_range", torch.where(flat, lo.abs().clamp_min(1.0), half).float())

    def forward(self, params: torch.Tensor) -> torch.Tensor:
        """``(B, P)`` in the file's units -> ``(B, P)`` scaled."""
        if self.log_scale:
            if not torch.compiler.is_compiling() and bool((params <= 0).any()):
                raise ValueError("log parameter scaling got a parameter <= 0")
            params = params.log()
        return (params - self.centre.to(params.dtype)) / self.half_range.to(params.dtype)


def constant_channels(x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
    """Append each scalar of ``cond`` ``(B, P)`` to ``x`` ``(B, C, *space)`` as a constant channel."""
    if cond is None or cond.shape[1] == 0:
        return x
    planes = cond.to(x.dtype).view(*cond.shape, *([1] * (x.dim() - 2))).expand(-1, -1, *x.shape[2:])
    return torch.cat([x, planes], dim=1)
