"""Reading and writing datasets: HDF5/netCDF through h5netcdf, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import xarray as xr


class DataError(ValueError):
    """A data file is missing, malformed or inconsistent; the message names the file and the problem."""


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


def open_dataset(path: str | os.PathLike) -> xr.Dataset:
    """Open a dataset lazily (nothing is read until values are used); errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        return xr.open_dataset(path, engine="h5netcdf")
    except Exception as exc:  # h5py/h5netcdf raise many types for a truncated or foreign file
        raise DataError(f"{path}: cannot be read as HDF5/netCDF ({type(exc).__name__}: {exc})") from exc
