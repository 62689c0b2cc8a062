"""``files``: trajectory files a user already has, one per split, in any format sciml reads (our netCDF,
PDEBench, The Well, PDEArena / MP-PDE, CF netCDF, Zarr). Nothing is generated; ``key`` and ``variables`` pass
to the reader (e.g. MP-PDE's ``key: pde_250-50`` picks a resolution)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sciml.errors import ConfigError, DataError
from sciml.recipes.layout import SPLITS


@dataclass
class FilesConfig:
    name: str = "files"
    train: str = ""  # path of the training split
    valid: str = ""
    test: str = ""
    key: str = ""  # the dataset inside a file holding several (MP-PDE: pde_250-100); empty: the reader's default
    variables: list[str] = field(default_factory=list)  # fields stacked as channels; empty: all


def validate_files(cfg: FilesConfig) -> None:
    missing = [s for s in SPLITS if not getattr(cfg, s)]
    if missing:
        raise ConfigError(f"dataset.name=files needs a path for each split: set dataset.{', dataset.'.join(missing)}")


def file_paths(cfg: FilesConfig) -> dict[str, Path]:
    """The split files; a missing one is a :class:`DataError` naming it."""
    paths = {s: Path(getattr(cfg, s)) for s in SPLITS}
    for split, path in paths.items():
        if not path.exists():
            raise DataError(f"{path}: no such file (dataset.{split})")
    return paths


def file_options(cfg: FilesConfig) -> dict:
    """Reader options of :class:`sciml.data.TrajectoryWindows`."""
    out: dict = {}
    if cfg.key:
        out["key"] = cfg.key
    if cfg.variables:
        out["variables"] = list(cfg.variables)
    return out
