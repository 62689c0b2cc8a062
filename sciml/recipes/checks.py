"""Checks of recipe parameters before any simulation: a bad value is a one-line :class:`ConfigError`
naming the ``dataset.`` key, never a simulation that blows up or silently does something else."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from sciml.errors import ConfigError

COMMON_POSITIVE = ("n_train", "n_valid", "n_test", "steps_train", "steps_eval", "batch_size", "n", "n_dns",
                   "substeps", "L", "dt", "save_dt")
COMMON_NON_NEGATIVE = ("burn_in", "spin_up", "nu", "drag")


def _has(cfg: Any, key: str) -> bool:
    return key in {f.name for f in fields(cfg)}


def positive(cfg: Any, *keys: str) -> None:
    for key in keys:
        if _has(cfg, key) and not getattr(cfg, key) > 0:
            raise ConfigError(f"bad value for 'dataset.{key}': {getattr(cfg, key)} (must be > 0)")


def non_negative(cfg: Any, *keys: str) -> None:
    for key in keys:
        if _has(cfg, key) and not getattr(cfg, key) >= 0:
            raise ConfigError(f"bad value for 'dataset.{key}': {getattr(cfg, key)} (must be >= 0)")


def choice(cfg: Any, key: str, choices) -> None:
    if getattr(cfg, key) not in choices:
        raise ConfigError(f"bad value for 'dataset.{key}': {getattr(cfg, key)!r} "
                          f"(choose from {', '.join(map(str, choices))})")


def even_grid(cfg: Any, key: str = "n", minimum: int = 8) -> None:
    """Pseudo-spectral grids need an even number of points (the Nyquist mode is treated apart)."""
    n = getattr(cfg, key)
    if n < minimum or n % 2:
        raise ConfigError(f"bad value for 'dataset.{key}': {n} (a spectral grid needs an even size >= {minimum})")


def multiple_of(cfg: Any, key: str, base_key: str) -> int:
    """``cfg.key`` as an integer multiple of ``cfg.base_key``; the multiple."""
    value, base = getattr(cfg, key), getattr(cfg, base_key)
    ratio = round(value / base)
    if ratio < 1 or abs(ratio * base - value) > 1e-9 * value:
        raise ConfigError(f"dataset.{key}={value} must be a whole multiple of dataset.{base_key}={base}")
    return ratio


def common(cfg: Any) -> None:
    """What every recipe shares: positive sizes and steps, non-negative physics, a known device."""
    positive(cfg, *COMMON_POSITIVE)
    non_negative(cfg, *COMMON_NON_NEGATIVE)
    if _has(cfg, "device"):
        device = cfg.device
        if not (device in ("auto", "cpu", "cuda") or (device.startswith("cuda:") and device[5:].isdigit())):
            raise ConfigError(f"bad value for 'dataset.device': {device!r} (auto, cpu, cuda or cuda:N)")
