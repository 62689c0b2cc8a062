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


def open_dataset(path: str | os.PathLike, variables: list[str] | None = None, **options) -> xr.Dataset:
    """Open any supported file lazily as an xarray Dataset in our schema (nothing is read until used).

    Our own files open directly through h5netcdf; PDEBench, The Well, PDEArena/MP-PDE, CF netCDF and Zarr
    files are detected from their content and presented with dims ``(sample, time, *space)``, per-sample
    parameters as variables on ``sample``. Errors name the file and the problem.
    """
    from sciml.data.formats import detect

    path = Path(path)
    source = detect(path, variables, **options)
    if source.format != "sciml":
        return source.to_xarray()
    try:
        ds = xr.open_dataset(path, engine="h5netcdf")
    except Exception as exc:  # h5py/h5netcdf raise many types for a truncated or foreign file
        raise DataError(f"{path}: cannot be read as HDF5/netCDF ({type(exc).__name__}: {exc})") from exc
    return ds[variables] if variables else ds
