"""PDE-Refiner (Lippe, Veeling, Perdikaris, Turner, Brandstetter, NeurIPS 2023): a one-step predictor followed
by K denoising refinement steps, so that the low-amplitude high frequencies of the solution are learned too.

The network is the zoo's modern U-Net (:mod:`sciml.solvers.unet`) with FiLM conditioning. It sees ``[u(t),
y_k]`` and is conditioned on the refinement step k and on the scalars Δt, Δx and the PDE parameters. It
predicts ``v`` of the scaled difference ``y = (u(t + Δt) - u(t)) / difference_scale``:

    y_k = sqrt(1 - σ_k²) y + σ_k ε,    v = sqrt(1 - σ_k²) ε - σ_k y,    σ_k² = σ_min^(k/K), k = 0..K.

k = 0 has σ_0 = 1: the input is pure noise and the prediction ``-v`` is the plain one-step predictor. A
physical step makes K + 1 calls: predict at k = 0, then for k = 1..K add noise of variance σ_k² to the
prediction and denoise it. Training draws one k per sample (one call). All noise at evaluation comes from a
seeded generator: validation is deterministic and ``rollout(..., seed=s)`` is reproducible for each ``s``.
``refinement_steps: 0`` is the same network trained with MSE alone (the noise channel is zero): the paper's
MSE U-Net with the parameter count of PDE-Refiner.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from sciml.errors import ConfigError
from sciml.solvers.context import SolverContext
from sciml.solvers.emulator import NeuralSolver
from sciml.solvers.unet import UNet, UNetConfig


@dataclass
class PDERefinerConfig:
    name: str = "pde_refiner"
    hidden: int = 64  # U-Net channels at the finest level
    channel_mults: list[int] = field(default_factory=lambda: [1, 2, 2, 4])
    blocks_per_level: int = 2
    norm_groups: int = 8
    zero_init: bool = False  # the U-Net's blocks and output start at zero, as PDEArena's (so the model starts at u(t))
    refinement_steps: int = 3  # K; 0: the same network trained with MSE alone (deterministic)
    min_noise: float = 4.0e-7  # σ_min: the noise variance of the last step, σ_K² (the public code's value)
    difference_scale: float = 0.3  # y = (u(t + Δt) - u(t)) / difference_scale; 0: the data's increment std
    validation_seed: int = 0  # noise seed of every validation batch (a deterministic best.pt)


def validate_pde_refiner(cfg: PDERefinerConfig) -> None:
    if cfg.refinement_steps < 0:
        raise ConfigError(f"bad value for 'solver.refinement_steps': {cfg.refinement_steps} (must be >= 0)")
    if not 0 < cfg.min_noise < 1:
        raise ConfigError(f"bad value for 'solver.min_noise': {cfg.min_noise} (a variance in (0, 1))")
    if cfg.difference_scale < 0 or not math.isfinite(cfg.difference_scale):
        raise ConfigError(f"bad value for 'solver.difference_scale': {cfg.difference_scale} "
                          "(> 0, or 0 for the data's increment std)")
    if not cfg.channel_mults or min(cfg.channel_mults) < 1 or cfg.hidden < 1 or cfg.blocks_per_level < 1:
        raise ConfigError("solver.hidden, solver.blocks_per_level and every solver.channel_mults entry must be >= 1")


class RefinementSchedule:
    """The noise levels σ_k² = σ_min^(k/K), k = 0..K, and the v-parametrisation between y, ε and v."""

    def __init__(self, steps: int, min_noise: float):
        self.steps = steps
        self.variances = torch.tensor([min_noise ** (k / steps) if steps else 1.0 for k in range(steps + 1)],
                                      dtype=torch.float64)

    def _coefficients(self, k: torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(sqrt(1 - σ_k²), σ_k)`` shaped to broadcast against ``like`` ``(B, ...)``."""
        var = self.variances.to(like.device)[k].to(like.dtype).view(-1, *([1] * (like.dim() - 1)))
        return (1 - var).sqrt(), var.sqrt()

    def noisy(self, y: torch.Tensor, noise: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        a, s = self._coefficients(k, y)
        return a * y + s * noise

    def velocity(self, y: torch.Tensor, noise: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        a, s = self._coefficients(k, y)
        return a * noise - s * y

    def denoised(self, y_k: torch.Tensor, v: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """The clean ``y`` implied by the noisy ``y_k`` and a predicted ``v`` (the inverse of the two above)."""
        a, s = self._coefficients(k, y_k)
        return a * y_k - s * v


class PDERefiner(NeuralSolver):
    """One model step of ``Δt`` with K refinement steps; ``stochastic`` when K > 0.

    Windows ``(B, H, C, *space)``; the network maps ``(B, (H + 1) C, *space)`` and the conditioning
    ``(B, 1 + ndim + 1 + P)`` (k/K, Δt, Δx per axis, PDE parameters scaled to [-1, 1]) to ``v`` ``(B, C, *space)``.
    """

    def __init__(self, net: UNet, context: SolverContext, cfg: PDERefinerConfig):
        super().__init__(net, context, predict="residual")
        self.schedule = RefinementSchedule(cfg.refinement_steps, cfg.min_noise)
        self.stochastic = cfg.refinement_steps > 0
        self.validation_seed = cfg.validation_seed
        scale = cfg.difference_scale
        if scale == 0:
            scale = context.stats["delta_std"] if context.stats else [1.0] * context.channels
        self.register_buffer("difference_scale", torch.as_tensor(scale, dtype=torch.float32).expand(
            context.channels).clone())
        scalars = [context.dt, *(context.dx or [0.0] * context.ndim)]
        self.register_buffer("scalars", torch.tensor(scalars, dtype=torch.float32))
        self._generator: torch.Generator | None = None
        self._k_error = torch.zeros(2, cfg.refinement_steps + 1)  # squared error and count per k since last log

    # -- noise ----------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def noise_seed(self, seed: int | None) -> Iterator[None]:
        """Draw the noise inside the block from a generator seeded with ``seed`` (None: torch's global RNG)."""
        previous = self._generator
        if seed is not None:
            self._generator = torch.Generator(self.scalars.device).manual_seed(int(seed))
        try:
            yield
        finally:
            self._generator = previous

    def _noise(self, like: torch.Tensor) -> torch.Tensor:
        return torch.randn(like.shape, generator=self._generator, device=like.device, dtype=like.dtype)

    # -- the network ----------------------------------------------------------------------------------
    def velocity(self, window: torch.Tensor, y_k: torch.Tensor, k: torch.Tensor,
                 params: torch.Tensor | None) -> torch.Tensor:
        """The network's ``v`` for noisy targets ``y_k`` ``(B, C, *space)`` at refinement steps ``k`` ``(B,)``."""
        x = self.normalised_input(window)
        steps = max(self.schedule.steps, 1)
        cond = [k.to(x.dtype)[:, None] / steps, self.scalars.to(x.dtype).expand(len(x), -1)]
        if params is not None:
            cond.append(self.param_scaling(params).to(x.dtype))
        return self.net(torch.cat([x, y_k], dim=1), torch.cat(cond, dim=1))

    def scaled_difference(self, window: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``y = (u(t + Δt) - u(t)) / difference_scale`` for a target frame ``(B, C, *space)``."""
        return (target - window[:, -1]) / self._per_channel(self.difference_scale)

    def refine(self, window: torch.Tensor, params: torch.Tensor | None) -> torch.Tensor:
        """The predicted ``y`` ``(B, C, *space)``: the k = 0 prediction refined K times (K + 1 network calls)."""
        like = window[:, -1]
        y = None
        for step in range(self.schedule.steps + 1):
            k = torch.full((len(window),), step, dtype=torch.long, device=window.device)
            noise = self._noise(like) if self.stochastic else torch.zeros_like(like)  # K = 0: the MSE model
            y_k = noise if y is None else self.schedule.noisy(y, noise, k)
            y = self.schedule.denoised(y_k, self.velocity(window, y_k, k, params), k)
        return y

    # -- the contract ---------------------------------------------------------------------------------
    def advance_with_loss(self, window, target, params, time=None):
        if target is not None and self.training:
            y = self.scaled_difference(window, target[:, 0])
            k = torch.randint(0, self.schedule.steps + 1, (len(y),), device=y.device)
            noise = self._noise(y) if self.stochastic else torch.zeros_like(y)
            y_k = self.schedule.noisy(y, noise, k)
            v = self.velocity(window, y_k, k, params)
            error = ((v.float() - self.schedule.velocity(y, noise, k).float()) ** 2).flatten(1).mean(1)
            self._record(error.detach(), k)
            loss = error.mean()
            y_hat = self.schedule.denoised(y_k, v, k)
        else:
            y_hat, loss = self.refine(window, params), None
            if target is not None:
                loss = torch.mean((y_hat.float() - self.scaled_difference(window, target[:, 0]).float()) ** 2)
        nxt = window[:, -1] + y_hat.to(window.dtype) * self._per_channel(self.difference_scale)
        return nxt[:, None], loss

    def _record(self, error: torch.Tensor, k: torch.Tensor) -> None:
        counts = torch.zeros(self.schedule.steps + 1, device=error.device)
        sums = counts.index_add(0, k, error)
        self._k_error = self._k_error.to(error.device) + torch.stack([sums, counts.index_add_(0, k, torch.ones_like(
            error))])

    def log_values(self) -> dict[str, float]:
        """The training MSE of v at each refinement step since the last row (``mse_k0`` is the one-step
        predictor's; the others stay near 1 until y is known to within σ_k)."""
        sums, counts = self._k_error.cpu()
        self._k_error = torch.zeros_like(self._k_error)
        return {f"mse_k{k}": float(sums[k] / counts[k]) for k in range(len(counts)) if counts[k] > 0}

    @torch.no_grad()
    def validation_loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The refined prediction's MSE in units of ``y``, with the same noise on every call."""
        with self.noise_seed(self.validation_seed):
            return super().validation_loss(batch)

    @torch.no_grad()
    def rollout(self, initial: torch.Tensor, n_steps: int, params: torch.Tensor | None = None,
                time: torch.Tensor | None = None, seed: int | None = 0) -> torch.Tensor:
        """As :meth:`AutoregressiveSolver.rollout`, every noise draw from a generator seeded with ``seed``."""
        with self.noise_seed(seed):
            return super().rollout(initial, n_steps, params, time)


def build_pde_refiner(cfg: PDERefinerConfig, context: SolverContext) -> PDERefiner:
    """PDE-Refiner for ``context`` (grid sizes divisible by ``2**(levels - 1)``)."""
    factor = 2 ** (len(cfg.channel_mults) - 1)
    if any(n % factor for n in context.spatial_shape):
        raise ValueError(f"solver.channel_mults has {len(cfg.channel_mults)} levels: grid sizes must divide by "
                         f"{factor}, got {context.spatial_shape}")
    unet = UNetConfig(hidden=cfg.hidden, channel_mults=list(cfg.channel_mults),
                      blocks_per_level=cfg.blocks_per_level, norm_groups=cfg.norm_groups, conditioning="film",
                      zero_init=cfg.zero_init)
    n_cond = 1 + 1 + context.ndim + context.n_params
    net = UNet((context.history + 1) * context.channels, context.channels, n_cond, context.ndim, unet)
    return PDERefiner(net, context, cfg)
