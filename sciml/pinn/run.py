"""Physics-informed runs from a config: one training per seed, each with its weights, error history,
collocation snapshots and pictures, then a summary table over the seeds (final and best error).

Run directory::

    config.yaml
    summary.json, summary.md         per-seed final/best relative L2, flags, time per step; median, mean, std
    errors.png                       error against step, all seeds
    seed_<s>/result.json             final/best error, L-BFGS note, propagation-failure flag, seconds
    seed_<s>/history.csv             step, phase, loss, error, residual statistics, points changed
    seed_<s>/model.pt                weights (torch.load(..., weights_only=True))
    seed_<s>/solution.png            reference, prediction, |error|, collocation points at the snapshots
    seed_<s>/checkpoint.pt           while a seed trains: its state every trainer.checkpoint_every Adam steps

Re-running the same command skips the seeds that have a ``result.json`` and continues an interrupted seed
exactly from its ``checkpoint.pt`` (on the same kind of device; an interrupted L-BFGS phase restarts from
the end of Adam); more seeds may be added to a finished run and the device, threads, progress display or
checkpoint interval changed; any other change of config is refused.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import statistics
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import torch

from sciml.config import ConfigError
from sciml.pinn.models import MLP, PIG, HardInitial
from sciml.pinn.problems import Problem, get_problem
from sciml.pinn.samplers import R3, RAD, RARD, CausalR3, Sampler, UniformFixed, UniformResampled
from sciml.pinn.training import PINNResult, PINNTraining, train
from sciml.training.checkpoint import load_checkpoint, save_checkpoint


def build_problem(cfg: Any) -> Problem:
    """The problem named by ``cfg.name`` with the section's other keys as parameters."""
    return get_problem(cfg.name, **{f.name: getattr(cfg, f.name) for f in fields(cfg) if f.name != "name"})


def build_model(cfg: Any, problem: Problem, generator: torch.Generator | None = None) -> torch.nn.Module:
    """``pinn``: a tanh MLP; ``pig``: Physics-Informed Gaussians with means spread over the domain."""
    box = problem.domain
    if cfg.name == "pig":
        half = torch.tensor(box.high) - torch.tensor(box.low)
        return PIG(box.dim, cfg.gaussians, cfg.channels, cfg.hidden, box.low, box.high, sigma=cfg.sigma * half / 2,
                   generator=generator, rotation=cfg.rotation)
    periodic = {}
    if cfg.periodic_harmonics > 0:
        periodic = {a: (box.high[a] - box.low[a], cfg.periodic_harmonics) for a in problem.periodic_axes}
    bounds = {"low": box.low, "high": box.high} if cfg.normalise_inputs else {}
    net = MLP(box.dim, cfg.width, cfg.depth, periodic=periodic, fourier_features=cfg.fourier_features,
              fourier_scale=cfg.fourier_scale, init=cfg.init, **bounds)
    if not cfg.hard_initial:
        return net
    if problem.time_axis is None:
        raise ConfigError(f"solver.hard_initial needs an evolution problem; {problem.name!r} has no time axis")
    axis = problem.time_axis
    return HardInitial(net, problem.initial_value, axis, box.low[axis], box.high[axis])


def build_sampler(cfg: Any, problem: Problem, generator: torch.Generator | None = None) -> Sampler:
    box, n = problem.domain, cfg.points
    if cfg.name == "uniform":
        return UniformFixed(box, n, generator)
    if cfg.name == "resampled":
        return UniformResampled(box, n, generator, every=cfg.every)
    if cfg.name == "r3":
        return R3(box, n, generator)
    if cfg.name == "causal_r3":
        if problem.time_axis is None:
            raise ValueError(f"causal R3 needs a time axis; problem {problem.name!r} has none")
        return CausalR3(box, n, problem.time_axis, generator, alpha=cfg.causal_alpha, beta0=cfg.causal_beta0,
                        eta=cfg.causal_eta, epsilon=cfg.causal_epsilon)
    rad = {"k": cfg.rad_k, "c": cfg.rad_c, "n_candidates": cfg.candidates, "every": cfg.every}
    if cfg.name == "rad":
        return RAD(box, n, generator, **rad)
    if cfg.name == "rar_d":
        return RARD(box, n, generator, n_add=cfg.rar_add, **rad)
    raise ValueError(f"unknown sampler {cfg.name!r}")


def eval_grid(problem: Problem, points: int) -> tuple[int, ...]:
    """About ``points`` grid points split evenly over the axes."""
    per_axis = max(2, round(points ** (1 / problem.domain.dim)))
    return (per_axis,) * problem.domain.dim


