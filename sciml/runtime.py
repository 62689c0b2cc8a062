"""Process-level settings that make CPU runs fast: glibc keeps freed tensor memory for reuse."""

from __future__ import annotations

import ctypes
import os
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_applied = False


def allocator_tuned() -> bool:
    """Whether :func:`tune_cpu_allocator` has changed this process's allocator."""
    return _applied


def tune_cpu_allocator(mmap_threshold: int = 2**28, trim_threshold: int = 2**30) -> bool:
    """Serve tensors up to ``mmap_threshold`` bytes from the heap and keep freed memory up to ``trim_threshold``.

    glibc returns large freed blocks to the OS and maps fresh pages for the next allocation; every
    first touch of such a page is a page fault. A pseudo-spectral step allocates dozens of MiB-sized
    temporaries, and on virtual machines the faults dominate: a 256^2 x 8 NavierStokes2D step went
    from 102 ms to 30 ms with this setting (see docs/benchmarks.md). The cost is that the process keeps
    its peak heap instead of shrinking. ``import sciml.sim`` and the command lines call it, so library users
    get it too. Linux/glibc only; a no-op elsewhere or when the environment sets
    ``SCIML_NO_MALLOC_TUNING=1`` (the opt-out). Returns whether the setting was applied.
    """
    global _applied
    if not sys.platform.startswith("linux") or os.environ.get("SCIML_NO_MALLOC_TUNING") == "1":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold))
                  and libc.mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)))
    except (OSError, AttributeError):
        return False
    _applied = _applied or ok
    return ok
