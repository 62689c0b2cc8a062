"""Generic CF netCDF (and Zarr) from climate and ocean models.

Axes are found from CF metadata — the ``axis`` attribute, ``standard_name`` (``time``, ``latitude``,
``longitude``, ...), or units (``... since ...``, ``degrees_north``/``degrees_east``) — not from dimension
names alone. Times are decoded with cftime (any calendar). An ensemble dimension (``standard_name:
realization`` or named ``member``/``realization``/``ensemble``/``sample``) becomes the sample dim, otherwise
the file is one trajectory. Fill values become NaN in ``open_dataset`` and, for training, 0 with a
``<name>_mask`` channel (1 where valid) so that no NaN reaches a model.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from sciml.data.formats.base import Source
from sciml.errors import DataError

SAMPLE_NAMES = ("member", "realization", "ensemble", "sample", "ens")
NAME_AXES = {"time": "T", "t": "T", "lon": "X", "longitude": "X", "x": "X", "lat": "Y", "latitude": "Y",
             "y": "Y", "lev": "Z", "level": "Z", "depth": "Z", "height": "Z", "plev": "Z", "z": "Z"}
STANDARD_AXES = {"time": "T", "longitude": "X", "grid_longitude": "X", "projection_x_coordinate": "X",
                 "latitude": "Y", "grid_latitude": "Y", "projection_y_coordinate": "Y", "altitude": "Z",
                 "height": "Z", "depth": "Z", "air_pressure": "Z", "model_level_number": "Z"}


def open_cf(path: Path) -> xr.Dataset:
    """Open lazily (no dask) with cftime-decoded times."""
    coder = xr.coders.CFDatetimeCoder(use_cftime=True)
    try:
        if path.is_dir():
            with warnings.catch_warnings():  # stores without consolidated metadata are fine, only slower to open
                warnings.filterwarnings("ignore", message="Failed to open Zarr store with consolidated metadata")
                return xr.open_zarr(path, decode_times=coder, chunks=None)
        return xr.open_dataset(path, engine="netcdf4", decode_times=coder)
    except Exception as exc:  # netCDF4/zarr raise many types for malformed stores
        raise DataError(f"{path}: cannot be read as CF netCDF or Zarr ({type(exc).__name__}: {exc})") from exc


def axis_of(ds: xr.Dataset, dim: str) -> str | None:
    """``T``, ``X``, ``Y``, ``Z``, ``S`` (samples) or None for a dimension, from its coordinate's metadata."""
    attrs = ds[dim].attrs if dim in ds.variables else {}
    if str(attrs.get("standard_name", "")) == "realization" or dim.lower() in SAMPLE_NAMES:
        return "S"
    if str(attrs.get("axis", "")).upper() in ("T", "X", "Y", "Z"):
        return str(attrs["axis"]).upper()
    if str(attrs.get("standard_name", "")) in STANDARD_AXES:
        return STANDARD_AXES[str(attrs["standard_name"])]
    units = str(attrs.get("units", ""))
    if " since " in units or (dim in ds.variables and ds[dim].dtype == object):
        return "T"
    if units in ("degrees_east", "degree_east", "degrees_E"):
        return "X"
    if units in ("degrees_north", "degree_north", "degrees_N"):
        return "Y"
    if "positive" in attrs:
        return "Z"
    return NAME_AXES.get(dim.lower())


class CFSource(Source):
    def __init__(self, path: Path, variables: list[str] | None = None):
        super().__init__(path=path, format="zarr" if path.is_dir() else "cf-netcdf")
        ds = open_cf(path)
        axes = {dim: axis_of(ds, dim) for dim in ds.dims}
        candidates = [n for n, v in ds.data_vars.items()
                      if any(axes[d] == "T" for d in v.dims) and any(axes[d] in ("X", "Y", "Z") for d in v.dims)]
        names = list(variables) if variables else candidates
        if not names:
            raise DataError(f"{path}: no variable with a time axis and a spatial axis (CF axis/standard_name)")
        for n in names:
            if n not in ds.data_vars:
                raise DataError(f"{path}: no variable {n!r} (variables: {', '.join(ds.data_vars)})")
        dims = ds[names[0]].dims
        for n in names:
            if ds[n].dims != dims:
                raise DataError(f"{path}: variable {n!r} has dims {ds[n].dims}, {names[0]!r} has {dims}")
        unknown = [d for d in dims if axes[d] is None]
        if unknown:
            raise DataError(f"{path}: cannot tell what axis dimension {unknown[0]!r} of {names[0]!r} is "
                            "(no CF axis, standard_name or units)")
        self.time_dim = next((d for d in dims if axes[d] == "T"), None)
        self.sample_dim = next((d for d in dims if axes[d] == "S"), None)
        self.space_dims = tuple(d for d in dims if axes[d] in ("X", "Y", "Z"))
        self.base_dims = dims
        self.n_samples = ds.sizes[self.sample_dim] if self.sample_dim else 1
        self.n_times = ds.sizes[self.time_dim]
        self.spatial_shape = tuple(ds.sizes[d] for d in self.space_dims)
        self.coords["time"] = ds[self.time_dim].values if self.time_dim in ds.variables else np.arange(self.n_times)
        for d in self.space_dims:
            if d in ds.variables:
                self.coords[d] = ds[d].values
                self.units[d] = str(ds[d].attrs.get("units", "1"))
        self._masked = [n for n in names if "_FillValue" in ds[n].encoding or "missing_value" in ds[n].encoding]
        self._mask_names = [f"{n}_mask" for n in self._masked]
        self.variables = [*names, *self._mask_names]
        for n in names:
            self.units[n] = str(ds[n].attrs.get("units", "1"))
        time_attrs = ds[self.time_dim].encoding if self.time_dim in ds.variables else {}
        self.attrs = {k: v for k, v in ds.attrs.items() if isinstance(v, (str, int, float))}
        self.attrs["calendar"] = str(time_attrs.get("calendar", "standard"))
        self.attrs["time_units"] = str(time_attrs.get("units", ""))
        ds.close()

    def open(self) -> xr.Dataset:
        return open_cf(self.path)

    def to_xarray(self) -> xr.Dataset:
        """The file's own lazy variables in our dim order; fill values stay NaN (no mask channels)."""
        ds = open_cf(self.path)[[v for v in self.variables if v not in self._mask_names]]
        if self.sample_dim is None:
            ds = ds.expand_dims("sample")
        else:
            ds = ds.rename({self.sample_dim: "sample"})
        ds = ds.rename({self.time_dim: "time"}).transpose("sample", "time", *self.space_dims, ...)
        ds.attrs.update(source_format=self.format, source_path=str(self.path), calendar=self.attrs["calendar"])
        return ds

    def read_field(self, handle: xr.Dataset, name: str, sample: int, times: slice) -> np.ndarray:
        mask = name.endswith("_mask") and name[:-5] in self._masked
        var = handle[name[:-5] if mask else name]
        index = {self.time_dim: times}
        if self.sample_dim:
            index[self.sample_dim] = sample
        values = var.isel(index).transpose(self.time_dim, *self.space_dims).values
        valid = np.isfinite(values)
        return valid.astype(np.float32) if mask else np.where(valid, values, 0.0)
