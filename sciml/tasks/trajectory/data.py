"""Trajectory data for training: the solver context read from a file, and batches of windows.

Batches of an epoch come from a ``DistributedSampler`` shuffled by ``(seed, epoch)``; the batches of a
step are a pure function of the step, so a resumed run sees what an uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler, Subset

from sciml.data import TrajectoryWindows, load_or_compute_stats, open_dataset
from sciml.errors import ConfigError
from sciml.solvers import SolverContext
from sciml.training.distributed import DistInfo


def _plain(value: Any) -> Any:
    """A file attribute as a Python number or string (None when it is neither)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | float | str):
        return value
    return None


def context_from_file(path: Path, task: Any, options: dict | None = None) -> SolverContext:
    """The :class:`SolverContext` of the training split ``path`` under the task's window geometry; ``options``
    pass to the reader (e.g. ``key``)."""
    options = dict(options or {})
    if getattr(task, "variables", None):
        options["variables"] = task.variables
    windows = TrajectoryWindows(path, history=task.history, time_step=task.time_step, params=list(task.params),
                                **options)
    with open_dataset(path, **options) as ds:
        var = ds[windows.variables[0]]
        space_dims = var.dims[2:]
        coords = tuple(tuple(float(c) for c in np.asarray(ds[d].values)) if d in ds.coords
                       else tuple(float(i) for i in range(n)) for d, n in zip(space_dims, var.shape[2:], strict=True))
        times = np.asarray(ds["time"].values, dtype=float) if "time" in ds.coords else np.arange(2.0)
        frame_dt = _plain(ds.attrs.get("dt")) or (float(times[1] - times[0]) if len(times) > 1 else 1.0)
        attrs = {k: v for k, v in ((k, _plain(v)) for k, v in ds.attrs.items()) if v is not None}
    dx = tuple(float(c[1] - c[0]) if len(c) > 1 else 1.0 for c in coords)
    ranges = ()
    if windows.param_names:
        values = windows._params
        ranges = tuple((float(values[:, i].min()), float(values[:, i].max())) for i in range(values.shape[1]))
    return SolverContext(
        fields=tuple(windows.variables), spatial_shape=tuple(windows.spatial_shape), history=task.history,
        dt=float(frame_dt) * task.time_step, dx=dx, axes=tuple(str(d) for d in space_dims), coords=coords,
        param_names=tuple(windows.param_names), param_ranges=ranges, attrs=attrs,
        stats=load_or_compute_stats(windows), duration=float(windows.times[-1] - windows.times[0]))


class _Batches(torch.utils.data.Sampler):
    """Batches of one epoch from a DistributedSampler, skipping the first ``offset`` (for resume)."""

    def __init__(self, sampler: DistributedSampler, batch_size: int, offset: int = 0):
        self.sampler, self.batch_size, self.offset = sampler, batch_size, offset

    def all_batches(self) -> list[list[int]]:
        idx = list(self.sampler)
        return [idx[i:i + self.batch_size] for i in range(0, len(idx) - self.batch_size + 1, self.batch_size)]

    def __iter__(self):
        return iter(self.all_batches()[self.offset:])

    def __len__(self) -> int:
        return len(self.sampler) // self.batch_size - self.offset


class TrajectoryData:
    """Training and validation windows of ``horizon x frames_per_step`` target frames (a ``TrainingData``)."""

    def __init__(self, paths: dict[str, Path], task: Any, trainer: Any, frames_per_step: int = 1,
                 dist: DistInfo | None = None, pin_memory: bool = False, options: dict | None = None):
        self.trainer, self.dist, self.pin_memory = trainer, dist or DistInfo(), pin_memory
        geometry = {"history": task.history, "horizon": task.horizon * frames_per_step,
                    "time_step": task.time_step, "params": list(task.params), **(options or {})}
        if getattr(task, "variables", None):
            geometry["variables"] = task.variables
        self.train_set = TrajectoryWindows(paths["train"], **geometry)
        valid = TrajectoryWindows(paths["valid"], **geometry)
        n_val = min(len(valid), trainer.val_batches * trainer.batch_size)
        picks = torch.linspace(0, len(valid) - 1, n_val).round().long().tolist()
        self.valid_set = Subset(valid, picks)
        self.steps_per_epoch = len(self.train_set) // (trainer.batch_size * self.dist.world_size)
        if self.steps_per_epoch == 0:
            raise ConfigError(f"trainer.batch_size={trainer.batch_size} x {self.dist.world_size} processes exceeds "
                              f"the {len(self.train_set)} training windows")

    def epoch_loader(self, epoch: int, offset: int) -> DataLoader:
        """The batches of ``epoch`` from the ``offset``-th on: a pure function of (seed, epoch, offset).

        The loader gets its own generator so that creating it does not draw from the global RNG, which
        would make a resumed run differ from an uninterrupted one.
        """
        t = self.trainer
        sampler = DistributedSampler(self.train_set, num_replicas=self.dist.world_size, rank=self.dist.rank,
                                     shuffle=True, seed=t.seed, drop_last=True)
        sampler.set_epoch(epoch)
        return DataLoader(self.train_set, batch_sampler=_Batches(sampler, t.batch_size, offset),
                          num_workers=t.num_workers, pin_memory=self.pin_memory,
                          generator=torch.Generator().manual_seed(t.seed + epoch))

    def batches(self, step: int) -> Iterator[dict[str, torch.Tensor]]:
        epoch, offset = divmod(step, self.steps_per_epoch)
        while True:
            yield from self.epoch_loader(epoch, offset)
            epoch, offset = epoch + 1, 0

    def validation_batches(self) -> Iterable[tuple[dict[str, torch.Tensor], float]]:
        loader = DataLoader(self.valid_set, batch_size=self.trainer.batch_size, shuffle=False,
                            num_workers=self.trainer.num_workers)
        for batch in loader:
            yield batch, float(len(batch["input"]))

    @staticmethod
    def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
        return {k: v.to(device, non_blocking=True) for k, v in batch.items()}
