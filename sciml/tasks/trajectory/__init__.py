"""The ``trajectory`` task: autoregressive emulation from trajectory files (the default task of ``fno``/``unet``).

Sections: ``dataset`` (a recipe, generated on first use), ``task`` (window geometry, PDE parameters,
multi-step training), ``trainer`` and ``evaluate`` (long rollouts on the test split).
"""

from __future__ import annotations

from typing import Any

from sciml import metrics, recipes
from sciml.errors import ConfigError
from sciml.solvers.unroll import TEACHER_FORCING
from sciml.tasks.base import Pick, TaskSpec
from sciml.tasks.trajectory.config import TrajectoryEvaluateConfig, TrajectoryTaskConfig, TrajectoryTrainerConfig
from sciml.tasks.trajectory.evaluation import evaluate, summary
from sciml.tasks.trajectory.fit import RESUMABLE, fit
from sciml.training import validate_trainer


def sections(pick: Pick) -> list[tuple[str, type]]:
    dataset = pick("dataset", "ks1d", recipes.registry)
    return [("dataset", recipes.get(dataset).config), ("task", TrajectoryTaskConfig),
            ("trainer", TrajectoryTrainerConfig), ("evaluate", TrajectoryEvaluateConfig)]


def _at_least(cfg: Any, key: str, low: int) -> None:
    section, name = key.split(".")
    value = getattr(getattr(cfg, section), name)
    if value < low:
        raise ConfigError(f"bad value for '{key}': {value} (must be >= {low})")


def validate_data_sections(cfg: Any) -> None:
    """The ``trainer``, ``evaluate`` and ``dataset`` checks shared with the closure task."""
    validate_trainer(cfg.trainer)
    for key in ("trainer.batch_size", "trainer.val_batches", "evaluate.batch_size"):
        _at_least(cfg, key, 1)
    for key in ("trainer.num_workers", "evaluate.rollout_steps", "evaluate.start", "evaluate.climate_steps",
                "evaluate.climate_max_lag"):
        _at_least(cfg, key, 0)
    for key in ("evaluate.climate_chunk", "evaluate.climate_bins", "evaluate.samples"):
        _at_least(cfg, key, 1)
    if cfg.evaluate.ic_perturbation < 0:
        raise ConfigError(f"bad value for 'evaluate.ic_perturbation': {cfg.evaluate.ic_perturbation} (must be >= 0)")
    ev = cfg.evaluate
    for key, value, choices in (("evaluate.split", ev.split, recipes.SPLITS),
                                ("evaluate.checkpoint", ev.checkpoint, ("best", "last"))):
        if value not in choices:
            raise ConfigError(f"bad value for '{key}': {value!r} (choose from {', '.join(choices)})")
    for name in ev.metrics:
        if name not in metrics.registry:
            raise ConfigError(f"unknown metric {name!r} in 'evaluate.metrics' "
                              f"(known: {', '.join(metrics.registry.names())})")
    recipes.validate(cfg.dataset)


def validate(cfg: Any) -> None:
    for key in ("task.history", "task.time_step", "task.horizon"):
        _at_least(cfg, key, 1)
    for key in ("task.pushforward", "task.pushforward_every"):
        _at_least(cfg, key, 0)
    task = cfg.task
    if task.horizon < task.pushforward + 1:
        raise ConfigError(f"task.pushforward={task.pushforward} needs task.horizon >= {task.pushforward + 1} "
                          f"(the pushed-forward steps plus one graded step), got {task.horizon}")
    if task.teacher_forcing not in TEACHER_FORCING:
        raise ConfigError(f"bad value for 'task.teacher_forcing': {task.teacher_forcing!r} "
                          f"(choose from {', '.join(TEACHER_FORCING)})")
    if task.teacher_forcing != "never" and task.horizon - task.pushforward < 2:
        raise ConfigError(f"task.teacher_forcing={task.teacher_forcing} needs at least two graded steps "
                          f"(task.horizon - task.pushforward >= 2)")
    if len(set(task.params)) != len(task.params):
        raise ConfigError(f"task.params names a parameter twice: {list(task.params)}")
    validate_data_sections(cfg)


TASK = TaskSpec("trajectory", sections, validate, fit, evaluate, summary, RESUMABLE)

__all__ = ["TASK", "TrajectoryEvaluateConfig", "TrajectoryTaskConfig", "TrajectoryTrainerConfig", "evaluate", "fit",
           "validate_data_sections"]
