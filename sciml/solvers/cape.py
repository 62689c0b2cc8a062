"""``cape``: the CAPE module in front of any autoregressive base solver (Takamoto, Alesiani, Niepert, ICML 2023).

The module (:mod:`sciml.solvers.cape_module`) turns the PDE parameters into channel attention and produces an
intermediate guess ``ũ`` of ``u(t + Δt)``. The guess is appended to the base solver's input window and a 1x1
mixing layer maps ``[window, ũ]`` back to a window of the base's shape (initialised to pass the window
through unchanged), so the base (``fno``, ``unet``, ``mp_pde``, ...) is built exactly as on its own, without
the parameters: they reach it only through CAPE. The loss per model step is the paper's

    L = relL2(û, u) + λ relL2(ũ, u(t + Δt)),       relL2(a, b) = ||a - b|| / ||b|| per sample, batch mean,

each step's auxiliary term counted once (the released code re-adds it at every unrolled step, so early
steps count several times). The first ``warmup_epochs`` epochs train the CAPE module alone on its guess.
The teacher-forcing curriculum and the gradient through the unroll come from the task (``task.horizon``,
``task.teacher_forcing: curriculum``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

import torch
from torch import nn

from sciml.errors import ConfigError
from sciml.solvers.autoregressive import AutoregressiveSolver
from sciml.solvers.cape_module import OUTPUT_NORMS, CAPEModule
from sciml.solvers.conditioning import PARAM_SCALINGS, ParamScaling
from sciml.solvers.context import SolverContext

BASES = ("fno", "unet", "mp_pde")


@dataclass
class CAPEConfig:
    name: str = "cape"
    base: str = "fno"  # the base solver: fno | unet | mp_pde
    base_options: dict[str, Any] = field(default_factory=dict)  # the base's own solver keys (e.g. width: 20)
    multiplier: int = 4  # CAPE hidden channels per input channel
    modes: int = 8  # Fourier modes of CAPE's spectral branch per axis
    pool: int = 2  # average pooling before the spectral branch
    kernel_taps: int = 5  # depthwise kernel size on the training grid (a physical width: resampled elsewhere)
    attention_hidden: int = 64  # width of the attention MLPs
    output_norm: str = "none"  # none | layer (LayerNorm of the guess over channels and space)
    param_scaling: str = "linear"  # linear | log: the training range of p (or of log p) maps to [-1, 1]
    aux_weight: float = 5.7e-5  # λ of the guess's loss (paper: 5.7e-5 in 1D, 8.34e-5 in 2D)
    norm_floor: float = 0.1  # relative errors divide by at least this fraction of a typical frame's norm
    loss: str = "rel_l2"  # rel_l2 (the paper's) | base (the base solver's own loss, e.g. FNO's normalised MSE)
    warmup_epochs: int = 0  # epochs that train the CAPE module alone


Lookup = Callable[[str], Any]  # solver name -> its SolverSpec (the registry passes its own ``get``)


def base_config(cfg: CAPEConfig, lookup: Lookup) -> Any:
    """The base solver's config section from ``solver.base`` and ``solver.base_options``."""
    if cfg.base not in BASES:
        raise ConfigError(f"bad value for 'solver.base': {cfg.base!r} (choose from {', '.join(BASES)})")
    spec = lookup(cfg.base)
    known = {f.name for f in fields(spec.config)} - {"name"}
    for key in cfg.base_options:
        if key not in known:
            raise ConfigError(f"unknown config key 'solver.base_options.{key}' for base {cfg.base} "
                              f"(known: {', '.join(sorted(known))})")
    try:
        out = spec.config(**dict(cfg.base_options))
    except TypeError as exc:
        raise ConfigError(f"bad solver.base_options for {cfg.base}: {exc}") from None
    if spec.validate is not None:
        try:
            spec.validate(out)
        except ConfigError as exc:  # the base's keys live under solver.base_options here
            raise ConfigError(str(exc).replace("solver.", "solver.base_options.")) from None
    return out


