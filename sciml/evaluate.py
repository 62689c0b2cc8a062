"""``python -m sciml.evaluate RUN_DIR [key=value ...]``: evaluate a run with its task.

Trajectory runs: long autoregressive rollouts of the best checkpoint over the test trajectories, metrics
by horizon, the high-correlation time, unstable rollouts and plots. Physics-informed runs: the error of
every seed against the reference, the propagation-failure flag and pictures. Both write
``RUN_DIR/evaluation/results.json`` and print a table; ``evaluate.*`` overrides apply (e.g.
``evaluate.rollout_steps=100``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sciml import tasks
from sciml.cli import run_cli, split_flags
from sciml.config import load_config
from sciml.errors import ConfigError


def evaluate_run(run_dir: str | Path, overrides: list[str] | None = None, verbose: bool = True) -> dict[str, Any]:
    """Evaluate a run directory with its task; returns the content of ``evaluation/results.json``."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise ConfigError(f"{run_dir} is not a run directory (no config.yaml)")
    bad = [o for o in overrides or [] if "=" not in o]
    if bad:
        raise ConfigError(f"expected key=value after RUN_DIR, got {bad[0]!r}")
    try:
        cfg = load_config([str(run_dir / "config.yaml"), *(overrides or [])])
    except ConfigError as exc:  # e.g. a run made by a version of sciml with other keys
        raise ConfigError(f"{run_dir / 'config.yaml'} (with the overrides): {exc}") from None
    if not (run_dir / "checkpoints").is_dir():
        raise ConfigError(f"{run_dir} holds no checkpoints yet: train it first (python -m sciml.train "
                          f"{run_dir / 'config.yaml'})")
    task = tasks.get(cfg.task.name)
    results = task.evaluate(cfg, run_dir)
    if verbose:
        print(task.summary(results))
    return results


def main(argv: list[str]) -> int:
    flags, args = split_flags(argv, {"--help"})
    if "--help" in flags or not args:
        print(__doc__)
        return 0 if "--help" in flags else 2
    run_dir, overrides = args[0], args[1:]
    evaluate_run(run_dir, overrides)
    print(f"wrote {Path(run_dir) / 'evaluation'}")
    return 0


if __name__ == "__main__":
    run_cli(main)
