"""Modern U-Net in the PDEArena style (Gupta & Brandstetter 2022), for 1D and 2D periodic grids.

Residual blocks with GroupNorm and GELU, circular padding, strided-convolution downsampling, nearest
upsampling followed by a convolution. PDE parameters enter as constant input channels (``conditioning:
channels``, the default) or by FiLM scale-and-shift in every block from a sinusoidal embedding
(``conditioning: film``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from sciml.errors import ConfigError
from sciml.solvers.conditioning import constant_channels
from sciml.solvers.context import SolverContext
from sciml.solvers.emulator import PREDICT, NeuralSolver


@dataclass
class UNetConfig:
    name: str = "unet"
    hidden: int = 64  # channels at the finest level
    channel_mults: list[int] = field(default_factory=lambda: [1, 2, 2, 4])  # per level
    blocks_per_level: int = 2
    norm_groups: int = 8
    conditioning: str = "channels"  # PDE parameters as constant input channels | film (scale and shift per block)
    zero_init: bool = False  # zero each block's last and the output convolution (PDEArena's): output 0 at start
    predict: str = "residual"


CONDITIONING = ("channels", "film")


def validate_unet(cfg: UNetConfig) -> None:
    if cfg.predict not in PREDICT:
        raise ConfigError(f"bad value for 'solver.predict': {cfg.predict!r} (residual or state)")
    if cfg.conditioning not in CONDITIONING:
        raise ConfigError(f"bad value for 'solver.conditioning': {cfg.conditioning!r} "
                          f"(choose from {', '.join(CONDITIONING)})")
    if not cfg.channel_mults or min(cfg.channel_mults) < 1 or cfg.hidden < 1 or cfg.blocks_per_level < 1:
        raise ConfigError("solver.hidden, solver.blocks_per_level and every solver.channel_mults entry must be >= 1")


def _conv(ndim: int, cin: int, cout: int, kernel: int = 3, stride: int = 1) -> nn.Module:
    cls = nn.Conv1d if ndim == 1 else nn.Conv2d
    return cls(cin, cout, kernel, stride=stride, padding=kernel // 2, padding_mode="circular")


class ResidualBlock(nn.Module):
    """``x + conv(gelu(film(norm(conv(gelu(norm(x)))))))`` with a 1x1 skip when channels change."""

    def __init__(self, cin: int, cout: int, ndim: int, groups: int, emb_dim: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(min(groups, cin), cin)
        self.conv1 = _conv(ndim, cin, cout)
        self.norm2 = nn.GroupNorm(min(groups, cout), cout)
        self.conv2 = _conv(ndim, cout, cout)
        self.film = nn.Linear(emb_dim, 2 * cout) if emb_dim else None
        self.skip = _conv(ndim, cin, cout, kernel=1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None) -> torch.Tensor:
        h = self.conv1(F.gelu(self.norm1(x)))
        h = self.norm2(h)
        if self.film is not None:
            scale, shift = self.film(emb).view(*emb.shape[:1], 2, -1, *([1] * (h.dim() - 2))).unbind(1)
            h = h * (1 + scale) + shift
        return self.conv2(F.gelu(h)) + self.skip(x)


def sinusoidal_embedding(values: torch.Tensor, dim: int, max_period: float = 1e4) -> torch.Tensor:
    """``(B, n) -> (B, n * dim)`` sin/cos features of each scalar at geometric frequencies."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=values.device) / half)
    angles = values[..., None].float() * 1000.0 * freqs  # scalars of order 1e-3..1 span the band
    return torch.cat([angles.sin(), angles.cos()], dim=-1).flatten(1)


