"""``python -m sciml.generate [DATASET.yaml ...] [dataset.key=value ...] [--overwrite]``.

Generates the train/valid/test splits of a dataset recipe and prints where they are.
"""

from __future__ import annotations

import sys

from sciml.cli import run_cli, split_flags
from sciml.config import load_config


def main(argv: list[str]) -> int:
    flags, args = split_flags(argv, {"--overwrite", "--help"})
    if "--help" in flags:
        print(__doc__)
        return 0
    cfg = load_config(args)
    from sciml import recipes

    paths = recipes.ensure_dataset(cfg.dataset, progress=sys.stderr.isatty(), overwrite="--overwrite" in flags)
    for split, path in paths.items():
        print(f"{split}: {path}")
    return 0


if __name__ == "__main__":
    run_cli(main)
