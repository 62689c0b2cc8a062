"""The sciml dataset schema: an xarray Dataset ``(sample, time, x[, y])`` with CF-style metadata."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

import sciml

SPACE_DIMS = ("x", "y", "z")


def trajectories_dataset(
    fields: Mapping[str, np.ndarray],
    *,
    time: np.ndarray,
    space: Mapping[str, np.ndarray],
    attrs: Mapping[str, object],
    units: Mapping[str, str] | None = None,
    long_names: Mapping[str, str] | None = None,
) -> xr.Dataset:
    """Build a dataset in our schema.

    Args:
      fields: name -> array ``(sample, time, *space)``.
      time: ``(time,)`` physical times of the frames.
      space: ordered ``{"x": coords[, "y": coords]}``.
      attrs: global attributes (system, parameters, ``dt``, generator); values must be numbers or strings.
      units: units of each field and coordinate (CF ``units``; "1" for dimensionless).
      long_names: human-readable names.
    """
    units = dict(units or {})
    long_names = dict(long_names or {})
    dims = ("sample", "time", *space)
    data_vars = {}
    for name, arr in fields.items():
        if arr.ndim != len(dims):
            raise ValueError(f"field {name!r} must have dims {dims}, got shape {arr.shape}")
        data_vars[name] = xr.Variable(
            dims, arr, attrs={"units": units.get(name, "1"), "long_name": long_names.get(name, name)}
        )
    coords = {
        "time": xr.Variable("time", np.asarray(time), attrs={"units": units.get("time", "1"),
                                                             "long_name": "time", "axis": "T"}),
    }
    for axis, (dim, values) in zip("XYZ", space.items(), strict=False):
        coords[dim] = xr.Variable(dim, np.asarray(values), attrs={"units": units.get(dim, "1"),
                                                                  "long_name": f"{dim} position", "axis": axis})
    global_attrs = {"Conventions": "CF-1.8", "generator": "sciml.generate", "generator_version": sciml.__version__}
    global_attrs.update(attrs)
    return xr.Dataset(data_vars, coords=coords, attrs=global_attrs)


def field_names(ds: xr.Dataset) -> list[str]:
    """Data variables laid out as trajectories ``(sample, time, *space)``, in file order."""
    return [name for name, var in ds.data_vars.items() if var.dims[:2] == ("sample", "time")]
