"""The ``mesh`` task: a mesh mover (``mesh_mover``) trained on the frames of a dataset, no optimal meshes.

Sections: ``dataset`` (any recipe; every frame of every trajectory is one solution), ``task`` (which fields the
mover sees; a periodic grid is closed by repeating its first row and column so the mover sees the whole unit
square), ``trainer`` and ``evaluate``. The run directory is the shared one (``config.yaml``, ``metrics.csv``,
``checkpoints/``, ``evaluation/results.json``, ``summary.md``, ``moving_mesh.png``).

Evaluation on the test split: per solution, inverted cells (sign change of a triangle's area), the smallest
``det J`` at the nodes, boundary drift, equidistribution std over the uniform mesh's, and the interpolation
error of ``u`` reconstructed (piecewise linearly) from a coarse moved mesh over that from the uniform mesh with
the same nodes, both against the solution's own grid.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sciml import recipes, solvers
from sciml.data import open_dataset
from sciml.errors import ConfigError, DataError
from sciml.mesh import interpolate_to, inverted_cells, uniform_mesh
from sciml.mesh.monge_ampere import sample_grid
from sciml.mesh.plots import moving_mesh_figure
from sciml.solvers.mesh_mover import MeshMover, mesh_quality
from sciml.tasks.base import Pick, TaskSpec, prepare_run_dir, require_single_process, show_progress
from sciml.training import Trainer, TrainerConfig, load_checkpoint, select_device, validate_trainer
from sciml.training.run_dir import RESUMABLE_CHANGES, config_dict, write_json, write_text_atomic


@dataclass
class MeshTaskConfig:
    name: str = "mesh"
    fields: list[str] = field(default_factory=list)  # the dataset fields the mover sees (empty: all)
    periodic: bool = False  # the grid is periodic (no end node): repeat the first row/column to close it


@dataclass
class MeshTrainerConfig(TrainerConfig):
    max_steps: int = 3000
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 0
    amp: bool = False  # second derivatives in full precision
    log_every: int = 50
    eval_every: int = 500
    batch_size: int = 4  # solutions per step
    seed: int = 0


@dataclass
class MeshEvaluateConfig:
    split: str = "test"
    checkpoint: str = "best"  # best (lowest validation residual) | last
    mesh_size: int = 24  # nodes per side of the coarse meshes compared by interpolation error
    frames: int = 4  # frames of the first test trajectory in moving_mesh.png
    plots: bool = True


@dataclass
class MeshContext:
    channels: int
    dim: int
    generator: torch.Generator | None = None


def sections(pick: Pick) -> list[tuple[str, type]]:
    dataset = pick("dataset", "flow_mixing2d", recipes.registry)
    return [("dataset", recipes.get(dataset).config), ("task", MeshTaskConfig), ("trainer", MeshTrainerConfig),
            ("evaluate", MeshEvaluateConfig)]


def validate(cfg: Any) -> None:
    validate_trainer(cfg.trainer)
    if cfg.trainer.amp:
        raise ConfigError("trainer.amp=true: the Monge–Ampère residual needs second derivatives in full precision")
    for key, low in (("trainer.batch_size", 1), ("evaluate.frames", 1), ("evaluate.mesh_size", 3)):
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        if value < low:
            raise ConfigError(f"bad value for '{key}': {value} (must be >= {low})")
    if cfg.evaluate.split not in recipes.SPLITS:
        raise ConfigError(f"bad value for 'evaluate.split': {cfg.evaluate.split!r} "
                          f"(choose from {', '.join(recipes.SPLITS)})")
    if cfg.evaluate.checkpoint not in ("best", "last"):
        raise ConfigError(f"bad value for 'evaluate.checkpoint': {cfg.evaluate.checkpoint!r} (best or last)")


def load_solutions(path: Path, task: MeshTaskConfig) -> tuple[torch.Tensor, np.ndarray]:
    """Every frame of a split as ``(samples * times, C, *space)`` in the default dtype, and the frames' times."""
    ds = open_dataset(path)
    names = list(task.fields) or [v for v in ds.data_vars if ds[v].dims[:2] == ("sample", "time")]
    missing = [n for n in names if n not in ds.data_vars]
    if missing:
        raise ConfigError(f"task.fields names {missing}, not in {path} (fields: {', '.join(map(str, ds.data_vars))})")
    values = np.stack([ds[n].values for n in names], axis=2)  # (S, T, C, *space)
    if not np.isfinite(values).all():
        raise DataError(f"{path}: non-finite values in {names}")
    dim = values.ndim - 3
    if task.periodic:
        for axis in range(3, 3 + dim):
            values = np.concatenate([values, values.take([0], axis=axis)], axis=axis)
    if any(s != values.shape[3] for s in values.shape[3:]):
        raise DataError(f"{path}: the mover needs a square grid, got {values.shape[3:]}")
    times = np.asarray(ds["time"].values, dtype=float) if "time" in ds else np.arange(values.shape[1], dtype=float)
    return torch.as_tensor(values.reshape(-1, *values.shape[2:]), dtype=torch.get_default_dtype()), times


