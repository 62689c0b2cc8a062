"""The Well (Ohana et al. 2024): ``t0_fields`` (scalars), ``t1_fields`` (vectors, last dim D), ``t2_fields``
(tensors, last dims D x D) of shape ``[n_traj, T, *space, ...]``; ``dimensions`` (``time`` and the axes named
by its ``spatial_dims`` attribute), ``scalars`` (parameters), ``boundary_conditions``; root attributes; and a
``stats.yaml`` beside the data (``mean``/``std``/``mean_delta``/``std_delta`` per field).

Vector fields become channels ``<name>_<axis>``, tensor fields ``<name>_<axis><axis>``. A field whose
``sample_varying`` or ``time_varying`` attribute is false is broadcast over samples or times.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import h5py
import numpy as np
import yaml

from sciml.data.formats.base import Source
from sciml.errors import DataError

GROUPS = ("t0_fields", "t1_fields", "t2_fields")


def is_the_well(f: h5py.File) -> bool:
    return any(g in f for g in GROUPS) and "dimensions" in f


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (str, bytes)):
        return [_text(value)]
    return [_text(v) for v in np.asarray(value).reshape(-1)]


def find_stats(path: Path) -> Path | None:
    """``stats.yaml`` in the file's folder or up to two folders above (``<dataset>/data/<split>/file``)."""
    for folder in (path.parent, path.parent.parent, path.parent.parent.parent):
        if (folder / "stats.yaml").is_file():
            return folder / "stats.yaml"
    return None


class TheWellSource(Source):
    def __init__(self, path: Path, f: h5py.File, variables: list[str] | None = None):
        super().__init__(path=path, format="the-well")
        dims = f["dimensions"]
        self.space_dims = tuple(_list(dims.attrs.get("spatial_dims")))
        if not self.space_dims:
            raise DataError(f"{path}: dimensions group lacks the 'spatial_dims' attribute")
        n_dim = len(self.space_dims)
        self.n_samples = int(f.attrs.get("n_trajectories", 0))
        self._fields: dict[str, tuple[str, str, tuple[int, ...]]] = {}  # channel -> (group, dataset, component)
        self._varying: dict[str, tuple[bool, bool]] = {}
        n_times = None
        for order, group in enumerate(GROUPS):
            if group not in f:
                continue
            names = [n for n in _list(f[group].attrs.get("field_names")) if n in f[group]]
            names += [n for n in f[group] if n not in names]  # the listed order first, as The Well intends
            for name in names:
                dset = f[group][name]
                sample_varying = bool(dset.attrs.get("sample_varying", True))
                time_varying = bool(dset.attrs.get("time_varying", True))
                self._varying[f"{group}/{name}"] = (sample_varying, time_varying)
                lead = int(sample_varying) + int(time_varying)
                if dset.ndim != lead + n_dim + order:
                    raise DataError(f"{path}: {group}/{name} has shape {dset.shape}, expected {lead} leading, "
                                    f"{n_dim} spatial and {order} component dims")
                if sample_varying and not self.n_samples:
                    self.n_samples = dset.shape[0]
                if time_varying:
                    t = dset.shape[int(sample_varying)]
                    if n_times is not None and t != n_times:
                        raise DataError(f"{path}: {group}/{name} has {t} time steps, other fields {n_times}")
                    n_times = t
                    self.spatial_shape = tuple(dset.shape[lead:lead + n_dim])
                for comp in itertools.product(range(n_dim), repeat=order):
                    suffix = "".join(self.space_dims[c] for c in comp)
                    self._fields[f"{name}_{suffix}" if order else name] = (group, name, comp)
        if not self._fields:
            raise DataError(f"{path}: no fields in {', '.join(GROUPS)}")
        self.n_times = n_times or 1
        self.variables = list(variables) if variables else list(self._fields)
        for v in self.variables:
            if v not in self._fields:
                raise DataError(f"{path}: no field {v!r} (fields: {', '.join(self._fields)})")
        for dim in self.space_dims:
            if dim in dims:
                self.coords[dim] = np.asarray(dims[dim][()]).reshape(-1)
        if "time" in dims:
            t = np.asarray(dims["time"][()])
            self.coords["time"] = t[0] if t.ndim == 2 else t  # sample-varying times: the first trajectory's
        for name in _list(f.attrs.get("simulation_parameters")):
            if name in f.attrs:
                self.params[name] = np.full(self.n_samples, float(np.asarray(f.attrs[name]).reshape(-1)[0]))
        if "scalars" in f:
            for name, dset in f["scalars"].items():
                values = np.asarray(dset[()], dtype=float)
                if values.ndim == 0 or values.shape == (self.n_samples,):
                    self.params[name] = np.broadcast_to(values, (self.n_samples,)).copy()
        bcs = []
        for name, group in f.get("boundary_conditions", {}).items():
            bcs.append(f"{name}: {_text(group.attrs.get('bc_type', '?'))} on "
                       f"{','.join(_list(group.attrs.get('associated_dims')))}")
        self.attrs = {k: _text(v) if isinstance(v, bytes) else v for k, v in f.attrs.items()
                      if isinstance(v, (str, bytes, int, float, np.number))}
        self.attrs["boundary_conditions"] = "; ".join(bcs)
        self.stats_file = find_stats(path)
        self.stats = self._read_stats() if self.stats_file else {}
        if self.stats_file:
            self.attrs["stats_file"] = str(self.stats_file)

    def _read_stats(self) -> dict[str, dict[str, float]]:
        """Per channel: the stats.yaml entries (``mean``, ``std``, ...) for that component."""
        try:
            raw = yaml.safe_load(self.stats_file.read_text()) or {}
        except yaml.YAMLError as exc:
            raise DataError(f"{self.stats_file}: not valid YAML ({exc})") from None
        out: dict[str, dict[str, float]] = {}
        for stat, per_field in raw.items():
            if not isinstance(per_field, dict):
                continue
            for channel, (_, name, comp) in self._fields.items():
                if name in per_field:
                    value = np.asarray(per_field[name], dtype=float)
                    out.setdefault(channel, {})[stat] = float(value[comp] if value.ndim == len(comp) and comp
                                                              else value.reshape(-1)[0])
        return out

    def open(self) -> h5py.File:
        return h5py.File(self.path, "r")

    def read_field(self, handle: h5py.File, name: str, sample: int, times: slice) -> np.ndarray:
        group, dataset, comp = self._fields[name]
        sample_varying, time_varying = self._varying[f"{group}/{dataset}"]
        dset = self.h5(handle, f"{group}/{dataset}")
        index: tuple = ((sample,) if sample_varying else ()) + ((times,) if time_varying else ())
        index += (Ellipsis, *comp)
        data = dset[index]
        if not time_varying:
            n = len(range(self.n_times)[times])
            data = np.broadcast_to(data, (n, *data.shape))
        return data
