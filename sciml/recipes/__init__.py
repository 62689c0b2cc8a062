"""Dataset recipes, found by name: the ``dataset:`` section of a config names one and sets its parameters.

A recipe generates each split (``train``, ``valid``, ``test``) with a simulator from ``sciml.sim`` and
writes it in our schema. Files live under ``<root>/<name>-<hash>/<split>.nc``, where the hash covers every
parameter of the recipe, so changing a parameter can never silently reuse stale data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import xarray as xr

from sciml.data import write_dataset
from sciml.recipes.ks1d import KS1DConfig, generate_ks1d
from sciml.registry import Registry

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class DatasetRecipe:
    config: type
    generate: Callable[[Any, str, bool], xr.Dataset]  # (config, split, progress) -> dataset


registry: Registry[DatasetRecipe] = Registry("dataset")
registry.register("ks1d", DatasetRecipe(KS1DConfig, generate_ks1d))


def get(name: str) -> DatasetRecipe:
    return registry.get(name)


def recipe_hash(cfg: Any) -> str:
    """Eight hex digits identifying every generation parameter (``root`` and ``device`` excluded)."""
    params = {k: v for k, v in asdict(cfg).items() if k not in ("root", "device")}
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:8]


def dataset_dir(cfg: Any) -> Path:
    return Path(cfg.root) / f"{cfg.name}-{recipe_hash(cfg)}"


def split_path(cfg: Any, split: str) -> Path:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")
    return dataset_dir(cfg) / f"{split}.nc"


def ensure_dataset(cfg: Any, progress: bool = True, overwrite: bool = False) -> dict[str, Path]:
    """Generate the splits that are not on disk yet; return the path of each split."""
    recipe = get(cfg.name)
    paths = {}
    for split in SPLITS:
        path = split_path(cfg, split)
        if overwrite or not path.is_file():
            ds = recipe.generate(cfg, split, progress)
            ds.attrs["recipe_hash"] = recipe_hash(cfg)
            write_dataset(ds, path)
        paths[split] = path
    return paths
