"""A trajectory source: any supported file seen as fields ``(sample, time, *space)``, read lazily."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from sciml.errors import DataError


@dataclass
class Source:
    """Metadata of a trajectory file, read without loading any field, plus a lazy ``read``.

    Subclasses fill the metadata in ``__init__`` and implement :meth:`open` (a handle, opened once per
    process by the caller) and :meth:`read_field`. Shapes: every field is ``(n_samples, n_times, *space)``.
    Attributes:
      path: the file (or Zarr store).
      format: short name of the layout, e.g. ``"pdebench-single"``.
      variables: field names, in channel order.
      n_samples, n_times, spatial_shape: the geometry.
      space_dims: names of the spatial dims (``x``, ``y``, ``z``).
      coords: ``time`` and each space dim -> 1D array (``time`` may be absent).
      params: per-sample parameters, name -> ``(n_samples,)``.
      attrs: global attributes; units: field/coordinate -> CF units.
    """

    path: Path
    format: str = ""
    variables: list[str] = field(default_factory=list)
    n_samples: int = 0
    n_times: int = 0
    spatial_shape: tuple[int, ...] = ()
    space_dims: tuple[str, ...] = ()
    coords: dict[str, np.ndarray] = field(default_factory=dict)
    params: dict[str, np.ndarray] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)

    def open(self) -> Any:
        raise NotImplementedError

    def h5(self, handle: Any, key: str) -> Any:
        """``handle[key]``, cached per open handle and process (an h5py lookup costs tens of microseconds)."""
        cache = self.__dict__.setdefault("_h5_cache", {})
        ident = (os.getpid(), id(handle), key)
        if ident not in cache:
            if len(cache) > 256:
                cache.clear()
            cache[ident] = (handle, handle[key])  # keep the handle alive so that its id is not reused
        return cache[ident][1]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_h5_cache", None)  # never carry file objects into another process
        return state

    def read_field(self, handle: Any, name: str, sample: int, times: slice) -> np.ndarray:
        """One field of one sample at ``times``: ``(T, *space)``."""
        raise NotImplementedError

    def read(self, handle: Any, sample: int, times: slice, variables: list[str] | None = None) -> np.ndarray:
        """Fields stacked as channels: ``(T, C, *space)`` float32. Errors name the file, field and sample."""
        if not 0 <= sample < self.n_samples:
            raise IndexError(f"{self.path}: sample {sample} out of range [0, {self.n_samples})")
        out = []
        for name in variables or self.variables:
            try:
                out.append(np.asarray(self.read_field(handle, name, sample, times), dtype=np.float32))
            except (OSError, KeyError, ValueError, TypeError) as exc:
                raise DataError(f"{self.path}: cannot read field {name!r} of sample {sample} ({exc})") from exc
        return out[0][:, None] if len(out) == 1 else np.stack(out, axis=1)

    def to_xarray(self) -> xr.Dataset:
        """The source in our schema, lazily: values are read from the file only when indexed."""
        return to_xarray(self)

    def validate(self) -> None:
        """Consistency of the metadata; raises :class:`DataError` naming the file and the key."""
        if not self.variables:
            raise DataError(f"{self.path}: no trajectory fields found ({self.format})")
        if self.n_samples < 1 or self.n_times < 1:
            raise DataError(f"{self.path}: empty fields (samples={self.n_samples}, times={self.n_times})")
        for name, values in self.params.items():
            if len(values) != self.n_samples:
                raise DataError(f"{self.path}: parameter {name!r} has {len(values)} entries for "
                                f"{self.n_samples} samples")
        for dim, size in zip(self.space_dims, self.spatial_shape, strict=True):
            if dim in self.coords and len(self.coords[dim]) != size:
                raise DataError(f"{self.path}: coordinate {dim!r} has {len(self.coords[dim])} points, "
                                f"fields have {size}")


def contiguous(times: slice, n_times: int) -> tuple[slice, int]:
    """A short strided time range as one contiguous block plus the step to take in memory.

    HDF5 strided selections cost more than reading the few frames in between and subsampling.
    """
    start, stop, step = times.indices(n_times)
    count = len(range(start, stop, step))
    if step > 1 and count and (stop - start) <= 8 * count:
        return slice(start, start + (count - 1) * step + 1), step
    return slice(start, stop, step), 1


class _FieldArray(BackendArray):
    """Lazy ``(sample, time, *space)`` view of one field of a source, for xarray."""

    def __init__(self, source: Source, name: str):
        self.source, self.name = source, name
        self.shape = (source.n_samples, source.n_times, *source.spatial_shape)
        self.dtype = np.dtype(np.float32)
        self._handle, self._pid = None, None

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._raw)

    def _raw(self, key: tuple) -> np.ndarray:
        if self._handle is None or self._pid != os.getpid():
            self._handle, self._pid = self.source.open(), os.getpid()
        samples = range(self.shape[0])[key[0]] if isinstance(key[0], slice) else [key[0]]
        times = key[1] if isinstance(key[1], slice) else slice(key[1], key[1] + 1)
        blocks = [self.source.read_field(self._handle, self.name, s, times)[(slice(None), *key[2:])]
                  for s in samples]
        out = np.stack(blocks).astype(np.float32, copy=False) if blocks else np.empty((0,), np.float32)
        if not isinstance(key[1], slice):
            out = out[:, 0]
        return out[0] if not isinstance(key[0], slice) else out


def to_xarray(source: Source) -> xr.Dataset:
    """A source in our schema through lazy per-field arrays (the default of :meth:`Source.to_xarray`)."""
    dims = ("sample", "time", *source.space_dims)
    data_vars: dict[str, Any] = {
        name: xr.Variable(dims, indexing.LazilyIndexedArray(_FieldArray(source, name)),
                          attrs={"units": source.units.get(name, "1"), "long_name": name})
        for name in source.variables
    }
    for name, values in source.params.items():
        data_vars[name] = xr.Variable("sample", np.asarray(values), attrs={"long_name": f"parameter {name}"})
    coords = {}
    for axis, dim in zip("XYZ", source.space_dims, strict=False):
        if dim in source.coords:
            coords[dim] = xr.Variable(dim, source.coords[dim], attrs={"units": source.units.get(dim, "1"),
                                                                      "axis": axis})
    if "time" in source.coords:
        coords["time"] = xr.Variable("time", source.coords["time"], attrs={"units": source.units.get("time", "1"),
                                                                         "axis": "T"})
    attrs = {"source_format": source.format, "source_path": str(source.path)}
    attrs.update({k: v for k, v in source.attrs.items() if isinstance(v, (str, int, float, np.number))})
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)
