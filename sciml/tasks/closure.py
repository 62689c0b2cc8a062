"""The ``closure`` task: a coarse simulator plus a learned term, trained a priori or a posteriori.

Sections: ``dataset`` (a recipe whose files hold the coarse ``state`` field and, for a-priori training,
the exact subgrid ``target`` tendency beside it, e.g. ``lorenz96_two_scale``: ``X`` and ``coupling``),
``task``, ``trainer`` and ``evaluate`` as in the trajectory task. The solver (a :class:`ClosureSolver`)
rebuilds the coarse simulator from the dataset's physics; evaluation scores the coupled model (simulator
plus closure) by long rollouts of the state, exactly as the trajectory task scores an emulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

from sciml import recipes
from sciml.data import TrajectoryWindows
from sciml.errors import ConfigError
from sciml.solvers.closure import MODES, ClosureSolver, ClosureTraining
from sciml.tasks.base import Pick, TaskSpec, prepare_run_dir, require_single_process, show_progress
from sciml.tasks.trajectory import TrajectoryEvaluateConfig, TrajectoryTrainerConfig, validate_data_sections
from sciml.tasks.trajectory.data import TrajectoryData, context_from_file
from sciml.tasks.trajectory.evaluation import evaluate_rollouts, load_solver, summary
from sciml.tasks.trajectory.fit import build_solver
from sciml.training import Trainer, select_device
from sciml.training.run_dir import RESUMABLE_CHANGES, config_dict


@dataclass
class ClosureTaskConfig:
    name: str = "closure"
    mode: str = "a_priori"  # a_priori: regress the stored subgrid tendency | a_posteriori: match trajectories
    state: str = ""  # the coarse state's field (default: the file's first field)
    target: str = ""  # a priori: the field holding the exact subgrid tendency (lorenz96_two_scale: coupling)
    time_step: int = 1  # model step in stored frames
    substeps: int = 1  # simulator steps per model step
    horizon: int = 1  # a posteriori: model steps unrolled per window at the end of training
    horizon_start: int = 1  # a posteriori: the unroll length at the start; it grows linearly to horizon
    checkpoint_every: int = 0  # a posteriori: simulator steps per segment recomputed in the backward pass
    spectrum_weight: float = 0.0  # a posteriori: weight of the log-spectrum loss on the resolved band
    params: list[str] = field(default_factory=list)  # per-sample parameters (none of our closures use them yet)


def sections(pick: Pick) -> list[tuple[str, type]]:
    dataset = pick("dataset", "lorenz96_two_scale", recipes.registry)
    return [("dataset", recipes.get(dataset).config), ("task", ClosureTaskConfig),
            ("trainer", TrajectoryTrainerConfig), ("evaluate", TrajectoryEvaluateConfig)]


def validate(cfg: Any) -> None:
    task = cfg.task
    if task.mode not in MODES:
        raise ConfigError(f"bad value for 'task.mode': {task.mode!r} (choose from {', '.join(MODES)})")
    if task.mode == "a_priori" and not task.target:
        raise ConfigError("task.mode=a_priori needs task.target, the field holding the exact subgrid tendency")
    if task.mode == "a_posteriori" and task.target:
        raise ConfigError("task.target is used by a-priori training only; remove it for task.mode=a_posteriori")
    for key in ("time_step", "substeps", "horizon", "horizon_start"):
        if getattr(task, key) < 1:
            raise ConfigError(f"bad value for 'task.{key}': {getattr(task, key)} (must be >= 1)")
    if task.checkpoint_every < 0:
        raise ConfigError(f"bad value for 'task.checkpoint_every': {task.checkpoint_every} (must be >= 0)")
    if task.spectrum_weight < 0:
        raise ConfigError(f"bad value for 'task.spectrum_weight': {task.spectrum_weight} (must be >= 0)")
    for key in ("checkpoint_every", "spectrum_weight"):
        if task.mode == "a_priori" and getattr(task, key):
            raise ConfigError(f"task.{key} is used by a-posteriori training only")
    if task.horizon_start > task.horizon:
        raise ConfigError(f"task.horizon_start={task.horizon_start} exceeds task.horizon={task.horizon}")
    if task.mode == "a_priori" and (task.horizon, task.horizon_start) != (1, 1):
        raise ConfigError("task.horizon and task.horizon_start are used by a-posteriori training only")
    if task.state and task.state == task.target:
        raise ConfigError(f"task.state and task.target are both {task.state!r}")
    validate_data_sections(cfg)


def _fields(cfg: Any, path: Path) -> list[str]:
    """``[state]`` or ``[state, target]`` as named in the file."""
    available = TrajectoryWindows(path).variables
    state = cfg.task.state or available[0]
    chosen = [state] + ([cfg.task.target] if cfg.task.mode == "a_priori" else [])
    for name in chosen:
        if name not in available:
            raise ConfigError(f"{path} has no field {name!r} (has: {', '.join(available)})")
    return chosen


class ClosureData(TrajectoryData):
    """Windows of the state (and target) fields, as the batches a :class:`ClosureSolver` expects."""

    def __init__(self, paths, geometry, trainer, a_priori: bool, dist=None):
        super().__init__(paths, geometry, trainer, dist=dist)
        self.a_priori = a_priori

    def _shape(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if self.a_priori:  # the state and the exact tendency at the same instant
            return {"state": batch["input"][:, -1, 0], "tendency": batch["input"][:, -1, 1]}
        return {"input": batch["input"], "target": batch["target"]}

    def batches(self, step: int):
        for batch in super().batches(step):
            yield self._shape(batch)

    def validation_batches(self):
        for batch, weight in super().validation_batches():
            yield self._shape(batch), weight


def _geometry(cfg: Any, fields: list[str]) -> SimpleNamespace:
    task = cfg.task
    horizon = 1 if task.mode == "a_priori" else task.horizon
    return SimpleNamespace(history=1, horizon=horizon, time_step=task.time_step, params=list(task.params),
                           variables=fields)


def fit(cfg: Any) -> Path:
    """Train the configured closure on its dataset into ``run.dir``; resumes from ``checkpoints/last.pt``."""
    require_single_process("closure runs")
    t = cfg.trainer
    device = select_device(t.device)
    paths = recipes.ensure_dataset(cfg.dataset, progress=show_progress(t))
    fields = _fields(cfg, paths["train"])
    geometry = _geometry(cfg, fields)
    context = context_from_file(paths["train"], geometry)
    torch.manual_seed(t.seed)
    solver = build_solver(cfg, context)
    if not isinstance(solver, ClosureSolver):
        raise ConfigError(f"solver {cfg.solver.name} is not a closure")
    data = ClosureData(paths, geometry, t, a_priori=cfg.task.mode == "a_priori")
    solver.configure_training(ClosureTraining(cfg.task.mode, cfg.task.substeps, cfg.task.horizon,
                                              cfg.task.horizon_start, t.max_steps, cfg.task.checkpoint_every,
                                              cfg.task.spectrum_weight))
    run_dir = prepare_run_dir(cfg, RESUMABLE_CHANGES)
    Trainer(t, solver, data, checkpoint_dir=run_dir / "checkpoints", metrics_path=run_dir / "metrics.csv",
            config=config_dict(cfg), device=device, extra_state={"context": context.to_dict()},
            name=f"train {cfg.solver.name}", tensorboard_dir=run_dir / "tensorboard").fit()
    return run_dir


def evaluate(cfg: Any, run_dir: Path) -> dict:
    """The coupled model (coarse simulator plus closure) rolled out over the test trajectories of the state."""
    ev = cfg.evaluate
    device = select_device(cfg.trainer.device)
    model, step = load_solver(run_dir, cfg, ev.checkpoint, device)
    model.configure_training(ClosureTraining(substeps=cfg.task.substeps))
    path = recipes.ensure_dataset(cfg.dataset, progress=False)[ev.split]
    state = _fields(cfg, path)[0]
    return evaluate_rollouts(model, step, path, Path(run_dir), ev, history=1, time_step=cfg.task.time_step,
                             params=list(cfg.task.params), device=device, variables=[state], start=ev.start,
                             dataset=cfg.dataset)


TASK = TaskSpec("closure", sections, validate, fit, evaluate, summary, RESUMABLE_CHANGES)
