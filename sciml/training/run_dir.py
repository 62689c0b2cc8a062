"""The run directory every task writes: ``config.yaml``, ``checkpoints/``, ``metrics.csv``, ``evaluation/``.

Re-running a command in a run directory resumes it; a config change that would alter the result is
refused with a one-line message naming the first differing key (:func:`check_resumable`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from sciml.errors import ConfigError

# Keys that may change between an interrupted run and its resumption without changing the result; a
# section name allows every key in it. Tasks add their own.
RESUMABLE_CHANGES = frozenset({
    "run", "evaluate", "trainer.max_steps", "trainer.device", "trainer.num_workers", "trainer.eval_every",
    "trainer.checkpoint_every", "trainer.progress", "trainer.threads", "trainer.log_every", "dataset.root",
    "dataset.device", "dataset.batch_size",
})


def config_dict(cfg: Any) -> dict[str, Any]:
    """A config tree (dataclasses) as plain dicts, lists and scalars."""
    return asdict(cfg) if is_dataclass(cfg) else dict(cfg)


def config_yaml(cfg: Any) -> str:
    return yaml.safe_dump(config_dict(cfg), sort_keys=False, default_flow_style=False)


def flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}} -> {"a.b": 1}``."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def check_resumable(saved: dict, current: dict, where: Path, allowed: frozenset[str] = RESUMABLE_CHANGES) -> None:
    """Refuse to resume a run whose result-changing config differs; name the first differing key.

    Keys present on one side only (added or removed by another version of sciml) are not compared.
    """
    a, b = flatten(saved), flatten(current)
    for key in sorted(set(a) & set(b)):
        if key in allowed or key.split(".")[0] in allowed:
            continue
        if a[key] != b[key]:
            raise ConfigError(f"{where} holds a run with {key}={a[key]!r}, this config has {b[key]!r}: "
                              "choose another run.dir to start a new run")


def write_text_atomic(text: str, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def write_json(data: Any, path: Path) -> Path:
    return write_text_atomic(json.dumps(data, indent=1), path)


def write_config(cfg: Any, run_dir: Path) -> Path:
    return write_text_atomic(config_yaml(cfg), Path(run_dir) / "config.yaml")
