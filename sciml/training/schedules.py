"""Learning-rate schedules as one ``LambdaLR``: linear warm-up, then cosine, step, multistep or constant."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

SCHEDULES = ("cosine", "step", "multistep", "constant")


@dataclass(frozen=True)
class LRFactor:
    """Factor applied to the base learning rate after ``step`` optimiser steps (picklable, stateless)."""

    schedule: str
    max_steps: int
    warmup_steps: int = 0
    min_factor: float = 0.0  # cosine: final lr / base lr
    step_size: int = 1000
    gamma: float = 0.5
    milestones: tuple[int, ...] = ()  # multistep: multiply by gamma at each of these steps

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.schedule == "constant":
            return 1.0
        if self.schedule == "step":
            return self.gamma ** (step // self.step_size)
        if self.schedule == "multistep":
            return self.gamma ** sum(step >= m for m in self.milestones)
        span = max(self.max_steps - self.warmup_steps, 1)
        progress = min((step - self.warmup_steps) / span, 1.0)
        return self.min_factor + (1 - self.min_factor) * 0.5 * (1 + math.cos(math.pi * progress))


def effective_warmup(trainer) -> int:
    """The warm-up length actually used: at most a tenth of the run, so short runs still anneal."""
    return min(trainer.warmup_steps, trainer.max_steps // 10)


def build_scheduler(optimizer: torch.optim.Optimizer, trainer) -> torch.optim.lr_scheduler.LambdaLR:
    """The schedule of the ``trainer:`` section; the learning rate of step ``k + 1`` is ``lr * factor(k)``.

    It is a pure function of the step, so a resumed run recomputes it from the current config (a run whose
    ``max_steps`` grew follows the schedule of the new length) instead of loading it from the checkpoint.
    """
    factor = LRFactor(
        schedule=trainer.schedule,
        max_steps=trainer.max_steps,
        warmup_steps=effective_warmup(trainer),
        min_factor=min(trainer.min_lr / trainer.lr, 1.0) if trainer.lr > 0 else 0.0,
        step_size=trainer.step_size,
        gamma=trainer.gamma,
        milestones=tuple(trainer.milestones),
    )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
