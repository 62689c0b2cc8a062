"""``le_pde`` and ``le_pde_mamba``: latent evolution of PDEs (Wu, Maruyama, Leskovec, NeurIPS 2022) and its
Mamba variant (LE-PDE++, arXiv 2411.01897).

A window of ``H`` frames is encoded once into a latent vector ``z``; the latent evolves,
``z_{t+1} = z_t + G(...)``, and a decoder maps a latent back to the next ``F`` frames (a temporal bundle, as
MP-PDE's; the released 1D command: H = F = 25, 2D: H = 10, F = 1) only when they are asked for.
Encoder: a convolution stem, ``blocks`` strided convolutions (kernel 4, stride 2, GroupNorm, ELU) with
``channels * 2^i`` channels, flattened and mapped linearly to ``latent`` numbers (the released 1D command: 4
blocks, 32 channels doubling, latent 128; 2D: 16 channels, latent 256). The decoder
mirrors it with transposed convolutions. ``layout: released`` (the default) is the authors' ``CNN_Encoder`` /
``CNN_Decoder`` exactly (1,630,976 parameters in the released 1D command, as their log prints): the last of
four or more blocks has kernel 3, the linear maps on both sides of the latent are followed by GroupNorm and
ELU, the transposed convolutions have no bias, the last upsampling keeps its channels and the head is a
transposed convolution. ``layout: mirror`` is the plain mirror this package had before (1,879,641
parameters there), kept so that the numbers measured with it can be reproduced. PDE parameters enter
through a static encoder ``r(p)`` (the released
1D command feeds the scaled parameters themselves: ``static_latent: 0``).

- ``le_pde``: ``G = MLP([z_t, r(p)])`` (3 ELU layers then 2 linear ones, the released ``mlp-3-elu-2``).
- ``le_pde_mamba``: ``G`` is a Mamba block run over the latent history ``z_0 .. z_t`` with ``r(p)`` appended
  (:mod:`sciml.solvers.selective_scan`): recurrent with constant cost per step in rollouts.

Loss terms (logged separately), on the normalised fields, for a window and its ``M`` next bundles:

- ``multi_step``: ``Σ_m α_m ℓ(h(g^m(q(U_t))), U_{t+m})``, ℓ the RMSE (the released 1D command), α = 1;
- ``autoencode``: ``ℓ(h(q(U_t)), U_t)``, the last ``F`` frames of the window (``recons_coef``);
- ``consistency``: ``Σ_m ‖g^m(q(U_t)) − q(U_{t+m})‖² / ‖q(U_{t+m})‖²`` per sample (``consistency_coef``).

The Mamba variant adds ``teacher_forced``: the next latents predicted in parallel from the encoded true
history (the selective scan's parallel form), scored like the multi-step term. Its progressive strategy
grows ``M`` in stages over training (``horizon_stages``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from sciml.errors import ConfigError
from sciml.solvers.autoregressive import AutoregressiveSolver
from sciml.solvers.conditioning import ParamScaling
from sciml.solvers.context import SolverContext
from sciml.solvers.selective_scan import MambaBlock


@dataclass
class LEPDEConfig:
    name: str = "le_pde"
    time_window: int = 25  # frames decoded per latent step (the temporal bundle); task.history >= it (1D: equal)
    latent: int = 128  # latent size (released: 128 in 1D, 256 in 2D)
    channels: int = 32  # encoder channels of the first block, doubled per block (released 1D: 32; 2D: 16)
    blocks: int = 4  # strided convolution blocks
    norm_groups: int = 2  # GroupNorm groups
    layout: str = "released"  # released (the authors' CNN_Encoder/CNN_Decoder) | mirror (before 2026-12; see below)
    static_latent: int = 0  # static encoder: 0 feeds the scaled parameters themselves, else an MLP to this size
    evolution_layers: int = 3  # ELU layers of the evolution MLP (then two linear ones)
    multi_step: list[float] = field(default_factory=lambda: [1.0, 1.0, 1.0, 1.0])  # α_m, m = 1..M (M = task.horizon)
    recons_coef: float = 1.0  # weight of the autoencoding term
    consistency_coef: float = 1.0  # weight of the latent consistency term
    latent_noise: float = 1e-5  # std of the noise added to latents in training (released: 1e-5)
    loss: str = "rmse"  # rmse (released 1D) | mse (released 2D)
    # le_pde_mamba only
    d_state: int = 16  # Mamba state size per channel
    expand: int = 2  # Mamba inner size per latent number
    d_conv: int = 4  # Mamba causal convolution length
    scan: str = "auto"  # auto (mamba-ssm's fused kernel on CUDA when installed) | pure | fused
    teacher_forced_coef: float = 1.0  # weight of the parallel teacher-forced term
    horizon_stages: list[int] = field(default_factory=list)  # progressive learning: M per equal stage; empty: M


def validate_le_pde(cfg: LEPDEConfig) -> None:
    for key in ("time_window", "latent", "channels", "blocks", "norm_groups", "evolution_layers", "d_state", "expand",
                "d_conv"):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"bad value for 'solver.{key}': {getattr(cfg, key)} (must be >= 1)")
    if cfg.channels % cfg.norm_groups:
        raise ConfigError(f"solver.norm_groups={cfg.norm_groups} must divide solver.channels={cfg.channels}")
    if cfg.static_latent < 0 or cfg.latent_noise < 0 or cfg.recons_coef < 0 or cfg.consistency_coef < 0:
        raise ConfigError("solver.static_latent, latent_noise, recons_coef and consistency_coef must be >= 0")
    if not cfg.multi_step or min(cfg.multi_step) < 0:
        raise ConfigError(f"bad value for 'solver.multi_step': {cfg.multi_step} (one weight >= 0 per step m)")
    if cfg.layout not in LAYOUTS:
        raise ConfigError(f"bad value for 'solver.layout': {cfg.layout!r} (choose from {', '.join(LAYOUTS)})")
    if cfg.loss not in ("rmse", "mse"):
        raise ConfigError(f"bad value for 'solver.loss': {cfg.loss!r} (rmse or mse)")
    if cfg.scan not in ("auto", "pure", "fused"):
        raise ConfigError(f"bad value for 'solver.scan': {cfg.scan!r} (auto, pure or fused)")
    if cfg.name == "le_pde" and cfg.horizon_stages:
        raise ConfigError("solver.horizon_stages is le_pde_mamba's progressive strategy; le_pde would ignore it")
    if any(m < 1 or m > len(cfg.multi_step) for m in cfg.horizon_stages):
        raise ConfigError(f"solver.horizon_stages entries must be in 1..{len(cfg.multi_step)} (the multi_step "
                          f"weights), got {cfg.horizon_stages}")


LAYOUTS = ("released", "mirror")


def _conv(ndim: int, transposed: bool = False) -> type:
    if transposed:
        return nn.ConvTranspose1d if ndim == 1 else nn.ConvTranspose2d
    return nn.Conv1d if ndim == 1 else nn.Conv2d


class Encoder(nn.Module):
    """``(B, C_in, *space) -> (B, latent)`` and the spatial shapes of every level (for the decoder)."""

    def __init__(self, in_channels: int, spatial_shape: tuple[int, ...], cfg: LEPDEConfig):
        super().__init__()
        ndim = len(spatial_shape)
        conv = _conv(ndim)
        released = cfg.layout == "released"
        self.stem = nn.Sequential(conv(in_channels, cfg.channels, 3, padding=1), nn.ELU())
        self.shapes = [tuple(spatial_shape)]
        self.kernels = [3 if released and i == cfg.blocks - 1 and cfg.blocks >= 4 else 4 for i in range(cfg.blocks)]
        blocks, ch = [], cfg.channels
        for kernel in self.kernels:
            shape = tuple((n + 2 - kernel) // 2 + 1 for n in self.shapes[-1])
            if min(shape) < 1:
                raise ValueError(f"a grid of {spatial_shape} is too small for {cfg.blocks} stride-2 blocks")
            blocks.append(nn.Sequential(conv(ch, 2 * ch, kernel, stride=2, padding=1),
                                        nn.GroupNorm(cfg.norm_groups, 2 * ch), nn.ELU()))
            self.shapes.append(shape)
            ch *= 2
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = ch
        linear = nn.Linear(ch * math.prod(self.shapes[-1]), cfg.latent)
        self.linear = nn.Sequential(linear, nn.GroupNorm(cfg.norm_groups, cfg.latent), nn.ELU()) if released else linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.blocks(self.stem(x)).flatten(1))


class Decoder(nn.Module):
    """``(B, latent) -> (B, C_out, *space)``, mirroring :class:`Encoder`."""

    def __init__(self, out_channels: int, encoder: Encoder, cfg: LEPDEConfig):
        super().__init__()
        ndim = len(encoder.shapes[0])
        released = cfg.layout == "released"
        self.shapes, self.channels = encoder.shapes, encoder.out_channels
        flat = encoder.out_channels * math.prod(encoder.shapes[-1])
        linear = nn.Linear(cfg.latent, flat)
        self.linear = nn.Sequential(linear, nn.GroupNorm(cfg.norm_groups, flat), nn.ELU()) if released else linear
        ups, ch = nn.ModuleList(), encoder.out_channels
        for i, kernel in enumerate(reversed(encoder.kernels)):
            # the released decoder keeps the channels of the first block in its last upsampling
            out = ch if released and i == cfg.blocks - 1 else ch // 2
            up = _conv(ndim, True)(ch, out, kernel, stride=2, padding=1, bias=not released)
            ups.append(nn.ModuleDict({"conv": up, "norm": nn.GroupNorm(cfg.norm_groups, out)}))
            ch = out
        self.ups = ups
        self.head = (_conv(ndim, True)(ch, out_channels, 3, padding=1, bias=False) if released
                     else _conv(ndim)(ch, out_channels, 3, padding=1))
        self.act = nn.ELU()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.linear(z).view(len(z), self.channels, *self.shapes[-1])
        for up, shape in zip(self.ups, reversed(self.shapes[:-1]), strict=True):
            h = self.act(up["norm"](up["conv"](h, output_size=shape)))
        return self.head(h)


def _mlp(sizes: list[int], act_layers: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < act_layers:
            layers.append(nn.ELU())
    return nn.Sequential(*layers)


class LEPDE(AutoregressiveSolver):
    """Windows ``(B, F, C, *space)`` -> the next ``F`` frames, through a latent of ``cfg.latent`` numbers."""

    def __init__(self, cfg: LEPDEConfig, context: SolverContext):
        super().__init__(context)
        f, c, h = cfg.time_window, context.channels, context.history
        if h < f:
            raise ValueError(f"{cfg.name} decodes solver.time_window = {f} frames and autoencodes the last {f} of "
                             f"its input: task.history must be >= {f}, got {h}")
        self.cfg = cfg
        self.frames_per_step = f
        self.encoder = Encoder(h * c, context.spatial_shape, cfg)
        self.decoder = Decoder(f * c, self.encoder, cfg)
        self.param_scaling = ParamScaling(context.param_ranges)
        p = context.n_params
        self.static = (_mlp([p, cfg.static_latent, cfg.static_latent], 1) if cfg.static_latent and p
                       else nn.Identity())
        self.static_size = 0 if not p else (cfg.static_latent or p)
        self.build_evolution()
        for name, value in (("field_mean", 0.0), ("field_std", 1.0)):
            self.register_buffer(name, torch.full((c,), value))
        if context.stats:
            self.field_mean.copy_(torch.as_tensor(context.stats["field_mean"], dtype=torch.float32))
            self.field_std.copy_(torch.as_tensor(context.stats["field_std"], dtype=torch.float32))

    def build_evolution(self) -> None:
        n, layers = self.cfg.latent, self.cfg.evolution_layers
        self.evolution = _mlp([n + self.static_size] + [n] * layers + [n, n], layers)

    # -- pieces ---------------------------------------------------------------------------------------
    def _stat(self, stat: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return stat.to(like.dtype).view(self.context.channels, *([1] * self.context.ndim))

    def normalise(self, frames: torch.Tensor) -> torch.Tensor:
        return (frames - self._stat(self.field_mean, frames)) / self._stat(self.field_std, frames)

    def encode(self, window: torch.Tensor) -> torch.Tensor:
        """``(B, F, C, *space)`` physical frames -> ``(B, latent)``."""
        return self.encoder(self.normalise(window).flatten(1, 2))

    def decode_normalised(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, latent)`` -> the normalised frames ``(B, F, C, *space)``."""
        return self.decoder(z).unflatten(1, (self.frames_per_step, self.context.channels))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, latent)`` -> physical frames ``(B, F, C, *space)``."""
        out = self.decode_normalised(z)
        return out * self._stat(self.field_std, out) + self._stat(self.field_mean, out)

    def static_latent(self, params: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
        if params is None:
            return like.new_zeros(len(like), 0)
        return self.static(self.param_scaling(params).to(like.dtype))

    def evolve(self, z: torch.Tensor, static: torch.Tensor) -> torch.Tensor:
        """One latent step ``z_{t+1} = z_t + MLP([z_t, r(p)])``."""
        return z + self.evolution(torch.cat([z, static], dim=-1))

    def latents(self, z0: torch.Tensor, static: torch.Tensor, steps: int, noise: float = 0.0):
        """Yield the ``steps`` latents after ``z0`` (Gaussian noise of std ``noise`` added to each in training)."""
        z = z0
        for _ in range(steps):
            z = self.evolve(z, static)
            if noise:
                z = z + noise * torch.randn_like(z)
            yield z

    def latent_rollout(self, z0: torch.Tensor, static: torch.Tensor, steps: int, noise: float = 0.0
                       ) -> list[torch.Tensor]:
        """``steps`` latents after ``z0``."""
        return list(self.latents(z0, static, steps, noise))

    def _error(self, pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
        mse = ((pred.float() - true.float()) ** 2).mean()
        return mse.sqrt() if self.cfg.loss == "rmse" else mse

    # -- the contract ---------------------------------------------------------------------------------
    def horizon_at(self, step: int) -> int:
        """M at optimiser step ``step``: ``task.horizon`` (capped by the α weights)."""
        return min(self.plan.horizon, len(self.cfg.multi_step))

    def training_loss(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        window, targets, params = batch["input"], batch["target"], batch.get("params")
        self.check_window(window)
        self.check_params(params, len(window))
        f, m_max = self.frames_per_step, self.horizon_at(step)
        if targets.shape[1] < m_max * f:
            raise ValueError(f"windows hold {targets.shape[1]} target frames; M = {m_max} steps need {m_max * f}")
        h = window.shape[1]
        full = torch.cat([window, targets[:, :m_max * f]], dim=1)
        bundles = [targets[:, m * f:(m + 1) * f] for m in range(m_max)]
        later_windows = [full[:, (m + 1) * f:(m + 1) * f + h] for m in range(m_max)]  # the input ending at t + m
        z0 = self.encode(window)
        if self.cfg.latent_noise:
            z0 = z0 + self.cfg.latent_noise * torch.randn_like(z0)
        static = self.static_latent(params, z0)
        latents = self.latent_rollout(z0, static, m_max, self.cfg.latent_noise)
        encoded = [self.encode(w) for w in later_windows]
        alpha = self.cfg.multi_step
        terms = {
            "multi_step": sum(alpha[m] * self._error(self.decode_normalised(latents[m]), self.normalise(bundles[m]))
                              for m in range(m_max)),
            "autoencode": self.cfg.recons_coef * self._error(self.decode_normalised(z0),
                                                             self.normalise(window[:, -f:])),
            "consistency": self.cfg.consistency_coef * sum(
                (((latents[m] - encoded[m]) ** 2).sum(-1) / (encoded[m] ** 2).sum(-1).clamp_min(1e-12)).mean()
                for m in range(m_max)),
        }
        terms.update(self.extra_terms(z0, encoded, bundles, static))
        return terms

    def extra_terms(self, z0, encoded, bundles, static) -> dict[str, torch.Tensor]:
        return {}

    @torch.no_grad()
    def validation_loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The MSE of the latent rollout over every target bundle of the window (normalised units)."""
        window, targets, params = batch["input"], batch["target"], batch.get("params")
        steps = targets.shape[1] // self.frames_per_step
        pred = self.rollout(window, steps * self.frames_per_step, params)
        return {"loss": ((self.normalise(pred) - self.normalise(targets[:, :pred.shape[1]])) ** 2).mean()}

    def advance_with_loss(self, window, target, params, time=None):
        z = self.encode(window)
        frames = self.decode(self.evolve(z, self.static_latent(params, z)))
        loss = None if target is None else self._error(self.normalise(frames), self.normalise(target))
        return frames, loss

    @torch.no_grad()
    def rollout(self, initial: torch.Tensor, n_steps: int, params: torch.Tensor | None = None,
                time: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, n_steps, C, *space)``: encode once, evolve in latent space, decode every bundle."""
        bundles = math.ceil(n_steps / self.frames_per_step)
        return self.rollout_at(initial, list(range(1, bundles + 1)), params)[:, :n_steps]

    @torch.no_grad()
    def rollout_at(self, initial: torch.Tensor, steps: list[int], params: torch.Tensor | None = None
                   ) -> torch.Tensor:
        """The frames of the latent steps ``steps`` (1-based, increasing) only: ``(B, len(steps) * F, C, *space)``.
        Latents in between are evolved but never decoded."""
        self.check_window(initial)
        self.check_params(params, len(initial))
        if not steps:
            return initial[:, :0]
        if sorted(steps) != list(steps) or steps[0] < 1:
            raise ValueError(f"steps must be increasing and >= 1, got {steps}")
        wanted = set(steps)
        frames = []
        for i, z in enumerate(self.iterate_latents(initial, params, steps[-1]), start=1):
            if i in wanted:
                frames.append(self.decode(z))
        return torch.cat(frames, dim=1)

    def iterate_latents(self, initial: torch.Tensor, params: torch.Tensor | None, steps: int):
        z = self.encode(initial)
        yield from self.latents(z, self.static_latent(params, z), steps)


class LEPDEMamba(LEPDE):
    """LE-PDE with a Mamba block over the latent history as its evolution (LE-PDE++)."""

    def build_evolution(self) -> None:
        cfg = self.cfg
        self.lift = nn.Linear(cfg.latent + self.static_size, cfg.latent)
        self.mamba = MambaBlock(cfg.latent, d_state=cfg.d_state, expand=cfg.expand, d_conv=cfg.d_conv, scan=cfg.scan)
        self.norm = nn.LayerNorm(cfg.latent)

    def _tokens(self, z: torch.Tensor, static: torch.Tensor) -> torch.Tensor:
        """Pre-norm tokens: ``LayerNorm(W [z, r(p)])``; the block's output is the latent increment."""
        return self.norm(self.lift(torch.cat([z, static.expand(*z.shape[:-1], -1)], dim=-1)))

    def horizon_at(self, step: int) -> int:
        stages = self.cfg.horizon_stages
        if not stages:
            return super().horizon_at(step)
        stage = min(int((step - 1) / max(self.plan.total_steps, 1) * len(stages)), len(stages) - 1)
        return min(stages[stage], self.plan.horizon)

    def latents(self, z0, static, steps, noise=0.0):
        """The recurrent form: the Mamba state carries the latent history, constant cost per step."""
        z, state = z0, self.mamba.initial_state(len(z0), z0)
        for _ in range(steps):
            y, state = self.mamba.step(self._tokens(z, static), state)
            z = z + y
            if noise:
                z = z + noise * torch.randn_like(z)
            yield z

    def evolve(self, z, static):
        return next(self.latents(z, static, 1))

    def extra_terms(self, z0, encoded, bundles, static):
        """The parallel form: next latents from the encoded true history ``z_0, q(U_{t+1}), ...``."""
        if len(encoded) < 2 or not self.cfg.teacher_forced_coef:
            return {}
        history = torch.stack([z0, *encoded[:-1]], dim=1)  # (B, M, latent)
        predicted = history + self.mamba(self._tokens(history, static[:, None]))
        error = sum(self._error(self.decode_normalised(predicted[:, m]), self.normalise(bundles[m]))
                    for m in range(len(encoded)))
        return {"teacher_forced": self.cfg.teacher_forced_coef * error}


def build_le_pde(cfg: LEPDEConfig, context: SolverContext) -> LEPDE:
    return (LEPDEMamba if cfg.name == "le_pde_mamba" else LEPDE)(cfg, context)


@dataclass
class LEPDEMambaConfig(LEPDEConfig):
    name: str = "le_pde_mamba"


__all__ = ["LEPDE", "LEPDEConfig", "LEPDEMamba", "LEPDEMambaConfig", "build_le_pde", "validate_le_pde"]
