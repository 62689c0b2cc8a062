"""Run a reference's entry-point script unchanged, after seeding Python, NumPy and torch and fixing threads.

    python run_seeded.py --seed S --threads T [--time MODULE:FUNCTION ...] [--timings OUT.json] SCRIPT [ARGS...]

The released scripts set no seed; this launcher is how ``benchmarks/parity.py`` gives both codes the same
seeds. ``SCRIPT`` runs as ``__main__`` with ``sys.argv = [SCRIPT, *ARGS]``. ``--time`` (repeatable) wraps a function of
the reference (its training loop, or its data loading and evaluation) with a wall-clock timer, so that the
seconds spent training can be told from the rest; per function the seconds and calls, and the script's
total seconds, go to ``--timings`` at exit.
``--no-cuda-sync`` makes ``torch.cuda.synchronize`` a no-op on a machine without CUDA (the released MP-PDE
generator calls it around every solve, also with ``--device=cpu``). ``--legacy-aliases`` restores the names
that references written for Python 3.8 / NumPy < 1.24 import: ``collections.Iterable`` and the other ABCs
(moved to ``collections.abc``), ``np.float``, ``np.int``, ``np.bool``, ``np.object`` (the builtins they were),
and ``F.conv1d`` on a 4D input, which torch < 1.12 ran as the 2D convolution it is (LE-PDE's fork of the
MP-PDE loader projects its data that way; current torch refuses it), and ``np.infty`` (gone in NumPy 2).
``--cpu-for-cuda`` lets a script written for a GPU run on a machine without one: ``Tensor.cuda()`` returns
the tensor and ``torch.Generator(device="cuda")`` is a CPU generator (the released CAPE trainer draws its
gradient penalty's noise with ``.cuda()`` and shuffles with a CUDA generator, also on CPU).
``--missing MODULE:NAME,...`` (repeatable) registers an empty module with those names for a module that a
script imports but whose file the release does not ship (CAPE's ``pinn.train``, ``fno.fno_test``); calling
one of the names is an error that says so.
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
import types

import numpy as np
import torch


def timed(target: str, record: dict) -> None:
    """Wrap ``module:function`` with a timer (the reference imports the module after this, and gets the wrapper)."""
    module_name, name = target.split(":")
    module = importlib.import_module(module_name)
    original = getattr(module, name)
    entry = record.setdefault(target, {"seconds": 0.0, "calls": 0})

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            entry["seconds"] += time.perf_counter() - start
            entry["calls"] += 1

    setattr(module, name, wrapper)


def legacy_aliases() -> None:
    import collections
    import collections.abc

    for name in ("Iterable", "Mapping", "MutableMapping", "Sequence", "Callable", "Hashable"):
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))
    conv1d = torch.nn.functional.conv1d

    @functools.wraps(conv1d)
    def legacy_conv1d(input, weight, *args, **kwargs):
        if input.dim() == 4 and weight.dim() == 4:
            return torch.nn.functional.conv2d(input, weight, *args, **kwargs)
        return conv1d(input, weight, *args, **kwargs)

    torch.nn.functional.conv1d = legacy_conv1d
    for name, value in (("float", float), ("int", int), ("bool", bool), ("object", object), ("complex", complex),
                        ("infty", np.inf)):
        if name not in np.__dict__:
            setattr(np, name, value)


def cpu_for_cuda() -> None:
    """``.cuda()`` and CUDA generators as no-ops on a machine without CUDA."""
    torch.Tensor.cuda = lambda self, *args, **kwargs: self

    cpu_generator = torch._C.Generator

    class AnyGenerator(type(cpu_generator)):
        def __instancecheck__(cls, obj):  # a generator made before the patch is still a Generator
            return isinstance(obj, cpu_generator)

    class Generator(cpu_generator, metaclass=AnyGenerator):
        def __new__(cls, device="cpu"):
            return cpu_generator("cpu")

    torch.Generator = Generator


def missing_module(spec: str) -> None:
    """``MODULE:NAME,...``: an importable placeholder for a module the release imports but does not ship."""
    name, _, names = spec.partition(":")

    def absent(*args, _what=name, **kwargs):
        raise RuntimeError(f"{_what} is not in the released code (a placeholder of run_seeded.py --missing)")

    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        qualified = ".".join(parts[:i])
        if qualified in sys.modules:
            continue
        try:
            importlib.import_module(qualified)
        except ImportError:
            module = types.ModuleType(qualified)
            module.__path__ = []  # a package, so that deeper names import
            sys.modules[qualified] = module
            if i > 1:
                setattr(sys.modules[".".join(parts[:i - 1])], parts[i - 1], module)
    for attr in filter(None, names.split(",")):
        setattr(sys.modules[name], attr, absent)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--time", action="append", default=[])
    parser.add_argument("--timings", default="")
    parser.add_argument("--no-cuda-sync", action="store_true")
    parser.add_argument("--legacy-aliases", action="store_true")
    parser.add_argument("--cpu-for-cuda", action="store_true")
    parser.add_argument("--missing", action="append", default=[])
    parser.add_argument("script")
    args, rest = parser.parse_known_args()
    start, record = time.perf_counter(), {}
    if args.timings:
        atexit.register(lambda: open(args.timings, "w").write(json.dumps(
            {**record, "total_seconds": time.perf_counter() - start})))
    if args.legacy_aliases:
        legacy_aliases()
    if args.no_cuda_sync and not torch.cuda.is_available():
        torch.cuda.synchronize = lambda device=None: None
    if args.cpu_for_cuda and not torch.cuda.is_available():
        cpu_for_cuda()
    for spec in args.missing:
        missing_module(spec)
    for target in args.time:  # after the aliases: the reference's modules may need them to import
        timed(target, record)
    random.seed(args.seed)
    np.random.seed(args.seed)  # noqa: NPY002 (the references draw from NumPy's global stream)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    sys.argv = [args.script, *rest]
    runpy.run_path(args.script, run_name="__main__")


if __name__ == "__main__":
    main()
