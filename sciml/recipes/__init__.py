"""Dataset recipes, found by name: the ``dataset:`` section of a config names one and sets its parameters.

A recipe declares each split's layout (``train``, ``valid``, ``test``) and simulates it block by block with
a simulator from ``sciml.sim``; blocks are written as they come (the split is never held whole in memory)
to a temporary file renamed at the end. Files live under ``<root>/<name>-<hash>/<split>.nc``, where the hash
covers every parameter that changes the data, so changing one can never silently reuse stale files.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from sciml.data import TrajectoryWriter, open_dataset
from sciml.errors import ConfigError
from sciml.recipes.advection1d import (
    Advection1DConfig,
    advection_layout,
    advection_simulate,
    validate_advection1d,
)
from sciml.recipes.burgers1d import Burgers1DConfig, burgers_layout, burgers_simulate, validate_burgers1d
from sciml.recipes.burgers2d import Burgers2DConfig, burgers2d_layout, burgers2d_simulate, validate_burgers2d
from sciml.recipes.files import FilesConfig, file_options, file_paths, validate_files
from sciml.recipes.fronts import (
    FlowMixing2DConfig,
    flow_mixing_layout,
    flow_mixing_simulate,
    validate_flow_mixing2d,
)
from sciml.recipes.ks1d import KS1DConfig, ks1d_layout, ks1d_simulate, validate_ks1d
from sciml.recipes.layout import SPLITS, SplitLayout, split_index
from sciml.recipes.lorenz96 import Lorenz96TwoScaleConfig, l96_layout, l96_simulate, validate_l96
from sciml.recipes.mp_pde import MPPDEConfig, coarsen, fine, mp_pde_layout, mp_pde_simulate, validate_mp_pde
from sciml.recipes.ns2d import (
    Decaying2DConfig,
    Kolmogorov2DConfig,
    NS2DFNOConfig,
    SmarlCasesConfig,
    ns2d_layout,
    ns2d_simulate,
    resolved,
    validate_ns2d,
)
from sciml.recipes.pdebench import PDEBenchConfig, pdebench_layout, pdebench_read, validate_pdebench
from sciml.recipes.streaming import rollout_to_file
from sciml.registry import Registry


@dataclass(frozen=True)
class DatasetRecipe:
    config: type
    layout: Callable[[Any, str], SplitLayout] | None  # (config, split) -> shapes, coordinates, attributes
    simulate: Callable[[Any, str, int, int], dict[str, np.ndarray]] | None  # (config, split, start, stop) -> fields
    validate: Callable[[Any], None] | None = None  # raises ConfigError for values the recipe cannot run
    resolve: Callable[[Any], Any] | None = None  # the config as simulated (presets applied): what is hashed
    parent: Callable[[Any], Any | None] | None = None  # a dataset this one is derived from (e.g. finer), or None
    derive: Callable[[Any, dict], dict] | None = None  # the parent's block of fields -> this dataset's block
    files: Callable[[Any], dict[str, Path]] | None = None  # existing files instead of generated ones
    options: Callable[[Any], dict] | None = None  # reader options (TrajectoryWindows keywords)


registry: Registry[DatasetRecipe] = Registry("dataset")
registry.register("advection1d", DatasetRecipe(Advection1DConfig, advection_layout, advection_simulate,
                                               validate_advection1d))
registry.register("files", DatasetRecipe(FilesConfig, None, None, validate_files, files=file_paths,
                                         options=file_options))
registry.register("mp_pde", DatasetRecipe(MPPDEConfig, mp_pde_layout, mp_pde_simulate, validate_mp_pde,
                                          parent=fine, derive=coarsen))
registry.register("pdebench", DatasetRecipe(PDEBenchConfig, pdebench_layout, pdebench_read, validate_pdebench))
registry.register("ks1d", DatasetRecipe(KS1DConfig, ks1d_layout, ks1d_simulate, validate_ks1d))
registry.register("burgers1d", DatasetRecipe(Burgers1DConfig, burgers_layout, burgers_simulate, validate_burgers1d))
registry.register("flow_mixing2d", DatasetRecipe(FlowMixing2DConfig, flow_mixing_layout, flow_mixing_simulate,
                                                 validate_flow_mixing2d))
registry.register("burgers2d", DatasetRecipe(Burgers2DConfig, burgers2d_layout, burgers2d_simulate, validate_burgers2d))
registry.register("lorenz96_two_scale", DatasetRecipe(Lorenz96TwoScaleConfig, l96_layout, l96_simulate, validate_l96))
for _config in (Kolmogorov2DConfig, Decaying2DConfig, SmarlCasesConfig, NS2DFNOConfig):
    registry.register(_config.name, DatasetRecipe(_config, ns2d_layout, ns2d_simulate, validate_ns2d, resolved))


__all__ = ["SPLITS", "DatasetRecipe", "dataset_dir", "ensure_dataset", "get", "long_run", "reader_options",
           "recipe_hash", "registry", "rollout_to_file", "split_path", "validate"]


def get(name: str) -> DatasetRecipe:
    return registry.get(name)


def validate(cfg: Any) -> None:
    """The recipe's checks of its parameters (a :class:`ConfigError` names the key)."""
    recipe = get(cfg.name)
    if recipe.validate is not None:
        recipe.validate(cfg)


