"""Run a reference's entry-point script unchanged, after seeding Python, NumPy and torch and fixing threads.

    python run_seeded.py --seed S --threads T [--time MODULE:FUNCTION --timings OUT.json] SCRIPT [ARGS...]

The released scripts set no seed; this launcher is how ``benchmarks/parity.py`` gives both codes the same
seeds. ``SCRIPT`` runs as ``__main__`` with ``sys.argv = [SCRIPT, *ARGS]``. ``--time`` wraps one function of
the reference (e.g. its training loop) with a wall-clock timer, so that the seconds spent training are
measured apart from its evaluation; the total and the number of calls go to ``--timings`` at exit.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import importlib
import json
import random
import runpy
import sys
import time

import numpy as np
import torch


def timed(target: str, out: str) -> None:
    """Wrap ``module:function`` with a timer (the reference imports the module after this, and gets the wrapper)."""
    module_name, name = target.split(":")
    module = importlib.import_module(module_name)
    original = getattr(module, name)
    record = {"seconds": 0.0, "calls": 0}

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            record["seconds"] += time.perf_counter() - start
            record["calls"] += 1

    setattr(module, name, wrapper)
    atexit.register(lambda: out and open(out, "w").write(json.dumps(record)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--time", default="")
    parser.add_argument("--timings", default="")
    parser.add_argument("script")
    args, rest = parser.parse_known_args()
    if args.time:
        timed(args.time, args.timings)
    random.seed(args.seed)
    np.random.seed(args.seed)  # noqa: NPY002 (the references draw from NumPy's global stream)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    sys.argv = [args.script, *rest]
    runpy.run_path(args.script, run_name="__main__")


if __name__ == "__main__":
    main()
