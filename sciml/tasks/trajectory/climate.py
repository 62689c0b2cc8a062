"""The climate of free runs: each test initial condition run far past the test trajectories, its statistics
accumulated online (:class:`sciml.metrics.online.ClimateStatistics`) and compared with the truth's long run.

The truth's long run is the dataset's own simulator continuing the test trajectories (the recipe's test split
simulated for as many frames; cached beside the dataset), or for files without a simulator the stored test
trajectories. Neither run is ever held whole: both go chunk by chunk.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from sciml import recipes
from sciml.data import TrajectoryWindows, open_dataset
from sciml.metrics.online import ClimateStatistics, FieldClimate, compare

WORK_DTYPE = torch.float32  # the statistics' per-chunk precision (sums in float64): half the cost of float64


@dataclass
class FreeRun:
    """How a free run goes: ``steps`` model steps in chunks of ``chunk``, unstable beyond ``bound``."""

    steps: int
    chunk: int
    bound: float
    dt_model: float
    seed: int = 0


def first_unstable_step(pred: torch.Tensor, bound: float) -> torch.Tensor:
    """Per sample, the 1-based first step whose frame is non-finite or exceeds ``bound``; 0 if none."""
    bad = ~torch.isfinite(pred).flatten(2).all(-1) | (pred.abs().flatten(2).amax(-1) > bound)
    first = torch.where(bad.any(1), bad.float().argmax(1) + 1, torch.zeros_like(bad[:, 0], dtype=torch.long))
    return first.long()


def free_run(model, initial: torch.Tensor, params, time: torch.Tensor | None, run: FreeRun,
             first_unstable: torch.Tensor) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Chunks ``(B, T, C, *space)`` of the model's free run from ``initial`` ``(B, H, C, *space)``, each with
    the mask ``(B, T)`` of its stable frames. ``first_unstable`` ``(B,)`` (zeros in) receives each run's
    1-based first unstable step (0: stable). An unstable run restarts from zeros so that the others go on."""
    state, done = initial, 0
    history = initial.shape[1]
    with torch.inference_mode():
        while done < run.steps:
            n = min(run.chunk, run.steps - done)
            kwargs = {"seed": run.seed + done} if model.stochastic else {}
            pred = model.rollout(state, n, params, time, **kwargs)
            in_chunk = first_unstable_step(pred, run.bound).cpu()
            new = (first_unstable == 0) & (in_chunk > 0)
            first_unstable[new] = done + in_chunk[new]
            steps = torch.arange(done + 1, done + n + 1)
            valid = (first_unstable == 0)[:, None] | (steps[None] < first_unstable[:, None])
            yield pred.cpu(), valid
            state = torch.where((first_unstable > 0).to(pred.device).view(-1, *([1] * (pred.dim() - 1))),
                                torch.zeros_like(pred[:, -history:]), pred[:, -history:])
            if time is not None:
                time = time + n * run.dt_model
            done += n


def histogram_edges(path: Path, variables: list[str], bins: int, options: dict) -> torch.Tensor:
    """``(C, bins + 1)``: each field's bins over its range in ``path`` widened by a quarter on each side."""
    options = {k: v for k, v in options.items() if k != "variables"}
    rows = []
    with open_dataset(path, **options) as ds:
        for name in variables:
            lo, hi = float(ds[name].min()), float(ds[name].max())
            pad = 0.25 * (hi - lo) if hi > lo else max(abs(lo), 1.0)
            rows.append(torch.linspace(lo - pad, hi + pad, bins + 1, dtype=torch.float64))
    return torch.stack(rows)


def truth_source(dataset_cfg: Any, eval_path: Path, split: str, frames: int) -> tuple[Path, str]:
    """The file of the truth's long run (at least ``frames`` stored frames) and what it is."""
    path = recipes.long_run(dataset_cfg, split, frames) if dataset_cfg is not None else None
    if path is None:
        return eval_path, "stored trajectories"
    return path, "simulator"


