"""One-step grid emulators: a network wrapped with normalisation, PDE-parameter scaling and a step loss."""

from __future__ import annotations

import torch
from torch import nn

from sciml.solvers.autoregressive import AutoregressiveSolver
from sciml.solvers.conditioning import ParamScaling
from sciml.solvers.context import SolverContext

PREDICT = ("residual", "state")


class NeuralSolver(AutoregressiveSolver):
    """``u(t + dt) = F(u(t - (H-1) dt), ..., u(t); p)`` with a network on normalised fields.

    Inputs are normalised per channel with field statistics; with ``predict="residual"`` the network
    predicts the normalised increment ``(u(t+dt) - u(t) - mean_d) / std_d`` (statistics of one-step
    differences), with ``predict="state"`` the normalised next state. The step loss is the MSE of the
    network output against that normalised target. PDE parameters reach the network scaled to [-1, 1] by
    their training range (:class:`ParamScaling`). Statistics and scaling are buffers, so a checkpoint
    carries everything a rollout needs.
    Args:
      net: maps ``(B, H*C, *space)`` and ``(B, P)`` (or None) to ``(B, C, *space)``; called as ``net(x, cond)``.
      context: what the solver is built for.
      predict: ``"residual"`` or ``"state"``.
    """

    def __init__(self, net: nn.Module, context: SolverContext, predict: str = "residual"):
        super().__init__(context)
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

    def network_output(self, window: torch.Tensor, params: torch.Tensor | None = None) -> torch.Tensor:
        """Raw network output (normalised units), ``(B, C, *space)``."""
        x = (window - self._per_channel(self.field_mean)) / self._per_channel(self.field_std)
        cond = self.param_scaling(params) if params is not None else None
        return self.net(x.flatten(1, 2), cond)

    def normalised_target(self, window: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The network's regression target for the next frame ``target`` ``(B, C, *space)``."""
        if self.predict == "residual":
            return (target - window[:, -1] - self._per_channel(self.delta_mean)) / self._per_channel(self.delta_std)
        return (target - self._per_channel(self.field_mean)) / self._per_channel(self.field_std)

    def advance_with_loss(self, window, target, params, time=None):
        out = self.network_output(window, params)
        if self.predict == "residual":
            increment = out.to(window.dtype) * self._per_channel(self.delta_std) + self._per_channel(self.delta_mean)
            nxt = window[:, -1] + increment
        else:
            nxt = out.to(window.dtype) * self._per_channel(self.field_std) + self._per_channel(self.field_mean)
        loss = None
        if target is not None:
            loss = torch.mean((out.float() - self.normalised_target(window, target[:, 0]).float()) ** 2)
        return nxt[:, None], loss

    def forward_step(self, window: torch.Tensor, params: torch.Tensor | None = None) -> torch.Tensor:
        """The next state ``(B, C, *space)`` in physical units."""
        return self.advance(window, params)[:, 0]