def _training(cfg: Any, problem: Problem) -> PINNTraining:
    t = cfg.trainer
    progress = sys.stderr.isatty() if t.progress == "auto" else t.progress == "bar"
    total = t.adam_steps + t.lbfgs_steps

    def log_line(row: dict) -> None:
        gate = f", gate at t_hat {row['gate_beta']:.3f}" if "gate_beta" in row else ""
        print(f"  step {row['step']}/{total} ({row['phase']}): loss {row['loss']:.3e}, relative L2 {row['error']:.3e}"
              f"{gate}", flush=True)

    return PINNTraining(on_record=None if progress else log_line, adam_steps=t.adam_steps, lr=t.lr,
                        lr_decay=t.lr_decay, decay_every=t.decay_every,
                        lbfgs_steps=t.lbfgs_steps, lbfgs_points=t.lbfgs_points,
                        constraint_points=t.constraint_points,
                        constraint_resample=t.constraint_resample, weights=dict(t.weights),
                        eval_grid=eval_grid(problem, t.eval_points), eval_every=t.eval_every, progress=progress,
                        snapshots=t.snapshots)


def _write_history(rows: list[dict], path: Path) -> None:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, keys)
        writer.writeheader()
        writer.writerows(rows)


@contextlib.contextmanager
def default_dtype(name: str):
    """Problems, samplers and models follow torch's default dtype; set it for one run and restore it."""
    before = torch.get_default_dtype()
    torch.set_default_dtype({"float32": torch.float32, "float64": torch.float64}[name])
    try:
        yield
    finally:
        torch.set_default_dtype(before)


def run_seed(cfg: Any, seed: int, seed_dir: Path) -> dict:
    """Train one seed in ``trainer.dtype`` on ``trainer.device``; write its weights, history, result and
    picture; return the row. Seeds fix the run on one device: CPU and CUDA draw different random numbers."""
    from sciml.training.loop import select_device

    device = select_device(cfg.trainer.device)
    with default_dtype(cfg.trainer.dtype):
        with torch.device(device):  # every tensor the problem, sampler and model create lands on the device
            torch.manual_seed(seed)
            generator = torch.Generator(device=device).manual_seed(seed)
            problem = build_problem(cfg.problem)
            model = build_model(cfg.solver, problem, generator)
            sampler = build_sampler(cfg.sampler, problem, generator)
            checkpoint = seed_dir / "checkpoint.pt"
            resume, seconds_before = _load_training_state(checkpoint, seed, device)
            training = _training(cfg, problem)
            start = time.perf_counter()

            def save(state: dict) -> None:
                save_checkpoint({"training": state, "seed": seed, "device_type": device.type,
                                 "seconds": seconds_before + time.perf_counter() - start}, checkpoint)

            training.checkpoint_every, training.on_checkpoint = cfg.trainer.checkpoint_every, save
            result: PINNResult = train(problem, model, sampler, training, generator, resume=resume)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds = seconds_before + time.perf_counter() - start
        model.cpu()
        result.snapshots = [(step, points.cpu()) for step, points in result.snapshots]
        row = _save_seed(cfg, seed, seed_dir, problem, model, sampler, result, seconds)
    row["device"] = str(device)
    _write_json(row, seed_dir / "result.json")  # written last: its presence marks the seed as done
    checkpoint.unlink(missing_ok=True)
    return row


def _load_training_state(path: Path, seed: int, device: torch.device) -> tuple[dict | None, float]:
    """The training state of an interrupted seed and the seconds it had run, or ``(None, 0)``."""
    if not path.exists():
        return None, 0.0
    state = load_checkpoint(path)  # on the CPU: generator states must stay CPU tensors
    if state.get("seed") != seed or "training" not in state:
        raise ConfigError(f"{path} is not a training checkpoint of seed {seed}; delete it to start the seed afresh")
    if state["device_type"] != device.type:
        raise ConfigError(f"{path} was written on {state['device_type']}; resume it on the same kind of device "
                          f"(trainer.device), or delete it to start seed {seed} afresh on {device.type}")
    print(f"seed {seed}: resuming from Adam step {state['training']['step']} ({path})", flush=True)
    return state["training"], float(state["seconds"])


