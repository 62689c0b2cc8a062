"""``python -m sciml.train [CONFIG.yaml ...] [key=value ...] [--print-config]``.

Trains the configured solver with its task (default: an FNO on the built-in ``ks1d`` dataset, generated
on first use), then evaluates the run (long rollouts on the test split; error tables and pictures for a
physics-informed run). Re-running the same command resumes an interrupted run.
"""

from __future__ import annotations

import os

from sciml.cli import config_or_exit, run_cli
from sciml.config import load_config, to_yaml

USAGE = __doc__


def main(argv: list[str]) -> int:
    cfg = config_or_exit(argv, USAGE, load_config, to_yaml)
    if cfg is None:
        return 0
    from sciml import tasks

    run_dir = tasks.fit(cfg)
    if cfg.run.evaluate and int(os.environ.get("RANK", "0")) == 0:
        from sciml.evaluate import evaluate_run

        evaluate_run(run_dir)
    return 0


if __name__ == "__main__":
    run_cli(main)
