"""Autoregressive solvers: ``frames_per_step`` new frames from the last ``history`` ones, rolled out.

Subclasses implement :meth:`AutoregressiveSolver.advance_with_loss` (one model step and its loss against
the true frames); this class turns it into the multi-step training loss of :mod:`sciml.solvers.unroll`, a
deterministic validation loss and a rollout of any length.
"""

from __future__ import annotations

import math

import torch

from sciml.solvers.base import Solver
from sciml.solvers.context import SolverContext
from sciml.solvers.unroll import UnrollPlan

Loss = torch.Tensor | dict[str, torch.Tensor]


class AutoregressiveSolver(Solver):
    """``u(t + dt .. t + F dt) = F(u(t - (H-1) dt), ..., u(t); params)`` for ``F = frames_per_step``.

    Windows are ``(B, H, C, *space)`` in physical units, targets ``(B, horizon * F, C, *space)``, PDE
    parameters ``(B, P)`` in the file's units (a solver scales them itself), ``time`` ``(B,)`` the time of
    a window's last frame (solvers that take time as an input, e.g. MP-PDE, read it; None when unknown).
    """

    frames_per_step: int = 1

    def __init__(self, context: SolverContext):
        super().__init__()
        self.context = context
        self.plan = UnrollPlan()

    def configure_training(self, plan: UnrollPlan) -> None:
        """Set the multi-step training plan (the trajectory task does, from ``task.*`` keys)."""
        self.plan = plan

    # -- what subclasses provide ----------------------------------------------------------------------
    def advance_with_loss(self, window: torch.Tensor, target: torch.Tensor | None, params: torch.Tensor | None,
                          time: torch.Tensor | None = None) -> tuple[torch.Tensor, Loss | None]:
        """One model step: the next ``(B, F, C, *space)`` frames and, when ``target`` is given, the loss (a
        scalar, logged as ``mse``, or named terms ``{name: scalar}``)."""
        raise NotImplementedError

    def advance(self, window: torch.Tensor, params: torch.Tensor | None = None,
                time: torch.Tensor | None = None) -> torch.Tensor:
        """The next ``(B, F, C, *space)`` frames after ``window`` (shapes checked)."""
        self.check_window(window)
        self.check_params(params, len(window))
        return self._advance(window, params, time)

    def _advance(self, window: torch.Tensor, params: torch.Tensor | None, time: torch.Tensor | None) -> torch.Tensor:
        return self.advance_with_loss(window, None, params, time)[0]

    def later(self, time: torch.Tensor | None, steps: int = 1) -> torch.Tensor | None:
        """``time`` after ``steps`` model steps of ``frames_per_step`` frames."""
        return None if time is None else time + steps * self.frames_per_step * self.context.dt

    # -- shapes ---------------------------------------------------------------------------------------
    def check_window(self, window: torch.Tensor) -> None:
        c = self.context
        expected = (c.history, c.channels, *c.spatial_shape)
        if tuple(window.shape[1:]) != expected:
            raise ValueError(f"{type(self).__name__} expects windows of shape (B, {c.history}, {c.channels}, "
                             f"*{c.spatial_shape}) with {c.ndim} space dims, got {tuple(window.shape)}")

    def check_params(self, params: torch.Tensor | None, batch: int) -> None:
        p = self.context.n_params
        if p == 0:
            if params is not None:
                raise ValueError(f"{type(self).__name__} was built without PDE parameters but was given "
                                 f"params of shape {tuple(params.shape)}")
        elif params is None or tuple(params.shape) != (batch, p):
            got = None if params is None else tuple(params.shape)
            raise ValueError(f"{type(self).__name__} needs params of shape ({batch}, {p}) "
                             f"({', '.join(self.context.param_names)}), got {got}")

    def next_window(self, window: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """Slide ``window`` forward by ``frames`` ``(B, F, C, *space)``."""
        return torch.cat([window, frames], dim=1)[:, -window.shape[1]:]

    # -- the contract ---------------------------------------------------------------------------------
    def unrolled_loss(self, window: torch.Tensor, targets: torch.Tensor, params: torch.Tensor | None,
                      time: torch.Tensor | None, plan: UnrollPlan, skip: int, teacher_forced: int
                      ) -> dict[str, torch.Tensor]:
        """Each loss term's mean over ``plan.graded_steps`` steps after ``skip`` steps rolled out without
        gradient."""
        f = self.frames_per_step
        if targets.shape[1] < plan.horizon * f:
            raise ValueError(f"windows hold {targets.shape[1]} target frames; the plan needs "
                             f"{plan.horizon} steps x {f} frames")
        if skip:
            with torch.no_grad():
                for _ in range(skip):
                    window = self.next_window(window, self._advance(window, params, time))
                    time = self.later(time)
        losses = []
        graded = plan.graded_steps
        for j in range(graded):
            target = targets[:, (skip + j) * f:(skip + j + 1) * f]
            prediction, loss = self.advance_with_loss(window, target, params, time)
            losses.append(loss if isinstance(loss, dict) else {"mse": loss})
            if j + 1 < graded:
                fed = target if j < teacher_forced else prediction
                window = self.next_window(window, fed if plan.gradient_through_unroll else fed.detach())
                time = self.later(time)
        return {name: torch.stack([terms[name] for terms in losses]).mean() for name in losses[0]}

    def training_loss(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        window, targets, params = batch["input"], batch["target"], batch.get("params")
        self.check_window(window)
        self.check_params(params, len(window))
        plan = self.plan
        return self.unrolled_loss(window, targets, params, batch.get("time"), plan, plan.pushforward_draw(step),
                                  plan.teacher_forced_inputs(step))

    @torch.no_grad()
    def validation_loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The loss (the sum of the terms) of an autoregressive rollout over every target step of the window
        (no pushforward)."""
        window, targets, params = batch["input"], batch["target"], batch.get("params")
        self.check_window(window)
        self.check_params(params, len(window))
        horizon = targets.shape[1] // self.frames_per_step
        plan = UnrollPlan(horizon=horizon)
        terms = self.unrolled_loss(window, targets, params, batch.get("time"), plan, 0, 0)
        return {"loss": sum(terms.values())}

    @torch.no_grad()
    def rollout(self, initial: torch.Tensor, n_steps: int, params: torch.Tensor | None = None,
                time: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, n_steps, C, *space)``: the frames after ``initial`` ``(B, H, C, *space)``, one per model time
        step (a solver emitting bundles of F frames is called ``ceil(n_steps / F)`` times); ``time`` ``(B,)``
        is the time of the last initial frame."""
        self.check_window(initial)
        self.check_params(params, len(initial))
        frames, window = [], initial
        for _ in range(math.ceil(n_steps / self.frames_per_step)):
            new = self._advance(window, params, time)
            frames.append(new)
            window = self.next_window(window, new)
            time = self.later(time)
        if not frames:
            return initial[:, :0]
        return torch.cat(frames, dim=1)[:, :n_steps]
