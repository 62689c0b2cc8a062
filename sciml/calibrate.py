"""``python -m sciml.calibrate [CONFIG.yaml ...] [key=value ...] [--print-config]``.

Calibrates the parameters of a model against the statistics of a truth: history matching (Latin-hypercube
designs, Gaussian-process emulators, implausibility cut-offs, waves) and/or gradient-based estimation through
the differentiable simulator (``calibrate.methods``). Default: two-scale Lorenz96, K 36, J 10, truth
(F, h, c, b) = (10, 1, 10, 10). Writes ``run.dir`` (results, tables and plots under ``evaluation/``);
re-running the command resumes it.
"""

from __future__ import annotations

from sciml.cli import config_or_exit, run_cli

USAGE = __doc__


def main(argv: list[str]) -> int:
    from sciml.calibration import calibrate, load_calibration_config, summary_table
    from sciml.training.run_dir import config_yaml

    cfg = config_or_exit(argv, USAGE, load_calibration_config, config_yaml)
    if cfg is None:
        return 0
    results = calibrate(cfg)
    print(summary_table(results))
    print(f"results: {cfg.run.dir}/evaluation/")
    return 0


if __name__ == "__main__":
    run_cli(main)