class UNet(nn.Module):
    """``(B, C_in, *space), (B, n_cond) -> (B, C_out, *space)``; space divisible by 2**(levels-1)."""

    def __init__(self, in_channels: int, out_channels: int, n_cond: int, ndim: int, cfg: UNetConfig):
        super().__init__()
        if ndim not in (1, 2):
            raise ValueError(f"U-Net supports 1D and 2D grids, got ndim={ndim}")
        if cfg.conditioning not in CONDITIONING:
            raise ValueError(f"solver.conditioning must be one of {', '.join(CONDITIONING)}, got {cfg.conditioning!r}")
        self.n_cond, self.levels = n_cond, len(cfg.channel_mults)
        self.film = cfg.conditioning == "film" and n_cond > 0
        h = cfg.hidden
        emb_dim = 4 * h if self.film else 0
        if self.film:
            self.embed = nn.Sequential(nn.Linear(n_cond * h, emb_dim), nn.GELU(), nn.Linear(emb_dim, emb_dim))
        self.inp = _conv(ndim, in_channels + (0 if self.film else n_cond), h)
        widths = [h * m for m in cfg.channel_mults]
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        skips, cin = [h], h
        for i, w in enumerate(widths):
            for _ in range(cfg.blocks_per_level):
                self.down.append(ResidualBlock(cin, w, ndim, cfg.norm_groups, emb_dim))
                cin = w
                skips.append(cin)
            if i < self.levels - 1:
                self.downsample.append(_conv(ndim, cin, cin, stride=2))
                skips.append(cin)
        self.middle = nn.ModuleList([ResidualBlock(cin, cin, ndim, cfg.norm_groups, emb_dim) for _ in range(2)])
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for i, w in reversed(list(enumerate(widths))):
            for _ in range(cfg.blocks_per_level + 1):
                self.up.append(ResidualBlock(cin + skips.pop(), w, ndim, cfg.norm_groups, emb_dim))
                cin = w
            if i > 0:
                self.upsample.append(_conv(ndim, cin, cin))
        self.out_norm = nn.GroupNorm(min(cfg.norm_groups, cin), cin)
        self.out = _conv(ndim, cin, out_channels)
        self.blocks_per_level = cfg.blocks_per_level
        if cfg.zero_init:  # every block starts as its skip path and the network as the zero map
            for conv in [b.conv2 for b in (*self.down, *self.middle, *self.up)] + [self.out]:
                nn.init.zeros_(conv.weight)
                nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        factor = 2 ** (self.levels - 1)
        if any(s % factor for s in x.shape[2:]):
            raise ValueError(f"U-Net with {self.levels} levels needs grid sizes divisible by {factor}, "
                             f"got {tuple(x.shape[2:])}")
        emb = None
        if self.n_cond and (cond is None or cond.shape != (x.shape[0], self.n_cond)):
            raise ValueError(f"U-Net expects cond of shape ({x.shape[0]}, {self.n_cond})")
        if self.film:
            emb = self.embed(sinusoidal_embedding(cond, self.embed[0].in_features // self.n_cond))
        elif self.n_cond:
            x = constant_channels(x, cond)
        h = self.inp(x)
        skips = [h]
        blocks = iter(self.down)
        for level in range(self.levels):
            for _ in range(self.blocks_per_level):
                h = next(blocks)(h, emb)
                skips.append(h)
            if level < self.levels - 1:
                h = self.downsample[level](h)
                skips.append(h)
        for block in self.middle:
            h = block(h, emb)
        blocks = iter(self.up)
        for level in range(self.levels):
            for _ in range(self.blocks_per_level + 1):
                h = next(blocks)(torch.cat([h, skips.pop()], dim=1), emb)
            if level < self.levels - 1:
                h = self.upsample[level](F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.out(F.gelu(self.out_norm(h)))


def build_unet(cfg: UNetConfig, context: SolverContext) -> NeuralSolver:
    """A U-Net one-step solver for ``context`` (grid sizes divisible by ``2**(levels - 1)``)."""
    factor = 2 ** (len(cfg.channel_mults) - 1)
    if any(n % factor for n in context.spatial_shape):
        raise ValueError(f"solver.channel_mults has {len(cfg.channel_mults)} levels: grid sizes must divide by "
                         f"{factor}, got {context.spatial_shape}")
    net = UNet(context.history * context.channels, context.channels, context.n_params, context.ndim, cfg)
    return NeuralSolver(net, context, predict=cfg.predict)
