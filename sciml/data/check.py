"""Integrity report of a trajectory file: NaN/inf, time axis, metadata consistency and outliers, per sample."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sciml.data.formats import Source, detect


@dataclass(frozen=True)
class Finding:
    """One problem: ``sample`` is None for file-level problems."""

    kind: str
    message: str
    sample: int | None = None

    def __str__(self) -> str:
        where = f"sample {self.sample}" if self.sample is not None else "file"
        return f"{where}: {self.kind}: {self.message}"


def _time_findings(source: Source) -> list[Finding]:
    out = []
    t = source.coords.get("time")
    if t is None:
        return [Finding("metadata", "no time coordinate")]
    if len(t) != source.n_times:
        out.append(Finding("shape", f"time coordinate has {len(t)} entries for {source.n_times} time steps"))
    bad = [i for i in range(1, len(t)) if not t[i] > t[i - 1]]
    if bad:
        out.append(Finding("time", f"time is not increasing at index {bad[0]} ({t[bad[0] - 1]} -> {t[bad[0]]}); "
                                   f"{len(bad)} such steps"))
    dt = source.attrs.get("dt")
    if dt is not None and not bad and len(t) > 1 and np.issubdtype(np.asarray(t).dtype, np.number):
        steps = np.diff(np.asarray(t, dtype=float))
        if np.max(np.abs(steps - float(dt))) > 1e-6 * max(abs(float(dt)), 1e-12):
            out.append(Finding("metadata", f"attribute dt={dt} disagrees with the time coordinate's steps "
                                           f"({steps.min():.6g} to {steps.max():.6g})"))
    return out


def _unit_findings(source: Source) -> list[Finding]:
    if source.format not in ("sciml", "cf-netcdf", "zarr"):
        return []  # the benchmark formats carry no units
    return [Finding("metadata", f"field {v!r} has no units attribute") for v in source.variables
            if not v.endswith("_mask") and v not in source.units]


def check_file(path: str | os.PathLike, z_threshold: float = 10.0, max_bytes: int = 128 * 2**20,
               **options) -> tuple[Source, list[Finding]]:
    """Stream over every sample once; return the source and its findings (empty when clean).

    Outliers: samples whose values lie more than ``z_threshold`` standard deviations (of the finite values
    of the whole file, per channel) from the file's mean. Unreadable files raise ``DataError``.
    """
    source = detect(Path(path), **options)
    findings = _time_findings(source) + _unit_findings(source)
    handle = source.open()
    n_ch = len(source.variables)
    frame_bytes = 4 * n_ch * int(np.prod(source.spatial_shape))
    block = max(1, max_bytes // max(frame_bytes, 1))
    lo = np.full((source.n_samples, n_ch), np.inf)
    hi = np.full((source.n_samples, n_ch), -np.inf)
    sums = np.zeros((3, n_ch))  # count, sum, sum of squares of finite values
    for s in range(source.n_samples):
        first_bad = [None] * n_ch
        n_bad = np.zeros(n_ch, dtype=int)
        for t0 in range(0, source.n_times, block):
            frames = source.read(handle, s, slice(t0, min(t0 + block, source.n_times))).astype(np.float64)
            finite = np.isfinite(frames)
            per_channel = np.moveaxis(finite, 1, 0).reshape(n_ch, -1)
            values = np.moveaxis(frames, 1, 0).reshape(n_ch, -1)
            for c in range(n_ch):
                ok = per_channel[c]
                if not ok.all():
                    n_bad[c] += int((~ok).sum())
                    if first_bad[c] is None:
                        first_bad[c] = t0 + int(np.argwhere(~finite[:, c])[0][0])
                good = values[c][ok]
                if good.size:
                    lo[s, c], hi[s, c] = min(lo[s, c], good.min()), max(hi[s, c], good.max())
                    sums[:, c] += (good.size, good.sum(), (good**2).sum())
        for c in range(n_ch):
            if n_bad[c]:
                findings.append(Finding("nan", f"{n_bad[c]} NaN/inf values in {source.variables[c]!r} "
                                               f"(first at time index {first_bad[c]})", s))
    mean = sums[1] / np.maximum(sums[0], 1)
    std = np.sqrt(np.maximum(sums[2] / np.maximum(sums[0], 1) - mean**2, 0))
    for s in range(source.n_samples):
        for c in range(n_ch):
            if std[c] > 0 and np.isfinite(lo[s, c]):
                z = max(abs(hi[s, c] - mean[c]), abs(lo[s, c] - mean[c])) / std[c]
                if z > z_threshold:
                    findings.append(Finding("outlier", f"{source.variables[c]!r} reaches {z:.1f} standard deviations "
                                                       f"from the file's mean (range {lo[s, c]:.4g} to {hi[s, c]:.4g})",
                                            s))
    return source, findings
