"""Evaluation plots (PNG): correlation over time, space-time diagrams, energy spectra, errors over time."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def correlation_plot(time: np.ndarray, corr: np.ndarray, threshold: float, high_corr_time: float,
                     path: Path) -> Path:
    """Mean and 10-90% band of the per-sample correlation ``corr`` ``(N, T)`` against ``time``."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    lo, hi = np.nanpercentile(corr, [10, 90], axis=0)
    ax.fill_between(time, lo, hi, alpha=0.25, label="10-90% of trajectories")
    ax.plot(time, np.nanmean(corr, axis=0), lw=2, label="mean")
    ax.axhline(threshold, color="k", ls="--", lw=1)
    ax.axvline(high_corr_time, color="C3", ls=":", lw=1.5, label=f"high-correlation time {high_corr_time:.3g}")
    ax.set(xlabel="time", ylabel="Pearson correlation", ylim=(min(-0.05, float(np.nanmin(lo))), 1.02),
           title="Rollout correlation with the truth")
    ax.legend(loc="lower left", fontsize=8)
    return _save(fig, path)


def error_plot(time: np.ndarray, curves: dict[str, np.ndarray], path: Path) -> Path:
    """Sample-mean error curves ``name -> (T,)`` on a log scale."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, values in curves.items():
        ax.semilogy(time, values, label=name)
    ax.set(xlabel="time", ylabel="error", title="Rollout errors (mean over trajectories)")
    ax.legend(fontsize=8)
    return _save(fig, path)


def spacetime_plot(x: np.ndarray, time: np.ndarray, true: np.ndarray, pred: np.ndarray, path: Path) -> Path:
    """Truth, prediction and error of one 1D trajectory, ``(T, X)`` each, as space-time diagrams."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 4), sharey=True, layout="constrained")
    vmax = float(np.nanmax(np.abs(true)))
    extent = (x[0], x[-1], time[0], time[-1])
    for ax, data, title in zip(axes, (true, pred, pred - true), ("truth", "prediction", "error"), strict=True):
        im = ax.imshow(data, origin="lower", aspect="auto", extent=extent, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.set(title=title, xlabel="x")
    axes[0].set_ylabel("time")
    fig.colorbar(im, ax=axes, shrink=0.8)
    return _save(fig, path, tight=False)


def snapshot_plot(time: np.ndarray, true: np.ndarray, pred: np.ndarray, path: Path) -> Path:
    """Truth and prediction of one 2D trajectory ``(T, Y, X)`` at four times."""
    picks = np.unique(np.linspace(0, len(time) - 1, 4).round().astype(int))
    fig, axes = plt.subplots(2, len(picks), figsize=(3 * len(picks), 6), squeeze=False)
    vmax = float(np.nanmax(np.abs(true)))
    for j, i in enumerate(picks):
        for row, data, label in ((0, true, "truth"), (1, pred, "prediction")):
            axes[row, j].imshow(data[i], origin="lower", cmap="RdBu_r", vmin=-vmax, vmax=vmax)
            axes[row, j].set(title=f"{label}, t={time[i]:.3g}", xticks=[], yticks=[])
    return _save(fig, path)


def spectrum_plot(k: np.ndarray, spectra: dict[float, tuple[np.ndarray, np.ndarray]], path: Path) -> Path:
    """Energy spectra ``time -> (truth, prediction)`` on log-log axes (k = 0 left out)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (t, (true, pred)) in enumerate(spectra.items()):
        ax.loglog(k[1:], true[1:], color=f"C{i}", lw=2, alpha=0.6, label=f"truth t={t:.3g}")
        ax.loglog(k[1:], pred[1:], color=f"C{i}", ls="--", label=f"prediction t={t:.3g}")
    ax.set(xlabel="wavenumber k (units of 2pi/L)", ylabel="E(k)", title="Energy spectra")
    ax.legend(fontsize=7)
    return _save(fig, path)


def error_spectrum_plot(k: np.ndarray, spectra: dict[float, tuple[np.ndarray, np.ndarray]], path: Path) -> Path:
    """Spectra of the error ``time -> (truth, error)``: where in k the prediction is wrong, against the
    truth's energy there (k = 0 left out)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (t, (true, error)) in enumerate(spectra.items()):
        ax.loglog(k[1:], true[1:], color=f"C{i}", lw=2, alpha=0.35, label=f"truth t={t:.3g}")
        ax.loglog(k[1:], error[1:], color=f"C{i}", ls=":", lw=1.5, label=f"error t={t:.3g}")
    ax.set(xlabel="wavenumber k (units of 2pi/L)", ylabel="E(k)", title="Error spectra (prediction - truth)")
    ax.legend(fontsize=7)
    return _save(fig, path)


def uncertainty_plot(time: np.ndarray, spread: np.ndarray, error: np.ndarray, predicted: np.ndarray,
                     actual: np.ndarray, threshold: float, path: Path) -> Path:
    """Left: mean ensemble spread and ensemble-mean RMSE against time. Right: per trajectory, the time the
    members decorrelate from each other against the time the first member decorrelates from the truth."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 4))
    ax.semilogy(time, spread, label="ensemble spread (std)")
    ax.semilogy(time, error, label="RMSE of the ensemble mean")
    ax.set(xlabel="time", ylabel="RMS over space", title="Spread and error (mean over trajectories)")
    ax.legend(fontsize=8)
    bx.scatter(actual, predicted, s=14)
    top = float(max(np.max(actual), np.max(predicted), 1e-12)) * 1.05
    bx.plot([0, top], [0, top], color="k", lw=1, ls="--")
    bx.set(xlabel=f"actual: correlation with the truth < {threshold} (time)",
           ylabel=f"predicted: members' correlation < {threshold} (time)",
           xlim=(0, top), ylim=(0, top), title="Decorrelation: predicted from the spread vs actual")
    return _save(fig, path)


def ensemble_plot(time: np.ndarray, block: dict, path: Path) -> Path:
    """The ``ensemble`` block of ``results.json``: CRPS and spread–skill against lead time, and the rank
    histograms at three horizons (a flat histogram and a ratio of 1 mean a calibrated ensemble)."""
    def values(key: str) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in block[key]], dtype=float)

    fig, (ax, bx, cx) = plt.subplots(1, 3, figsize=(13, 3.8))
    ax.plot(time, values("crps"))
    ax.set(xlabel="lead time", ylabel="CRPS (mean over points)", title=f"CRPS, {block['members']} members")
    bx.plot(time, values("spread_skill"))
    bx.axhline(1.0, color="k", lw=1, ls="--")
    bx.set(xlabel="lead time", ylabel="spread / RMSE of the mean", title="Spread–skill ratio")
    hists = block["rank_histogram"]
    picks = [hists[i] for i in sorted({0, len(hists) // 2, len(hists) - 1})] if hists else []
    width = 0.8 / max(len(picks), 1)
    for i, h in enumerate(picks):
        counts = np.asarray(h["counts"], dtype=float)
        ranks = np.arange(len(counts))
        cx.bar(ranks + (i - (len(picks) - 1) / 2) * width, counts / counts.sum(), width=width,
               label=f"t = {h['time']:.3g}")
    if picks:
        cx.axhline(1 / len(picks[0]["counts"]), color="k", lw=1, ls="--")
    cx.set(xlabel="rank of the truth among the members", ylabel="frequency", title="Rank histograms")
    cx.legend(fontsize=8)
    return _save(fig, path)


def climate_plot(fields: dict, dt_model: float, path: Path) -> Path:
    """Per field (a row, three at most): the marginal PDF, the time-mean energy spectrum and the
    autocorrelation against lag, truth against model. ``fields``: name -> (model, truth)
    :class:`~sciml.metrics.online.FieldClimate`."""
    names = list(fields)[:3]
    fig, axes = plt.subplots(len(names), 3, figsize=(13, 3.6 * len(names)), squeeze=False)
    for row, name in zip(axes, names, strict=True):
        model, truth = fields[name]
        centres = (truth.edges[1:] + truth.edges[:-1]).numpy() / 2
        for stats, label, style in ((truth, "truth", "k-"), (model, "model", "C0--")):
            row[0].semilogy(centres, stats.density.numpy(), style, label=label)
            k = np.arange(len(stats.spectrum))
            row[1].loglog(k[1:], stats.spectrum.numpy()[1:], style, label=label)
            lags = np.arange(len(stats.autocorrelation)) * dt_model
            row[2].plot(lags, stats.autocorrelation.numpy(), style, label=label)
        row[0].set(xlabel=name, ylabel="probability density", title=f"{name}: marginal distribution")
        row[1].set(xlabel="wavenumber k", ylabel="E(k)", title=f"{name}: time-mean energy spectrum")
        row[2].set(xlabel="lag (time)", ylabel="autocorrelation", title=f"{name}: autocorrelation")
        for ax in row:
            ax.legend(fontsize=8)
    return _save(fig, path)


def _save(fig, path: Path, tight: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
