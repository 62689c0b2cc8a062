"""PDEBench files (Takamoto et al. 2022).

"single" files: ``tensor`` ``[N, T, X(, Y)]`` or the CFD fields ``density, pressure, Vx, Vy(, Vz)``, with
``x-coordinate``, ``y-coordinate``, ``t-coordinate`` (which may hold one entry more than the data).
"multi" files: one group per seed, each with ``data`` ``[T, X(, Y), V]`` and ``grid/{x, y, t}``.
Parameters that PDEBench encodes in file names (``beta0.1``, ``Nu0.001``, ``M0.1``, ``Eta0.01``, ...)
become per-sample parameters.
"""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np

from sciml.data.formats.base import Source, contiguous
from sciml.errors import DataError

CFD_FIELDS = ("density", "pressure", "Vx", "Vy", "Vz")
SPACE = ("x", "y", "z")
NAME_PARAMS = re.compile(r"(?<![A-Za-z])(beta|Nu|nu|Rho|rho|M|Eta|Zeta|Bd|Da)(\d+(?:\.\d+)?(?:e-?\d+)?)")


def is_single(f: h5py.File) -> bool:
    return "tensor" in f or all(k in f for k in ("density", "Vx"))


def is_multi(f: h5py.File) -> bool:
    groups = [o for o in f.values() if isinstance(o, h5py.Group)]
    return bool(groups) and all("data" in g and "grid" in g for g in groups)


def _name_params(path: Path, n: int) -> dict[str, np.ndarray]:
    return {k: np.full(n, float(v)) for k, v in NAME_PARAMS.findall(path.stem)}


class PDEBenchSingle(Source):
    def __init__(self, path: Path, f: h5py.File, variables: list[str] | None = None):
        super().__init__(path=path, format="pdebench-single")
        fields = ["tensor"] if "tensor" in f else [k for k in CFD_FIELDS if k in f]
        self.variables = list(variables) if variables else fields
        for v in self.variables:
            if v not in f:
                raise DataError(f"{path}: missing key {v!r}")
        shapes = {v: f[v].shape for v in self.variables}
        if len(set(shapes.values())) != 1:
            raise DataError(f"{path}: fields have different shapes {shapes}")
        shape = shapes[self.variables[0]]
        if len(shape) < 3:
            raise DataError(f"{path}: key {self.variables[0]!r} has shape {shape}, expected [N, T, X(, Y)]")
        self.n_samples, self.n_times, self.spatial_shape = shape[0], shape[1], tuple(shape[2:])
        self.space_dims = SPACE[: len(self.spatial_shape)]
        for dim in self.space_dims:
            key = f"{dim}-coordinate"
            if key in f:
                self.coords[dim] = np.asarray(f[key][()]).reshape(-1)
        if "t-coordinate" in f:
            t = np.asarray(f["t-coordinate"][()]).reshape(-1)
            if len(t) not in (self.n_times, self.n_times + 1):
                raise DataError(f"{path}: t-coordinate has {len(t)} entries for {self.n_times} time steps")
            self.coords["time"] = t[: self.n_times]
        self.params = _name_params(path, self.n_samples)
        for key, o in f.items():  # Darcy flow stores its coefficient field; per-sample scalars only here
            if (isinstance(o, h5py.Dataset) and not key.endswith("-coordinate") and key not in self.variables
                    and o.shape in ((), (self.n_samples,)) and o.dtype.kind in "fiu"):
                self.params[key] = np.broadcast_to(o[()], (self.n_samples,)).astype(float)
        self.attrs = {"file_name": path.name}

    def open(self) -> h5py.File:
        return h5py.File(self.path, "r")

    def read_field(self, handle: h5py.File, name: str, sample: int, times: slice) -> np.ndarray:
        block, step = contiguous(times, self.n_times)
        return self.h5(handle, name)[sample, block][::step]


class PDEBenchMulti(Source):
    def __init__(self, path: Path, f: h5py.File, variables: list[str] | None = None):
        super().__init__(path=path, format="pdebench-multi")
        self.groups = sorted(k for k, o in f.items() if isinstance(o, h5py.Group))
        first = f[self.groups[0]]["data"]
        if first.ndim < 3:
            raise DataError(f"{path}: {self.groups[0]}/data has shape {first.shape}, expected [T, X(, Y), V]")
        for g in self.groups:
            if f[g]["data"].shape != first.shape:
                raise DataError(f"{path}: {g}/data has shape {f[g]['data'].shape}, {self.groups[0]}/data has "
                                f"{first.shape}")
        n_channels = first.shape[-1]
        names = ["data"] if n_channels == 1 else [f"data_{i}" for i in range(n_channels)]
        self.channel_of = {n: i for i, n in enumerate(names)}
        self.variables = list(variables) if variables else names
        for v in self.variables:
            if v not in self.channel_of:
                raise DataError(f"{path}: no field {v!r} (fields: {', '.join(names)})")
        self.n_samples, self.n_times = len(self.groups), first.shape[0]
        self.spatial_shape = tuple(first.shape[1:-1])
        self.space_dims = SPACE[: len(self.spatial_shape)]
        grid = f[self.groups[0]]["grid"]
        for dim in self.space_dims:
            if dim in grid:
                self.coords[dim] = np.asarray(grid[dim][()]).reshape(-1)
        if "t" in grid:
            t = np.asarray(grid["t"][()]).reshape(-1)
            self.coords["time"] = t[: self.n_times]
        self.params = _name_params(path, self.n_samples)
        self.attrs = {"file_name": path.name, "seeds": ",".join(self.groups)}

    def open(self) -> h5py.File:
        return h5py.File(self.path, "r")

    def read_field(self, handle: h5py.File, name: str, sample: int, times: slice) -> np.ndarray:
        block, step = contiguous(times, self.n_times)
        return self.h5(handle, f"{self.groups[sample]}/data")[block, ..., self.channel_of[name]][::step]
