"""Writers for the layouts that other codes read: MP-PDE's, PDEArena's and PDEBench's single files.

Any dataset our readers open (``sample, time, *space``, per-sample parameters on ``sample``) can be written
in the layout a reference implementation expects, so that its own loader and ours read the same numbers:

- ``mp_pde`` (Brandstetter et al. 2022): ``{split}/pde_{nt}-{nx}`` float64 ``(N, nt, nx)``, one dataset per
  resolution (several inputs holding the same trajectories), with the attributes ``dt, dx, nt, nx, tmin,
  tmax, x`` that their ``HDF5Dataset`` reads. ``x`` is ``linspace(0, L, nx)``, the periodic endpoint included,
  with ``dx = L / nx``, as their generator writes it; the offset of our first node goes in ``x0`` (their
  loader ignores it, ours restores the coordinates). Per-sample parameters (``alpha, beta, gamma``) are
  ``{split}/{name}`` ``(N,)``. 1D, one field, uniform grid and frames only.
- ``pdearena`` (Gupta & Brandstetter 2022): ``{split}/...`` with per-sample ``dt``, ``dx`` ``(N,)``. One 1D
  field is ``pde_{nt}-{nx}`` (their Kuramoto–Sivashinsky pipe); 2D fields keep their names (``u``, ``vx``,
  ``vy`` in their Navier–Stokes files) with ``x``, ``y``, ``t``. Their pipes find splits by ``_train_``,
  ``_valid_``, ``_test_`` in the file name.
- ``pdebench`` (Takamoto et al. 2022): one field as ``tensor`` ``(N, T, X(, Y))`` (or the CFD fields by
  name), ``x-coordinate``, ``y-coordinate`` and ``t-coordinate`` with one entry more than the frames, as
  PDEBench writes it; per-sample parameters as ``(N,)`` datasets, and a parameter with one value in the file
  also as a root attribute (CAPE's loader, which takes one file per parameter value, reads them there).

Files are written under a temporary name and renamed, as every file this package writes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
import xarray as xr

from sciml.data.io import open_dataset
from sciml.data.schema import field_names
from sciml.errors import DataError

FORMATS = ("mp_pde", "pdearena", "pdebench")
SPLITS = ("train", "valid", "test")
CFD_FIELDS = ("density", "pressure", "Vx", "Vy", "Vz")


def parameters(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """Per-sample parameters: the variables on ``sample`` alone, as float64 ``(N,)``."""
    return {k: np.asarray(v.values, dtype=float) for k, v in ds.data_vars.items() if v.dims == ("sample",)}


def _space_dims(ds: xr.Dataset, field: str) -> tuple[str, ...]:
    return tuple(ds[field].dims[2:])


def _uniform_step(values: np.ndarray, what: str, fmt: str) -> float:
    if len(values) < 2:
        raise DataError(f"{fmt}: {what} has {len(values)} entry; the layout needs a step")
    steps = np.diff(values)
    if np.ptp(steps) > 1e-6 * abs(steps.mean()):
        raise DataError(f"{fmt}: the layout stores a uniform {what} (start and step), but its steps range over "
                        f"[{steps.min():.6g}, {steps.max():.6g}]")
    return float(steps.mean())


def _period(ds: xr.Dataset, x: np.ndarray, dx: float) -> float:
    length = float(ds.attrs.get("L", len(x) * dx))
    if abs(length - len(x) * dx) > 1e-6 * length:
        raise DataError(f"mp_pde: the grid of {len(x)} nodes spaced {dx:.6g} is not periodic with L = {length:.6g}")
    return length


def _atomic_h5(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _commit(tmp: Path, path: Path, write) -> Path:
    try:
        with h5py.File(tmp, "w") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_mp_pde(datasets: Sequence[xr.Dataset], path: str | os.PathLike, split: str = "train") -> Path:
    """MP-PDE's layout, one ``pde_{nt}-{nx}`` per dataset (resolutions of the same trajectories)."""
    path = Path(path)
    first = datasets[0]
    first_params = parameters(first)
    reference = None
    entries = []
    for ds in datasets:
        fields = field_names(ds)
        dims = _space_dims(ds, fields[0])
        if dims != ("x",):
            raise DataError(f"mp_pde: MP-PDE's layout is 1D (sample, time, x); the data has space dims {dims}")
        if len(fields) != 1:
            raise DataError(f"mp_pde: MP-PDE's layout holds one field per resolution, got {fields}")
        u = ds[fields[0]]
        shape = (u.shape[0], u.shape[1])
        if reference is None:
            reference = shape
        elif shape != reference:
            raise DataError(f"mp_pde: resolutions must hold the same trajectories and frames; "
                            f"(samples, frames) {shape} against {reference}")
        for name, values in parameters(ds).items():
            if name in first_params and not np.array_equal(values, first_params[name]):
                raise DataError(f"mp_pde: parameter {name!r} differs between the inputs: not the same trajectories")
        entries.append(ds)
    if len({ds[field_names(ds)[0]].shape[2] for ds in entries}) != len(entries):
        raise DataError("mp_pde: two inputs have the same resolution (one dataset per nx)")
    time = np.asarray(first["time"].values, dtype=float)
    dt = _uniform_step(time, "time", "mp_pde")

    def write(f: h5py.File) -> None:
        group = f.create_group(split)
        for ds in entries:
            u = ds[field_names(ds)[0]]
            x = np.asarray(ds["x"].values, dtype=float)
            dx = _uniform_step(x, "x", "mp_pde")
            length = _period(ds, x, dx)
            nt, nx = u.shape[1], u.shape[2]
            data = group.create_dataset(f"pde_{nt}-{nx}", data=np.asarray(u.values, dtype=np.float64))
            data.attrs.update(dt=dt, dx=length / nx, nt=nt, nx=nx, tmin=time[0], tmax=time[-1],
                              x=np.linspace(0.0, length, nx), x0=x[0])
        for name, values in first_params.items():
            group.create_dataset(name, data=values)

    return _commit(_atomic_h5(path), path, write)


