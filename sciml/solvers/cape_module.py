"""The CAPE module (Takamoto, Alesiani, Niepert, ICML 2023): PDE parameters as channel attention over a few
convolutions of the input, giving a parameter-aware intermediate guess of the next state.

Implemented from the paper's description, on normalised fields ``x`` ``(B, C_in, *space)`` and scaled
parameters ``p`` ``(B, P)``, with a hidden width ``D`` (a multiple of ``C_in``)::

    a_1, a_2, a_3 = MLP_1(p), MLP_2(p), MLP_3(p)                                   each (B, D)
    h = a_1 * S(pool(x)) + a_2 * W_1 x + a_3 * K * x + W_0 x                      (B, D, *space)
    ũ = x_last + W_out GELU(h)            (output_norm: none)
    ũ = LN(x_last + W_out GELU(h))        (output_norm: layer; LN over channels and space, per sample)

``S`` is a spectral convolution (neuraloperator's ``SpectralConv``) of the average-pooled input, evaluated
back on the full grid; ``W_0``, ``W_1``, ``W_out`` are 1x1 convolutions; ``K`` is a depthwise convolution
whose kernel is a function of physical offset (:class:`PhysicalDepthwiseConv`), so the module runs at any
resolution of the same domain. The released code's fixed 5-tap kernels tie it to one resolution.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

OUTPUT_NORMS = ("none", "layer")


def _conv1x1(ndim: int, cin: int, cout: int) -> nn.Module:
    return (nn.Conv1d if ndim == 1 else nn.Conv2d)(cin, cout, 1)


class PhysicalDepthwiseConv(nn.Module):
    """Depthwise convolution ``(B, C, *space) -> (B, C * multiplier, *space)``, periodic, with a kernel
    defined on physical offsets.

    The kernel is stored as ``taps`` values per axis at offsets ``j * spacing``, ``|j| <= taps // 2``, of the
    grid it was built for. On a grid of another spacing it is resampled (linear interpolation) at that grid's
    offsets inside the same physical support and scaled by the spacing ratio, a quadrature of the same
    integral ``∫ κ(s) u(x - s) ds``; on the original grid it is an ordinary depthwise convolution.
    Args:
      channels: input channels.
      multiplier: output channels per input channel.
      taps: kernel size on the original grid (odd).
      spacing: grid spacing per axis of the original grid, in length units.
    """

    def __init__(self, channels: int, multiplier: int, taps: int, spacing: tuple[float, ...]):
        super().__init__()
        if taps < 1 or taps % 2 == 0:
            raise ValueError(f"depthwise kernel taps must be odd and >= 1, got {taps}")
        self.ndim, self.channels, self.taps = len(spacing), channels, taps
        self.spacing = tuple(float(s) for s in spacing)
        conv = (nn.Conv1d if self.ndim == 1 else nn.Conv2d)(channels, channels * multiplier, taps,
                                                             groups=channels)
        self.weight, self.bias = conv.weight, conv.bias  # initialised as PyTorch initialises a convolution

    def kernel(self, spacing: tuple[float, ...]) -> torch.Tensor:
        """The kernel ``(C * multiplier, 1, *k)`` for a grid of ``spacing`` per axis."""
        ratios = [s / s0 for s, s0 in zip(spacing, self.spacing, strict=True)]
        if all(math.isclose(r, 1.0, rel_tol=1e-9) for r in ratios):
            return self.weight
        radius = self.taps // 2
        weight = self.weight
        for axis, ratio in enumerate(ratios):  # separable linear interpolation, axis by axis
            half = math.floor(radius / ratio + 1e-9)
            where = torch.arange(-half, half + 1, dtype=weight.dtype, device=weight.device) * ratio + radius
            low = where.floor().clamp(0, self.taps - 1).long()
            high = (low + 1).clamp(max=self.taps - 1)
            frac = (where - low.to(where.dtype)).view(*([1] * (axis + 2)), -1, *([1] * (self.ndim - axis - 1)))
            dim = axis + 2
            weight = (weight.index_select(dim, low) * (1 - frac) + weight.index_select(dim, high) * frac) * ratio
        return weight

    def forward(self, x: torch.Tensor, spacing: tuple[float, ...] | None = None) -> torch.Tensor:
        kernel = self.kernel(spacing or self.spacing)
        pads = [p for k in reversed(kernel.shape[2:]) for p in (k // 2, k // 2)]
        conv = F.conv1d if self.ndim == 1 else F.conv2d
        return conv(F.pad(x, pads, mode="circular"), kernel, self.bias, groups=self.channels)


class CAPEModule(nn.Module):
    """``(B, C_in, *space), (B, P) -> (B, C_out, *space)``: the parameter-aware guess of the next state.

    Args:
      in_channels: input channels (``history x channels``, normalised).
      out_channels: channels of the guess (the last ``out_channels`` input channels are its residual base).
      n_params: PDE parameters.
      spacing: grid spacing per axis of the training grid (length units).
      multiplier: hidden channels per input channel (``D = multiplier * in_channels``).
      modes: Fourier modes of the spectral branch per axis.
      pool: average-pooling factor before the spectral branch.
      taps: depthwise kernel size on the training grid.
      attention_hidden: width of the three attention MLPs.
      output_norm: ``none`` or ``layer`` (see the module docstring).
    """

    def __init__(self, in_channels: int, out_channels: int, n_params: int, spacing: tuple[float, ...],
                 multiplier: int = 4, modes: int = 8, pool: int = 2, taps: int = 5, attention_hidden: int = 64,
                 output_norm: str = "none"):
        super().__init__()
        from neuralop.layers.spectral_convolution import SpectralConv

        if n_params < 1:
            raise ValueError("CAPE needs at least one PDE parameter (set task.params)")
        if output_norm not in OUTPUT_NORMS:
            raise ValueError(f"output_norm must be one of {OUTPUT_NORMS}, got {output_norm!r}")
        ndim = len(spacing)
        hidden = multiplier * in_channels
        self.ndim, self.pool, self.out_channels = ndim, pool, out_channels
        self.attention = nn.ModuleList(
            nn.Sequential(nn.Linear(n_params, attention_hidden), nn.GELU(), nn.Linear(attention_hidden, hidden))
            for _ in range(3))
        self.spectral = SpectralConv(in_channels, hidden, n_modes=(modes,) * ndim)
        self.pointwise = _conv1x1(ndim, in_channels, hidden)
        self.depthwise = PhysicalDepthwiseConv(in_channels, multiplier, taps, spacing)
        self.ungated = _conv1x1(ndim, in_channels, hidden)
        self.out = _conv1x1(ndim, hidden, out_channels)
        self.norm = nn.GroupNorm(1, out_channels) if output_norm == "layer" else None

    def branches(self, x: torch.Tensor, spacing: tuple[float, ...] | None = None) -> dict[str, torch.Tensor]:
        """The four branch outputs ``(B, D, *space)`` before gating: spectral, pointwise, depthwise, ungated."""
        pool = (F.avg_pool1d if self.ndim == 1 else F.avg_pool2d)
        if any(n % self.pool for n in x.shape[2:]):
            raise ValueError(f"CAPE pools by {self.pool}: grid {tuple(x.shape[2:])} is not divisible by it")
        pooled = pool(x, self.pool) if self.pool > 1 else x
        return {"spectral": self.spectral(pooled, output_shape=tuple(x.shape[2:])),
                "pointwise": self.pointwise(x), "depthwise": self.depthwise(x, spacing), "ungated": self.ungated(x)}

    def attention_vectors(self, params: torch.Tensor) -> torch.Tensor:
        """``(B, P) -> (3, B, D)``: the channel attention of the spectral, pointwise and depthwise branches."""
        return torch.stack([mlp(params) for mlp in self.attention])

    def forward(self, x: torch.Tensor, params: torch.Tensor, spacing: tuple[float, ...] | None = None
                ) -> torch.Tensor:
        b = self.branches(x, spacing)
        a = self.attention_vectors(params.to(x.dtype)).view(3, x.shape[0], -1, *([1] * self.ndim))
        h = a[0] * b["spectral"] + a[1] * b["pointwise"] + a[2] * b["depthwise"] + b["ungated"]
        guess = x[:, -self.out_channels:] + self.out(F.gelu(h))
        return self.norm(guess) if self.norm is not None else guess
