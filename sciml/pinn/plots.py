"""Pictures of a physics-informed run: reference, prediction, error, and the collocation points at a few
moments of training (where R3 and causal R3 put their points is half the story)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sciml.pinn.problems import Problem


def _field(problem: Problem, model, sizes: tuple[int, int], fixed: dict[int, float]) -> tuple[np.ndarray, ...]:
    """Reference and prediction on a grid of the two free axes, the others held at ``fixed`` values."""
    box = problem.domain
    free = [a for a in range(box.dim) if a not in fixed]
    axes = [torch.linspace(box.low[a], box.high[a], s) for a, s in zip(free, sizes, strict=True)]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 2)
    points = torch.zeros(len(grid), box.dim)
    points[:, free] = grid
    for axis, value in fixed.items():
        points[:, axis] = value
    with torch.no_grad():
        pred = model(points).reshape(sizes)
    ref = problem.reference(points).reshape(sizes)
    return axes[0].numpy(), axes[1].numpy(), ref.numpy(), pred.numpy()


def _save(fig, path: Path, title: str) -> Path:
    import matplotlib.pyplot as plt

    if title:
        fig.suptitle(title, fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def solution_figure(problem: Problem, model, snapshots: list[tuple[int, torch.Tensor]], path: Path,
                    title: str = "") -> Path:
    """One row: reference, prediction, |error|, then the collocation points at each snapshot.

    2-D problems are drawn over both axes; (2+1)-D problems at the final time, with the points projected
    on the first space axis and time.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    box = problem.domain
    fixed = {} if box.dim == 2 else {box.dim - 1: box.high[-1]}
    a, b, ref, pred = _field(problem, model, (200, 200), fixed)
    free = [i for i in range(box.dim) if i not in fixed]
    extent = [a[0], a[-1], b[0], b[-1]]
    panels = 3 + len(snapshots)
    fig, axes = plt.subplots(1, panels, figsize=(3.2 * panels, 3.0), constrained_layout=True)
    vmax = float(np.abs(ref).max())
    for ax, data, name, cmap, lim in ((axes[0], ref, "reference", "RdBu_r", (-vmax, vmax)),
                                      (axes[1], pred, "prediction", "RdBu_r", (-vmax, vmax)),
                                      (axes[2], np.abs(pred - ref), "|error|", "magma", (0, None))):
        im = ax.imshow(data.T, origin="lower", extent=extent, aspect="auto", cmap=cmap, vmin=lim[0], vmax=lim[1])
        fig.colorbar(im, ax=ax, shrink=0.8)
        where = "" if not fixed else f" at {box.names[-1]} = {box.high[-1]:g}"
        ax.set_title(name + where, fontsize=9)
        ax.set_xlabel(box.names[free[0]])
        ax.set_ylabel(box.names[free[1]])
    shown = (0, box.dim - 1) if fixed else (0, 1)
    for ax, (step, points) in zip(axes[3:], snapshots, strict=True):
        p = points.numpy()
        ax.scatter(p[:, shown[0]], p[:, shown[1]], s=1.5, c="k", alpha=0.6, linewidths=0)
        ax.set_xlim(box.low[shown[0]], box.high[shown[0]])
        ax.set_ylim(box.low[shown[1]], box.high[shown[1]])
        ax.set_title(f"points, step {step} ({len(p)})", fontsize=9)
        ax.set_xlabel(box.names[shown[0]])
        ax.set_ylabel(box.names[shown[1]])
    return _save(fig, path, title)


def error_history_figure(histories: dict[int, list[dict]], path: Path, title: str = "") -> Path:
    """Relative L2 error against training step, one line per seed (Adam then L-BFGS)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4), constrained_layout=True)
    for seed, rows in histories.items():
        ax.semilogy([r["step"] for r in rows], [r["error"] for r in rows], marker=".", label=f"seed {seed}")
    ax.set_xlabel("step")
    ax.set_ylabel("relative L2 error")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def comparison_figure(problem: Problem, models: dict[str, object], path: Path, title: str = "") -> Path:
    """Runs of one 2-D problem side by side: the reference and each model's prediction on the top row; below,
    the amplitude ratio rms_x u / rms_x u0 against time for every model (evolution problems; what the
    amplitude monitor reads), then each model's |error|."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sciml.pinn.monitor import AMPLITUDE_THRESHOLD

    box = problem.domain
    columns = 1 + len(models)
    fig, axes = plt.subplots(2, columns, figsize=(3.2 * columns, 5.8), constrained_layout=True, squeeze=False)
    fields = {name: _field(problem, model, (200, 200), {}) for name, model in models.items()}
    a, b, ref, _ = next(iter(fields.values()))
    extent = [a[0], a[-1], b[0], b[-1]]
    vmax = float(np.abs(ref).max())
    errors = [np.abs(pred - ref) for *_, pred in fields.values()]
    emax = max(float(e.max()) for e in errors)
    tops = [("reference", ref)] + [(name, pred) for name, (*_, pred) in fields.items()]
    for ax, (name, data) in zip(axes[0], tops, strict=True):
        im = ax.imshow(data.T, origin="lower", extent=extent, aspect="auto", cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.set_title(name, fontsize=9)
    fig.colorbar(im, ax=axes[0, -1], shrink=0.8)
    for ax, name, err in zip(axes[1, 1:], models, errors, strict=True):
        im = ax.imshow(err.T, origin="lower", extent=extent, aspect="auto", cmap="magma", vmin=0, vmax=emax)
        ax.set_title(f"|error|, {name}", fontsize=9)
    fig.colorbar(im, ax=axes[1, -1], shrink=0.8)
    for ax in axes.flat:
        ax.set_xlabel(box.names[0])
        ax.set_ylabel(box.names[1])
    ratio_ax = axes[1, 0]
    if problem.time_axis is not None:
        u0 = np.sqrt((ref[:, :1] ** 2).mean())
        for name, (_, t, _, pred) in fields.items():
            ratio_ax.plot(t, np.sqrt((pred**2).mean(0)) / u0, label=name)
        for level in (AMPLITUDE_THRESHOLD, 1 / AMPLITUDE_THRESHOLD):
            ratio_ax.axhline(level, color="k", ls=":", lw=0.8)
        ratio_ax.set_yscale("log")
        ratio_ax.set_xlabel(box.names[problem.time_axis])
        ratio_ax.set_ylabel("rms u / rms u0")
        ratio_ax.set_title("amplitude (monitor bounds dotted)", fontsize=9)
        ratio_ax.legend(fontsize=7)
    else:
        ratio_ax.axis("off")
    return _save(fig, path, title)
