"""Multi-step training of autoregressive solvers: unrolled losses, the pushforward trick, a curriculum.

A training window holds ``horizon`` model steps of targets. Of these, the first ``k`` are rolled out
without gradient (the pushforward trick of Brandstetter et al. 2022: the model learns from inputs drawn
from its own error distribution) and the remaining ``horizon - pushforward`` are graded: the loss is the
mean of their per-step losses, with gradients through the unroll or stopped between steps. ``k`` is drawn
per batch from ``0..k_max(step)``, where ``k_max`` grows by one every ``pushforward_every`` steps up to
``pushforward`` (MP-PDE: one more every epoch). The draw is a pure function of ``(seed, step)``, so a
resumed run draws what an uninterrupted one would.

Inputs of the graded steps after the first come from the truth (teacher forcing) or from the model's own
previous prediction. ``teacher_forcing="curriculum"`` moves from one to the other over training with
``s(e) = (1 + tanh((e - 0.5) / 0.2)) / 2`` of the training progress ``e`` (CAPE, Takamoto et al. 2023):
the first ``round((1 - s) (n - 1))`` of the ``n - 1`` later inputs are true frames, the rest predictions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

TEACHER_FORCING = ("never", "always", "curriculum")


def curriculum(progress: float) -> float:
    """CAPE's share of autoregressive inputs at training progress ``progress`` in [0, 1]."""
    return 0.5 * (1.0 + math.tanh((progress - 0.5) / 0.2))


@dataclass(frozen=True)
class UnrollPlan:
    """How an autoregressive solver turns a window of ``horizon`` target steps into a loss.

    Attributes:
      horizon: model steps of targets per training window.
      pushforward: the largest number of steps rolled out without gradient first (0: off).
      pushforward_every: optimiser steps per increase of the drawn range by one (0: the whole range at once).
      gradient_through_unroll: backpropagate through the predictions fed back in (else detach them).
      teacher_forcing: ``never`` (autoregressive), ``always``, or ``curriculum``.
      total_steps: training length in optimiser steps (the curriculum's progress is ``step / total_steps``).
      steps_per_epoch: optimiser steps per epoch (for schedules a solver counts in epochs, e.g. CAPE's warm-up).
      seed: seeds the pushforward draws.
    """

    horizon: int = 1
    pushforward: int = 0
    pushforward_every: int = 0
    gradient_through_unroll: bool = True
    teacher_forcing: str = "never"
    total_steps: int = 1
    steps_per_epoch: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.horizon < 1 or self.pushforward < 0 or self.pushforward_every < 0:
            raise ValueError(f"need horizon >= 1, pushforward >= 0, pushforward_every >= 0; got {self}")
        if self.horizon <= self.pushforward:
            raise ValueError(f"horizon={self.horizon} leaves no graded step after pushforward={self.pushforward} "
                             f"(need horizon >= pushforward + 1)")
        if self.teacher_forcing not in TEACHER_FORCING:
            raise ValueError(f"teacher_forcing must be one of {TEACHER_FORCING}, got {self.teacher_forcing!r}")

    @property
    def graded_steps(self) -> int:
        """Steps whose loss is averaged: ``horizon - pushforward``."""
        return self.horizon - self.pushforward

    def pushforward_range(self, step: int) -> int:
        """The largest number of no-gradient steps that may be drawn at optimiser step ``step`` (1-based)."""
        if self.pushforward == 0 or self.pushforward_every == 0:
            return self.pushforward
        return min(self.pushforward, (step - 1) // self.pushforward_every)

    def pushforward_draw(self, step: int) -> int:
        """The number of no-gradient steps for the batch of step ``step``: uniform on ``0..range``."""
        top = self.pushforward_range(step)
        if top == 0:
            return 0
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        return int(torch.randint(0, top + 1, (1,), generator=generator))

    def teacher_forced_inputs(self, step: int) -> int:
        """How many of the ``graded_steps - 1`` fed-back inputs are true frames at step ``step``."""
        later = self.graded_steps - 1
        if self.teacher_forcing == "never" or later == 0:
            return 0
        if self.teacher_forcing == "always":
            return later
        progress = min(max((step - 1) / self.total_steps, 0.0), 1.0)
        return round((1.0 - curriculum(progress)) * later)
