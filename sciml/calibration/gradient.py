"""Gradient-based calibration: gradients of ensemble statistics with respect to the parameters, through the
differentiable simulator.

Chaos makes the gradient of a long-time statistic ill-defined (it grows like ``exp(lambda T)``), so each
iteration differentiates only a short window of an ensemble that keeps running: the window starts where the
last one ended (on the current parameters' attractor), its statistics are compared with the observed ones,
the gradient flows back through that window only, and the state is carried on without gradient. The
truncated gradient is biased, but the misfit it multiplies vanishes where the statistics match, so the
iteration's fixed point is the calibrated parameters. Each ensemble member has its own copy of the
parameters, so one backward pass also gives the members' contributions, whose spread is the reported
gradient standard error. Parameters are optimised in log space (Adam); the estimate is the average of the
iterates over the last ``average_fraction`` of the iterations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

# ``window(theta (E, D), state, steps) -> (statistics (E, S), final state)``, differentiable in theta.
Window = Callable[[torch.Tensor, torch.Tensor, int], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class GradientStep:
    """What one iteration measured."""

    loss: float
    gradient: torch.Tensor  # (D,) d loss / d log theta
    gradient_se: torch.Tensor  # (D,) its standard error over ensemble members
    statistics: torch.Tensor  # (S,) the window's ensemble means


def misfit_gradient(window: Window, log_theta: torch.Tensor, state: torch.Tensor, steps: int,
                    observed: torch.Tensor, scale: torch.Tensor,
                    transform: Callable[[torch.Tensor], torch.Tensor] | None = None
                    ) -> tuple[GradientStep, torch.Tensor]:
    """One window: ``loss = sum_s ((g(mean_e stat_e) - z_s) / scale_s)^2`` and its gradient in ``log theta (D,)``.

    ``state`` is ``(E, ...)``, one row per member; ``transform`` (``g``, e.g. a log) acts on the ensemble mean.
    Returns the step's measurements and the final state (detached).
    """
    members = state.shape[0]
    per_member = log_theta.detach().expand(members, -1).clone().requires_grad_(True)
    stats, final = window(per_member.exp(), state, steps)
    mean = stats.mean(0)
    shown = mean if transform is None else transform(mean)
    loss = ((shown - observed) / scale).square().sum()
    loss.backward()
    contributions = per_member.grad  # (E, D); their sum is the gradient
    gradient = contributions.sum(0)
    se = contributions.std(0) * members**0.5 if members > 1 else torch.full_like(gradient, float("nan"))
    step = GradientStep(loss.item(), gradient.detach(), se.detach(), shown.detach())
    return step, final.detach()
