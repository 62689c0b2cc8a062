"""The training loop shared by every solver: data, optimisation, validation, checkpoints, resume."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, DistributedSampler, Subset
from tqdm.auto import tqdm

from sciml import recipes, solvers
from sciml.config import ConfigError, to_dict, to_yaml
from sciml.data import TrajectoryWindows, load_or_compute_stats
from sciml.solvers import NeuralSolver, SolverIO
from sciml.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from sciml.training.distributed import DistInfo, barrier, init_distributed, mean_across_ranks, shutdown
from sciml.training.logs import MetricsLog
from sciml.training.schedules import build_scheduler, effective_warmup

# Keys that may change between an interrupted run and its resumption without changing the result.
RESUMABLE_CHANGES = {"run", "evaluate", "trainer.max_steps", "trainer.device", "trainer.num_workers",
                     "trainer.eval_every", "trainer.checkpoint_every",
                     "trainer.progress", "trainer.threads", "trainer.log_every", "dataset.root",
                     "dataset.device", "dataset.batch_size"}


class TrainingDiverged(RuntimeError):
    """The loss became NaN or inf; the last good checkpoint is kept."""


def select_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto``: CUDA (the local rank's GPU) when present, else CPU."""
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"trainer.device={name} but CUDA is not available")
    return torch.device(name)


def solver_io(cfg: Any, windows: TrajectoryWindows) -> SolverIO:
    return SolverIO(ndim=len(windows.spatial_shape), channels=len(windows.variables), history=cfg.task.history,
                    n_cond=0, spatial_shape=windows.spatial_shape)


def build_solver(cfg: Any, io: SolverIO) -> NeuralSolver:
    try:
        return solvers.build(cfg.solver, io)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def check_resumable(saved: dict, current: dict, run_dir: Path) -> None:
    """Refuse to resume a run whose result-changing config differs; name the first differing key."""
    a, b = _flatten(saved), _flatten(current)
    for key in sorted(set(a) | set(b)):
        if key in RESUMABLE_CHANGES or key.split(".")[0] in RESUMABLE_CHANGES:
            continue
        if a.get(key) != b.get(key):
            raise ConfigError(f"{run_dir} holds a run with {key}={a.get(key)!r}, this config has {b.get(key)!r}: "
                              "choose another run.dir to start a new run")


class _Batches(torch.utils.data.Sampler):
    """Batches of one epoch from a DistributedSampler, skipping the first ``offset`` (for resume)."""

    def __init__(self, sampler: DistributedSampler, batch_size: int, offset: int = 0):
        self.sampler, self.batch_size, self.offset = sampler, batch_size, offset

    def all_batches(self) -> list[list[int]]:
        idx = list(self.sampler)
        return [idx[i:i + self.batch_size] for i in range(0, len(idx) - self.batch_size + 1, self.batch_size)]

    def __iter__(self):
        return iter(self.all_batches()[self.offset:])

    def __len__(self) -> int:
        return len(self.sampler) // self.batch_size - self.offset


