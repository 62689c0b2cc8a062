"""What a recipe declares about a split before simulating it: field shapes, coordinates, attributes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SPLITS = ("train", "valid", "test")


def split_index(split: str) -> int:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")
    return SPLITS.index(split)


@dataclass
class SplitLayout:
    fields: dict[str, tuple[int, ...]]  # name -> (n_samples, n_times, *space)
    time: np.ndarray
    space: dict[str, np.ndarray]
    attrs: dict
    units: dict[str, str] = field(default_factory=dict)
    long_names: dict[str, str] = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        return next(iter(self.fields.values()))[0]
