"""The one training loop: any :class:`~sciml.solvers.base.Solver` on any source of batches.

The trainer owns what every family shares: the device, the optimiser and learning-rate schedule, mixed
precision, gradient clipping, EMA weights, DDP, the L-BFGS stage, named loss terms in ``metrics.csv``,
validation and ``best.pt``, atomic checkpoints that resume exactly, progress and divergence. A task gives
it a solver, a :class:`TrainingData` and where to write; the solver owns its loss.

Stages: ``trainer.max_steps`` first-order steps (Adam/AdamW), then, when the task asks for it,
``lbfgs_steps`` L-BFGS iterations on the solver's fixed objective. Steps are counted across stages. A
checkpoint ``last.pt`` is written every ``trainer.checkpoint_every`` steps and at the end of each stage;
an interrupted L-BFGS stage restarts from the end of the first (it is deterministic, so the result is the
same). Raising ``trainer.max_steps`` continues a finished first-order run with the learning-rate schedule
of the new length.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from sciml.errors import ConfigError, TrainingDiverged
from sciml.solvers.base import Solver
from sciml.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from sciml.training.distributed import DistInfo, mean_across_ranks
from sciml.training.lbfgs import run_lbfgs
from sciml.training.logs import MetricsLog
from sciml.training.optim import OPTIMIZERS, LossScaler, build_optimizer, gradient_step
from sciml.training.run_dir import RESUMABLE_CHANGES, check_resumable
from sciml.training.schedules import SCHEDULES, build_scheduler, effective_warmup

PROGRESS = ("auto", "bar", "lines")


@dataclass
class TrainerConfig:
    """The ``trainer:`` keys every task shares (tasks extend the section with their own)."""

    max_steps: int = 2000  # first-order optimiser steps
    optimizer: str = "adamw"  # adam | adamw
    lr: float = 2e-3
    weight_decay: float = 1e-4
    schedule: str = "cosine"  # cosine | step | multistep | constant
    warmup_steps: int = 100
    min_lr: float = 1e-5  # end of the cosine schedule
    step_size: int = 1000  # step schedule: multiply lr by gamma every step_size steps
    gamma: float = 0.5  # step and multistep schedules
    milestones: list[int] = field(default_factory=list)  # multistep schedule: multiply lr by gamma at these steps
    grad_clip: float = 1.0  # max global gradient norm; 0 disables
    ema_decay: float = 0.0  # exponential moving average of weights; 0 disables (PDE-Refiner: 0.995)
    amp: bool = True  # float16 autocast + gradient scaling, on CUDA only
    device: str = "auto"  # auto (CUDA when present) | cpu | cuda | cuda:N
    threads: int = 0  # torch CPU threads; 0 keeps torch's default
    log_every: int = 50  # steps between metrics.csv rows
    eval_every: int = 500  # steps between validations (and best-checkpoint updates)
    checkpoint_every: int = 250  # steps between checkpoints/last.pt writes
    progress: str = "auto"  # auto (a bar on a terminal, else log lines) | bar | lines
    init_from: str = ""  # fine-tuning: a checkpoint whose model weights start a new run (ignored on resume)


def validate_trainer(t: TrainerConfig) -> None:
    """Range and choice checks of the shared keys; a :class:`ConfigError` names the key."""
    for key, choices in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES), ("progress", PROGRESS)):
        if getattr(t, key) not in choices:
            raise ConfigError(f"bad value for 'trainer.{key}': {getattr(t, key)!r} (choose from {', '.join(choices)})")
    for key in ("max_steps", "log_every", "eval_every", "checkpoint_every", "step_size"):
        if getattr(t, key) < 1:
            raise ConfigError(f"bad value for 'trainer.{key}': {getattr(t, key)} (must be >= 1)")
    for key in ("lr", "weight_decay", "warmup_steps", "min_lr", "grad_clip", "threads"):
        if getattr(t, key) < 0:
            raise ConfigError(f"bad value for 'trainer.{key}': {getattr(t, key)} (must be >= 0)")
    if not 0 <= t.ema_decay < 1:
        raise ConfigError(f"bad value for 'trainer.ema_decay': {t.ema_decay} (must be in [0, 1))")
    default = type(t)()  # a key moved from its default but read by another schedule only would be ignored
    readers = {"min_lr": ("cosine",), "step_size": ("step",), "gamma": ("step", "multistep"),
               "milestones": ("multistep",)}
    for key, schedules in readers.items():
        if t.schedule not in schedules and getattr(t, key) != getattr(default, key):
            raise ConfigError(f"trainer.{key}={getattr(t, key)} is read by the {' and '.join(schedules)} schedule "
                              f"only, and trainer.schedule is {t.schedule}")
    if t.schedule == "multistep" and (not t.milestones or sorted(t.milestones) != list(t.milestones)):
        raise ConfigError(f"trainer.schedule=multistep needs increasing trainer.milestones, got {t.milestones}")
    if not (t.device in ("auto", "cpu", "cuda") or (t.device.startswith("cuda:") and t.device[5:].isdigit())):
        raise ConfigError(f"bad value for 'trainer.device': {t.device!r} (auto, cpu, cuda or cuda:N)")


class TrainingData(Protocol):
    """Where a task's batches come from."""

    steps_per_epoch: int  # 0 when epochs mean nothing (collocation)

    def batches(self, step: int) -> Iterator[Any]:
        """The batches of steps ``step + 1, step + 2, ...``: endless, and a pure function of ``step``."""

    def validation_batches(self) -> Iterable[tuple[Any, float]]:
        """``(batch, weight)`` pairs; the validation metrics are their weighted means."""

    def to_device(self, batch: Any, device: torch.device) -> Any: ...


