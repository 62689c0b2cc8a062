"""``pdebench``: PDEBench files, one per parameter value, gathered into train/valid/test splits.

PDEBench ships one file per PDE parameter value (``1D_Advection_Sols_beta0.4.hdf5``,
``1D_Burgers_Sols_Nu0.01.hdf5``, ``2D_CFD_Rand_M0.1_Eta0.01_...``); the value is read from the file name by
the PDEBench reader (:mod:`sciml.data.formats.pdebench`) and becomes a per-sample parameter (every name
parameter that differs between the files, or those named in ``parameters``). From every file the first
``n_train`` samples go to the training split, the next ``n_valid`` to validation and the next ``n_test`` to the
test split; only files whose value is in ``train_values`` (one parameter) or that are listed in
``train_files`` give training and validation samples, so the others are held out (CAPE's setting).
``space_stride`` and ``time_stride`` subsample as CAPE does (1024 -> 128 points: 8; every 5th of 201 frames:
5). The splits are written in our format once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from sciml.data.formats import detect
from sciml.data.formats.base import Source
from sciml.errors import ConfigError, DataError
from sciml.recipes.layout import SplitLayout, parameter_attrs, split_index


@dataclass
class PDEBenchConfig:
    name: str = "pdebench"
    root: str = "data"
    files: list[str] = field(default_factory=list)  # PDEBench files, one per parameter value
    parameters: list[str] = field(default_factory=list)  # per-sample parameters (empty: those that vary)
    train_values: list[float] = field(default_factory=list)  # values that give train/valid samples (one parameter)
    train_files: list[str] = field(default_factory=list)  # or: the files that give them (empty with no values: all)
    variables: list[str] = field(default_factory=list)  # fields stacked as channels (empty: all)
    n_train: int = 100  # per file
    n_valid: int = 10  # per file
    n_test: int = 10  # per file
    space_stride: int = 1  # keep every n-th point per axis (CAPE: 8, 1024 -> 128)
    time_stride: int = 1  # keep every n-th frame (CAPE: 5 of 201)
    batch_size: int = 64  # samples copied per block


def validate_pdebench(cfg: PDEBenchConfig) -> None:
    if not cfg.files:
        raise ConfigError("dataset.name=pdebench needs dataset.files (PDEBench files, one per parameter value)")
    for key in ("space_stride", "time_stride", "n_test"):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"bad value for 'dataset.{key}': {getattr(cfg, key)} (must be >= 1)")
    for key in ("n_train", "n_valid"):
        if getattr(cfg, key) < 0:
            raise ConfigError(f"bad value for 'dataset.{key}': {getattr(cfg, key)} (must be >= 0)")
    if cfg.train_values and cfg.train_files:
        raise ConfigError("set dataset.train_values or dataset.train_files, not both")
    unknown = [f for f in cfg.train_files if f not in cfg.files]
    if unknown:
        raise ConfigError(f"dataset.train_files: {unknown[0]} is not one of dataset.files")


@lru_cache(maxsize=16)
def _source(path: str, variables: tuple[str, ...]) -> Source:
    return detect(path, list(variables) or None)


def _readers(cfg: PDEBenchConfig) -> list[Source]:
    return [_source(str(f), tuple(cfg.variables)) for f in cfg.files]


def parameter_names(cfg: PDEBenchConfig) -> list[str]:
    """``dataset.parameters``, or every file-name parameter whose value differs between the files."""
    if cfg.parameters:
        return list(cfg.parameters)
    readers = _readers(cfg)
    varying = sorted({k for r in readers for k in r.params
                      if len({float(q.params[k][0]) for q in readers if k in q.params}) > 1})
    if not varying:
        raise ConfigError("dataset.files: no parameter in the file names differs between the files; name the "
                          "per-sample parameters in dataset.parameters")
    return varying


def sources(cfg: PDEBenchConfig) -> list[tuple[Source, tuple[float, ...]]]:
    """Each file's reader and its parameter values; the files must agree on fields, grid and frames."""
    names, readers = parameter_names(cfg), _readers(cfg)
    first, out = readers[0], []
    for reader in readers:
        for name in names:
            if name not in reader.params:
                raise DataError(f"{reader.path}: no parameter {name!r} in the file name")
        if (reader.variables, reader.spatial_shape, reader.n_times) != (first.variables, first.spatial_shape,
                                                                       first.n_times):
            raise DataError(f"{reader.path}: fields {reader.variables} on {reader.spatial_shape} x {reader.n_times} "
                            f"frames differ from {first.path}'s {first.variables} on {first.spatial_shape} x "
                            f"{first.n_times}")
        out.append((reader, tuple(float(reader.params[n][0]) for n in names)))
    return out


