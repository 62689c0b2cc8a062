"""Training tasks, found by name (``task.name``): ``trajectory``, ``collocation``, ``closure``, ``mesh``.

``python -m sciml.train`` and ``python -m sciml.evaluate`` dispatch through this registry. A solver names
the tasks it can be trained by (``sciml.solvers.SolverSpec.tasks``); its first is the default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sciml.registry import Registry
from sciml.tasks.base import RunConfig, TaskSpec, prepare_run_dir
from sciml.tasks.closure import TASK as CLOSURE
from sciml.tasks.collocation import TASK as COLLOCATION
from sciml.tasks.mesh import TASK as MESH
from sciml.tasks.trajectory import TASK as TRAJECTORY

registry: Registry[TaskSpec] = Registry("task")
for _task in (TRAJECTORY, COLLOCATION, CLOSURE, MESH):
    registry.register(_task.name, _task)


def get(name: str) -> TaskSpec:
    return registry.get(name)


def fit(cfg: Any) -> Path:
    """Train a merged config with its task; returns the run directory."""
    return get(cfg.task.name).fit(cfg)


def evaluate(cfg: Any, run_dir: str | Path) -> dict:
    """Evaluate the run in ``run_dir`` (trained with ``cfg``) with its task; returns ``results.json``'s content."""
    return get(cfg.task.name).evaluate(cfg, Path(run_dir))


__all__ = ["RunConfig", "TaskSpec", "evaluate", "fit", "get", "prepare_run_dir", "registry"]