def _write_json(data: dict, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def _save_seed(cfg: Any, seed: int, seed_dir: Path, problem: Problem, model: torch.nn.Module, sampler: Sampler,
               result: PINNResult, seconds: float) -> dict:
    from sciml.config import to_dict

    seed_dir.mkdir(parents=True, exist_ok=True)
    save_checkpoint({"model": model.state_dict(), "config": to_dict(cfg), "seed": seed}, seed_dir / "model.pt")
    _write_history(result.history, seed_dir / "history.csv")
    row = {"seed": seed, "final_error": result.final_error, "best_error": result.best_error,
           "propagation_failure": result.propagation_failure, "lbfgs": result.lbfgs_note,
           "seconds": round(seconds, 1), "parameters": sum(p.numel() for p in model.parameters()),
           "collocation_points": len(sampler.points)}
    if cfg.trainer.lbfgs_steps and cfg.trainer.lbfgs_points:
        row["lbfgs_points"] = cfg.trainer.lbfgs_points  # L-BFGS ran on its own fixed uniform points
    if cfg.run.evaluate:
        from sciml.pinn.plots import solution_figure

        title = (f"{problem.name}, {cfg.solver.name} + {cfg.sampler.name}, seed {seed}: "
                 f"relative L2 {result.final_error:.3g}")
        solution_figure(problem, model, result.snapshots, seed_dir / "solution.png", title)
    return row


def summarise(rows: list[dict]) -> dict:
    finals = [r["final_error"] for r in rows]
    bests = [r["best_error"] for r in rows]

    def spread(values: list[float]) -> float:
        return statistics.stdev(values) if len(values) > 1 else 0.0

    return {"seeds": len(rows), "median_final": statistics.median(finals), "mean_final": statistics.fmean(finals),
            "std_final": spread(finals), "median_best": statistics.median(bests), "mean_best": statistics.fmean(bests),
            "std_best": spread(bests), "flagged": sum(bool(r["propagation_failure"]) for r in rows)}


def summary_markdown(cfg: Any, rows: list[dict], summary: dict) -> str:
    head = (f"{cfg.problem.name}, solver {cfg.solver.name}, sampler {cfg.sampler.name} ({cfg.sampler.points} points), "
            f"{cfg.trainer.adam_steps} Adam + {cfg.trainer.lbfgs_steps} L-BFGS steps")
    lines = [head, "", "| seed | final rel. L2 | best rel. L2 | flagged | seconds |", "|---:|---:|---:|:---:|---:|"]
    for r in rows:
        lines.append(f"| {r['seed']} | {r['final_error']:.3e} | {r['best_error']:.3e} | "
                     f"{'yes' if r['propagation_failure'] else ''} | {r['seconds']:.0f} |")
    lines.append(f"| mean ± std | {summary['mean_final']:.3e} ± {summary['std_final']:.1e} | "
                 f"{summary['mean_best']:.3e} ± {summary['std_best']:.1e} | {summary['flagged']} | |")
    lines.append(f"| median | {summary['median_final']:.3e} | {summary['median_best']:.3e} | | |")
    return "\n".join(lines) + "\n"


RUNTIME_KEYS = ("seeds", "device", "threads", "progress", "checkpoint_every")  # may change between resumed invocations


def _without_seeds(config_yaml: str) -> dict:
    import yaml

    data = yaml.safe_load(config_yaml)
    for key in RUNTIME_KEYS:
        data["trainer"].pop(key, None)
    return data


def fit_pinn(cfg: Any) -> Path:
    """Train every seed of a physics-informed config into ``cfg.run.dir``; return the run directory."""
    from sciml.config import load_config, to_yaml

    run_dir = Path(cfg.run.dir)
    started = sorted(run_dir.glob("seed_*/result.json")) + sorted(run_dir.glob("seed_*/checkpoint.pt"))
    if started and not cfg.run.resume:
        raise ConfigError(f"run directory {run_dir} already holds finished or interrupted seeds and run.resume=false")
    saved = run_dir / "config.yaml"
    # the saved config is re-read through the schema, so keys added since (with defaults) do not count
    changed = saved.exists() and _without_seeds(to_yaml(load_config([str(saved)]))) != _without_seeds(to_yaml(cfg))
    if started and changed:
        raise ConfigError(f"run directory {run_dir} was made with a different config (other than "
                          f"trainer.{', trainer.'.join(RUNTIME_KEYS)}); choose another run.dir or delete it")
    run_dir.mkdir(parents=True, exist_ok=True)
    saved.write_text(to_yaml(cfg))
    if cfg.trainer.threads:
        torch.set_num_threads(cfg.trainer.threads)
    rows, histories = [], {}
    for seed in cfg.trainer.seeds:
        seed_dir = run_dir / f"seed_{seed}"
        if (seed_dir / "result.json").exists():
            row = json.loads((seed_dir / "result.json").read_text())
            print(f"seed {seed}: done before (final relative L2 {row['final_error']:.3e})", flush=True)
        else:
            row = run_seed(cfg, seed, seed_dir)
            print(f"seed {seed}: final relative L2 {row['final_error']:.3e}, best {row['best_error']:.3e}"
                  f"{', PROPAGATION FAILURE?' if row['propagation_failure'] else ''} ({row['seconds']:.0f} s)",
                  flush=True)
        rows.append(row)
        with open(seed_dir / "history.csv", newline="") as f:
            histories[seed] = [{"step": int(r["step"]), "error": float(r["error"])} for r in csv.DictReader(f)]
    summary = summarise(rows)
    (run_dir / "summary.json").write_text(json.dumps({"summary": summary, "seeds": rows}, indent=1))
    table = summary_markdown(cfg, rows, summary)
    (run_dir / "summary.md").write_text(table)
    if cfg.run.evaluate and all(math.isfinite(h["error"]) for rows_ in histories.values() for h in rows_):
        from sciml.pinn.plots import error_history_figure

        error_history_figure(histories, run_dir / "errors.png", f"{cfg.problem.name}: {cfg.solver.name} + "
                             f"{cfg.sampler.name}")
    print(table, end="")
    return run_dir
