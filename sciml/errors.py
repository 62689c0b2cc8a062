"""The error classes of sciml, in one leaf module that every layer may import.

The command lines map them to exit statuses: :class:`ConfigError`, :class:`DataError`,
:class:`CheckpointError` and :class:`ExportError` are bad input (exit 2, one line naming the problem);
:class:`TrainingDiverged` is a run that became non-finite (exit 1).
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A config file, key or value is wrong; the message is one line naming it."""


class DataError(ValueError):
    """A data file is missing, malformed or inconsistent; the message names the file and the problem."""


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read (truncated, corrupt or not a sciml checkpoint); names the file."""


class ExportError(ValueError):
    """A closure cannot be exported for a host model; the message names the part that failed."""


class TrainingDiverged(RuntimeError):
    """The loss (or a gradient, without AMP) became NaN or inf; the last good checkpoint is kept."""


__all__ = ["CheckpointError", "ConfigError", "DataError", "ExportError", "TrainingDiverged"]
