"""Format detection and readers: every supported layout is seen as a :class:`Source` of trajectories.

``detect(path)`` looks at the content, never at the file extension: HDF5 files are told apart by their
groups and datasets (sciml, PDEBench single/multi, The Well, PDEArena/MP-PDE, else CF netCDF-4), netCDF-3
by its magic bytes, Zarr stores by their metadata files.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py

from sciml.data.formats.base import Source, to_xarray
from sciml.data.formats.cf import CFSource
from sciml.data.formats.pdearena import PDEArenaSource, is_pdearena
from sciml.data.formats.pdebench import PDEBenchMulti, PDEBenchSingle, is_multi, is_single
from sciml.data.formats.sciml_format import SciMLSource, is_sciml
from sciml.data.formats.the_well import TheWellSource, is_the_well
from sciml.errors import DataError

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZARR_MARKERS = (".zgroup", ".zattrs", "zarr.json")


def _kind(path: Path) -> str:
    if path.is_dir():
        if any((path / m).is_file() for m in ZARR_MARKERS):
            return "zarr"
        raise DataError(f"{path}: a folder that is not a Zarr store")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    with open(path, "rb") as f:
        head = f.read(8)
    if head[:3] == b"CDF":
        return "netcdf3"
    if head == HDF5_MAGIC or h5py.is_hdf5(path):  # is_hdf5 also finds a signature after a user block
        return "hdf5"
    raise DataError(f"{path}: unrecognised format (not HDF5, netCDF or Zarr)")


def detect(path: str | os.PathLike, variables: list[str] | None = None, **options) -> Source:
    """The :class:`Source` for ``path``; ``options`` go to the reader (``split``, ``key`` for PDEArena)."""
    path = Path(path)
    kind = _kind(path)
    if kind in ("zarr", "netcdf3"):
        return _checked(CFSource(path, variables))
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(f"{path}: cannot be read as HDF5 ({exc}); truncated?") from exc
    with f:
        try:
            if is_sciml(f):
                source = SciMLSource(path, f, variables)
            elif is_the_well(f):
                source = TheWellSource(path, f, variables)
            elif is_single(f):
                source = PDEBenchSingle(path, f, variables)
            elif is_multi(f):
                source = PDEBenchMulti(path, f, variables)
            elif is_pdearena(f):
                source = PDEArenaSource(path, f, variables, **options)
            else:
                source = None
        except (KeyError, OSError, ValueError) as exc:
            if isinstance(exc, DataError):
                raise
            raise DataError(f"{path}: malformed file ({type(exc).__name__}: {exc})") from exc
    if source is None:
        source = CFSource(path, variables)
    if options and not isinstance(source, PDEArenaSource):
        raise DataError(f"{path}: options {sorted(options)} do not apply to {source.format} files")
    return _checked(source)


def _checked(source: Source) -> Source:
    source.validate()
    return source


__all__ = ["Source", "detect", "to_xarray"]
