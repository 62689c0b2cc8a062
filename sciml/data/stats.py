"""Per-channel normalisation statistics, computed once by streaming over a file and stored beside it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from sciml.data.io import DataError
from sciml.data.windows import TrajectoryWindows


def _stats_path(path: Path) -> Path:
    return path.with_name(path.name + ".stats.json")


def compute_stats(windows: TrajectoryWindows, samples_per_read: int = 16) -> dict[str, list[float]]:
    """Mean and std per channel of the fields and of their differences over one ``time_step``.

    Streams ``samples_per_read`` trajectories at a time, accumulating in float64.
    Returns ``{"field_mean", "field_std", "delta_mean", "delta_std"}``, each a list of C floats.
    """
    f = windows._handle()
    counts = {"n": 0.0, "dn": 0.0}
    acc: dict[str, np.ndarray | None] = {k: None for k in ("s", "ss", "ds", "dss")}
    for start in range(0, windows.n_samples, samples_per_read):
        stop = min(start + samples_per_read, windows.n_samples)
        block = np.stack([f[v][start:stop] for v in windows.variables], axis=2).astype(np.float64)
        if not np.isfinite(block).all():
            bad = start + int(np.argwhere(~np.isfinite(block))[0][0])
            raise DataError(f"{windows.path}: sample {bad} holds NaN or inf")
        axes = tuple(i for i in range(block.ndim) if i != 2)
        diff = block[:, windows.time_step:] - block[:, :-windows.time_step]
        parts = {"s": block.sum(axes), "ss": (block**2).sum(axes), "ds": diff.sum(axes), "dss": (diff**2).sum(axes)}
        for k, v in parts.items():
            acc[k] = v if acc[k] is None else acc[k] + v
        counts["n"] += block.size / block.shape[2]
        counts["dn"] += diff.size / diff.shape[2]
    mean = acc["s"] / counts["n"]
    dmean = acc["ds"] / counts["dn"]
    std = np.sqrt(np.maximum(acc["ss"] / counts["n"] - mean**2, 0.0))
    dstd = np.sqrt(np.maximum(acc["dss"] / counts["dn"] - dmean**2, 0.0))
    return {"field_mean": mean.tolist(), "field_std": std.tolist(),
            "delta_mean": dmean.tolist(), "delta_std": dstd.tolist()}


def load_or_compute_stats(windows: TrajectoryWindows) -> dict[str, list[float]]:
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