def recipe_hash(cfg: Any) -> str:
    """Eight hex digits identifying the parameters that change the data (not root, device, batch_size), as
    simulated: a preset's values count once, whether set by the preset or spelled out."""
    resolve = get(cfg.name).resolve
    params = {k: v for k, v in asdict(resolve(cfg) if resolve else cfg).items()
              if k not in ("root", "device", "batch_size")}
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:8]


def dataset_dir(cfg: Any) -> Path:
    return Path(cfg.root) / f"{cfg.name}-{recipe_hash(cfg)}"


def split_path(cfg: Any, split: str) -> Path:
    split_index(split)
    files = get(cfg.name).files
    return files(cfg)[split] if files is not None else dataset_dir(cfg) / f"{split}.nc"


def reader_options(cfg: Any) -> dict:
    """Keywords for :class:`sciml.data.TrajectoryWindows` over this dataset's files (e.g. ``key``)."""
    options = get(cfg.name).options
    return options(cfg) if options is not None else {}


def ensure_dataset(cfg: Any, progress: bool = True, overwrite: bool = False) -> dict[str, Path]:
    """Generate the splits that are not on disk yet; return the path of each split."""
    recipe = get(cfg.name)
    if recipe.files is not None:
        return recipe.files(cfg)
    paths = {}
    for split in SPLITS:
        path = split_path(cfg, split)
        if overwrite or not path.is_file():
            generate_split(recipe, cfg, split, path, progress)
        paths[split] = path
    return paths


LONG_RUN_BLOCK_BYTES = 2**28  # the most a block of a long run holds in memory while it is simulated


def long_run(cfg: Any, split: str, frames: int, progress: bool = False) -> Path | None:
    """A file of the ``split`` (valid or test) trajectories simulated for at least ``frames`` stored frames:
    the same initial conditions and parameters, continued by the recipe's simulator (generated once, cached
    under its own hash). None when the recipe cannot: files, derived datasets, recipes without
    ``steps_eval``. Simulated a few trajectories at a time, so that a block stays under 256 MiB."""
    recipe = get(cfg.name)
    if split == "train" or recipe.simulate is None or recipe.files is not None or recipe.parent is not None \
            or not hasattr(cfg, "steps_eval"):
        return None
    long_cfg = replace(cfg, steps_eval=max(cfg.steps_eval, frames - 1))
    path = split_path(long_cfg, split)
    if not path.is_file():
        layout = recipe.layout(long_cfg, split)
        per_trajectory = sum(4 * math.prod(shape[1:]) for shape in layout.fields.values())
        batch = max(1, min(getattr(long_cfg, "batch_size", layout.n_samples), LONG_RUN_BLOCK_BYTES // per_trajectory))
        if hasattr(long_cfg, "batch_size"):
            long_cfg = replace(long_cfg, batch_size=batch)
        generate_split(recipe, long_cfg, split, path, progress)
    return path


def _parameters(cfg: Any) -> str:
    resolve = get(cfg.name).resolve
    items = asdict(resolve(cfg) if resolve else cfg).items()
    return ", ".join(f"{k}={v}" for k, v in items
                     if k not in ("name", "root", "device", "batch_size") and v is not None and v != [])


def _block_source(recipe: DatasetRecipe, cfg: Any, split: str, progress: bool):
    """``(start, stop) -> fields``: simulated, or derived from the parent dataset (generated first if missing)."""
    parent = recipe.parent(cfg) if recipe.parent is not None else None
    if parent is None:
        return lambda start, stop: recipe.simulate(cfg, split, start, stop)
    parent_path = ensure_dataset(parent, progress=progress)[split]

    def derived(start: int, stop: int) -> dict[str, np.ndarray]:
        with open_dataset(parent_path) as ds:
            fields = {name: ds[name][start:stop].values for name in ds.data_vars if ds[name].dims[:1] == ("sample",)
                      and ds[name].ndim > 1}
        return recipe.derive(cfg, fields)

    return derived


def generate_split(recipe: DatasetRecipe, cfg: Any, split: str, path: Path, progress: bool = True) -> Path:
    """Simulate one split in blocks of ``cfg.batch_size`` trajectories (or derive it from its parent dataset),
    writing each block as it comes."""
    block_of = _block_source(recipe, cfg, split, progress)
    layout = recipe.layout(cfg, split)
    n = layout.n_samples
    batch = max(1, getattr(cfg, "batch_size", n))
    attrs = {**layout.attrs, "recipe_hash": recipe_hash(cfg)}
    with TrajectoryWriter(path, layout.fields, time=layout.time, space=layout.space, attrs=attrs,
                          units=layout.units, long_names=layout.long_names) as writer:
        for name, values in layout.params.items():
            writer.write_param(name, np.asarray(values, dtype=np.float64))
        with tqdm(total=n, desc=f"{cfg.name} {split}", unit="traj", disable=not progress, leave=False) as bar:
            for start in range(0, n, batch):
                stop = min(start + batch, n)
                try:
                    block = block_of(start, stop)
                except FloatingPointError as exc:
                    raise ConfigError(f"dataset {cfg.name}: the {split} split blew up while generating "
                                      f"({str(exc).splitlines()[0].rstrip('.')}) with {_parameters(cfg)}") from None
                writer.write(start, block)
                bar.update(stop - start)
    return path
