"""Per-channel normalisation statistics, computed once by streaming over a file and stored beside it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from sciml.errors import DataError


def _stats_path(path: Path) -> Path:
    return path.with_name(path.name + ".stats.json")


def compute_stats(windows: Any, max_bytes: int = 128 * 2**20) -> dict[str, list[float]]:
    """Mean and std per channel of the fields and of their differences over one ``time_step``.

    ``windows`` is a :class:`sciml.data.TrajectoryWindows` (its file, variables and time step are used).

    Streams over samples and, within a sample, over blocks of frames of at most ``max_bytes`` (overlapping
    by ``time_step`` frames so that every difference is counted once), accumulating in float64.
    Returns ``{"field_mean", "field_std", "delta_mean", "delta_std"}``, each a list of C floats.
    """
    handle, source, ts = windows._handle(), windows.source, windows.time_step
    n_channels = len(windows.variables)
    frame_bytes = 8 * n_channels * int(np.prod(windows.spatial_shape))
    block = max(ts + 1, max_bytes // max(frame_bytes, 1))
    sums = np.zeros((4, n_channels))
    n_frames = n_diffs = 0
    for sample in range(windows.n_samples):
        for t0 in range(0, windows.n_times, block):
            stop = min(t0 + block + ts, windows.n_times)
            frames = source.read(handle, sample, slice(t0, stop)).astype(np.float64)
            if not np.isfinite(frames).all():
                t_bad = t0 + int(np.argwhere(~np.isfinite(frames))[0][0])
                raise DataError(f"{windows.path}: sample {sample} holds NaN or inf (time index {t_bad})")
            own = frames[: min(block, stop - t0)]  # frames of this block; the overlap belongs to the next
            diff = frames[ts:ts + len(own)] - frames[: len(frames) - ts][: len(own)]
            axes = tuple(i for i in range(frames.ndim) if i != 1)
            sums += [own.sum(axes), (own**2).sum(axes), diff.sum(axes), (diff**2).sum(axes)]
            n_frames += own.size // n_channels
            n_diffs += diff.size // n_channels
    mean, dmean = sums[0] / n_frames, sums[2] / max(n_diffs, 1)
    std = np.sqrt(np.maximum(sums[1] / n_frames - mean**2, 0.0))
    dstd = np.sqrt(np.maximum(sums[3] / max(n_diffs, 1) - dmean**2, 0.0))
    return {"field_mean": mean.tolist(), "field_std": std.tolist(),
            "delta_mean": dmean.tolist(), "delta_std": dstd.tolist()}


def load_or_compute_stats(windows: Any) -> dict[str, list[float]]:
    """Statistics for ``windows``' file and time step, cached in ``<file>.stats.json`` beside it.

    The cache is keyed by the variables and time step and invalidated when the file's size or
    modification time changes.
    """
    stats_file = _stats_path(windows.path)
    st = windows.path.stat()
    stamp = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    key = f"{','.join(windows.variables)}@time_step={windows.time_step}"
    cache: dict = {}
    if stats_file.is_file():
        try:
            cache = json.loads(stats_file.read_text())
        except json.JSONDecodeError:
            cache = {}
        if cache.get("file") != stamp:
            cache = {}
    if key not in cache.get("entries", {}):
        cache.setdefault("entries", {})[key] = compute_stats(windows)
        cache["file"] = stamp
        tmp = stats_file.with_name(f".{stats_file.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache, indent=1))
        os.replace(tmp, stats_file)
    stats = cache["entries"][key]
    for name in ("field_std", "delta_std"):
        if any(s <= 0 for s in stats[name]):
            raise DataError(f"{windows.path}: a channel is constant ({name} = {stats[name]})")
    return stats
