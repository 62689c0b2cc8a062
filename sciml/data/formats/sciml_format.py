"""Our own files: netCDF-4 written by ``sciml.generate`` (dims ``(sample, time, *space)``)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from sciml.data.formats.base import Source, contiguous
from sciml.errors import DataError


def dimension_names(dset: h5py.Dataset) -> list[str]:
    """Dimension names of a netCDF-4 variable from its HDF5 dimension scales ([] when it has none)."""
    names = []
    for dim in dset.dims:
        if len(dim) == 0:
            return []
        names.append(dim[0].name.rsplit("/", 1)[-1])
    return names


def is_sciml(f: h5py.File) -> bool:
    return any(isinstance(obj, h5py.Dataset) and dimension_names(obj)[:2] == ["sample", "time"]
               for obj in f.values())


def _attr(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.size == 1:
        return value.item()
    return value


class SciMLSource(Source):
    def __init__(self, path: Path, f: h5py.File, variables: list[str] | None = None):
        super().__init__(path=path, format="sciml")
        fields = [n for n, o in f.items()
                  if isinstance(o, h5py.Dataset) and dimension_names(o)[:2] == ["sample", "time"]]
        self.variables = list(variables) if variables else fields
        missing = [v for v in self.variables if v not in fields]
        if missing:
            raise DataError(f"{path}: missing variable {missing[0]!r} (fields: {', '.join(fields)})")
        first = f[self.variables[0]]
        shapes = {v: f[v].shape for v in self.variables}
        if len(set(shapes.values())) != 1:
            raise DataError(f"{path}: variables have different shapes {shapes}")
        dims = dimension_names(first)
        self.n_samples, self.n_times, self.spatial_shape = first.shape[0], first.shape[1], tuple(first.shape[2:])
        self.space_dims = tuple(dims[2:])
        for name in ("time", *self.space_dims):
            if name in f:
                self.coords[name] = f[name][()]
                self.units[name] = _attr(f[name].attrs.get("units", "1"))
        for name, obj in f.items():
            if isinstance(obj, h5py.Dataset) and dimension_names(obj) == ["sample"] and name != "sample":
                self.params[name] = obj[()]
        for v in self.variables:
            self.units[v] = _attr(f[v].attrs.get("units", "1"))
        self.attrs = {k: _attr(v) for k, v in f.attrs.items() if not k.startswith("_")}

    def open(self) -> h5py.File:
        return h5py.File(self.path, "r")

    def read_field(self, handle: h5py.File, name: str, sample: int, times: slice) -> np.ndarray:
        block, step = contiguous(times, self.n_times)
        return self.h5(handle, name)[sample, block][::step]
