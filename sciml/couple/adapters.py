"""Adapters for Python hosts: an exported or in-memory closure as a NumPy function, for a model whose time loop
is written with NumPy (or anything that hands over arrays)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


def numpy_closure(closure: Callable[[torch.Tensor], torch.Tensor],
                  dtype: torch.dtype = torch.float64) -> Callable[[np.ndarray], np.ndarray]:
    """``f(state: ndarray) -> tendency: ndarray`` around ``closure`` (shapes as the closure takes them; the array
    is shared with torch, not copied, when it is C-contiguous and of ``dtype``)."""

    def call(state: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return closure(torch.as_tensor(np.ascontiguousarray(state)).to(dtype)).numpy()

    return call