class Trainer:
    """State of one run; :meth:`fit` trains to ``trainer.max_steps``, resuming when it can."""

    def __init__(self, cfg: Any):
        self.cfg = cfg
        t = cfg.trainer
        if t.threads:
            torch.set_num_threads(t.threads)
        probe = select_device(t.device)
        self.dist: DistInfo = init_distributed(probe.type)
        self.device = select_device(t.device, self.dist.local_rank)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        self.run_dir = Path(cfg.run.dir)
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.use_amp = t.amp and self.device.type == "cuda"
        self.progress = t.progress == "bar" or (t.progress == "auto" and sys.stderr.isatty())

        if self.dist.is_main:  # rank 0 generates missing splits; the others wait, then read
            recipes.ensure_dataset(cfg.dataset, progress=self.progress)
        barrier(self.dist)
        self.paths = {s: recipes.split_path(cfg.dataset, s) for s in recipes.SPLITS}
        task = cfg.task
        self.train_set = TrajectoryWindows(self.paths["train"], history=task.history, time_step=task.time_step)
        valid = TrajectoryWindows(self.paths["valid"], history=task.history, time_step=task.time_step)
        n_val = min(len(valid), t.val_batches * t.batch_size)
        picks = torch.linspace(0, len(valid) - 1, n_val).round().long().tolist()
        self.valid_set = Subset(valid, picks)
        self.io = solver_io(cfg, self.train_set)

        torch.manual_seed(t.seed)
        self.model = build_solver(cfg, self.io)
        self.model.set_stats(**load_or_compute_stats(self.train_set))
        self.model.to(self.device)
        self.ema = (AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(t.ema_decay), use_buffers=True)
                    if t.ema_decay > 0 else None)
        opt_cls = torch.optim.AdamW if t.optimizer == "adamw" else torch.optim.Adam
        self.optimizer = opt_cls(self.model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
        self.scheduler = build_scheduler(self.optimizer, t)
        if effective_warmup(t) < t.warmup_steps and self.dist.is_main:
            print(f"note: trainer.warmup_steps={t.warmup_steps} capped at {effective_warmup(t)} "
                  f"(a tenth of trainer.max_steps={t.max_steps})", file=sys.stderr)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.objective: torch.nn.Module = Objective(self.model)
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.objective = DistributedDataParallel(self.objective, device_ids=ids)
        self.step, self.best_val = 0, math.inf
        self.steps_per_epoch = len(self.train_set) // (t.batch_size * self.dist.world_size)
        if self.steps_per_epoch == 0:
            raise ConfigError(f"trainer.batch_size={t.batch_size} x {self.dist.world_size} processes exceeds the "
                              f"{len(self.train_set)} training windows")

    # -- checkpoints -------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "best_val": self.best_val,
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng_state(),
            "config": to_dict(self.cfg),
            "io": asdict(self.io),
        }

    def save(self, name: str) -> None:
        if self.dist.is_main:
            save_checkpoint(self.state(), self.ckpt_dir / f"{name}.pt")

    def try_resume(self) -> None:
        last = self.ckpt_dir / "last.pt"
        if not last.is_file():
            return
        if not self.cfg.run.resume:
            raise ConfigError(f"{self.run_dir} already holds a run and run.resume=false: choose another run.dir")
        state = load_checkpoint(last, map_location=self.device)
        check_resumable(state["config"], to_dict(self.cfg), self.run_dir)
        self.model.load_state_dict(state["model"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        self.step, self.best_val = state["step"], state["best_val"]

    # -- one step and validation ---------------------------------------------------------------------
    def epoch_loader(self, epoch: int, offset: int) -> DataLoader:
        """The batches of ``epoch`` from the ``offset``-th on: a pure function of (seed, epoch, offset).

        The loader gets its own generator so that creating it does not draw from the global RNG, which
        would make a resumed run differ from an uninterrupted one.
        """
        t = self.cfg.trainer
        sampler = DistributedSampler(self.train_set, num_replicas=self.dist.world_size, rank=self.dist.rank,
                                     shuffle=True, seed=t.seed, drop_last=True)
        sampler.set_epoch(epoch)
        return DataLoader(self.train_set, batch_sampler=_Batches(sampler, t.batch_size, offset),
                          num_workers=t.num_workers, pin_memory=self.device.type == "cuda",
                          generator=torch.Generator().manual_seed(t.seed + epoch))

    def train_step(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        t = self.cfg.trainer
        history = batch["input"].to(self.device, non_blocking=True)
        target = batch["target"].to(self.device, non_blocking=True)
        self.model.train()
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.use_amp):
            loss = self.objective(history, target)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), t.grad_clip if t.grad_clip > 0
                                                   else float("inf"))
        return loss, grad_norm

    @torch.no_grad()
    def validate(self) -> float:
        model = self.ema.module if self.ema is not None else self.model
        model.eval()
        total, count = 0.0, 0
        loader = DataLoader(self.valid_set, batch_size=self.cfg.trainer.batch_size, shuffle=False,
                            num_workers=self.cfg.trainer.num_workers)
        for batch in loader:
            history, target = batch["input"].to(self.device), batch["target"].to(self.device)
            with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.use_amp):
                loss = model.loss(history, target)
            total += float(loss) * len(history)
            count += len(history)
        return total / count

    # -- the loop ------------------------------------------------------------------------------------
    def fit(self) -> Path:
        t = self.cfg.trainer
        self.try_resume()
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "config.yaml").write_text(to_yaml(self.cfg))
        log = MetricsLog(self.run_dir, resume_step=self.step) if self.dist.is_main else None
        bar = tqdm(total=t.max_steps, initial=self.step, disable=not (self.progress and self.dist.is_main),
                   desc=f"train {self.cfg.solver.name}", dynamic_ncols=True)
        start = time.perf_counter()
        try:
            while self.step < t.max_steps:
                epoch, offset = divmod(self.step, self.steps_per_epoch)
                for batch in self.epoch_loader(epoch, offset):
                    loss, grad_norm = self.train_step(batch)
                    global_loss = float(mean_across_ranks(loss.detach().float(), self.dist))
                    if not math.isfinite(global_loss):
                        raise TrainingDiverged(
                            f"loss became {global_loss} at step {self.step + 1}; stopped, keeping the last good "
                            f"checkpoint {self.ckpt_dir / 'last.pt'} (step {self._last_saved_step()})")
                    self.scaler.step(self.optimizer)
                    self.scaler.update()
                    self.scheduler.step()
                    if self.ema is not None:
                        self.ema.update_parameters(self.model)
                    self.step += 1
                    bar.update(1)
                    val_loss = None
                    if self.step % t.eval_every == 0 or self.step == t.max_steps:
                        val_loss = self.validate()
                        if val_loss < self.best_val:
                            self.best_val = val_loss
                            self.save("best")
                    if self.step % t.checkpoint_every == 0 or self.step == t.max_steps:
                        self.save("last")
                    if log is not None and (self.step % t.log_every == 0 or val_loss is not None):
                        lr = self.optimizer.param_groups[0]["lr"]
                        log.write(step=self.step, epoch=epoch, loss=global_loss, lr=lr, grad_norm=float(grad_norm),
                                  val_loss=val_loss, elapsed_s=round(time.perf_counter() - start, 3))
                        bar.set_postfix(loss=f"{global_loss:.3g}", val=f"{self.best_val:.3g}")
                        if not self.progress and self.dist.is_main:
                            print(f"step {self.step}/{t.max_steps} loss {global_loss:.4g} lr {lr:.3g}"
                                  + (f" val {val_loss:.4g}" if val_loss is not None else ""), flush=True)
                    if self.step >= t.max_steps:
                        break
        finally:
            bar.close()
            if log is not None:
                log.close()
        barrier(self.dist)
        return self.run_dir

    def _last_saved_step(self) -> int | str:
        try:
            return load_checkpoint(self.ckpt_dir / "last.pt")["step"]
        except Exception:
            return "none"


class Objective(torch.nn.Module):
    """The solver's training loss as a ``forward``, so that DDP can wrap it and all-reduce gradients."""

    def __init__(self, solver: NeuralSolver):
        super().__init__()
        self.solver = solver

    def forward(self, history: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.solver.loss(history, target)


def fit(cfg: Any) -> Path:
    """Train the configured solver; returns the run directory. Resumes from ``last.pt`` when present."""
    trainer = Trainer(cfg)
    try:
        return trainer.fit()
    finally:
        shutdown(trainer.dist)
