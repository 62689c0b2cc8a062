"""What every autoregressive solver is: a network wrapped with normalisation, a loss and a rollout."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class SolverIO:
    """Shapes a solver is built for.

    Attributes:
      ndim: spatial dimensions (1 or 2).
      channels: physical fields per frame.
      history: frames given as input.
      n_cond: scalar conditioning inputs (e.g. time step, PDE parameters); 0 for none.
      spatial_shape: grid shape, e.g. ``(256,)``.
    """

    ndim: int
    channels: int
    history: int
    n_cond: int
    spatial_shape: tuple[int, ...]


class NeuralSolver(nn.Module):
    """Autoregressive one-step solver ``u(t + dt) = F(u(t - (H-1) dt), ..., u(t))``.

    Inputs are normalised per channel with field statistics; with ``predict="residual"`` the network
    predicts the normalised increment ``(u(t+dt) - u(t) - mean_d) / std_d`` (statistics of one-step
    differences), with ``predict="state"`` the normalised next state. The statistics are buffers, so a
    checkpoint carries everything a rollout needs.
    Args:
      net: maps ``(B, H*C + ..., *space)`` to ``(B, C, *space)``; called as ``net(x, cond)``.
      io: the shapes it was built for.
      predict: ``"residual"`` or ``"state"``.
    """

    def __init__(self, net: nn.Module, io: SolverIO, predict: str = "residual"):
        super().__init__()
        if predict not in ("residual", "state"):
            raise ValueError(f"predict must be 'residual' or 'state', got {predict!r}")
        self.net, self.io, self.predict = net, io, predict
        c = io.channels
        for name, value in (("field_mean", 0.0), ("field_std", 1.0), ("delta_mean", 0.0), ("delta_std", 1.0)):
            self.register_buffer(name, torch.full((c,), value))

    def set_stats(self, field_mean, field_std, delta_mean, delta_std) -> None:
        """Set normalisation statistics, each ``(C,)``; standard deviations must be positive."""
        for name, value in zip(
            ("field_mean", "field_std", "delta_mean", "delta_std"),
            (field_mean, field_std, delta_mean, delta_std),
            strict=True,
        ):
            value = torch.as_tensor(value, dtype=torch.float32).reshape(self.io.channels)
            if not torch.isfinite(value).all() or (name.endswith("std") and (value <= 0).any()):
                raise ValueError(f"normalisation statistic {name} must be finite (and std > 0), got {value}")
            getattr(self, name).copy_(value)

    def _per_channel(self, stat: torch.Tensor) -> torch.Tensor:
        return stat.view(self.io.channels, *([1] * self.io.ndim))

    def _check(self, history: torch.Tensor) -> None:
        expected = (self.io.history, self.io.channels)
        if history.dim() != 3 + self.io.ndim or tuple(history.shape[1:3]) != expected:
            raise ValueError(
                f"solver expects history of shape (B, {expected[0]}, {expected[1]}, *space) with "
                f"{self.io.ndim} space dims, got {tuple(history.shape)}"
            )

    def network_output(self, history: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """Raw network output (normalised units), ``(B, C, *space)``."""
        self._check(history)
        x = (history - self._per_channel(self.field_mean)) / self._per_channel(self.field_std)
        x = x.flatten(1, 2)
        return self.net(x, cond)

    def forward(self, history: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """Next state in physical units, ``(B, C, *space)``, from ``history`` ``(B, H, C, *space)``."""
        out = self.network_output(history, cond).to(history.dtype)
        if self.predict == "residual":
            increment = out * self._per_channel(self.delta_std) + self._per_channel(self.delta_mean)
            return history[:, -1] + increment
        return out * self._per_channel(self.field_std) + self._per_channel(self.field_mean)

    def normalised_target(self, history: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The network's regression target for the next frame ``target`` ``(B, C, *space)``."""
        if self.predict == "residual":
            return (target - history[:, -1] - self._per_channel(self.delta_mean)) / self._per_channel(
                self.delta_std
            )
        return (target - self._per_channel(self.field_mean)) / self._per_channel(self.field_std)

    def loss(
        self, history: torch.Tensor, target: torch.Tensor, cond: torch.Tensor | None = None
    ) -> torch.Tensor:
        """One-step MSE in normalised units; ``target`` is ``(B, horizon, C, *space)``, first frame used."""
        out = self.network_output(history, cond).float()
        return torch.mean((out - self.normalised_target(history, target[:, 0]).float()) ** 2)

    @torch.no_grad()
    def rollout(
        self,
        history: torch.Tensor,
        n_steps: int,
        cond: torch.Tensor | None = None,
        callback: Callable[[int, torch.Tensor], None] | None = None,
    ) -> torch.Tensor:
        """Autoregressive rollout: ``(B, n_steps, C, *space)`` predicted frames after ``history``.

        ``callback(step, frame)`` is called after each step (1-based), e.g. for blow-up checks.
        """
        self._check(history)
        frames = []
        window = history
        for i in range(1, n_steps + 1):
            nxt = self(window, cond)
            frames.append(nxt)
            if callback is not None:
                callback(i, nxt)
            window = torch.cat([window[:, 1:], nxt[:, None]], dim=1)
        return torch.stack(frames, dim=1)
