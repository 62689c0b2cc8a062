"""The contract every solver family meets; the trainer and the evaluators talk to solvers through it alone.

A solver is an ``nn.Module`` built from a config section and a context (:class:`SolverContext` for
trajectory data). It owns its loss; the trainer owns devices, optimisation, checkpoints and logs:

- ``training_loss(batch, step) -> {name: scalar}``: named loss terms; the trainer minimises their sum and
  logs each as ``loss_<name>`` in ``metrics.csv``. ``step`` is the 1-based optimiser step being taken
  (schedules such as the pushforward range or a curriculum are functions of it).
- ``validation_loss(batch) -> {name: scalar}``: deterministic (a noisy metric would make ``best.pt`` a
  lottery); logged as ``val_<name>``; ``selection_metric`` names the one that picks ``best.pt``.
- ``rollout(initial, n_steps, params=None, time=None)``: the trajectory task's evaluation. A solver with
  ``stochastic = True`` (e.g. PDE-Refiner) also takes ``seed=``: every noise draw of the rollout comes from
  it, so the same seed repeats a rollout and different seeds give an ensemble.

Hooks, all optional: ``on_step_end(step)`` after each optimiser step (e.g. a collocation sampler moves its
points), ``log_values()`` for extra ``metrics.csv`` columns, ``begin_stage(name)`` before a trainer stage
(``"adam"``, ``"lbfgs"``). State that must survive a resume and is not a parameter or buffer goes through
``nn.Module.get_extra_state`` / ``set_extra_state`` (tensors and primitives only).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class Solver(nn.Module):
    """Base class of every solver; subclasses implement what their task calls."""

    uses_params: bool = True  # False: the solver ignores PDE parameters (a task refuses to pass them)
    selection_metric: str = "loss"  # the validation metric whose minimum is kept as best.pt
    stochastic: bool = False  # True: rollout(..., seed=) draws noise; evaluation can sample an ensemble

    def training_loss(self, batch: Any, step: int) -> dict[str, torch.Tensor]:
        raise NotImplementedError(f"{type(self).__name__} does not define training_loss")

    def validation_loss(self, batch: Any) -> dict[str, torch.Tensor]:
        raise NotImplementedError(f"{type(self).__name__} does not define validation_loss")

    def rollout(self, initial: torch.Tensor, n_steps: int, params: torch.Tensor | None = None,
                time: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, n_steps, C, *space)`` after ``initial`` ``(B, H, C, *space)``; ``time``: of the last initial frame."""
        raise NotImplementedError(f"{type(self).__name__} does not roll out trajectories")

    def on_step_end(self, step: int) -> None:
        """Called after optimiser step ``step`` (1-based)."""

    def log_values(self) -> dict[str, float]:
        """Extra values for the next ``metrics.csv`` row (only asked for when a row is written)."""
        return {}

    def begin_stage(self, name: str) -> None:
        """Called before a trainer stage starts or resumes (``"adam"``, ``"lbfgs"``)."""

    def forward(self, batch: Any, step: int) -> dict[str, torch.Tensor]:
        """The training loss, so that DDP can wrap the solver and all-reduce its gradients."""
        return self.training_loss(batch, step)
