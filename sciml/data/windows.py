"""Training windows over trajectory files, read lazily inside each DataLoader worker."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from sciml.data.io import DataError


def _trajectory_fields(f: h5py.File, path: Path, variables: list[str] | None) -> list[str]:
    if variables is None:
        variables = [
            name for name, obj in f.items()
            if isinstance(obj, h5py.Dataset) and _dims(obj)[:2] == ["sample", "time"]
        ]
    if not variables:
        raise DataError(f"{path}: no variable with dims (sample, time, ...)")
    for name in variables:
        if name not in f:
            raise DataError(f"{path}: missing variable {name!r}")
    shapes = {name: f[name].shape for name in variables}
    if len(set(shapes.values())) != 1:
        raise DataError(f"{path}: variables have different shapes {shapes}")
    return list(variables)


def _dims(dset: h5py.Dataset) -> list[str]:
    """Dimension names of a netCDF-4 variable from its HDF5 dimension scales."""
    names = []
    for dim in dset.dims:
        if len(dim) == 0:
            return []
        names.append(dim[0].name.rsplit("/", 1)[-1])
    return names


class TrajectoryWindows(Dataset):
    """Windows ``(input, target)`` cut from trajectories ``(sample, time, *space)`` in an HDF5/netCDF file.

    A window starting at raw time index ``t0`` holds the inputs at ``t0 + i * time_step`` for
    ``i < history`` and the targets at ``t0 + (history - 1 + j) * time_step`` for ``1 <= j <= horizon``:
    the first target is one model step after the last input. Starts are ``0, stride, 2 * stride, ...``.
    With ``full_trajectory=True`` each item is a whole trajectory subsampled by ``time_step``.

    Items are dicts of float32 tensors: ``input`` ``(history, C, *space)``, ``target``
    ``(horizon, C, *space)`` (or ``trajectory`` ``(T, C, *space)``). The file is opened on first access
    in each process, so the dataset pickles cleanly into DataLoader workers (fork or spawn).
    Args:
      path: file in the sciml schema.
      variables: fields stacked as channels (default: every ``(sample, time, ...)`` variable).
      history, horizon, stride, time_step: window geometry in frames / raw time indices.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        history: int = 1,
        horizon: int = 1,
        stride: int = 1,
        time_step: int = 1,
        variables: list[str] | None = None,
        full_trajectory: bool = False,
    ):
        if min(history, horizon, stride, time_step) < 1:
            raise ValueError("history, horizon, stride and time_step must all be >= 1")
        self.path = Path(path)
        self.history, self.horizon, self.stride, self.time_step = history, horizon, stride, time_step
        self.full_trajectory = full_trajectory
        if not self.path.is_file():
            raise DataError(f"{self.path}: no such file")
        try:
            with h5py.File(self.path, "r") as f:
                self.variables = _trajectory_fields(f, self.path, variables)
                shape = f[self.variables[0]].shape
        except OSError as exc:
            raise DataError(f"{self.path}: cannot be read as HDF5/netCDF ({exc})") from exc
        self.n_samples, self.n_times, self.spatial_shape = shape[0], shape[1], tuple(shape[2:])
        span = (history - 1 + horizon) * time_step
        if full_trajectory:
            self.windows_per_sample = 1
        else:
            if span >= self.n_times:
                raise DataError(f"{self.path}: trajectories of {self.n_times} frames are too short for "
                                f"windows spanning {span + 1} frames")
            self.windows_per_sample = (self.n_times - 1 - span) // stride + 1
        self._file: h5py.File | None = None
        self._pid: int | None = None

    def __len__(self) -> int:
        return self.n_samples * self.windows_per_sample

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_file"], state["_pid"] = None, None  # never share an HDF5 handle across processes
        return state

    def _handle(self) -> h5py.File:
        if self._file is None or self._pid != os.getpid():
            self._file = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._file

    def read(self, sample: int, start: int, stop: int) -> np.ndarray:
        """Frames ``start, start + time_step, ... < stop`` of one sample, ``(T, C, *space)`` float32."""
        f = self._handle()
        try:
            arrays = [f[name][sample, start:stop:self.time_step] for name in self.variables]
        except (OSError, KeyError) as exc:
            raise DataError(f"{self.path}: cannot read sample {sample} ({exc})") from exc
        return np.stack(arrays, axis=1).astype(np.float32, copy=False)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        sample, w = divmod(index, self.windows_per_sample)
        if self.full_trajectory:
            return {"trajectory": torch.from_numpy(self.read(sample, 0, self.n_times))}
        t0 = w * self.stride
        frames = self.read(sample, t0, t0 + (self.history + self.horizon - 1) * self.time_step + 1)
        frames = torch.from_numpy(frames)
        return {"input": frames[: self.history], "target": frames[self.history:]}
