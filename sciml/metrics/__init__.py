"""Metrics of rollouts, ensembles and long runs.

Rollout metrics are found by name (``sciml.metrics.get("nrmse")``): each maps ``pred, true`` of shape
``(B, T, C, *space)`` to ``(B, T)``. Beside them: ensemble skill (:mod:`~sciml.metrics.ensemble`: CRPS,
spread-skill, rank histograms), The Well's field metrics (:mod:`~sciml.metrics.well`), energy spectra
(:mod:`~sciml.metrics.spectra`), climate statistics (:mod:`~sciml.metrics.climate`) and their online
accumulation (:mod:`~sciml.metrics.online`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from sciml.metrics.climate import (
    autocorrelation,
    hellinger_distance,
    histogram_density,
    histogram_wasserstein1,
    wasserstein1,
)
from sciml.metrics.ensemble import crps, rank_histogram, spread_and_skill, spread_skill
from sciml.metrics.spectra import energy_spectrum, log_spectral_distance
from sciml.metrics.well import band_edges, binned_spectral_error, vrmse
from sciml.registry import Registry

Metric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
registry: Registry[Metric] = Registry("metric")


def _space_dims(x: torch.Tensor) -> tuple[int, ...]:
    return tuple(range(3, x.dim()))


@registry.register("mse")
def mse(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Mean squared error over channels and space."""
    return ((pred - true) ** 2).flatten(2).mean(-1)


@registry.register("nrmse")
def nrmse(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """PDEBench nRMSE: ``sqrt(mean_x (pred - true)^2) / sqrt(mean_x true^2)`` per channel, mean over channels."""
    dims = _space_dims(pred)
    err = ((pred - true) ** 2).mean(dims).sqrt()
    norm = (true**2).mean(dims).sqrt()
    return (err / norm).mean(-1)


@registry.register("correlation")
def correlation(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Pearson correlation between prediction and truth over channels and space."""
    p = pred.flatten(2) - pred.flatten(2).mean(-1, keepdim=True)
    t = true.flatten(2) - true.flatten(2).mean(-1, keepdim=True)
    return (p * t).sum(-1) / (p.norm(dim=-1) * t.norm(dim=-1))


@registry.register("spectrum_error")
def spectrum_error(pred: torch.Tensor, true: torch.Tensor, floor: float = 1e-10) -> torch.Tensor:
    """Log-spectral distance ``sqrt(mean_k (log10 E_pred(k) - log10 E_true(k))^2)`` per sample and step,
    over ``k > 0`` where the true spectrum exceeds ``floor`` times its maximum (:func:`log_spectral_distance`)."""
    ndim = pred.dim() - 3
    return log_spectral_distance(energy_spectrum(pred, ndim), energy_spectrum(true, ndim), floor)


registry.register("vrmse")(vrmse)


def high_correlation_steps(mean_corr: torch.Tensor, threshold: float = 0.8) -> tuple[int, bool]:
    """Steps before the mean correlation ``(T,)`` (step 1 first) first drops below ``threshold``.

    Returns ``(steps, reached)``: ``reached`` is False when it never dropped within the horizon, in which
    case ``steps`` is the horizon (a lower bound). NaN counts as below the threshold.
    """
    below = ~(mean_corr >= threshold)
    if not below.any():
        return int(mean_corr.numel()), False
    return int(torch.nonzero(below)[0, 0]), True


def steps_below(values: torch.Tensor, threshold: float) -> tuple[int, bool]:
    """Steps before ``values`` ``(T,)`` (step 1 first) first reach ``threshold`` (e.g. an ensemble RMSE
    reaching the climatological standard deviation). Returns ``(steps, reached)`` as
    :func:`high_correlation_steps` does; NaN counts as reached."""
    reached = ~(values < threshold)
    if not reached.any():
        return int(values.numel()), False
    return int(torch.nonzero(reached)[0, 0]), True


def get(name: str) -> Metric:
    return registry.get(name)


__all__ = ["autocorrelation", "band_edges", "binned_spectral_error", "correlation", "crps", "energy_spectrum", "get",
           "hellinger_distance", "high_correlation_steps", "histogram_density", "histogram_wasserstein1",
           "log_spectral_distance", "mse", "nrmse", "rank_histogram", "registry", "spectrum_error",
           "spread_and_skill", "spread_skill", "steps_below", "vrmse", "wasserstein1"]