@dataclass
class TrainingResult:
    step: int
    best_val: float
    last_val: dict[str, float]
    seconds: float
    notes: dict[str, Any]


class Trainer:
    """Train ``solver`` on ``data`` into ``checkpoint_dir`` and ``metrics_path``; :meth:`fit` resumes.

    Args:
      cfg: the ``trainer:`` section.
      solver: the model; moved to ``device``.
      data: batches for training and validation.
      checkpoint_dir: holds ``last.pt`` and ``best.pt``.
      metrics_path: the ``metrics.csv`` to append to; ``log_tags`` are fixed columns of this writer.
      config: the whole run config as a dict (saved in checkpoints, compared on resume).
      resumable: config keys that may change on resume.
      extra_state: tensors and primitives saved in every checkpoint (e.g. the solver's context).
      lbfgs_steps: L-BFGS iterations after the first-order stage.
      log_tags: fixed ``metrics.csv`` columns of this run (``seed`` when several runs share the file).
      name: the progress bar's label.
    """

    def __init__(self, cfg: TrainerConfig, solver: Solver, data: TrainingData, *, checkpoint_dir: Path,
                 metrics_path: Path, config: dict, device: torch.device, dist: DistInfo | None = None,
                 resumable: frozenset[str] = RESUMABLE_CHANGES, extra_state: dict | None = None,
                 lbfgs_steps: int = 0, log_tags: dict | None = None, name: str = "train",
                 tensorboard_dir: Path | None = None):
        self.cfg, self.solver, self.data, self.device = cfg, solver, data, device
        self.dist = dist or DistInfo()
        self.checkpoint_dir, self.metrics_path = Path(checkpoint_dir), Path(metrics_path)
        self.config, self.resumable, self.extra_state = config, resumable, dict(extra_state or {})
        self.lbfgs_steps, self.log_tags, self.name = lbfgs_steps, dict(log_tags or {}), name
        self.tensorboard_dir = tensorboard_dir
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.use_amp = cfg.amp and device.type == "cuda"
        self.progress = cfg.progress == "bar" or (cfg.progress == "auto" and sys.stderr.isatty())
        solver.to(device)
        self.params = [p for p in solver.parameters() if p.requires_grad]
        self.ema = (AveragedModel(solver, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
                    if cfg.ema_decay > 0 else None)
        self.optimizer = build_optimizer(self.params, cfg.optimizer, cfg.lr, cfg.weight_decay)
        self.scheduler = build_scheduler(self.optimizer, cfg)
        if effective_warmup(cfg) < cfg.warmup_steps and self.dist.is_main:
            print(f"note: trainer.warmup_steps={cfg.warmup_steps} capped at {effective_warmup(cfg)} "
                  f"(a tenth of trainer.max_steps={cfg.max_steps})", file=sys.stderr)
        self.scaler = LossScaler(enabled=self.use_amp)
        self.objective: torch.nn.Module = solver
        if self.dist.enabled:
            self.objective = DistributedDataParallel(solver, device_ids=[device.index] if device.type == "cuda"
                                                     else None)
        self.step, self.best_val, self.seconds = 0, math.inf, 0.0
        self.finished, self.notes, self.skipped = False, {}, 0
        self.last_val: dict[str, float] = {}
        self._resumed = False

    # -- checkpoints -------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "step": self.step, "best_val": self.best_val, "finished": self.finished, "seconds": self.seconds,
            "amp_skipped": self.skipped, "notes": self.notes, "last_val": self.last_val,
            "model": self.solver.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict(),
            "rng": rng_state(), "config": self.config, **self.extra_state,
        }

    def save(self, name: str) -> None:
        if self.dist.is_main:
            save_checkpoint(self.state(), self.checkpoint_dir / f"{name}.pt")

    def resume(self) -> bool:
        """Load ``last.pt`` when present (refusing result-changing config changes); True if loaded."""
        last = self.checkpoint_dir / "last.pt"
        if self._resumed or not last.is_file():
            return self._resumed
        self._resumed = True
        state = load_checkpoint(last, map_location="cpu")
        check_resumable(state["config"], self.config, self.metrics_path.parent, self.resumable)
        self.solver.load_state_dict(state["model"])
        self.solver.to(self.device)
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        self.step, self.best_val = int(state["step"]), float(state["best_val"])
        self.finished, self.seconds = bool(state["finished"]), float(state["seconds"])
        self.skipped, self.notes = int(state["amp_skipped"]), dict(state["notes"])
        self.last_val = dict(state["last_val"])
        if self.dist.is_main and not self.finished:
            tags = "".join(f"{k} {v}: " for k, v in self.log_tags.items())
            print(f"{tags}resuming from step {self.step} ({last})", flush=True)
        where = self.metrics_path.parent
        if self.finished and self.notes.get("lbfgs"):
            if self.cfg.max_steps != self.notes["adam_steps"]:
                raise ConfigError(f"{where} finished with an L-BFGS stage after {self.notes['adam_steps']} steps; "
                                  f"trainer.max_steps={self.cfg.max_steps} cannot change after it: choose another "
                                  "run.dir")
        elif self.finished and self.step < self.cfg.max_steps:
            self.finished = False  # trainer.max_steps grew: continue with the schedule of the new length
        elif not self.finished and self.step > self.cfg.max_steps:
            raise ConfigError(f"{where} holds an unfinished run at step {self.step}; trainer.max_steps="
                              f"{self.cfg.max_steps} is behind it")
        self._schedule_at(min(self.step, self.cfg.max_steps))
        return True

    def initialise_from(self, path: str) -> None:
        """Start from the model weights (and normalisation buffers) of checkpoint ``path``; the optimiser, the
        schedule and the step start afresh. A checkpoint of another architecture raises :class:`ConfigError`."""
        state = load_checkpoint(path, map_location="cpu")
        try:
            self.solver.load_state_dict(state["model"])
        except RuntimeError as exc:
            raise ConfigError(f"trainer.init_from={path}: its weights do not fit this solver "
                              f"({str(exc).splitlines()[0]})") from exc
        self.solver.to(self.device)
        if self.ema is not None:
            self.ema.module.load_state_dict(self.solver.state_dict())
        if self.dist.is_main:
            print(f"initialised from {path} (step {state.get('step')})", flush=True)

    def _schedule_at(self, step: int) -> None:
        """The learning rate of step ``step + 1`` under the current config's schedule (not the saved one)."""
        self.scheduler.last_epoch = step
        for group, base, factor in zip(self.optimizer.param_groups, self.scheduler.base_lrs,
                                       self.scheduler.lr_lambdas, strict=True):
            group["lr"] = base * factor(step)

    # -- validation ----------------------------------------------------------------------------------
    def validate(self) -> dict[str, float]:
        model = self.ema.module if self.ema is not None else self.solver
        model.eval()
        totals: dict[str, float] = {}
        weight = 0.0
        for batch, w in self.data.validation_batches():
            batch = self.data.to_device(batch, self.device)
            with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.use_amp):
                values = model.validation_loss(batch)
            for key, value in values.items():
                totals[key] = totals.get(key, 0.0) + float(value) * w
            weight += w
        self.solver.train()
        return {k: v / weight for k, v in totals.items()}

    def _after_validation(self, values: dict[str, float]) -> float:
        key = self.solver.selection_metric
        if key not in values:
            raise KeyError(f"{type(self.solver).__name__}.validation_loss returned {sorted(values)}, "
                           f"without its selection metric {key!r}")
        self.last_val = values
        if values[key] < self.best_val:
            self.best_val = values[key]
            self.save("best")
        return values[key]

    # -- the loop ------------------------------------------------------------------------------------
    def fit(self) -> TrainingResult:
        """Train to the end of every stage (resuming from ``last.pt``); returns the final state in brief."""
        if not self.resume() and self.cfg.init_from:
            self.initialise_from(self.cfg.init_from)
        if self.finished:
            return self._result()
        log = (MetricsLog(self.metrics_path, self.step, self.log_tags, self.tensorboard_dir)
               if self.dist.is_main else None)
        total = self.cfg.max_steps + self.lbfgs_steps
        bar = tqdm(total=total, initial=self.step, disable=not (self.progress and self.dist.is_main),
                   desc=self.name, dynamic_ncols=True)
        try:
            if self.step < self.cfg.max_steps:
                self.solver.begin_stage("adam")
                self._first_order(log, bar)
            if self.lbfgs_steps:
                self._lbfgs(log, bar)
            self.finished = True
            self.save("last")
        finally:
            bar.close()
            if log is not None:
                log.close()
        return self._result()

    def _result(self) -> TrainingResult:
        return TrainingResult(self.step, self.best_val, self.last_val, self.seconds, self.notes)

    def _first_order(self, log: MetricsLog | None, bar) -> None:
        cfg = self.cfg
        start = time.perf_counter() - self.seconds
        self.solver.train()
        batches = self.data.batches(self.step)
        while self.step < cfg.max_steps:
            step = self.step + 1
            batch = self.data.to_device(next(batches), self.device)
            with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.use_amp):
                terms = self.objective(batch, step)
            loss = sum(terms.values())
            outcome = gradient_step(loss.float(), self.params, self.optimizer, self.scaler, cfg.grad_clip)
            global_loss = float(mean_across_ranks(loss.detach().float(), self.dist))
            if not math.isfinite(global_loss) or not (math.isfinite(outcome.grad_norm) or outcome.skipped):
                what = f"loss became {global_loss}" if not math.isfinite(global_loss) else \
                    f"gradient norm became {outcome.grad_norm} (loss {global_loss:.4g})"
                raise TrainingDiverged(f"{what} at step {step}; stopped, keeping the last good checkpoint "
                                       f"{self.checkpoint_dir / 'last.pt'} (step {self._last_saved_step()})")
            self.skipped += outcome.skipped
            self.scheduler.step()
            if self.ema is not None and not outcome.skipped:
                self.ema.update_parameters(self.solver)
            self.solver.on_step_end(step)
            self.step = step
            self.seconds = time.perf_counter() - start
            bar.update(1)
            val = None
            if step % cfg.eval_every == 0 or step == cfg.max_steps:
                val = self.validate()
                self._after_validation(val)
            if step % cfg.checkpoint_every == 0 or step == cfg.max_steps:
                self.save("last")
            if step % cfg.log_every == 0 or val is not None:
                lr = self.optimizer.param_groups[0]["lr"]
                epoch = step // self.data.steps_per_epoch if self.data.steps_per_epoch else None
                row = {"step": step, "stage": "adam", "epoch": epoch, "loss": global_loss,
                       **{f"loss_{k}": float(v.detach()) for k, v in terms.items()}, "lr": lr,
                       "grad_norm": outcome.grad_norm, **self._val_columns(val),
                       **({"amp_skipped": self.skipped} if self.use_amp else {}),
                       **self.solver.log_values(), "elapsed_s": round(self.seconds, 3)}
                self._write(log, bar, row)

    def _lbfgs(self, log: MetricsLog | None, bar) -> None:
        if self.dist.enabled:
            raise ConfigError("the L-BFGS stage runs in one process; launch without torchrun")
        self.solver.begin_stage("lbfgs")
        self.solver.train()
        first = self.cfg.max_steps
        batch = self.data.to_device(next(self.data.batches(first)), self.device)
        start = time.perf_counter() - self.seconds

        def loss_fn() -> torch.Tensor:
            return sum(self.solver.training_loss(batch, first + 1).values())

        def on_chunk(done: int, loss: float) -> None:
            self.step = first + done
            self.seconds = time.perf_counter() - start
            bar.update(self.step - bar.n)
            val = self.validate()
            self._after_validation(val)
            self._write(log, bar, {"step": self.step, "stage": "lbfgs", "loss": loss, **self._val_columns(val),
                                   "elapsed_s": round(self.seconds, 3)})

        outcome = run_lbfgs(loss_fn, self.params, self.lbfgs_steps, self.cfg.eval_every, on_chunk, first)
        self.notes.update(lbfgs=outcome.note(self.lbfgs_steps), lbfgs_iterations=outcome.iterations,
                          adam_steps=first)

    @staticmethod
    def _val_columns(val: dict[str, float] | None) -> dict[str, float]:
        return {f"val_{k}": v for k, v in (val or {}).items()}

    def _write(self, log: MetricsLog | None, bar, row: dict) -> None:
        if log is None:
            return
        log.write(**row)
        sel = f"val_{self.solver.selection_metric}"
        bar.set_postfix(loss=f"{row['loss']:.3g}", best=f"{self.best_val:.3g}")
        if not self.progress:
            tags = "".join(f"{k} {v} " for k, v in self.log_tags.items())
            val = f" {sel} {row[sel]:.4g}" if sel in row else ""
            lr = f" lr {row['lr']:.3g}" if "lr" in row else ""
            print(f"{tags}step {row['step']}/{self.cfg.max_steps + self.lbfgs_steps} ({row['stage']}) "
                  f"loss {row['loss']:.4g}{lr}{val}", flush=True)

    def _last_saved_step(self) -> int | str:
        try:
            return load_checkpoint(self.checkpoint_dir / "last.pt")["step"]
        except Exception:
            return "none"
