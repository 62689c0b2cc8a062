"""Calibration figures: the not-ruled-out-yet space per wave (pairwise projections), the gradient path, a sweep."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: Path) -> Path:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def nroy_pairs_figure(samples: Sequence[np.ndarray], bounds: np.ndarray, names: Sequence[str], truth: np.ndarray,
                      path: Path, max_points: int = 4000) -> Path:
    """Lower-triangle pairwise projections of each wave's NROY sample ``(n, D)`` (later waves darker), the truth
    as a red cross, axes spanning the prior ranges ``bounds (D, 2)``."""
    plt = _pyplot()
    dims = len(names)
    fig, axes = plt.subplots(dims, dims, figsize=(2.4 * dims, 2.4 * dims), squeeze=False)
    colours = plt.cm.viridis(np.linspace(0.1, 0.9, max(len(samples), 1)))
    rng = np.random.default_rng(0)
    for i in range(dims):
        for j in range(dims):
            ax = axes[i, j]
            if j > i:
                ax.axis("off")
                continue
            for w, pts in enumerate(samples):
                if len(pts) == 0:
                    continue
                pts = pts[rng.choice(len(pts), min(max_points, len(pts)), replace=False)]
                if i == j:
                    ax.hist(pts[:, i], bins=30, range=tuple(bounds[i]), color=colours[w], alpha=0.6, density=True)
                else:
                    ax.scatter(pts[:, j], pts[:, i], s=1, color=colours[w], alpha=0.4,
                               label=f"wave {w + 1}" if (i, j) == (1, 0) else None)
            if i == j:
                ax.axvline(truth[i], color="r")
            else:
                ax.plot(truth[j], truth[i], "rx", ms=8, mew=2)
                ax.set_ylim(*bounds[i])
            ax.set_xlim(*bounds[j])
            if i == dims - 1:
                ax.set_xlabel(names[j])
            if j == 0 and i > 0:
                ax.set_ylabel(names[i])
    if dims > 1:
        axes[1, 0].legend(markerscale=8, fontsize=7)
    fig.suptitle("not-ruled-out-yet space per wave (truth: red)")
    return _save(plt, fig, path)


def gradient_path_figure(theta: np.ndarray, loss: Sequence[float], truth: np.ndarray, names: Sequence[str],
                         path: Path) -> Path:
    """Parameters over truth ``theta (n, D) / truth`` and the window misfit against the iteration."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    it = np.arange(1, len(theta) + 1)
    for d, name in enumerate(names):
        axes[0].plot(it, theta[:, d] / truth[d], label=name)
    axes[0].axhline(1, color="k", lw=0.8)
    axes[0].axhspan(0.98, 1.02, color="g", alpha=0.15, label="±2 %")
    axes[0].set(xlabel="iteration", ylabel="parameter / truth", title="gradient path")
    axes[0].legend(fontsize=8)
    axes[1].semilogy(it[: len(loss)], loss, lw=0.8)
    axes[1].set(xlabel="iteration", ylabel="window misfit", title="misfit of each window (noisy by construction)")
    for ax in axes:
        ax.grid(alpha=0.3)
    return _save(plt, fig, path)


def sweep_figure(values: Sequence[float], misfit: np.ndarray, name: str, truth: float, path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.semilogy(values, misfit, "o-")
    ax.axvline(truth, color="r", label="truth")
    ax.set(xlabel=name, ylabel="misfit (member std units)", title=f"misfit along {name}")
    ax.legend()
    ax.grid(alpha=0.3)
    return _save(plt, fig, path)
