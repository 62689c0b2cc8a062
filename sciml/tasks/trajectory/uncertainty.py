"""Uncertainty of a stochastic solver from an ensemble of rollouts with different noise seeds.

For each test trajectory, ``evaluate.samples`` rollouts give, per model step: the spread (ensemble standard
deviation, RMS over space and channels), the error of the ensemble mean, and the mean Pearson correlation
between pairs of members. When the members stop agreeing (pair correlation below the threshold) predicts when
the first member stops agreeing with the truth (PDE-Refiner, Lippe et al. 2023, section on uncertainty).
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from sciml import metrics


def ensemble_statistics(members: list[torch.Tensor], true: torch.Tensor) -> dict[str, torch.Tensor]:
    """``members``: S >= 2 rollouts ``(B, T, C, *space)`` of the same trajectories; ``true`` alike.

    Returns ``(B, T)`` tensors: ``spread`` (unbiased ensemble std, RMS over C and space), ``error`` (RMSE of
    the ensemble mean) and ``member_correlation`` (mean Pearson correlation over pairs of members).
    """
    if len(members) < 2:
        raise ValueError(f"an ensemble needs at least 2 members, got {len(members)}")
    ens = torch.stack(members).double()
    spread = ens.var(0, unbiased=True).flatten(2).mean(-1).sqrt()
    error = ((ens.mean(0) - true.double()) ** 2).flatten(2).mean(-1).sqrt()
    pairs = [metrics.correlation(ens[a], ens[b]) for a, b in itertools.combinations(range(len(members)), 2)]
    return {"spread": spread, "error": error, "member_correlation": torch.stack(pairs).mean(0)}


def first_below(values: np.ndarray, threshold: float) -> np.ndarray:
    """Per row of ``values`` ``(N, T)``, the number of steps before it first drops below ``threshold`` (NaN
    counts as below; T when it never does)."""
    below = ~(values >= threshold)
    return np.where(below.any(1), below.argmax(1), values.shape[1])


def pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    """Pearson correlation of the finite pairs of ``a`` and ``b``; None when undefined."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or a[ok].std() == 0 or b[ok].std() == 0:
        return None
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def summarise(stats: dict[str, np.ndarray], truth_correlation: np.ndarray, threshold: float, dt: float,
              samples: int) -> dict:
    """The ``uncertainty`` block of ``results.json`` from per-trajectory ``(N, T)`` arrays.

    ``truth_correlation`` is the correlation of the first member (the seed whose metrics are reported) with
    the truth. Times are in the data's time units.
    """
    predicted = first_below(stats["member_correlation"], threshold)
    actual = first_below(truth_correlation, threshold)
    with np.errstate(invalid="ignore"):
        mean_spread, mean_error = np.nanmean(stats["spread"], 0), np.nanmean(stats["error"], 0)
    return {
        "samples": samples,
        "spread": [float(v) for v in mean_spread],
        "ensemble_mean_rmse": [float(v) for v in mean_error],
        "spread_error_correlation": pearson(stats["spread"], stats["error"]),
        "spread_error_correlation_log": pearson(np.log(stats["spread"] + 1e-30), np.log(stats["error"] + 1e-30)),
        "threshold": threshold,
        "predicted_decorrelation_time": (predicted * dt).tolist(),
        "actual_decorrelation_time": (actual * dt).tolist(),
        "decorrelation_time_correlation": pearson(predicted, actual),
        "decorrelation_time_mean_abs_difference": float(np.abs(predicted - actual).mean() * dt),
    }
