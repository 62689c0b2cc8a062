"""Training a trajectory solver: dataset, context, solver, multi-step plan, then the shared trainer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from sciml import recipes, solvers
from sciml.errors import ConfigError
from sciml.solvers import AutoregressiveSolver, Solver, SolverContext, UnrollPlan
from sciml.tasks.base import prepare_run_dir, show_progress
from sciml.tasks.trajectory.data import TrajectoryData, context_from_file
from sciml.training import Trainer, select_device
from sciml.training.distributed import barrier, init_distributed, shutdown
from sciml.training.run_dir import RESUMABLE_CHANGES, config_dict

RESUMABLE = RESUMABLE_CHANGES


def build_solver(cfg: Any, context: SolverContext) -> Solver:
    """The configured solver for ``context``; a value the solver rejects is a :class:`ConfigError`."""
    try:
        return solvers.build(cfg.solver, context)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def unroll_plan(cfg: Any, steps_per_epoch: int) -> UnrollPlan:
    task = cfg.task
    every = task.pushforward_every or (steps_per_epoch if task.pushforward else 0)  # MP-PDE: +1 per epoch
    return UnrollPlan(horizon=task.horizon, pushforward=task.pushforward, pushforward_every=every,
                      gradient_through_unroll=task.gradient_through_unroll, teacher_forcing=task.teacher_forcing,
                      total_steps=cfg.trainer.max_steps, steps_per_epoch=steps_per_epoch, seed=cfg.trainer.seed)


def configure_training(solver: Solver, cfg: Any, steps_per_epoch: int) -> None:
    """Hand the multi-step plan to an autoregressive solver; other solvers own their loss, so multi-step keys
    set for them would be ignored: a :class:`ConfigError` says which."""
    if isinstance(solver, AutoregressiveSolver):
        solver.configure_training(unroll_plan(cfg, steps_per_epoch))
        return
    task, default = cfg.task, type(cfg.task)()
    for key in ("pushforward", "gradient_through_unroll", "teacher_forcing"):
        if getattr(task, key) != getattr(default, key):
            raise ConfigError(f"solver {cfg.solver.name} defines its own training loss: task.{key} would be ignored")


def fit(cfg: Any) -> Path:
    """Train the configured solver on its dataset into ``run.dir``; resumes from ``checkpoints/last.pt``."""
    t = cfg.trainer
    dist = init_distributed(select_device(t.device).type)
    device = select_device(t.device, dist.local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    try:
        progress = show_progress(t)
        if dist.is_main:  # rank 0 generates missing splits; the others wait, then read
            recipes.ensure_dataset(cfg.dataset, progress=progress)
        barrier(dist)
        paths = {s: recipes.split_path(cfg.dataset, s) for s in recipes.SPLITS}
        options = recipes.reader_options(cfg.dataset)
        context = context_from_file(paths["train"], cfg.task, options)
        torch.manual_seed(t.seed)
        solver = build_solver(cfg, context)
        if cfg.task.params and not solver.uses_params:
            raise ConfigError(f"solver {cfg.solver.name} ignores PDE parameters; remove task.params")
        data = TrajectoryData(paths, cfg.task, t, frames_per_step=getattr(solver, "frames_per_step", 1),
                              dist=dist, pin_memory=device.type == "cuda", options=options)
        configure_training(solver, cfg, data.steps_per_epoch)
        run_dir = Path(cfg.run.dir)
        if dist.is_main:
            prepare_run_dir(cfg, RESUMABLE)
        barrier(dist)
        trainer = Trainer(t, solver, data, checkpoint_dir=run_dir / "checkpoints", metrics_path=run_dir / "metrics.csv",
                          config=config_dict(cfg), device=device, dist=dist, resumable=RESUMABLE,
                          extra_state={"context": context.to_dict()}, name=f"train {cfg.solver.name}",
                          tensorboard_dir=run_dir / "tensorboard")
        trainer.fit()
        barrier(dist)
        return run_dir
    finally:
        shutdown(dist)
