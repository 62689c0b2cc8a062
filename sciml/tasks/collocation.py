"""The ``collocation`` task: physics-informed training (``pinn``, ``pig``) on collocation points, no dataset.

Sections: ``problem`` (typed by ``problem.name``), ``sampler``, ``trainer`` (the shared keys with
physics-informed defaults — Adam, lr x gamma every step_size steps, no clipping — plus seeds, dtype,
constraint points and the L-BFGS stage) and ``evaluate``. One trainer run per seed, on the shared
machinery::

    config.yaml
    metrics.csv                      every seed's rows (column ``seed``): loss terms, relative L2, residual shape
    checkpoints/seed_<s>/last.pt     resumes exactly; its ``finished`` flag marks the seed as done
    checkpoints/seed_<s>/best.pt     the lowest relative L2 seen at a validation
    evaluation/results.json          per seed: final and best error, propagation-failure flag, seconds; summary
    evaluation/summary.md, errors.png, solution_seed_<s>.png

Re-running the command skips finished seeds and continues an interrupted one exactly (on the same kind of
device); seeds may be added, and the device, threads, progress or checkpoint interval changed.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from sciml import solvers
from sciml.errors import ConfigError
from sciml.pinn.config import PROBLEM_CONFIGS, SAMPLERS, SamplerConfig, build_problem, build_sampler
from sciml.pinn.monitor import ResidualStats, looks_like_amplitude_decay, looks_like_propagation_failure
from sciml.pinn.plots import error_history_figure, solution_figure
from sciml.pinn.problems import PROBLEMS, Problem
from sciml.pinn.strategies import StrategyConfig, validate_strategy
from sciml.solvers import CollocationContext, PhysicsInformedSolver
from sciml.solvers.physics_informed import CONSTRAINT_SAMPLING
from sciml.tasks.base import Pick, TaskSpec, prepare_run_dir, require_single_process
from sciml.training import (
    Trainer,
    TrainerConfig,
    default_dtype,
    load_checkpoint,
    read_metrics,
    select_device,
    validate_trainer,
)
from sciml.training.devices import DTYPES
from sciml.training.run_dir import RESUMABLE_CHANGES, config_dict, write_json, write_text_atomic

RESUMABLE = RESUMABLE_CHANGES | {"trainer.seeds"}


@dataclass
class CollocationTaskConfig:
    name: str = "collocation"


@dataclass
class CollocationTrainerConfig(TrainerConfig):
    max_steps: int = 10000  # Adam steps
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "step"  # lr x gamma every step_size steps (the R3 and PIG papers)
    warmup_steps: int = 0
    step_size: int = 5000
    gamma: float = 0.9
    grad_clip: float = 0.0
    amp: bool = False
    log_every: int = 1000
    eval_every: int = 1000  # steps between error evaluations (and L-BFGS chunks)
    checkpoint_every: int = 5000
    lbfgs_steps: int = 0  # then L-BFGS (strong Wolfe, lr 1) for exactly this many iterations
    lbfgs_points: int = 0  # > 0: L-BFGS on this many fresh uniform points instead of the sampler's last ones
    constraint_points: int = 200  # initial/boundary points per term and step
    constraint_sampling: str = "resampled"  # initial/boundary points: resampled each step | fixed | grid
    weights: dict[str, float] = field(default_factory=lambda: {"initial": 100.0, "boundary": 100.0})
    eval_points: int = 20000  # evaluation grid size (split evenly over the axes)
    seeds: list[int] = field(default_factory=lambda: [0])  # one run per seed
    snapshots: int = 3  # moments of training whose collocation points are kept for the pictures
    dtype: str = "float32"  # float32 | float64 (PIG with L-BFGS stalls in float32 near 3e-3 on Helmholtz)


@dataclass
class CollocationEvaluateConfig:
    checkpoint: str = "last"  # last: the final iterate | best: lowest error seen (selected on the reference)
    plots: bool = True


def sections(pick: Pick) -> list[tuple[str, type]]:
    problem = pick("problem", "convection", PROBLEM_CONFIGS)
    return [("task", CollocationTaskConfig), ("problem", PROBLEM_CONFIGS[problem]), ("sampler", SamplerConfig),
            ("strategy", StrategyConfig), ("trainer", CollocationTrainerConfig),
            ("evaluate", CollocationEvaluateConfig)]


def validate(cfg: Any) -> None:
    t = cfg.trainer
    problem_cls = PROBLEMS[cfg.problem.name]
    validate_trainer(t)
    if cfg.sampler.name not in SAMPLERS:
        raise ConfigError(f"bad value for 'sampler.name': {cfg.sampler.name!r} (choose from {', '.join(SAMPLERS)})")
    if t.constraint_sampling not in CONSTRAINT_SAMPLING:
        raise ConfigError(f"bad value for 'trainer.constraint_sampling': {t.constraint_sampling!r} "
                          f"(choose from {', '.join(CONSTRAINT_SAMPLING)})")
    if t.constraint_sampling == "grid" and not problem_cls.constraint_grids:
        raise ConfigError(f"trainer.constraint_sampling=grid: problem {cfg.problem.name} has no constraint grids "
                          f"(convection and allen_cahn have)")
    if t.dtype not in DTYPES:
        raise ConfigError(f"bad value for 'trainer.dtype': {t.dtype!r} (float32 or float64)")
    for key in ("sampler.points", "sampler.every", "trainer.eval_points", "trainer.constraint_points"):
        section, name = key.split(".")
        if getattr(getattr(cfg, section), name) < 1:
            raise ConfigError(f"bad value for '{key}': {getattr(getattr(cfg, section), name)} (must be >= 1)")
    for key in ("lbfgs_steps", "lbfgs_points", "snapshots"):
        if getattr(t, key) < 0:
            raise ConfigError(f"bad value for 'trainer.{key}': {getattr(t, key)} (must be >= 0)")
    if t.amp:
        raise ConfigError("trainer.amp=true: physics-informed residuals need second derivatives in full precision")
    if not t.seeds:
        raise ConfigError("trainer.seeds is empty")
    if len(set(t.seeds)) != len(t.seeds):
        raise ConfigError(f"trainer.seeds repeats a seed: {list(t.seeds)}")
    unknown = sorted(set(t.weights) - {"initial", "boundary"})
    if unknown:
        raise ConfigError(f"unknown constraint term(s) {unknown} in 'trainer.weights' (initial, boundary)")
    if t.lbfgs_points and not t.lbfgs_steps:
        raise ConfigError("trainer.lbfgs_points is set but trainer.lbfgs_steps is 0: there is no L-BFGS stage")
    if problem_cls.time_axis is None:
        if cfg.sampler.name == "causal_r3":
            raise ConfigError(f"sampler.name=causal_r3 needs a time axis; problem {cfg.problem.name} has none")
        if getattr(cfg.solver, "hard_initial", False):
            raise ConfigError(f"solver.hard_initial needs a time axis; problem {cfg.problem.name} has none")
    if cfg.evaluate.checkpoint not in ("best", "last"):
        raise ConfigError(f"bad value for 'evaluate.checkpoint': {cfg.evaluate.checkpoint!r} (best or last)")
    validate_strategy(cfg.strategy, problem_cls)
    if cfg.strategy.time_windows > 1 and t.lbfgs_steps:
        raise ConfigError("strategy.time_windows > 1 trains one window at a time; trainer.lbfgs_steps must be 0")


def eval_grid(problem: Problem, points: int) -> tuple[int, ...]:
    """About ``points`` grid points split evenly over the axes."""
    per_axis = max(2, round(points ** (1 / problem.domain.dim)))
    return (per_axis,) * problem.domain.dim


def snapshot_steps(steps: int, snapshots: int) -> frozenset[int]:
    """``snapshots`` evenly spaced steps from 0 to ``steps``."""
    return frozenset(round(i * steps / max(snapshots - 1, 1)) for i in range(snapshots))


def build_seed(cfg: Any, seed: int, device: torch.device) -> PhysicsInformedSolver:
    """Problem, network and sampler of one seed, drawn in a fixed order from ``seed`` (call under the run's
    dtype and ``torch.device``)."""
    t = cfg.trainer
    torch.manual_seed(seed)
    generator = torch.Generator(device=device).manual_seed(seed)
    problem = build_problem(cfg.problem)
    context = CollocationContext(
        problem=problem, make_sampler=lambda: build_sampler(cfg.sampler, problem, generator), generator=generator,
        weights=dict(t.weights), constraint_points=t.constraint_points, constraint_sampling=t.constraint_sampling,
        eval_grid=eval_grid(problem, t.eval_points), snapshot_steps=snapshot_steps(t.max_steps, t.snapshots),
        lbfgs_points=t.lbfgs_points if t.lbfgs_steps else 0, strategy=cfg.strategy, max_steps=t.max_steps)
    try:
        return solvers.build(cfg.solver, context)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def seed_dir(run_dir: Path, seed: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"seed_{seed}"


class CollocationData:
    """Collocation points live in the solver's sampler: each step's batch is empty."""

    steps_per_epoch = 0

    def batches(self, step: int):
        while True:
            yield None

    def validation_batches(self):
        return [(None, 1.0)]

    @staticmethod
    def to_device(batch, device):
        return batch


def _check_device_kind(path: Path, device: torch.device, seed: int) -> None:
    """CPU and CUDA generators draw different numbers: a seed resumes on the kind of device it started on."""
    if path.is_file():
        written = load_checkpoint(path).get("device_type")
        if written != device.type:
            raise ConfigError(f"{path} was written on {written}; resume it on the same kind of device "
                              f"(trainer.device), or delete it to start seed {seed} afresh on {device.type}")


def fit(cfg: Any) -> Path:
    """Train every seed into ``run.dir`` (finished seeds are skipped); returns the run directory."""
    require_single_process("physics-informed runs")
    t = cfg.trainer
    device = select_device(t.device)
    run_dir = prepare_run_dir(cfg, RESUMABLE)
    for seed in t.seeds:
        directory = seed_dir(run_dir, seed)
        _check_device_kind(directory / "last.pt", device, seed)
        with default_dtype(t.dtype), torch.device(device):
            solver = build_seed(cfg, seed, device)
            trainer = Trainer(t, solver, CollocationData(), checkpoint_dir=directory,
                              metrics_path=run_dir / "metrics.csv", config=config_dict(cfg), device=device,
                              resumable=RESUMABLE, extra_state={"seed": seed, "device_type": device.type},
                              lbfgs_steps=t.lbfgs_steps, log_tags={"seed": seed},
                              name=f"{cfg.problem.name} seed {seed}")
            was_done = trainer.resume() and trainer.finished
            result = trainer.fit()
        error = result.last_val.get("relative_l2", float("nan"))
        state = "done before" if was_done else "trained"
        print(f"seed {seed}: {state}, final relative L2 {error:.3e}, best {result.best_val:.3e} "
              f"({result.seconds:.0f} s)", flush=True)
    return run_dir


def trained_solver(cfg: Any, checkpoint: dict | Path, seed: int, device: torch.device) -> PhysicsInformedSolver:
    """Seed ``seed``'s solver with the weights of ``checkpoint`` (a loaded checkpoint or its path)."""
    state = checkpoint if isinstance(checkpoint, dict) else load_checkpoint(checkpoint, map_location="cpu")
    with default_dtype(cfg.trainer.dtype), torch.device(device):
        solver = build_seed(cfg, seed, device)
        solver.load_state_dict(state["model"])
    return solver


