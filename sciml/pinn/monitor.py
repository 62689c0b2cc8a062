"""Propagation-failure monitor: the shape of the residual distribution (Daw et al. 2023).

A PINN that converged to a trivial solution has a small mean residual but a few points of very large
residual where the solution should propagate: ``|r|`` becomes highly skewed and heavy-tailed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


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