class SolutionBatches:
    """Shuffled batches of solutions, a pure function of the step (exact resume); validation in fixed chunks."""

    def __init__(self, train: torch.Tensor, valid: torch.Tensor, batch_size: int, seed: int):
        self.train, self.valid, self.batch_size, self.seed = train, valid, min(batch_size, len(train)), seed
        self.steps_per_epoch = max(len(train) // self.batch_size, 1)

    def batches(self, step: int):
        while True:
            epoch, offset = divmod(step, self.steps_per_epoch)
            order = torch.randperm(len(self.train), generator=torch.Generator().manual_seed(self.seed * 100003 + epoch))
            start = offset * self.batch_size
            step += 1
            yield self.train[order[start:start + self.batch_size]]

    def validation_batches(self):
        return [(chunk, float(len(chunk))) for chunk in self.valid.split(self.batch_size * 4)]

    @staticmethod
    def to_device(batch, device):
        return batch.to(device)


def build_mover(cfg: Any, channels: int, dim: int, device: torch.device) -> MeshMover:
    torch.manual_seed(cfg.trainer.seed)
    generator = torch.Generator(device=device).manual_seed(cfg.trainer.seed)
    solver = solvers.build(cfg.solver, MeshContext(channels, dim, generator))
    if not isinstance(solver, MeshMover):
        raise ConfigError(f"solver {cfg.solver.name} is not a mesh mover")
    return solver.to(device)


def fit(cfg: Any) -> Path:
    """Train the mover on the train split's frames into ``run.dir``; resumes from ``checkpoints/last.pt``."""
    require_single_process("mesh runs")
    t = cfg.trainer
    device = select_device(t.device)
    paths = recipes.ensure_dataset(cfg.dataset, progress=show_progress(t))
    train, _ = load_solutions(paths["train"], cfg.task)
    valid, _ = load_solutions(paths["valid"], cfg.task)
    solver = build_mover(cfg, train.shape[1], train.dim() - 2, device)
    run_dir = prepare_run_dir(cfg, RESUMABLE_CHANGES)
    Trainer(t, solver, SolutionBatches(train, valid, t.batch_size, t.seed), checkpoint_dir=run_dir / "checkpoints",
            metrics_path=run_dir / "metrics.csv", config=config_dict(cfg), device=device,
            extra_state={"channels": train.shape[1], "dim": train.dim() - 2},
            name=f"train {cfg.solver.name}").fit()
    return run_dir


def interpolation_errors(u: torch.Tensor, mesh: torch.Tensor) -> float:
    """Relative L2 error of ``u (C, *space)`` (on its grid) reconstructed piecewise linearly from its values at
    the nodes of ``mesh`` (``(m, m, 2)`` or ``(m, 1)``); NaN for a tangled 2D mesh."""
    n, dim = u.shape[-1], mesh.shape[-1]
    points = uniform_mesh(n, u.dtype, dim).reshape(-1, dim)
    nodal = sample_grid(u, mesh.reshape(1, -1, dim).expand(len(u), -1, -1).clamp(0, 1))  # (C, nodes)
    error = truth = 0.0
    for c in range(len(u)):
        if dim == 1:
            rebuilt = np.interp(points[:, 0].numpy(), mesh[:, 0].numpy(), nodal[c].numpy())
        elif int(inverted_cells(mesh)):
            return math.nan  # a tangled mesh has no piecewise-linear interpolant
        else:
            rebuilt = interpolate_to(mesh.numpy(), nodal[c].reshape(mesh.shape[:2]).numpy(), points.numpy())
        reference = u[c].reshape(-1).numpy()
        error += float(np.nansum((rebuilt - reference) ** 2))
        truth += float(np.sum(reference**2))
    return math.sqrt(error / max(truth, 1e-300))


def evaluate(cfg: Any, run_dir: Path) -> dict:
    """Mesh quality and interpolation errors on ``evaluate.split``: ``results.json``, ``summary.md``, a figure."""
    ev, run_dir = cfg.evaluate, Path(run_dir)
    state = load_checkpoint(run_dir / "checkpoints" / f"{ev.checkpoint}.pt", map_location="cpu")
    if "channels" not in state:
        raise ConfigError(f"{run_dir}/checkpoints/{ev.checkpoint}.pt is not a mesh-mover run")
    device = torch.device("cpu")
    mover = build_mover(cfg, int(state["channels"]), int(state["dim"]), device)
    mover.load_state_dict(state["model"])
    mover.eval()
    path = recipes.ensure_dataset(cfg.dataset, progress=False)[ev.split]
    solutions, times = load_solutions(path, cfg.task)
    rows = []
    for chunk in solutions.split(16):
        quality = mesh_quality(mover, chunk, chunk.shape[-1])
        coarse = mover.mesh(chunk, ev.mesh_size)
        uniform = uniform_mesh(ev.mesh_size, chunk.dtype, mover.dim)
        for i in range(len(chunk)):
            moved_error = interpolation_errors(chunk[i], coarse[i])
            uniform_error = interpolation_errors(chunk[i], uniform)
            rows.append({k: float(v[i]) for k, v in quality.items()} |
                        {"interpolation_moved": moved_error, "interpolation_uniform": uniform_error,
                         "interpolation_ratio": moved_error / max(uniform_error, 1e-300)})
    results = {"task": "mesh", "run_dir": str(run_dir), "split": ev.split, "checkpoint": ev.checkpoint,
               "step": int(state["step"]), "solutions": len(rows), "mesh_size": ev.mesh_size,
               "quality_mesh_size": int(solutions.shape[-1]),
               "alpha": cfg.solver.alpha, "summary": _summarise(rows), "per_solution": rows}
    out = run_dir / "evaluation"
    write_json(results, out / "results.json")
    write_text_atomic(summary(results), out / "summary.md")
    if ev.plots and mover.dim == 2:
        picks = np.unique(np.linspace(0, len(times) - 1, ev.frames).round().astype(int))
        meshes = mover.mesh(solutions[picks], ev.mesh_size)
        frames = [(float(times[k]), solutions[k, 0].numpy(), meshes[i].numpy()) for i, k in enumerate(picks)]
        title = f"{cfg.dataset.name}: {ev.mesh_size}² mesh moved by {cfg.solver.name} (α = {cfg.solver.alpha:g})"
        moving_mesh_figure(frames, out / "moving_mesh.png", title)
    return results


def _summarise(rows: list[dict]) -> dict:
    ratios = [r["interpolation_ratio"] for r in rows if math.isfinite(r["interpolation_ratio"])]
    moved = [r["interpolation_moved"] for r in rows if math.isfinite(r["interpolation_moved"])]
    return {"inverted_cells": int(sum(r["inverted_cells"] for r in rows)),
            "tangled_solutions": sum(r["inverted_cells"] > 0 for r in rows),
            "min_jacobian": min(r["min_jacobian"] for r in rows),
            "max_boundary_drift": max(r["boundary_drift"] for r in rows),
            "equidistribution_ratio_mean": statistics.fmean(r["equidistribution_ratio"] for r in rows),
            "equidistribution_ratio_max": max(r["equidistribution_ratio"] for r in rows),
            "interpolation_ratio_median": statistics.median(ratios) if ratios else math.nan,
            "interpolation_ratio_max": max(ratios) if ratios else math.nan,
            "interpolation_moved_mean": statistics.fmean(moved) if moved else math.nan,
            "interpolation_uniform_mean": statistics.fmean(r["interpolation_uniform"] for r in rows)}


def summary(results: dict) -> str:
    s, q = results["summary"], results.get("quality_mesh_size", "data")
    return "\n".join([
        f"mesh mover on {results['solutions']} {results['split']} solutions (step {results['step']}, "
        f"{results['checkpoint']} checkpoint, α = {results['alpha']:g})", "",
        "| metric | value |", "|---|---:|",
        f"| inverted cells (all solutions), solutions with any ({q}-node sides) | {s['inverted_cells']}, "
        f"{s['tangled_solutions']} |",
        f"| smallest det J at a node | {s['min_jacobian']:.3g} |",
        f"| largest boundary drift | {s['max_boundary_drift']:.2e} |",
        f"| equidistribution std, moved / uniform (mean, max; {q}-node sides) | "
        f"{s['equidistribution_ratio_mean']:.3f}, {s['equidistribution_ratio_max']:.3f} |",
        f"| interpolation error on {results['mesh_size']}-node sides, moved / uniform (median, max; untangled) | "
        f"{s['interpolation_ratio_median']:.3f}, {s['interpolation_ratio_max']:.3f} |",
        f"| interpolation error, moved and uniform (means) | {s['interpolation_moved_mean']:.3e}, "
        f"{s['interpolation_uniform_mean']:.3e} |", ""])


TASK = TaskSpec("mesh", sections, validate, fit, evaluate, summary, RESUMABLE_CHANGES)
