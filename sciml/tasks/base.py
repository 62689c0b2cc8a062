"""What a task is: its config sections, its validation, ``fit`` and ``evaluate``; and the run directory.

A task owns what differs between kinds of training: where batches come from and how a run is evaluated.
The trainer (:mod:`sciml.training`) and the solvers (:mod:`sciml.solvers`) are shared.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sciml.errors import ConfigError
from sciml.training.run_dir import RESUMABLE_CHANGES, check_resumable, config_dict, write_config

# ``pick(section, default, known)`` -> the name a config's sources select for a section (e.g. the dataset).
Pick = Callable[[str, str, Any], str]


@dataclass
class RunConfig:
    dir: str = "runs/default"  # run directory: config.yaml, checkpoints/, metrics.csv, evaluation/
    resume: bool = True  # continue from the checkpoints when the run directory holds a run
    evaluate: bool = True  # evaluate the run after training


@dataclass(frozen=True)
class TaskSpec:
    """A registered task.

    Attributes:
      name: the value of ``task.name``.
      sections: ``sections(pick)`` -> the config sections after ``run`` and ``solver``, as ``(name, dataclass)``.
      validate: checks a merged config beyond types; raises :class:`ConfigError`.
      fit: trains a config into ``run.dir``; returns the run directory.
      evaluate: ``evaluate(config, run_dir)`` writes ``evaluation/results.json`` and plots; returns the results.
      summary: the results as a short plain-text table.
      resumable: config keys (beyond the shared ones) that may change when a run is resumed.
    """

    name: str
    sections: Callable[[Pick], list[tuple[str, type]]]
    validate: Callable[[Any], None]
    fit: Callable[[Any], Path]
    evaluate: Callable[[Any, Path], dict]
    summary: Callable[[dict], str]
    resumable: frozenset[str] = field(default_factory=frozenset)


def require_single_process(kind: str) -> None:
    """Refuse a torchrun launch for tasks that train in one process (``kind``: e.g. "closure runs")."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError(f"{kind} train in one process; launch without torchrun")


def show_progress(trainer: Any) -> bool:
    """``trainer.progress``: a bar when asked for, or on a terminal with ``auto``."""
    return trainer.progress == "bar" or (trainer.progress == "auto" and sys.stderr.isatty())


def prepare_run_dir(cfg: Any, resumable: frozenset[str] = frozenset()) -> Path:
    """Check that ``run.dir`` may be (re)used for ``cfg``, then write its ``config.yaml``.

    A directory whose ``checkpoints/`` hold a run is resumed: refused when ``run.resume`` is false or when
    a key that changes the result differs from its ``config.yaml``. Returns the run directory.
    """
    run_dir = Path(cfg.run.dir)
    started = any((run_dir / "checkpoints").rglob("last.pt")) if (run_dir / "checkpoints").is_dir() else False
    saved = run_dir / "config.yaml"
    if started:
        if not cfg.run.resume:
            raise ConfigError(f"{run_dir} already holds a run and run.resume=false: choose another run.dir")
        if saved.is_file():
            check_resumable(yaml.safe_load(saved.read_text()) or {}, config_dict(cfg), run_dir,
                            RESUMABLE_CHANGES | resumable)
    write_config(cfg, run_dir)
    return run_dir