def validate_cape(cfg: CAPEConfig, lookup: Lookup) -> None:
    base_config(cfg, lookup)
    for key in ("multiplier", "modes", "pool", "kernel_taps", "attention_hidden"):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"bad value for 'solver.{key}': {getattr(cfg, key)} (must be >= 1)")
    if cfg.kernel_taps % 2 == 0:
        raise ConfigError(f"bad value for 'solver.kernel_taps': {cfg.kernel_taps} (must be odd)")
    if cfg.output_norm not in OUTPUT_NORMS:
        raise ConfigError(f"bad value for 'solver.output_norm': {cfg.output_norm!r} "
                          f"(choose from {', '.join(OUTPUT_NORMS)})")
    if cfg.param_scaling not in PARAM_SCALINGS:
        raise ConfigError(f"bad value for 'solver.param_scaling': {cfg.param_scaling!r} "
                          f"(choose from {', '.join(PARAM_SCALINGS)})")
    if cfg.loss not in ("rel_l2", "base"):
        raise ConfigError(f"bad value for 'solver.loss': {cfg.loss!r} (rel_l2 or base)")
    if cfg.aux_weight < 0 or cfg.warmup_epochs < 0 or cfg.norm_floor < 0:
        raise ConfigError("solver.aux_weight, solver.warmup_epochs and solver.norm_floor must be >= 0")


def relative_l2(prediction: torch.Tensor, target: torch.Tensor, floor: float | torch.Tensor = 1e-12) -> torch.Tensor:
    """``||prediction - target|| / max(||target||, floor)`` per sample (over every other axis), batch mean."""
    err = (prediction.float() - target.float()).flatten(1).norm(dim=1)
    return (err / target.float().flatten(1).norm(dim=1).clamp_min(floor)).mean()