def truth_statistics(path: Path, variables: list[str], first: int, every: int, steps: int, edges: torch.Tensor,
                     ndim: int, max_lag: int, options: dict, chunk: int) -> tuple[ClimateStatistics, int]:
    """The statistics of the stored frames ``first, first + every, ...`` (``steps`` of them at most), read
    chunk by chunk; returns them and the number of model steps they cover."""
    options = {k: v for k, v in options.items() if k != "variables"}
    stats = ClimateStatistics(edges, ndim, max_lag, WORK_DTYPE)
    with open_dataset(path, **options) as ds:
        n_times = ds[variables[0]].shape[1]
        available = max(0, (n_times - 1 - first) // every + 1)
        steps = min(steps, available)
        for begin in range(0, steps, chunk):
            stop = min(begin + chunk, steps)
            frames = slice(first + begin * every, first + (stop - 1) * every + 1, every)
            block = np.stack([ds[name][:, frames].values for name in variables], axis=2)  # (B, T, C, *space)
            stats.update(torch.from_numpy(block))
    return stats, steps


def climate_block(model, windows: TrajectoryWindows, eval_path: Path, dataset_cfg: Any, ev: Any, *, history: int,
                  start: int, time_step: int, dt_model: float, bound: float, device: torch.device,
                  options: dict) -> tuple[dict[str, Any], dict[str, tuple[FieldClimate, FieldClimate]]]:
    """Free-run every test initial condition for ``ev.climate_steps`` model steps and compare its climate with
    the truth's; returns the ``climate`` block of ``results.json`` and, per field, (model, truth) statistics
    for the plot."""
    n_steps = ev.climate_steps
    variables = windows.variables
    ndim = len(windows.spatial_shape)
    first_frame = (start + history) * time_step  # the first predicted frame
    frames_needed = first_frame + (n_steps - 1) * time_step + 1
    truth_path, source = truth_source(dataset_cfg, eval_path, ev.split, frames_needed)
    edges = histogram_edges(eval_path, variables, ev.climate_bins, options)
    max_lag = min(ev.climate_max_lag, n_steps - 1)
    truth, truth_steps = truth_statistics(truth_path, variables, first_frame, time_step, n_steps, edges, ndim,
                                          max_lag, options, ev.climate_chunk)
    model_stats = ClimateStatistics(edges, ndim, max_lag, WORK_DTYPE)
    run = FreeRun(n_steps, ev.climate_chunk, bound, dt_model, ev.seed)
    unstable = []
    loader = torch.utils.data.DataLoader(windows, batch_size=ev.batch_size, shuffle=False)
    with tqdm(total=len(windows) * n_steps, desc="climate", unit="step", disable=None, leave=False) as bar:
        for batch in loader:
            traj = batch["trajectory"]
            first = start + history
            params = batch["params"].to(device) if "params" in batch else None
            time = batch["time"][:, first - 1].to(device)
            first_unstable = torch.zeros(traj.shape[0], dtype=torch.long)
            for chunk, valid in free_run(model, traj[:, start:first].to(device), params, time, run, first_unstable):
                model_stats.update(chunk, valid)
                bar.update(traj.shape[0] * chunk.shape[1])
            unstable.append(first_unstable)
    first_unstable = torch.cat(unstable)
    blown = first_unstable > 0
    fields = {}
    block: dict[str, Any] = {
        "steps": n_steps, "time": n_steps * dt_model, "truth": source, "truth_steps": truth_steps,
        "truth_time": truth_steps * dt_model, "max_lag": max_lag, "lag_time": max_lag * dt_model,
        "blew_up": {"fraction": float(blown.double().mean()),
                    "first_step": [int(s) if s > 0 else None for s in first_unstable]},
        "fields": {},
    }
    if bool(blown.all()):
        block["fields"] = None  # nothing to compare: every member blew up
        return block, fields
    for name, mine, theirs in zip(variables, model_stats.fields(), truth.fields(), strict=True):
        errors = compare(mine, theirs)
        block["fields"][name] = {**{k: _finite(v) for k, v in errors.items()},
                                 "mean": mine.mean, "truth_mean": theirs.mean,
                                 "variance": mine.variance, "truth_variance": theirs.variance,
                                 "outside_bins": mine.outside}
        fields[name] = (mine, theirs)
    return block, fields


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
