"""Reading and writing datasets: HDF5/netCDF through h5netcdf, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import h5netcdf
import numpy as np
import xarray as xr

import sciml
from sciml.data.formats import detect
from sciml.errors import DataError


def write_dataset(ds: xr.Dataset, path: str | os.PathLike, chunk_samples: int = 1) -> Path:
    """Write ``ds`` to ``path`` (netCDF-4 via h5netcdf); never leaves a half-written file under ``path``.

    Trajectory fields are chunked ``chunk_samples`` samples at a time along ``sample`` and whole along
    the other dims, so that reading one training window touches one chunk.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    encoding = {}
    for name, var in ds.data_vars.items():
        if var.dims[:1] == ("sample",):
            encoding[name] = {"chunksizes": (min(chunk_samples, var.shape[0]), *var.shape[1:])}
    try:
        ds.to_netcdf(tmp, engine="h5netcdf", encoding=encoding)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def open_dataset(path: str | os.PathLike, variables: list[str] | None = None, **options) -> xr.Dataset:
    """Open any supported file lazily as an xarray Dataset in our schema (nothing is read until used).

    Our own files open directly through h5netcdf; PDEBench, The Well, PDEArena/MP-PDE, CF netCDF and Zarr
    files are detected from their content and presented with dims ``(sample, time, *space)``, per-sample
    parameters as variables on ``sample``. Errors name the file and the problem.
    """
    path = Path(path)
    source = detect(path, variables, **options)
    if source.format != "sciml":
        return source.to_xarray()
    try:
        ds = xr.open_dataset(path, engine="h5netcdf")
    except Exception as exc:  # h5py/h5netcdf raise many types for a truncated or foreign file
        raise DataError(f"{path}: cannot be read as HDF5/netCDF ({type(exc).__name__}: {exc})") from exc
    return ds[variables] if variables else ds


class TrajectoryWriter:
    """Write a dataset in our schema one block of samples at a time, never holding it whole in memory.

    The file is written under a temporary name in the same folder and renamed to ``path`` by
    :meth:`close`; an exception inside a ``with`` block deletes the temporary file instead.
    Args:
      path: final file name.
      fields: name -> shape ``(n_samples, n_times, *space)``; stored float32, one sample per chunk.
      time: ``(n_times,)`` times of the frames.
      space: ordered ``{"x": coords[, "y": coords]}``.
      attrs: global attributes (numbers and strings).
      units, long_names: per field and coordinate.
    """

    def __init__(self, path, fields: dict[str, tuple[int, ...]], *, time, space: dict, attrs: dict,
                 units: dict | None = None, long_names: dict | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        units, long_names = dict(units or {}), dict(long_names or {})
        shapes = set(fields.values())
        if len(shapes) != 1:
            raise ValueError(f"fields must share one shape, got {fields}")
        shape = shapes.pop()
        self.n_samples, self.n_times = shape[0], shape[1]
        self._file = h5netcdf.File(self.tmp, "w")
        dims = ("sample", "time", *space)
        self._file.dimensions = dict(zip(dims, shape, strict=True))
        coord_axes = {"time": "T", **dict(zip(space, "XYZ", strict=False))}
        for name, values in (("time", time), *space.items()):
            var = self._file.create_variable(name, (name,), data=np.asarray(values))
            var.attrs.update(units=units.get(name, "1"), long_name=long_names.get(name, name),
                             axis=coord_axes[name])
        for name in fields:
            var = self._file.create_variable(name, dims, "f4", chunks=(1, *shape[1:]))
            var.attrs.update(units=units.get(name, "1"), long_name=long_names.get(name, name))
        self._file.attrs.update({"Conventions": "CF-1.8", "generator": "sciml.generate",
                                 "generator_version": sciml.__version__, **attrs})
        self._cells = 0  # (sample, time) pairs written

    def write(self, start: int, arrays: dict) -> None:
        """Store samples ``start, start + 1, ...`` of each field (``(B, n_times, *space)``)."""
        for name, values in arrays.items():
            self._file.variables[name][start:start + len(values)] = values
        self._cells += len(next(iter(arrays.values()))) * self.n_times

    def write_times(self, start: int, arrays: dict) -> None:
        """Store frames ``start, start + 1, ...`` of every sample (``(n_samples, T, *space)``), for rollouts
        written as they run."""
        for name, values in arrays.items():
            self._file.variables[name][:, start:start + values.shape[1]] = values
        self._cells += self.n_samples * next(iter(arrays.values())).shape[1]

    def write_param(self, name: str, values, units: str = "1") -> None:
        """A per-sample parameter, a variable on ``sample``."""
        var = self._file.create_variable(name, ("sample",), data=values)
        var.attrs.update(units=units, long_name=f"parameter {name}")

    def close(self) -> Path:
        self._file.close()
        if self._cells != self.n_samples * self.n_times:
            self.tmp.unlink(missing_ok=True)
            raise DataError(f"{self.path}: {self._cells} of {self.n_samples * self.n_times} (sample, time) frames "
                            "were written; not kept")
        os.replace(self.tmp, self.path)
        return self.path

    def __enter__(self) -> TrajectoryWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._file.close()
            self.tmp.unlink(missing_ok=True)
