"""Where a run computes: the device from ``trainer.device`` and the default dtype for one run."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from sciml.errors import ConfigError

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def select_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto``: CUDA (the local rank's GPU) when present, else CPU; ``cuda`` is the local rank's GPU;
    asking for CUDA without it is a config error. CUDA devices always carry their index."""
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"trainer.device={name} but CUDA is not available")
    return torch.device(f"cuda:{local_rank}" if name == "cuda" else name)


def valid_device_name(name: str) -> bool:
    return name in ("auto", "cpu", "cuda") or (name.startswith("cuda:") and name[5:].isdigit())


@contextlib.contextmanager
def default_dtype(name: str) -> Iterator[None]:
    """Set torch's default dtype (``float32`` or ``float64``) for a block and restore it afterwards."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(DTYPES[name])
    try:
        yield
    finally:
        torch.set_default_dtype(before)