# -- evaluation ---------------------------------------------------------------------------------------
def _seed_row(cfg: Any, run_dir: Path, seed: int, which: str, device: torch.device, rows: list[dict]) -> dict | None:
    path = seed_dir(run_dir, seed) / f"{which}.pt"
    if not path.is_file():
        return None
    state = load_checkpoint(path, map_location="cpu")
    last = load_checkpoint(seed_dir(run_dir, seed) / "last.pt", map_location="cpu") if which != "last" else state
    solver = trained_solver(cfg, state, seed, device)
    with default_dtype(cfg.trainer.dtype), torch.device(device):
        values = {k: float(v) for k, v in solver.validation_loss(None).items()}
    history = [r for r in rows if r.get("seed") == str(seed) and r.get("val_relative_l2")]
    errors = [(float(r["val_relative_l2"]), int(r["step"])) for r in history]
    best, best_step = min(errors) if errors else (values["relative_l2"], int(state["step"]))
    residual = ResidualStats(values["residual_mean"], math.nan, values["residual_skewness"],
                             values["residual_kurtosis"])
    row = {"seed": seed, "step": int(state["step"]), "finished": bool(last["finished"]),
           "final_error": values["relative_l2"], "best_error": best, "best_step": best_step,
           "propagation_failure": looks_like_propagation_failure(values["relative_l2"], residual),
           "amplitude_ratio": values.get("amplitude_ratio"), "amplitude_ratio_max": values.get("amplitude_ratio_max"),
           "amplitude_decay": "amplitude_ratio" in values and looks_like_amplitude_decay(
               values["amplitude_ratio"], values["amplitude_ratio_max"]),
           "residual_kurtosis": residual.kurtosis, "seconds": round(float(last["seconds"]), 1),
           "parameters": sum(p.numel() for p in solver.net.parameters()),
           "collocation_points": int(len(solver.sampler.points)), "device": str(last.get("device_type"))}
    if last["notes"].get("lbfgs"):
        row["lbfgs"] = last["notes"]["lbfgs"]
        if cfg.trainer.lbfgs_points:
            row["lbfgs_points"] = cfg.trainer.lbfgs_points
    if cfg.evaluate.plots:
        title = (f"{cfg.problem.name}, {cfg.solver.name} + {cfg.sampler.name}, seed {seed}: "
                 f"relative L2 {row['final_error']:.3g}")
        solver.cpu()
        snapshots = [(s, p.cpu()) for s, p in solver.snapshots]
        with default_dtype(cfg.trainer.dtype):
            solution_figure(solver.problem, solver.net, snapshots, run_dir / "evaluation" / f"solution_seed_{seed}.png",
                            title)
    return row


