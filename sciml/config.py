"""Typed configuration: a dataclass tree merged with OmegaConf from YAML files and ``key=value`` overrides.

``load_config(["exp.yaml", "trainer.max_steps=10"])`` merges, in order, the dataclass defaults, each YAML
file (after the files it ``include``s, paths relative to it) and the overrides. The ``solver:`` and
``dataset:`` sections are typed by the solver and dataset recipe their ``name`` selects, so a key the
chosen solver does not have is an error. Every error is a :class:`ConfigError` with a one-line message
naming the key or file; the command lines turn it into exit status 2.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass, field, fields, is_dataclass, make_dataclass
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException, ValidationError

from sciml import recipes, solvers


class ConfigError(ValueError):
    """A config file, key or value is wrong; the message is one line naming it."""


@dataclass
class RunConfig:
    dir: str = "runs/default"  # run directory: config.yaml, checkpoints/, metrics.csv, evaluation/
    resume: bool = True  # continue from checkpoints/last.pt when the run directory holds one
    evaluate: bool = True  # run the long-rollout evaluation after training


@dataclass
class TaskConfig:
    history: int = 1  # input frames
    time_step: int = 4  # model step in stored frames (ks1d: 4 x 0.2 = 0.8 time units)


@dataclass
class TrainerConfig:
    max_steps: int = 2000  # optimiser steps
    batch_size: int = 32
    optimizer: str = "adamw"  # adam | adamw
    lr: float = 2e-3
    weight_decay: float = 1e-4
    schedule: str = "cosine"  # cosine | step | constant
    warmup_steps: int = 100
    min_lr: float = 1e-5  # end of the cosine schedule
    step_size: int = 1000  # step schedule: multiply lr by gamma every step_size steps
    gamma: float = 0.5
    grad_clip: float = 1.0  # max global gradient norm; 0 disables
    ema_decay: float = 0.0  # exponential moving average of weights; 0 disables (PDE-Refiner: 0.995)
    amp: bool = True  # float16 autocast + gradient scaling, on CUDA only
    seed: int = 0
    device: str = "auto"  # auto (CUDA when present) | cpu | cuda | cuda:N
    num_workers: int = 0  # DataLoader worker processes
    threads: int = 0  # torch CPU threads; 0 keeps torch's default
    log_every: int = 50  # steps between metrics.csv rows
    eval_every: int = 500  # steps between validations (and best-checkpoint updates)
    val_batches: int = 16  # batches per validation
    checkpoint_every: int = 250  # steps between checkpoints/last.pt writes
    progress: str = "auto"  # auto (a bar on a terminal, else log lines) | bar | lines


@dataclass
class EvaluateConfig:
    split: str = "test"
    checkpoint: str = "best"  # best | last
    rollout_steps: int = 0  # model steps to roll out; 0: as many as the trajectories allow
    batch_size: int = 32
    correlation_threshold: float = 0.8  # high-correlation time: first time the mean drops below this
    blowup_factor: float = 10.0  # unstable once |u| exceeds this times the test data's max |u|
    metrics: list[str] = field(default_factory=lambda: ["mse", "nrmse", "correlation", "spectrum_error"])
    plots: bool = True


CHOICES = {
    "trainer.optimizer": ("adam", "adamw"),
    "trainer.schedule": ("cosine", "step", "constant"),
    "trainer.progress": ("auto", "bar", "lines"),
    "evaluate.split": ("train", "valid", "test"),
    "evaluate.checkpoint": ("best", "last"),
}
POSITIVE = ("task.history", "task.time_step", "trainer.max_steps", "trainer.batch_size", "trainer.log_every",
            "trainer.eval_every", "trainer.val_batches", "trainer.checkpoint_every", "evaluate.batch_size")
NON_NEGATIVE = ("trainer.lr", "trainer.weight_decay", "trainer.warmup_steps", "trainer.min_lr",
                "trainer.grad_clip", "trainer.num_workers", "trainer.threads", "evaluate.rollout_steps")


@functools.cache
def schema(solver_name: str = "fno", dataset_name: str = "ks1d") -> type:
    """The root config dataclass for a solver and a dataset recipe."""
    solver_cls = solvers.get(solver_name).config
    dataset_cls = recipes.get(dataset_name).config
    sections = [
        ("run", RunConfig), ("solver", solver_cls), ("dataset", dataset_cls),
        ("task", TaskConfig), ("trainer", TrainerConfig), ("evaluate", EvaluateConfig),
    ]
    return make_dataclass("Config", [(n, c, field(default_factory=c)) for n, c in sections])


@functools.cache
def physics_informed_schema(solver_name: str, problem_name: str) -> type:
    """The root config dataclass of a physics-informed run: no dataset, a problem and a sampler instead."""
    from sciml.pinn.config import PROBLEM_CONFIGS, PINNTrainerConfig, SamplerConfig

    sections = [("run", RunConfig), ("solver", solvers.get(solver_name).config),
                ("problem", PROBLEM_CONFIGS[problem_name]), ("sampler", SamplerConfig),
                ("trainer", PINNTrainerConfig)]
    return make_dataclass("PhysicsInformedConfig", [(n, c, field(default_factory=c)) for n, c in sections])


def is_physics_informed(cfg: Any) -> bool:
    return solvers.get(cfg.solver.name).kind == "physics_informed"


def _read_yaml(path: Path, stack: tuple[Path, ...] = ()) -> list[DictConfig]:
    """A file's config, preceded by those of the files it includes (depth-first)."""
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    if path.resolve() in stack:
        raise ConfigError(f"config file includes itself: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" line {where.line + 1}" if where else ""
        raise ConfigError(f"config file {path}{line} is not valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections, got {type(data).__name__}")
    includes = data.pop("include", [])
    if isinstance(includes, str):
        includes = [includes]
    out: list[DictConfig] = []
    for inc in includes:
        out.extend(_read_yaml((path.parent / str(inc)), (*stack, path.resolve())))
    out.append(OmegaConf.create(data))
    return out


def _sources(args: list[str]) -> list[DictConfig]:
    files = [a for a in args if "=" not in a]
    overrides = [a for a in args if "=" in a]
    sources: list[DictConfig] = []
    for f in files:
        sources.extend(_read_yaml(Path(f)))
    for o in overrides:
        key = o.split("=", 1)[0]
        if not key or key.startswith(".") or key.endswith("."):
            raise ConfigError(f"override {o!r} must look like section.key=value")
    try:
        sources.append(OmegaConf.from_dotlist(overrides))
    except OmegaConfBaseException as exc:
        raise ConfigError(f"cannot parse overrides {overrides}: {str(exc).splitlines()[0]}") from None
    return sources


def _pick_name(sources: list[DictConfig], section: str, default: str, registry) -> str:
    name = default
    for src in sources:
        sec = src.get(section)
        if isinstance(sec, DictConfig) and "name" in sec:
            name = sec["name"]
    if not isinstance(name, str) or name not in registry:
        raise ConfigError(f"unknown {section}.name {name!r} (known: {', '.join(sorted(registry))})")
    return name


def _suggest(full_key: str, cls: type | None) -> str:
    if cls is None or not is_dataclass(cls):
        return ""
    leaf = full_key.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(leaf, [f.name for f in fields(cls)], n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _section_class(root: type, full_key: str) -> type | None:
    """The dataclass of the section holding ``full_key`` (sections are one level deep)."""
    parts = full_key.split(".")
    match = [f for f in fields(root) if f.name == parts[0]] if len(parts) == 2 else []
    return match[0].default_factory if match else None


def load_config(args: list[str] | None = None) -> Any:
    """Merge defaults, YAML files and ``key=value`` overrides into a typed, validated config object."""
    sources = _sources(list(args or []))
    solver_name = _pick_name(sources, "solver", "fno", solvers.registry)
    physics_informed = solvers.get(solver_name).kind == "physics_informed"
    if physics_informed:
        from sciml.pinn.config import PROBLEM_CONFIGS

        problem_name = _pick_name(sources, "problem", "convection", PROBLEM_CONFIGS)
        root = physics_informed_schema(solver_name, problem_name)
    else:
        dataset_name = _pick_name(sources, "dataset", "ks1d", recipes.registry)
        root = schema(solver_name, dataset_name)
    try:
        merged = OmegaConf.merge(OmegaConf.structured(root), *sources)
    except ConfigKeyError as exc:
        key = exc.full_key or str(exc).splitlines()[0]
        raise ConfigError(f"unknown config key '{key}'{_suggest(key, _section_class(root, key))}") from None
    except ValidationError as exc:
        raise ConfigError(f"bad value for '{exc.full_key}': {str(exc).splitlines()[0]}") from None
    except OmegaConfBaseException as exc:
        raise ConfigError(f"invalid config: {str(exc).splitlines()[0]}") from None
    cfg = OmegaConf.to_object(merged)
    validate_physics_informed(cfg) if physics_informed else validate(cfg)
    return cfg


def _get(cfg: Any, key: str) -> Any:
    obj = cfg
    for part in key.split("."):
        obj = getattr(obj, part)
    return obj


def validate(cfg: Any) -> None:
    """Range and choice checks that types alone cannot express."""
    for key, choices in CHOICES.items():
        if _get(cfg, key) not in choices:
            raise ConfigError(f"bad value for '{key}': {_get(cfg, key)!r} (choose from {', '.join(choices)})")
    for key in POSITIVE:
        if _get(cfg, key) < 1:
            raise ConfigError(f"bad value for '{key}': {_get(cfg, key)} (must be >= 1)")
    for key in NON_NEGATIVE:
        if _get(cfg, key) < 0:
            raise ConfigError(f"bad value for '{key}': {_get(cfg, key)} (must be >= 0)")
    device = cfg.trainer.device
    if not (device in ("auto", "cpu", "cuda") or device.startswith("cuda:")):
        raise ConfigError(f"bad value for 'trainer.device': {device!r} (auto, cpu, cuda or cuda:N)")
    if not 0 <= cfg.trainer.ema_decay < 1:
        raise ConfigError(f"bad value for 'trainer.ema_decay': {cfg.trainer.ema_decay} (must be in [0, 1))")
    if getattr(cfg.solver, "predict", "residual") not in ("residual", "state"):
        raise ConfigError(f"bad value for 'solver.predict': {cfg.solver.predict!r} (residual or state)")
    from sciml import metrics  # metrics is a ground-floor module; imported here to keep config light

    for name in cfg.evaluate.metrics:
        if name not in metrics.registry:
            raise ConfigError(f"unknown metric {name!r} in 'evaluate.metrics' "
                              f"(known: {', '.join(metrics.registry.names())})")


def validate_physics_informed(cfg: Any) -> None:
    from sciml.pinn.config import SAMPLERS

    if cfg.sampler.name not in SAMPLERS:
        raise ConfigError(f"bad value for 'sampler.name': {cfg.sampler.name!r} (choose from {', '.join(SAMPLERS)})")
    if cfg.trainer.dtype not in ("float32", "float64"):
        raise ConfigError(f"bad value for 'trainer.dtype': {cfg.trainer.dtype!r} (float32 or float64)")
    if cfg.trainer.progress not in ("auto", "bar", "lines"):
        raise ConfigError(f"bad value for 'trainer.progress': {cfg.trainer.progress!r} (auto, bar or lines)")
    device = cfg.trainer.device
    if not (device in ("auto", "cpu", "cuda") or device.startswith("cuda:")):
        raise ConfigError(f"bad value for 'trainer.device': {device!r} (auto, cpu, cuda or cuda:N)")
    for key in ("sampler.points", "sampler.every", "trainer.decay_every", "trainer.eval_every",
                "trainer.eval_points", "trainer.constraint_points"):
        if _get(cfg, key) < 1:
            raise ConfigError(f"bad value for '{key}': {_get(cfg, key)} (must be >= 1)")
    for key in ("trainer.adam_steps", "trainer.lbfgs_steps", "trainer.lr", "trainer.threads", "trainer.snapshots",
                "trainer.checkpoint_every"):
        if _get(cfg, key) < 0:
            raise ConfigError(f"bad value for '{key}': {_get(cfg, key)} (must be >= 0)")
    if cfg.trainer.adam_steps + cfg.trainer.lbfgs_steps < 1:
        raise ConfigError("nothing to train: trainer.adam_steps and trainer.lbfgs_steps are both 0")
    if not cfg.trainer.seeds:
        raise ConfigError("trainer.seeds is empty")
    unknown = sorted(set(cfg.trainer.weights) - {"initial", "boundary"})
    if unknown:
        raise ConfigError(f"unknown constraint term(s) {unknown} in 'trainer.weights' (initial, boundary)")
    from sciml.pinn.models import MLP
    from sciml.pinn.problems import PROBLEMS

    if cfg.solver.name == "pinn" and cfg.solver.init not in MLP.INITS:
        raise ConfigError(f"bad value for 'solver.init': {cfg.solver.init!r} (choose from {', '.join(MLP.INITS)})")

    if PROBLEMS[cfg.problem.name].time_axis is None:
        if cfg.sampler.name == "causal_r3":
            raise ConfigError(f"sampler.name=causal_r3 needs a time axis; problem {cfg.problem.name} has none")
        if getattr(cfg.solver, "hard_initial", False):
            raise ConfigError(f"solver.hard_initial needs a time axis; problem {cfg.problem.name} has none")


def to_yaml(cfg: Any) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))


def to_dict(cfg: Any) -> dict:
    return OmegaConf.to_container(OmegaConf.structured(cfg))
