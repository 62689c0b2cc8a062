"""One-step grid emulators: a network wrapped with normalisation, PDE-parameter scaling and a step loss."""

from __future__ import annotations

import torch
from torch import nn

from sciml.solvers.autoregressive import AutoregressiveSolver
from sciml.solvers.conditioning import ParamScaling
from sciml.solvers.context import SolverContext

PREDICT = ("residual", "state")


class NeuralSolver(AutoregressiveSolver):
    """``u(t + l dt) = F_l(u(t - (H-1) dt), ..., u(t); p)``, ``l = 1..bundle``, with a network on normalised fields.

    Inputs are normalised per channel with field statistics; with ``predict="residual"`` the network
    predicts the normalised increments ``(u(t + l dt) - u(t) - l mean_d) / (l std_d)`` (statistics of one-step
    differences; increments grow about linearly with ``l`` over a short bundle), with ``predict="state"`` the
    normalised next states. The step loss is the MSE of the
    network output against that normalised target. PDE parameters reach the network scaled to [-1, 1] by
    their training range (:class:`ParamScaling`). Statistics and scaling are buffers, so a checkpoint
    carries everything a rollout needs.
    Args:
      net: maps ``(B, H*C, *space)`` and ``(B, P)`` (or None) to ``(B, bundle*C, *space)``; called as
        ``net(x, cond)``.
      context: what the solver is built for.
      predict: ``"residual"`` or ``"state"``.
      bundle: frames predicted per call (temporal bundling, MP-PDE; 1: one-step).
    """

    def __init__(self, net: nn.Module, context: SolverContext, predict: str = "residual", bundle: int = 1):
        super().__init__(context)
        if bundle < 1:
            raise ValueError(f"bundle must be >= 1, got {bundle}")
        self.frames_per_step = bundle
        if predict not in PREDICT:
            raise ValueError(f"predict must be 'residual' or 'state', got {predict!r}")
        self.net, self.predict = net, predict
        self.param_scaling = ParamScaling(context.param_ranges)
        for name, value in (("field_mean", 0.0), ("field_std", 1.0), ("delta_mean", 0.0), ("delta_std", 1.0)):
            self.register_buffer(name, torch.full((context.channels,), value))
        if context.stats:
            self.set_stats(**{k: context.stats[k] for k in ("field_mean", "field_std", "delta_mean", "delta_std")})

    def set_stats(self, field_mean, field_std, delta_mean, delta_std) -> None:
        """Set normalisation statistics, each ``(C,)``; standard deviations must be positive."""
        for name, value in zip(("field_mean", "field_std", "delta_mean", "delta_std"),
                               (field_mean, field_std, delta_mean, delta_std), strict=True):
            value = torch.as_tensor(value, dtype=torch.float32).reshape(self.context.channels)
            if not torch.isfinite(value).all() or (name.endswith("std") and (value <= 0).any()):
                raise ValueError(f"normalisation statistic {name} must be finite (and std > 0), got {value}")
            getattr(self, name).copy_(value)

    def _per_channel(self, stat: torch.Tensor) -> torch.Tensor:
        return stat.view(self.context.channels, *([1] * self.context.ndim))

    def normalised_input(self, window: torch.Tensor) -> torch.Tensor:
        """``window`` ``(B, H, C, *space)`` normalised per channel and flattened to ``(B, H * C, *space)``."""
        return ((window - self._per_channel(self.field_mean)) / self._per_channel(self.field_std)).flatten(1, 2)

    def network_output(self, window: torch.Tensor, params: torch.Tensor | None = None) -> torch.Tensor:
        """Raw network output (normalised units), ``(B, bundle * C, *space)``."""
        cond = self.param_scaling(params) if params is not None else None
        return self.net(self.normalised_input(window), cond)

    def _lead(self, like: torch.Tensor) -> torch.Tensor:
        """``l = 1..bundle`` shaped ``(1, bundle, 1, *1)`` to scale the increments."""
        steps = torch.arange(1, self.frames_per_step + 1, dtype=like.dtype, device=like.device)
        return steps.view(1, -1, *([1] * (self.context.ndim + 1)))

    def normalised_target(self, window: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The network's regression target for the next frames ``target`` ``(B, bundle, C, *space)``."""
        if self.predict == "residual":
            lead = self._lead(target)
            return (target - window[:, -1:] - self._per_channel(self.delta_mean) * lead) / (
                self._per_channel(self.delta_std) * lead)
        return (target - self._per_channel(self.field_mean)) / self._per_channel(self.field_std)

    def advance_with_loss(self, window, target, params, time=None):
        out = self.network_output(window, params).unflatten(1, (self.frames_per_step, self.context.channels))
        if self.predict == "residual":
            increment = out.to(window.dtype) * self._per_channel(self.delta_std) + self._per_channel(self.delta_mean)
            nxt = window[:, -1:] + increment * self._lead(window)
        else:
            nxt = out.to(window.dtype) * self._per_channel(self.field_std) + self._per_channel(self.field_mean)
        loss = None
        if target is not None:
            loss = torch.mean((out.float() - self.normalised_target(window, target).float()) ** 2)
        return nxt, loss

    def forward_step(self, window: torch.Tensor, params: torch.Tensor | None = None) -> torch.Tensor:
        """The next state ``(B, C, *space)`` in physical units."""
        return self.advance(window, params)[:, 0]