def summarise(rows: list[dict]) -> dict:
    finals = [r["final_error"] for r in rows]
    bests = [r["best_error"] for r in rows]

    def spread(values: list[float]) -> float:
        return statistics.stdev(values) if len(values) > 1 else 0.0

    return {"seeds": len(rows), "median_final": statistics.median(finals), "mean_final": statistics.fmean(finals),
            "std_final": spread(finals), "median_best": statistics.median(bests), "mean_best": statistics.fmean(bests),
            "std_best": spread(bests),
            "flagged": sum(bool(r["propagation_failure"] or r.get("amplitude_decay")) for r in rows)}


def evaluate(cfg: Any, run_dir: Path) -> dict:
    """Error table and pictures of every trained seed: ``evaluation/results.json``, ``summary.md``, plots."""
    run_dir = Path(run_dir)
    device = select_device(cfg.trainer.device)
    rows_csv = read_metrics(run_dir)
    rows = [r for seed in cfg.trainer.seeds
            if (r := _seed_row(cfg, run_dir, seed, cfg.evaluate.checkpoint, device, rows_csv)) is not None]
    if not rows:
        raise ConfigError(f"{run_dir} holds no trained seed of {list(cfg.trainer.seeds)} "
                          f"(no checkpoints/seed_<s>/{cfg.evaluate.checkpoint}.pt)")
    results = {"task": "collocation", "run_dir": str(run_dir), "checkpoint": cfg.evaluate.checkpoint,
               "problem": cfg.problem.name, "solver": cfg.solver.name, "sampler": cfg.sampler.name,
               "max_steps": cfg.trainer.max_steps, "lbfgs_steps": cfg.trainer.lbfgs_steps,
               "summary": summarise(rows), "seeds": rows}
    out = run_dir / "evaluation"
    write_json(results, out / "results.json")
    write_text_atomic(summary(results), out / "summary.md")
    if cfg.evaluate.plots:
        histories = {r["seed"]: [{"step": int(m["step"]), "error": float(m["val_relative_l2"])} for m in rows_csv
                                 if m.get("seed") == str(r["seed"]) and m.get("val_relative_l2")] for r in rows}
        error_history_figure(histories, out / "errors.png",
                             f"{cfg.problem.name}: {cfg.solver.name} + {cfg.sampler.name}")
    return results


