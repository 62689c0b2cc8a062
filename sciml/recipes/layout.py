"""What a recipe declares about a split before simulating it: field shapes, coordinates, attributes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SPLITS = ("train", "valid", "test")


def split_index(split: str) -> int:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")
    return SPLITS.index(split)


def split_sizes(cfg, split: str) -> tuple[int, int]:
    """``(n_samples, stored steps)`` of a split from the common recipe fields ``n_train/n_valid/n_test`` and
    ``steps_train`` (train) / ``steps_eval`` (valid, test)."""
    i = split_index(split)
    return (cfg.n_train, cfg.n_valid, cfg.n_test)[i], (cfg.steps_train if split == "train" else cfg.steps_eval)


def parameter_attrs(cfg) -> dict:
    """Every data-changing recipe parameter as a ``param_<name>`` attribute (not root, device, batch_size);
    booleans as 0/1 (netCDF has no boolean attributes)."""
    from dataclasses import asdict

    return {f"param_{k}": int(v) if isinstance(v, bool) else v for k, v in asdict(cfg).items()
            if k not in ("root", "device", "name", "batch_size")}


def resolve_device(name: str):
    """``auto`` -> CUDA when present, else CPU."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass
class SplitLayout:
    fields: dict[str, tuple[int, ...]]  # name -> (n_samples, n_times, *space)
    time: np.ndarray
    space: dict[str, np.ndarray]
    attrs: dict
    units: dict[str, str] = field(default_factory=dict)
    long_names: dict[str, str] = field(default_factory=dict)
    params: dict[str, np.ndarray] = field(default_factory=dict)  # per-sample parameters, (n_samples,) each

    @property
    def n_samples(self) -> int:
        return next(iter(self.fields.values()))[0]
