"""PDEArena and MP-PDE files: one group per split (``train``/``valid``/``test``) holding the fields and
per-sample parameters.

MP-PDE (Brandstetter et al. 2022): ``{split}/pde_{nt}-{nx}`` ``(N, nt, nx)`` with attributes ``dt, dx, nt, nx,
tmin, tmax, x`` on the dataset (``x`` includes the periodic endpoint ``L`` while ``dx = L / nx``: read as the
periodic grid ``j dx`` with period ``L``), one dataset per resolution, and the parameter arrays ``alpha, beta, gamma``
(or ``c, bc_left, bc_right`` for the wave equation). PDEArena: ``{split}/u`` (and ``vx``, ``vy``)
``(N, T, X(, Y))`` with ``x``, ``t`` and per-sample ``dt``, ``dx``, ``buo_y``, ``v``.
A resolution is chosen with ``key=`` (default: the finest); fields named ``pde_*`` are read as ``u``.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from sciml.data.formats.base import Source, contiguous
from sciml.errors import DataError

SPLITS = ("train", "valid", "test")
SPACE = ("x", "y", "z")


def _field_names(group: h5py.Group) -> list[str]:
    return [k for k, o in group.items() if isinstance(o, h5py.Dataset) and o.ndim >= 3]


def is_pdearena(f: h5py.File) -> bool:
    groups = [o for o in f.values() if isinstance(o, h5py.Group)]
    return bool(groups) and all(_field_names(g) for g in groups)


class PDEArenaSource(Source):
    def __init__(self, path: Path, f: h5py.File, variables: list[str] | None = None, split: str | None = None,
                 key: str | None = None):
        super().__init__(path=path, format="pdearena")
        groups = [k for k, o in f.items() if isinstance(o, h5py.Group)]
        if split is None:
            split = groups[0] if len(groups) == 1 else next((s for s in SPLITS if s in groups), groups[0])
        if split not in f:
            raise DataError(f"{path}: no split group {split!r} (groups: {', '.join(groups)})")
        self.split = split
        group = f[split]
        names = _field_names(group)
        pde_keys = sorted((n for n in names if n.startswith("pde_")), key=lambda n: group[n].shape[-1])
        if key is not None and key not in group:
            raise DataError(f"{path}: no dataset {split}/{key} (fields: {', '.join(names)})")
        chosen = key or (pde_keys[-1] if pde_keys else None)
        self._datasets = {}
        for n in names:
            if n.startswith("pde_"):
                if n == chosen:
                    self._datasets["u"] = n
            else:
                self._datasets[n] = n
        self.variables = list(variables) if variables else list(self._datasets)
        for v in self.variables:
            if v not in self._datasets:
                raise DataError(f"{path}: no field {v!r} in {split} (fields: {', '.join(self._datasets)})")
        first = group[self._datasets[self.variables[0]]]
        for v in self.variables:
            if group[self._datasets[v]].shape != first.shape:
                raise DataError(f"{path}: {split}/{self._datasets[v]} has shape {group[self._datasets[v]].shape}, "
                                f"{split}/{first.name} has {first.shape}")
        self.n_samples, self.n_times, self.spatial_shape = first.shape[0], first.shape[1], tuple(first.shape[2:])
        self.space_dims = SPACE[: len(self.spatial_shape)]
        attrs = dict(first.attrs)
        self.attrs = {"split": split, "field_dataset": first.name}
        for k in ("dt", "dx", "nt", "nx", "tmin", "tmax"):
            if k in attrs and np.asarray(attrs[k]).size == 1:
                self.attrs[k] = float(np.asarray(attrs[k]).reshape(-1)[0])
        x = attrs.get("x", group["x"][()] if "x" in group else None)
        if x is not None:
            x = np.asarray(x)
            x = x[0] if x.ndim == 2 else x  # per-sample grids: the first sample's
            n, dx = len(x), self.attrs.get("dx")
            if x.ndim == 1 and n > 1 and dx and abs((x[-1] - x[0]) - dx * n) < 1e-6 * dx * n:
                # MP-PDE's files store linspace(0, L, nx), the periodic endpoint included, with dx = L / nx:
                # the nodes are x_j = j dx on a period L (the stored x would put the last node on the first)
                # (files we write keep our first node in ``x0``)
                x = float(np.asarray(attrs.get("x0", x[0]))) + np.arange(n) * dx
                self.attrs["L"] = dx * n
            self.coords["x"] = x
        for dim, n in zip(self.space_dims[1:], self.spatial_shape[1:], strict=True):
            if dim in group:
                values = np.asarray(group[dim][()])
                values = values[0] if values.ndim == 2 else values
                if values.shape == (n,):
                    self.coords[dim] = values
        if "t" in group:
            t = np.asarray(group["t"][()])
            self.coords["time"] = (t[0] if t.ndim == 2 else t)[: self.n_times]
        elif "tmin" in self.attrs and "tmax" in self.attrs:
            self.coords["time"] = np.linspace(self.attrs["tmin"], self.attrs["tmax"], self.n_times)
        for k, o in group.items():
            if isinstance(o, h5py.Dataset) and o.shape == (self.n_samples,):
                self.params[k] = o[()].astype(float)
        if "dt" not in self.attrs and "dt" in self.params and np.ptp(self.params["dt"]) == 0:
            self.attrs["dt"] = float(self.params["dt"][0])

    def open(self) -> h5py.File:
        return h5py.File(self.path, "r")

    def read_field(self, handle: h5py.File, name: str, sample: int, times: slice) -> np.ndarray:
        block, step = contiguous(times, self.n_times)
        return self.h5(handle, f"{self.split}/{self._datasets[name]}")[sample, block][::step]
