"""Training windows over trajectory files of any supported format, read lazily inside each worker."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from sciml.data.formats import detect
from sciml.data.stats import load_or_compute_stats
from sciml.errors import DataError


class TrajectoryWindows(Dataset):
    """Windows ``(input, target)`` cut from trajectories ``(sample, time, *space)``.

    A window starting at raw time index ``t0`` holds the inputs at ``t0 + i * time_step`` for
    ``i < history`` and the targets at ``t0 + (history - 1 + j) * time_step`` for ``1 <= j <= horizon``:
    the first target is one model step after the last input. Starts are ``0, stride, 2 * stride, ...``.
    With ``full_trajectory=True`` each item is a whole trajectory subsampled by ``time_step``.

    Items are dicts of float32 tensors: ``input`` ``(history, C, *space)`` and ``target``
    ``(horizon, C, *space)`` with ``time``, the time of the last input frame (a scalar), or ``trajectory``
    ``(T, C, *space)`` with ``time`` ``(T,)``; plus ``params`` ``(P,)`` when ``params`` names per-sample
    parameters. Times come from the file's time coordinate (frame indices times its ``dt`` attribute, or
    plain indices, when it has none). The index is built from metadata only; the file is opened on
    first access in each process, so the dataset pickles cleanly into DataLoader workers (fork or spawn).
    Args:
      path: a file in any format :func:`sciml.data.formats.detect` knows.
      history, horizon, stride, time_step: window geometry in frames / raw time indices.
      variables: fields stacked as channels (default: all of the file's fields).
      full_trajectory: items are whole trajectories.
      normalize: return fields normalised per channel with the statistics stored beside the file.
      params: per-sample parameters to return (e.g. ``["alpha", "beta"]``).
      options: reader options (``split``, ``key`` for PDEArena/MP-PDE files).
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
        normalize: bool = False,
        params: list[str] | None = None,
        **options,
    ):
        if min(history, horizon, stride, time_step) < 1:
            raise ValueError("history, horizon, stride and time_step must all be >= 1")
        self.path = Path(path)
        self.history, self.horizon, self.stride, self.time_step = history, horizon, stride, time_step
        self.full_trajectory = full_trajectory
        self.source = detect(self.path, variables, **options)
        self.variables = self.source.variables
        self.n_samples, self.n_times = self.source.n_samples, self.source.n_times
        self.spatial_shape = self.source.spatial_shape
        self.param_names = list(params or [])
        for p in self.param_names:
            if p not in self.source.params:
                raise DataError(f"{self.path}: no per-sample parameter {p!r} "
                                f"(has: {', '.join(self.source.params) or 'none'})")
        self._params = (np.stack([self.source.params[p] for p in self.param_names], axis=1).astype(np.float32)
                        if self.param_names else None)
        self.times = torch.as_tensor(_numeric_times(self.source.coords.get("time"), self.n_times,
                                                    self.source.attrs.get("dt", 1.0)), dtype=torch.float32)
        span = (history - 1 + horizon) * time_step
        if full_trajectory:
            self.windows_per_sample = 1
        else:
            if span >= self.n_times:
                raise DataError(f"{self.path}: trajectories of {self.n_times} frames are too short for "
                                f"windows spanning {span + 1} frames")
            self.windows_per_sample = (self.n_times - 1 - span) // stride + 1
        self._handle_obj, self._pid = None, None
        self.stats = None
        if normalize:
            self.stats = load_or_compute_stats(self)
            shape = (len(self.variables), *([1] * len(self.spatial_shape)))
            self._mean = torch.tensor(self.stats["field_mean"], dtype=torch.float32).view(shape)
            self._std = torch.tensor(self.stats["field_std"], dtype=torch.float32).view(shape)

    def __len__(self) -> int:
        return self.n_samples * self.windows_per_sample

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_handle_obj"], state["_pid"] = None, None  # never share a file handle across processes
        return state

    def _handle(self):
        if self._handle_obj is None or self._pid != os.getpid():
            self._handle_obj = self.source.open()
            self._pid = os.getpid()
        return self._handle_obj

    def read(self, sample: int, start: int, stop: int) -> np.ndarray:
        """Frames ``start, start + time_step, ... < stop`` of one sample, ``(T, C, *space)`` float32."""
        return self.source.read(self._handle(), sample, slice(start, stop, self.time_step))

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - mean) / std`` per channel for ``(..., C, *space)``; needs ``normalize=True``."""
        return (x - self._mean) / self._std

    def denormalise(self, x: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`normalise`."""
        return x * self._std + self._mean

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        sample, w = divmod(index, self.windows_per_sample)
        if self.full_trajectory:
            frames = torch.from_numpy(self.read(sample, 0, self.n_times))
            item = {"trajectory": self.normalise(frames) if self.stats else frames,
                    "time": self.times[::self.time_step][: len(frames)]}
        else:
            t0 = w * self.stride
            stop = t0 + (self.history + self.horizon - 1) * self.time_step + 1
            frames = torch.from_numpy(self.read(sample, t0, stop))
            if self.stats:
                frames = self.normalise(frames)
            item = {"input": frames[: self.history], "target": frames[self.history:],
                    "time": self.times[t0 + (self.history - 1) * self.time_step]}
        if self._params is not None:
            item["params"] = torch.from_numpy(self._params[sample])
        return item


def _numeric_times(times, n_times: int, dt) -> np.ndarray:
    """The time coordinate as numbers: as stored, or days since the first frame for dates (numpy or cftime);
    frame indices times ``dt`` when there is no usable coordinate."""
    fallback = np.arange(n_times) * (float(dt) if isinstance(dt, int | float | np.number) else 1.0)
    if times is None or len(times) != n_times:
        return fallback
    times = np.asarray(times)
    if np.issubdtype(times.dtype, np.number):
        return times.astype(np.float64)
    if np.issubdtype(times.dtype, np.datetime64):
        return ((times - times[0]) / np.timedelta64(1, "s")).astype(np.float64) / 86400.0
    try:  # cftime dates: differences are datetime.timedelta
        return np.array([(t - times[0]).total_seconds() / 86400.0 for t in times])
    except (TypeError, AttributeError):
        return fallback
