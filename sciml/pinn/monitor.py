"""Propagation-failure monitors.

- The shape of the residual distribution (Daw et al. 2023): a PINN that converged to a trivial solution has a
  small mean residual but a few points of very large residual where the solution should propagate: ``|r|``
  becomes highly skewed and heavy-tailed.
- The amplitude (for problems that conserve it, e.g. convection): a PINN whose solution decays in time (R3's
  failure on convection at beta = 50: the stripes are there but fade) spreads its residual evenly over the
  stripes, so the residual's shape does not show it; the spatial RMS of the prediction against the initial
  condition's does, without the reference solution.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

AMPLITUDE_THRESHOLD = 0.5  # flag a solution whose RMS falls below half the initial condition's (or exceeds twice)


@dataclass(frozen=True)
class ResidualStats:
    mean: float
    max: float
    skewness: float  # of |r|
    kurtosis: float  # of |r|, excess (0 for a Gaussian)


def residual_stats(residual: torch.Tensor) -> ResidualStats:
    """Mean, max, skewness and excess kurtosis of ``|r|`` (population moments)."""
    a = residual.detach().abs().double().flatten()
    mean = a.mean()
    centred = a - mean
    var = centred.pow(2).mean()
    moments = torch.stack([mean, a.max(), var, centred.pow(3).mean(), centred.pow(4).mean()])
    mean, top, var, third, fourth = moments.tolist()  # one device sync
    if var <= 0:
        return ResidualStats(mean, top, 0.0, 0.0)
    return ResidualStats(mean, top, third / var**1.5, fourth / var**2 - 3)


def looks_like_propagation_failure(relative_error: float, stats: ResidualStats, error_threshold: float = 0.5,
                                   kurtosis_threshold: float = 10.0) -> bool:
    """The signature of a trivial solution: a large error with a heavy-tailed residual distribution."""
    return relative_error > error_threshold and stats.kurtosis > kurtosis_threshold


def amplitude_ratios(model, problem, sizes: tuple[int, ...]) -> tuple[float, float]:
    """``min_t`` and ``max_t`` of ``rms_x u(x, t) / rms_x u0(x)`` on the evaluation grid ``sizes`` (an evolution
    problem): both 1 for an amplitude-conserving solution; the minimum small when the prediction decays."""
    axis = problem.time_axis
    points = problem.domain.grid(sizes)
    with torch.no_grad():
        u = model(points).reshape(-1)
        u0 = problem.initial_value(points)
    shape = list(sizes)
    u, u0 = u.reshape(shape).movedim(axis, 0).flatten(1), u0.reshape(shape).movedim(axis, 0).flatten(1)
    ratio = u.pow(2).mean(1).sqrt() / u0.pow(2).mean(1).sqrt().clamp_min(1e-12)
    return float(ratio.min()), float(ratio.max())


def looks_like_amplitude_decay(smallest: float, largest: float = 1.0, threshold: float = AMPLITUDE_THRESHOLD) -> bool:
    """The amplitude left ``[threshold, 1 / threshold]`` times the initial condition's at some time."""
    return smallest < threshold or largest > 1 / threshold