def summary(results: dict) -> str:
    """A markdown table: final and best relative L2 per seed, mean ± std and median."""
    rows, s = results["seeds"], results["summary"]
    head = (f"{results['problem']}, solver {results['solver']}, sampler {results['sampler']}, "
            f"{results['max_steps']} Adam + {results['lbfgs_steps']} L-BFGS steps ({results['checkpoint']} checkpoint)")
    lines = [head, "", "| seed | final rel. L2 | best rel. L2 | flagged | seconds |", "|---:|---:|---:|:---:|---:|"]
    for r in rows:
        unfinished = "" if r["finished"] else f" (step {r['step']}, unfinished)"
        lines.append(f"| {r['seed']} | {r['final_error']:.3e}{unfinished} | {r['best_error']:.3e} | "
                     f"{_flag(r)} | {r['seconds']:.0f} |")
    lines.append(f"| mean ± std | {s['mean_final']:.3e} ± {s['std_final']:.1e} | "
                 f"{s['mean_best']:.3e} ± {s['std_best']:.1e} | {s['flagged']} | |")
    lines.append(f"| median | {s['median_final']:.3e} | {s['median_best']:.3e} | | |")
    return "\n".join(lines) + "\n"


def _flag(row: dict) -> str:
    """Which monitor flags the seed: the residual's shape (trivial solution) or the amplitude (decay)."""
    amplitude = f"amplitude {row.get('amplitude_ratio') or 0:.2f}–{row.get('amplitude_ratio_max') or 0:.2f}"
    reasons = [name for name, on in (("residual shape", row["propagation_failure"]),
                                     (amplitude, row.get("amplitude_decay"))) if on]
    return ", ".join(reasons)


TASK = TaskSpec("collocation", sections, validate, fit, evaluate, summary, RESUMABLE)
