"""``python -m sciml.couple RUN_DIR OUT [--format torchscript|pt2] [--dtype float32|float64] [--checkpoint best|last]``.

Exports the closure trained in ``RUN_DIR`` (a ``closure`` task run) to ``OUT`` and ``OUT.json``: the coarse state
in physical units to the closure's tendency, for a host model (``docs/coupling.md``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from sciml.cli import run_cli
from sciml.errors import ConfigError


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m sciml.couple", description=__doc__.splitlines()[2])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--format", default="torchscript", choices=("torchscript", "pt2"))
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--checkpoint", default="best", choices=("best", "last"))
    parser.add_argument("--batch", type=int, default=2, help="batch size of the example input")
    args = parser.parse_args(argv)
    from sciml.config import load_config
    from sciml.couple import export
    from sciml.tasks.trajectory.evaluation import load_solver

    config = args.run_dir / "config.yaml"
    if not config.is_file():
        raise ConfigError(f"{args.run_dir} holds no config.yaml: not a run directory")
    cfg = load_config([str(config)])
    if cfg.task.name != "closure":
        raise ConfigError(f"{args.run_dir} is a {cfg.task.name} run; only closure runs export a closure")
    model, step = load_solver(args.run_dir, cfg, args.checkpoint, torch.device("cpu"))
    dtype = getattr(torch, args.dtype)
    if dtype == torch.float64 and not any(p.is_complex() for p in model.parameters()):
        model = model.double()  # complex (FNO) weights stay float32 inside: float64 in and out, float32 inside
    g = torch.Generator().manual_seed(0)
    shape = (args.batch, *model.context.spatial_shape)
    example = float(model.state_mean) + float(model.state_std) * torch.randn(*shape, generator=g, dtype=dtype)
    path = export(model, example, args.out, args.format, units=str(model.context.attrs.get("units", "")))
    print(f"exported {type(model).__name__} (step {step}) to {path} and {path}.json")
    return 0


if __name__ == "__main__":
    run_cli(main)
