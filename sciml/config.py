"""Typed configuration: a dataclass tree merged with OmegaConf from YAML files and ``key=value`` overrides.

``load_config(["exp.yaml", "trainer.max_steps=10"])`` merges, in order, the dataclass defaults, each YAML
file (after the files it ``include``s, paths relative to it) and the overrides. The sections are chosen by
names: ``solver.name`` picks the solver, ``task.name`` the task (default: the solver's first task), and the
task types its own sections (the trajectory task's ``dataset:`` by ``dataset.name``, the collocation
task's ``problem:`` by ``problem.name``), so a key the chosen pieces do not have is an error. Every error
is a :class:`ConfigError` with a one-line message naming the key or file; the command lines turn it into
exit status 2.
"""

from __future__ import annotations

import difflib
from dataclasses import field, fields, is_dataclass, make_dataclass
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException, ValidationError

from sciml import solvers, tasks
from sciml.errors import ConfigError
from sciml.tasks.base import RunConfig
from sciml.training.run_dir import config_dict, config_yaml

_SCHEMAS: dict[tuple, type] = {}


def schema(solver_name: str = "fno", task_name: str | None = None, choices: dict[str, str] | None = None) -> type:
    """The root config dataclass of a solver and task; ``choices`` names the task's typed sections
    (e.g. ``{"dataset": "kolmogorov2d"}``, ``{"problem": "helmholtz2d"}``; defaults otherwise)."""
    spec = solvers.get(solver_name)
    task = tasks.get(task_name or spec.tasks[0])
    chosen = dict(choices or {})

    def pick(section: str, default: str, known) -> str:
        name = chosen.get(section, default)
        if not isinstance(name, str) or name not in known:
            raise ConfigError(f"unknown {section}.name {name!r} (known: {', '.join(sorted(known))})")
        return name

    sections = [("run", RunConfig), ("solver", spec.config), *task.sections(pick)]
    key = tuple((n, c) for n, c in sections)
    if key not in _SCHEMAS:
        _SCHEMAS[key] = make_dataclass("Config", [(n, c, field(default_factory=c)) for n, c in sections])
    return _SCHEMAS[key]


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


def _named(sources: list[DictConfig], section: str) -> str | None:
    """The last ``<section>.name`` the sources set, if any."""
    name = None
    for src in sources:
        sec = src.get(section)
        if isinstance(sec, DictConfig) and "name" in sec:
            name = sec["name"]
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


def root_schema(sources: list[DictConfig]) -> type:
    """The root dataclass the sources select (solver, task and the task's typed sections)."""
    solver_name = _named(sources, "solver") or "fno"
    if not isinstance(solver_name, str) or solver_name not in solvers.registry:
        raise ConfigError(f"unknown solver.name {solver_name!r} (known: {', '.join(solvers.registry.names())})")
    spec = solvers.get(solver_name)
    task_name = _named(sources, "task") or spec.tasks[0]
    if not isinstance(task_name, str) or task_name not in tasks.registry:
        raise ConfigError(f"unknown task.name {task_name!r} (known: {', '.join(tasks.registry.names())})")
    if task_name not in spec.tasks:
        able = [n for n in solvers.registry.names() if task_name in solvers.get(n).tasks]
        raise ConfigError(f"solver {solver_name} cannot be trained by task {task_name} (it supports: "
                          f"{', '.join(spec.tasks)}; solvers for {task_name}: {', '.join(able) or 'none yet'})")
    choices = {}
    for section in ("dataset", "problem"):
        name = _named(sources, section)
        if name is not None:
            choices[section] = name
    return schema(solver_name, task_name, choices)


def load_config(args: list[str] | None = None) -> Any:
    """Merge defaults, YAML files and ``key=value`` overrides into a typed, validated config object."""
    sources = _sources(list(args or []))
    cfg = merge_sources(root_schema(sources), sources)
    validate(cfg)
    return cfg


def read_sources(args: list[str]) -> list[DictConfig]:
    """YAML files (with their includes) and ``key=value`` overrides, in order, as OmegaConf configs."""
    return _sources(list(args))


def merge_sources(root: type, sources: list[DictConfig]) -> Any:
    """Merge ``sources`` onto the dataclass ``root``'s defaults; unknown keys and bad values raise
    :class:`ConfigError` naming the key. Returns the typed config object (not yet validated)."""
    try:
        merged = OmegaConf.merge(OmegaConf.structured(root), *sources)
    except ConfigKeyError as exc:
        key = exc.full_key or str(exc).splitlines()[0]
        raise ConfigError(f"unknown config key '{key}'{_suggest(key, _section_class(root, key))}") from None
    except ValidationError as exc:
        raise ConfigError(f"bad value for '{exc.full_key}': {str(exc).splitlines()[0]}") from None
    except OmegaConfBaseException as exc:
        raise ConfigError(f"invalid config: {str(exc).splitlines()[0]}") from None
    return OmegaConf.to_object(merged)


def validate(cfg: Any) -> None:
    """The solver's and the task's checks of what types alone cannot express."""
    spec = solvers.get(cfg.solver.name)
    if spec.validate is not None:
        spec.validate(cfg.solver)
    tasks.get(cfg.task.name).validate(cfg)


def to_yaml(cfg: Any) -> str:
    return config_yaml(cfg)


def to_dict(cfg: Any) -> dict:
    return config_dict(cfg)