class CAPESolver(AutoregressiveSolver):
    """The CAPE module, a 1x1 mixing layer and a parameter-free base solver; windows ``(B, H, C, *space)``.

    Args:
      module: the CAPE module on normalised fields (``H * C`` channels in, ``C`` out).
      base: an autoregressive solver for the same context without parameters.
      context: the data, with its PDE parameters.
      aux_weight: λ.
      warmup_epochs: epochs of CAPE-only training (converted to steps by the training plan).
      loss: ``rel_l2`` (the paper's) or ``base`` (the base solver's own loss in place of the first term).
      param_scaling: ``linear`` or ``log`` (:class:`ParamScaling`).
      norm_floor: relative errors divide by at least ``norm_floor`` times the norm of a typical frame
        (``sqrt(points) * field_std``): a solution that decays to zero (Burgers at large ν) would otherwise
        divide by ~0 and dominate the loss.
    """

    def __init__(self, module: CAPEModule, base: AutoregressiveSolver, context: SolverContext,
                 aux_weight: float = 5.7e-5, warmup_epochs: int = 0, norm_floor: float = 0.1, loss: str = "rel_l2",
                 param_scaling: str = "linear"):
        super().__init__(context)
        if context.n_params == 0:
            raise ValueError("cape needs the PDE parameters: set task.params (e.g. [beta])")
        self.cape, self.base = module, base
        self.frames_per_step = base.frames_per_step
        self.aux_weight, self.warmup_epochs, self.norm_floor = float(aux_weight), int(warmup_epochs), norm_floor
        self.loss = loss
        self.param_scaling = ParamScaling(context.param_ranges, param_scaling)
        channels = context.history * context.channels
        self.mix = _conv1x1(context.ndim, channels + context.channels, channels)
        with torch.no_grad():  # start as the identity on the window plus a random (PyTorch-initialised) guess term
            self.mix.weight[:, :channels] = torch.eye(channels).view(channels, channels, *([1] * context.ndim))
            self.mix.bias.zero_()
        stats = context.stats or {}
        self.register_buffer("field_mean", torch.as_tensor(stats.get("field_mean", [0.0] * context.channels),
                                                           dtype=torch.float32))
        self.register_buffer("field_std", torch.as_tensor(stats.get("field_std", [1.0] * context.channels),
                                                          dtype=torch.float32))
        self._warming_up = False  # set per training step: CAPE-only loss during the warm-up epochs
        self._grade_guess = True  # the guess's λ-weighted term is a training term, not a validation one

    def _per_channel(self, stat: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return stat.to(like.dtype).view(self.context.channels, *([1] * self.context.ndim))

    def normalise(self, frames: torch.Tensor) -> torch.Tensor:
        return (frames - self._per_channel(self.field_mean, frames)) / self._per_channel(self.field_std, frames)

    def guess(self, window: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """CAPE's intermediate guess of ``u(t + Δt)``, ``(B, C, *space)`` in physical units."""
        normalised = self.normalise(window).flatten(1, 2)
        out = self.cape(normalised, self.param_scaling(params))
        return out * self._per_channel(self.field_std, window) + self._per_channel(self.field_mean, window)

    def base_window(self, window: torch.Tensor, guess: torch.Tensor) -> torch.Tensor:
        """The 1x1 mix of ``[window, guess]`` back to a window ``(B, H, C, *space)`` for the base solver."""
        stacked = self.normalise(torch.cat([window, guess[:, None]], dim=1)).flatten(1, 2)
        mixed = self.mix(stacked).unflatten(1, (self.context.history, self.context.channels))
        return mixed * self._per_channel(self.field_std, window) + self._per_channel(self.field_mean, window)

    def floor(self, frames: torch.Tensor) -> torch.Tensor:
        """The norm floor of relative errors over ``frames`` ``(B, F, C, *space)`` (or ``(B, C, *space)``)."""
        points = frames[0].numel() / self.context.channels
        return self.norm_floor * (points * (self.field_std.float() ** 2).mean()).sqrt()

    def advance_with_loss(self, window, target, params, time=None):
        guess = self.guess(window, params)
        warming = self._warming_up and target is not None
        if warming:
            with torch.no_grad():
                frames = self.base._advance(self.base_window(window, guess), None, time)
            return frames, {"cape": relative_l2(guess, target[:, 0], self.floor(guess))}
        if self.loss == "base" and target is not None:
            frames, base_loss = self.base.advance_with_loss(self.base_window(window, guess), target, None, time)
            terms = {"base": base_loss}
        else:
            frames = self.base._advance(self.base_window(window, guess), None, time)
            if target is None:
                return frames, None
            terms = {"rel_l2": relative_l2(frames, target, self.floor(frames))}
        if self._grade_guess and self.aux_weight:
            terms["cape"] = self.aux_weight * relative_l2(guess, target[:, 0], self.floor(guess))
        return frames, terms

    def training_loss(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        self._warming_up = step <= self.warmup_epochs * self.plan.steps_per_epoch
        try:
            return super().training_loss(batch, step)
        finally:
            self._warming_up = False

    @torch.no_grad()
    def validation_loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The rollout's relative L2 over the window's target steps (the guess's term left out)."""
        self._grade_guess = False
        try:
            return super().validation_loss(batch)
        finally:
            self._grade_guess = True


def _conv1x1(ndim: int, cin: int, cout: int) -> nn.Module:
    return (nn.Conv1d if ndim == 1 else nn.Conv2d)(cin, cout, 1)


def build_cape(cfg: CAPEConfig, context: SolverContext, lookup: Lookup) -> CAPESolver:
    """CAPE in front of ``cfg.base`` (found by ``lookup``) built for ``context`` without its parameters."""
    if not context.dx:
        raise ValueError("cape needs the grid spacing (context.dx) for its physical depthwise kernel")
    base = lookup(cfg.base).build(base_config(cfg, lookup), replace(context, param_names=(), param_ranges=()))
    if not isinstance(base, AutoregressiveSolver):
        raise ValueError(f"cape needs an autoregressive base solver, {cfg.base} is {type(base).__name__}")
    module = CAPEModule(context.history * context.channels, context.channels, context.n_params, context.dx,
                        multiplier=cfg.multiplier, modes=cfg.modes, pool=cfg.pool, taps=cfg.kernel_taps,
                        attention_hidden=cfg.attention_hidden, output_norm=cfg.output_norm)
    return CAPESolver(module, base, context, aux_weight=cfg.aux_weight, warmup_epochs=cfg.warmup_epochs,
                      norm_floor=cfg.norm_floor, loss=cfg.loss, param_scaling=cfg.param_scaling)


__all__ = ["CAPEConfig", "CAPESolver", "build_cape", "relative_l2", "validate_cape"]
