"""Shared command-line behaviour: bad input exits with status 2 and one line naming the problem."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from sciml.errors import CheckpointError, ConfigError, DataError, ExportError, TrainingDiverged
from sciml.runtime import tune_cpu_allocator

USAGE_ERRORS = (ConfigError, DataError, CheckpointError, ExportError)


def run_cli(main: Callable[[list[str]], int | None], argv: list[str] | None = None) -> None:
    """Call ``main(argv)``; config, data and checkpoint errors exit 2, a diverged run or a computation that
    became non-finite (``FloatingPointError``) exits 1, each with one line.

    Every command line first keeps freed tensor memory in the heap (:func:`sciml.runtime.tune_cpu_allocator`).
    """
    tune_cpu_allocator()
    args = sys.argv[1:] if argv is None else argv
    try:
        code = main(args)
    except USAGE_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except (TrainingDiverged, FloatingPointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted: re-run the same command to resume from the last checkpoint", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)


def split_flags(args: list[str], flags: set[str]) -> tuple[set[str], list[str]]:
    """Separate ``--flag`` options from positional arguments; an unknown ``--x`` is a usage error."""
    found, rest = set(), []
    for a in args:
        if a.startswith("--"):
            if a not in flags:
                raise ConfigError(f"unknown option {a} (known: {', '.join(sorted(flags))})")
            found.add(a)
        else:
            rest.append(a)
    return found, rest


def config_or_exit(argv: list[str], usage: str, load: Callable[[list[str]], Any],
                   dump: Callable[[Any], str]) -> Any | None:
    """The start of a config-driven command line: ``--help`` prints ``usage``, ``--print-config`` prints the
    merged config; returns the loaded config, or None when the command is done."""
    flags, args = split_flags(argv, {"--print-config", "--help"})
    if "--help" in flags:
        print(usage)
        return None
    cfg = load(args)
    if "--print-config" in flags:
        print(dump(cfg), end="")
        return None
    return cfg