def write_pdearena(ds: xr.Dataset, path: str | os.PathLike, split: str = "train") -> Path:
    """PDEArena's layout: ``pde_{nt}-{nx}`` for one 1D field, the fields by name in 2D."""
    path = Path(path)
    fields = field_names(ds)
    dims = _space_dims(ds, fields[0])
    if len(dims) not in (1, 2):
        raise DataError(f"pdearena: PDEArena's layouts are 1D and 2D; the data has space dims {dims}")
    if len(dims) == 1 and len(fields) != 1:
        raise DataError(f"pdearena: PDEArena's 1D layout holds one field (pde_{{nt}}-{{nx}}), got {fields}")
    time = np.asarray(ds["time"].values, dtype=float)
    dt = _uniform_step(time, "time", "pdearena")
    dx = _uniform_step(np.asarray(ds[dims[0]].values, dtype=float), dims[0], "pdearena")
    n = ds.sizes["sample"]
    params = parameters(ds)
    for clash in {"dt", "dx"} & set(params):
        if not np.allclose(params.pop(clash), {"dt": dt, "dx": dx}[clash]):
            raise DataError(f"pdearena: per-sample {clash!r} differs from the coordinates' step")

    def write(f: h5py.File) -> None:
        group = f.create_group(split)
        if len(dims) == 1:
            u = ds[fields[0]]
            group.create_dataset(f"pde_{u.shape[1]}-{u.shape[2]}", data=np.asarray(u.values, dtype=np.float32))
        else:
            for name in fields:
                group.create_dataset(name, data=np.asarray(ds[name].values, dtype=np.float32))
        for dim in dims:
            group.create_dataset(dim, data=np.asarray(ds[dim].values, dtype=float))
        group.create_dataset("t", data=time)
        group.create_dataset("dt", data=np.full(n, dt))
        group.create_dataset("dx", data=np.full(n, dx))
        for name, values in params.items():
            group.create_dataset(name, data=values)

    return _commit(_atomic_h5(path), path, write)


def write_pdebench(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """PDEBench's single-file layout: ``tensor`` (one field) or the CFD fields, with their coordinates."""
    path = Path(path)
    fields = field_names(ds)
    if len(fields) > 1 and not set(fields) <= set(CFD_FIELDS):
        raise DataError(f"pdebench: a single file holds one field (tensor) or the CFD fields {CFD_FIELDS}; "
                        f"got {fields}")
    dims = _space_dims(ds, fields[0])
    if len(dims) > 3:
        raise DataError(f"pdebench: at most 3 space dims, the data has {dims}")
    time = np.asarray(ds["time"].values, dtype=float)
    dt = _uniform_step(time, "time", "pdebench") if len(time) > 1 else 1.0

    def write(f: h5py.File) -> None:
        for name in fields:
            key = "tensor" if len(fields) == 1 else name
            f.create_dataset(key, data=np.asarray(ds[name].values, dtype=np.float32))
        for dim in dims:
            f.create_dataset(f"{dim}-coordinate", data=np.asarray(ds[dim].values, dtype=float))
        f.create_dataset("t-coordinate", data=np.append(time, time[-1] + dt))  # one entry more, as PDEBench
        for name, values in parameters(ds).items():
            f.create_dataset(name, data=values)
            if len(values) and np.all(values == values[0]):
                f.attrs[name] = values[0]

    return _commit(_atomic_h5(path), path, write)


def _split_of(path: Path, split: str | None) -> str:
    if split is not None:
        return split
    return path.stem if path.stem in SPLITS else "train"


def convert(inputs: Sequence[str | os.PathLike], output: str | os.PathLike, format: str,
            split: str | None = None) -> Path:
    """Write the dataset(s) ``inputs`` (any readable format) to ``output`` in ``format``.

    Several inputs are only for ``mp_pde``: the resolutions of one split's trajectories. ``split`` names the
    group (MP-PDE, PDEArena); by default the input's file stem when it is a split name (our recipes write
    ``train.nc``, ``valid.nc``, ``test.nc``), else ``train``.
    """
    if format not in FORMATS:
        raise DataError(f"unknown format {format!r} (known: {', '.join(FORMATS)})")
    inputs = [Path(p) for p in inputs]
    if not inputs:
        raise DataError("convert: no input file")
    if len(inputs) > 1 and format != "mp_pde":
        raise DataError(f"{format}: one input per file (several inputs are MP-PDE's resolutions)")
    datasets = [open_dataset(p) for p in inputs]
    try:
        group = _split_of(inputs[0], split)
        if format == "mp_pde":
            return write_mp_pde(datasets, output, split=group)
        if format == "pdearena":
            return write_pdearena(datasets[0], output, split=group)
        return write_pdebench(datasets[0], output)
    finally:
        for ds in datasets:
            ds.close()