def _trains(cfg: PDEBenchConfig, path: Path, values: tuple[float, ...]) -> bool:
    """Whether a file gives training and validation samples."""
    if cfg.train_files:
        return any(Path(f).resolve() == path.resolve() for f in cfg.train_files)
    if cfg.train_values:
        if len(values) != 1:
            raise ConfigError(f"dataset.train_values needs one per-sample parameter, the files carry "
                              f"{parameter_names(cfg)}: use dataset.train_files")
        return any(math.isclose(values[0], float(v), rel_tol=1e-9) for v in cfg.train_values)
    return True


def _members(cfg: PDEBenchConfig, split: str) -> list[tuple[Source, tuple[float, ...], int]]:
    """``(reader, parameter values, sample)`` of every sample of a split, file by file."""
    i = split_index(split)
    first = (0, cfg.n_train, cfg.n_train + cfg.n_valid)[i]
    count = (cfg.n_train, cfg.n_valid, cfg.n_test)[i]
    out = []
    for reader, values in sources(cfg):
        if split != "test" and not _trains(cfg, reader.path, values):
            continue
        need = cfg.n_train + cfg.n_valid + cfg.n_test
        if need > reader.n_samples:
            raise DataError(f"{reader.path}: {reader.n_samples} samples, the splits need {need} "
                            f"(n_train + n_valid + n_test per file)")
        out.extend((reader, values, s) for s in range(first, first + count))
    if not out:
        raise ConfigError(f"the {split} split is empty: no file is selected by dataset.train_values or "
                          "dataset.train_files")
    return out


def pdebench_layout(cfg: PDEBenchConfig, split: str) -> SplitLayout:
    members = _members(cfg, split)
    reader = members[0][0]
    s, t = cfg.space_stride, cfg.time_stride
    space_shape = tuple(len(range(0, n, s)) for n in reader.spatial_shape)
    n_times = len(range(0, reader.n_times, t))
    time = reader.coords.get("time", np.arange(reader.n_times, dtype=float))[::t]
    space = {d: (reader.coords[d] if d in reader.coords else np.arange(n, dtype=float))[::s]
             for d, n in zip(reader.space_dims, reader.spatial_shape, strict=True)}
    attrs = parameter_attrs(cfg)
    for key in ("param_files", "param_train_files"):
        attrs.pop(key)
    attrs.update(title=f"PDEBench {reader.path.name.split('_')[0]} ({split})", dataset=cfg.name, split=split,
                 source_files=", ".join(Path(f).name for f in cfg.files), format="pdebench",
                 dt=float(time[1] - time[0]) if len(time) > 1 else 1.0)
    for d, x in space.items():
        if len(x) > 1:
            attrs[f"L_{d}"] = float((x[1] - x[0]) * len(x))
    if len(space) == 1 and "L_x" in attrs:
        attrs["L"] = attrs["L_x"]
    fields = {v: (len(members), n_times, *space_shape) for v in reader.variables}
    params = {name: np.array([values[i] for _, values, _ in members]) for i, name in enumerate(parameter_names(cfg))}
    return SplitLayout(fields=fields, time=np.asarray(time, dtype=float), space=space, attrs=attrs, params=params)


def pdebench_read(cfg: PDEBenchConfig, split: str, start: int, stop: int) -> dict[str, np.ndarray]:
    members = _members(cfg, split)[start:stop]
    s = cfg.space_stride
    blocks, handles = [], {}
    try:
        for reader, _, sample in members:  # one open file per reader for the whole block
            if reader.path not in handles:
                handles[reader.path] = reader.open()
            block = reader.read(handles[reader.path], sample, slice(None, None, cfg.time_stride))  # (T, C, *space)
            blocks.append(block[(slice(None), slice(None), *[slice(None, None, s)] * (block.ndim - 2))])
    finally:
        for handle in handles.values():
            handle.close()
    stacked = np.stack(blocks)  # (B, T, C, *space)
    variables = members[0][0].variables
    return {v: stacked[:, :, i] for i, v in enumerate(variables)}
